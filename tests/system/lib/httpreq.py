"""One HTTP request described as a dict, answered as a dict.

Used in-process by lib.isthmusd, and as a script (request JSON on stdin,
response JSON on stdout) run with `ip netns exec` to reach a daemon that
listens inside a network namespace. Standard library only.
"""
import json
import ssl
import sys
import urllib.error
import urllib.request


def perform(req):
    """req: {"method", "url", "headers", "body" (str, optional), "timeout"}.
    Returns {"status", "headers" (lower-case names), "body" (str)} or
    {"error": text} when no HTTP answer came."""
    data = req.get("body")
    if data is not None:
        data = data.encode("latin-1")
    r = urllib.request.Request(req["url"], data=data, method=req["method"],
                               headers=req.get("headers") or {})
    ctx = None
    if req["url"].startswith("https:"):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(r, timeout=req.get("timeout", 10), context=ctx) as resp:
            status, headers, body = resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        status, headers, body = e.code, e.headers, e.read()
    except (urllib.error.URLError, OSError) as e:
        return {"error": str(getattr(e, "reason", e))}
    return {"status": status,
            "headers": {k.lower(): v for k, v in headers.items()},
            "body": body.decode("utf-8", "replace")}


if __name__ == "__main__":
    json.dump(perform(json.load(sys.stdin)), sys.stdout)
