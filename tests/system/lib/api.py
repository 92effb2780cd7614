"""A client for the Isthmus REST API that checks every answer against
openapi.yaml, the contract.

    from lib.api import Api
    api = Api(daemon, token)                    # daemon: a lib.isthmusd.Isthmusd
    r = api.post("/api/v1/tenants", {...})      # validated against the schema of
    assert r.status == 201, r                   # that path, method and status
    viewer = api.with_token(other_token)

Every response is checked: its status must be documented for the path and
method, its content type must be one the contract lists, and a JSON body must
validate against the schema (Debian's python3-jsonschema, Draft 2020-12, the
$refs resolved inside openapi.yaml). A response the contract does not describe
fails the test that received it (ContractError), whatever the test asserts.
Requests are not validated, so tests can send bad bodies on purpose.

api.operator_client(daemon) makes an operator token (through the command
line, before the daemon starts if it is not running) and returns an Api.
"""
import json
import re
from pathlib import Path

import jsonschema
import yaml

REPO = Path(__file__).resolve().parents[3]
SPEC_PATH = REPO / "openapi.yaml"

_spec = None
_routes = None


class ContractError(AssertionError):
    """A response that openapi.yaml does not allow."""


def spec():
    """openapi.yaml, parsed once."""
    global _spec
    if _spec is None:
        _spec = yaml.safe_load(SPEC_PATH.read_text())
    return _spec


def _compile_routes():
    """(regex, template, literal-segment count) per path, most literal first,
    so /certificates/server wins over /certificates/{id}."""
    global _routes
    if _routes is None:
        out = []
        for template in spec()["paths"]:
            parts = template.split("/")
            rx = "/".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
            literal = sum(1 for p in parts if p and not p.startswith("{"))
            out.append((re.compile("^" + rx + "$"), template, literal))
        out.sort(key=lambda t: -t[2])
        _routes = out
    return _routes


def find_template(path):
    """The openapi path template that a concrete path (no query) matches."""
    for rx, template, _ in _compile_routes():
        if rx.match(path):
            return template
    return None


def schema_validator(schema):
    """A Draft 2020-12 validator for schema with $refs into openapi.yaml."""
    resolver = jsonschema.RefResolver(base_uri="", referrer=spec())
    return jsonschema.Draft202012Validator(schema, resolver=resolver)


def validate(schema, instance, what):
    errors = sorted(schema_validator(schema).iter_errors(instance), key=lambda e: list(e.path))
    if errors:
        lines = [f"{what}: the body does not match openapi.yaml:"]
        for e in errors[:5]:
            where = "/".join(str(p) for p in e.absolute_path) or "(top)"
            lines.append(f"  at {where}: {e.message[:300]}")
        lines.append(f"  body: {json.dumps(instance)[:1500]}")
        raise ContractError("\n".join(lines))


def _resolve(obj):
    """Follows one $ref of a response object."""
    while isinstance(obj, dict) and "$ref" in obj:
        node = spec()
        for part in obj["$ref"].lstrip("#/").split("/"):
            node = node[part]
        obj = node
    return obj


def check_response(method, path, status, headers, text):
    """Raises ContractError unless the contract allows this answer; returns
    the parsed body (JSON) or the text."""
    bare = path.split("?", 1)[0]
    template = find_template(bare)
    what = f"{method} {path} -> {status}"
    if template is None:
        if status in (401, 404):
            # Unknown paths are not in the contract; they must still answer
            # with a problem document.
            body = json.loads(text)
            validate({"$ref": "#/components/schemas/Problem"}, body, what)
            return body
        raise ContractError(f"{what}: path not in openapi.yaml")
    op = spec()["paths"][template].get(method.lower())
    if op is None:
        if status == 405 or status == 401:
            body = json.loads(text)
            validate({"$ref": "#/components/schemas/Problem"}, body, what)
            return body
        raise ContractError(f"{what}: method not in openapi.yaml for {template}")
    responses = op["responses"]
    resp = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX") \
        or responses.get("default")
    if resp is None:
        raise ContractError(f"{what}: status {status} is not documented for "
                            f"{method} {template} (documented: {sorted(responses)})")
    resp = _resolve(resp)
    content = resp.get("content")
    if not content:
        if text:
            raise ContractError(f"{what}: a body where the contract has none: {text[:200]}")
        return None
    ctype = headers.get("content-type", "").split(";")[0].strip()
    media = content.get(ctype)
    if media is None:
        raise ContractError(f"{what}: content type {ctype!r} not in {sorted(content)}")
    for name, h in (resp.get("headers") or {}).items():
        if name.lower() in ("location", "etag") and name.lower() not in headers:
            raise ContractError(f"{what}: header {name} is documented but missing")
    if "json" in ctype:
        try:
            body = json.loads(text)
        except ValueError as e:
            raise ContractError(f"{what}: not JSON ({e}): {text[:200]}")
        if "schema" in media:
            validate(media["schema"], body, what)
        return body
    return text


class Response:
    def __init__(self, method, path, status, body, headers, text):
        self.method, self.path = method, path
        self.status, self.body, self.headers, self.text = status, body, headers, text

    @property
    def json(self):
        return self.body

    def __getitem__(self, key):
        return self.body[key]

    def __contains__(self, key):
        return isinstance(self.body, dict) and key in self.body

    def __repr__(self):
        return f"<{self.method} {self.path} -> {self.status} {self.text[:600]}>"

    def problem_field(self):
        """The field a problem names (None if none)."""
        return self.body.get("field") if isinstance(self.body, dict) else None


class Api:
    """Requests to one daemon with one token; every answer checked."""

    def __init__(self, daemon, token=None):
        self.daemon = daemon
        self.token = token

    def with_token(self, token):
        return Api(self.daemon, token)

    def request(self, method, path, body=None, headers=None, raw=None, content_type=None):
        """body: a dict/list sent as JSON; raw: bytes or str sent as is."""
        hdrs = dict(headers or {})
        payload = None
        if raw is not None:
            payload = raw if isinstance(raw, str) else raw.decode("latin-1")
            hdrs.setdefault("Content-Type", content_type or "application/json")
        elif body is not None:
            payload = json.dumps(body)
            hdrs.setdefault("Content-Type", content_type or "application/json")
        status, _parsed, rheaders = self.daemon.request(method, path, body=payload,
                                                        token=self.token, headers=hdrs)
        # lib.isthmusd parses JSON bodies; the contract check reads text.
        text = _parsed if isinstance(_parsed, str) else json.dumps(_parsed)
        parsed = check_response(method, path, status, rheaders, text)
        return Response(method, path, status, parsed, rheaders, text)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def patch(self, path, body=None, **kw):
        kw.setdefault("content_type", "application/merge-patch+json")
        return self.request("PATCH", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def must(self, method, path, body=None, status=None, **kw):
        """A request that must succeed (2xx, or exactly status)."""
        r = self.request(method, path, body, **kw)
        ok = r.status == status if status else 200 <= r.status < 300
        assert ok, f"expected {status or '2xx'}: {r!r}"
        return r

    def list_all(self, path, limit=1000, max_pages=1000):
        """Every item of a paginated list, following next_cursor."""
        items, cursor = [], None
        for _ in range(max_pages):
            sep = "&" if "?" in path else "?"
            url = f"{path}{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
            r = self.must("GET", url)
            items += r["items"]
            cursor = r["next_cursor"]
            if cursor is None:
                return items
        raise AssertionError(f"{path}: more than {max_pages} pages")


def operator_client(daemon, name="ops"):
    """An Api with a new operator token. The command line that issues it
    needs the database lock, so a running daemon is restarted for it."""
    token = daemon.issue_token(name, "operator")
    if not daemon.running():
        daemon.start()
    return Api(daemon, token)


def db_snapshot(daemon):
    """Every row of every table (for "nothing was written" checks)."""
    con = daemon.db()
    try:
        tables = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name")]
        return {t: sorted(map(repr, con.execute(f'SELECT * FROM "{t}"').fetchall()))
                for t in tables}
    finally:
        con.close()
