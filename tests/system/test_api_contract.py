"""openapi.yaml is the contract: it lints clean with redocly, its examples
match its own schemas, and it lists exactly the routes the daemon serves
(api/routes.c)."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from lib.api import REPO, SPEC_PATH, schema_validator, spec

REDOCLY = REPO / "deploy" / "node_modules" / ".bin" / "redocly"


def test_openapi_lints_clean_with_redocly():
    if not REDOCLY.exists():
        pytest.fail(f"{REDOCLY} is missing: run deploy/install-deps.sh")
    r = subprocess.run([str(REDOCLY), "lint", "--format=stylish", str(SPEC_PATH)],
                       capture_output=True, text=True, timeout=120, cwd=str(REPO))
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-4000:]
    assert re.search(r"\b(error|warning)\b", out.split("validating", 1)[-1]) is None, out[-4000:]


def test_examples_match_their_schemas():
    checked = 0
    for path, item in spec()["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            bodies = [("request", op.get("requestBody", {}).get("content", {}))]
            for status, resp in op.get("responses", {}).items():
                bodies.append((status, resp.get("content", {}) if "$ref" not in resp else {}))
            for where, content in bodies:
                for ctype, media in content.items():
                    if "example" in media and "schema" in media:
                        errs = list(schema_validator(media["schema"]).iter_errors(
                            media["example"]))
                        assert not errs, f"{method} {path} {where} {ctype}: {errs[0].message}"
                        checked += 1
    assert checked >= 10


def route_table():
    """(METHOD, path) of every route in api/routes.c, macros expanded."""
    src = (REPO / "api" / "routes.c").read_text()
    t = re.search(r'#define T "([^"]+)"', src).group(1)
    routes = set()
    for m in re.finditer(r'\{API_(GET|POST|PATCH|DELETE), (T )?"([^"]+)"', src):
        routes.add((m.group(1), (t if m.group(2) else "") + m.group(3)))
    table = src[src.index("api_routes[] = {"):]
    for m in re.finditer(r"CRUD\((\w+), ([^,]+), ([^)]+)\)", table):
        def expand(arg):  # T "/x" -> the concatenation, as the C preprocessor does
            return "".join(t if tok == "T" else tok.strip('"') for tok in arg.split())
        coll, item = expand(m.group(2)), expand(m.group(3))
        routes |= {("GET", coll), ("POST", coll), ("GET", item), ("PATCH", item),
                   ("DELETE", item)}
    return routes


def test_the_contract_lists_exactly_the_routes_served():
    served = route_table()
    documented = {(m.upper(), p) for p, item in spec()["paths"].items()
                  for m in item if m in ("get", "post", "patch", "delete", "put")}
    assert served, "no routes parsed from api/routes.c"
    assert served - documented == set(), "served but not in openapi.yaml"
    assert documented - served == set(), "in openapi.yaml but not served"


def test_every_operation_documents_its_errors():
    for path, item in spec()["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            codes = set(op["responses"])
            if op.get("security") == []:
                continue
            assert "401" in codes, f"{method} {path}: no 401"
            if method in ("post", "patch"):
                assert {"400", "413", "415"} <= codes, f"{method} {path}: body errors"
            if method in ("post", "patch", "delete"):
                assert "403" in codes, f"{method} {path}: no 403"
            if "{" in path:
                assert "404" in codes, f"{method} {path}: no 404"
