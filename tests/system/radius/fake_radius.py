#!/usr/bin/python3
"""A tiny RADIUS server for tests: answers on loopback the way a test needs.

Written from RFC 2865/2866/3579/2548 independently of Isthmus's C code, so
the two cross-check each other. One JSON line per request goes to stdout
(code, attributes seen, whether the request's Message-Authenticator was
valid), then the first line "ready <port>".

Modes:
  accept    Access-Accept with EAP-Success, valid authenticators
  bad-ma    Access-Accept with a wrong Message-Authenticator (BlastRADIUS-style)
  no-ma     Access-Accept with no Message-Authenticator
  bad-auth  Access-Accept with a wrong Response Authenticator
  silent    never answers
  slow      like accept, after --delay-ms
  mppe      round 1 (no State): Access-Challenge with a 600-byte EAP-Request
            split into 3 EAP-Message attributes and a State; round 2 (State
            echoed): Access-Accept with EAP-Success, MS-MPPE keys (--recv-key,
            --send-key, hex), Framed-IP-Address 10.9.0.7, Class, Session-Timeout
            3600, Acct-Interim-Interval 60
  Accounting-Requests always get an Accounting-Response (unless silent).
"""
import argparse
import hashlib
import hmac
import json
import os
import socket
import struct
import sys
import time

STATE = b"fake-state-0123456789"
LONG_EAP_LEN = 600


def attrs_of(pkt):
    out = []
    i = 20
    length = struct.unpack("!H", pkt[2:4])[0]
    while i + 2 <= length:
        t, n = pkt[i], pkt[i + 1]
        if n < 2 or i + n > length:
            raise ValueError("bad attribute framing")
        out.append((t, pkt[i + 2:i + n], i))
        i += n
    return out


def request_ma_ok(pkt, secret):
    for t, v, off in attrs_of(pkt):
        if t == 80:
            z = pkt[:off + 2] + b"\0" * 16 + pkt[off + 18:]
            return hmac.new(secret, z, hashlib.md5).digest() == v
    return None


def acct_auth_ok(pkt, secret):
    z = pkt[:4] + b"\0" * 16 + pkt[20:]
    return hashlib.md5(z + secret).digest() == pkt[4:20]


def mppe_encrypt(key, secret, req_auth, salt):
    plain = bytes([len(key)]) + key
    plain += b"\0" * (-len(plain) % 16)
    out = b""
    prev = req_auth + salt
    for i in range(0, len(plain), 16):
        b = hashlib.md5(secret + prev).digest()
        c = bytes(x ^ y for x, y in zip(plain[i:i + 16], b))
        out += c
        prev = c
    return salt + out


def attr(t, v):
    return bytes([t, len(v) + 2]) + v


def vsa_ms(t, v):
    sub = bytes([t, len(v) + 2]) + v
    return attr(26, struct.pack("!I", 311) + sub)


def reply(code, ident, req_auth, attrs, secret, ma="good", auth="good"):
    body = b"".join(attrs)
    if ma != "none":
        body += attr(80, b"\0" * 16)
    length = 20 + len(body)
    pkt = bytearray(struct.pack("!BBH", code, ident, length) + req_auth + body)
    if ma != "none":
        mac = hmac.new(secret, bytes(pkt), hashlib.md5).digest()
        if ma == "bad":
            mac = bytes([mac[0] ^ 0x55]) + mac[1:]
        pkt[length - 16:length] = mac
    resp = hashlib.md5(bytes(pkt) + secret).digest()
    if auth == "bad":
        resp = bytes([resp[0] ^ 1]) + resp[1:]
    pkt[4:20] = resp
    return bytes(pkt)


def eap_success(eap_req):
    ident = eap_req[1] if len(eap_req) > 1 else 0
    return bytes([3, ident, 0, 4])


def answer(args, pkt, secret):
    code, ident = pkt[0], pkt[1]
    req_auth = pkt[4:20]
    attrs = attrs_of(pkt)
    if code == 4:
        return reply(5, ident, req_auth, [], secret, ma="none")
    eap = b"".join(v for t, v, _ in attrs if t == 79)
    state = [v for t, v, _ in attrs if t == 24]
    mode = args.mode
    if mode == "slow":
        time.sleep(args.delay_ms / 1000.0)
        mode = "accept"
    ok = [attr(79, eap_success(eap))]
    if mode == "accept":
        return reply(2, ident, req_auth, ok, secret)
    if mode == "bad-ma":
        return reply(2, ident, req_auth, ok, secret, ma="bad")
    if mode == "no-ma":
        return reply(2, ident, req_auth, ok, secret, ma="none")
    if mode == "bad-auth":
        return reply(2, ident, req_auth, ok, secret, auth="bad")
    if mode == "mppe":
        if not state:
            body = bytes([1, (eap[1] + 1) & 0xFF if len(eap) > 1 else 1])
            body += struct.pack("!H", LONG_EAP_LEN) + bytes([4])
            body += bytes((i * 7) & 0xFF for i in range(LONG_EAP_LEN - 5))
            parts = [attr(79, body[i:i + 253]) for i in range(0, len(body), 253)]
            return reply(11, ident, req_auth, parts + [attr(24, STATE)], secret)
        if state[0] != STATE:
            return reply(3, ident, req_auth, [attr(18, b"bad state")], secret)
        rk = bytes.fromhex(args.recv_key)
        sk = bytes.fromhex(args.send_key)
        extra = [
            vsa_ms(17, mppe_encrypt(rk, secret, req_auth, b"\x81\x23")),
            vsa_ms(16, mppe_encrypt(sk, secret, req_auth, b"\x94\x56")),
            attr(8, socket.inet_aton("10.9.0.7")),
            attr(25, b"class-for-acct"),
            attr(27, struct.pack("!I", 3600)),
            attr(85, struct.pack("!I", 60)),
        ]
        return reply(2, ident, req_auth, ok + extra, secret)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--secret", required=True)
    ap.add_argument("--mode", default="accept")
    ap.add_argument("--delay-ms", type=int, default=1000)
    ap.add_argument("--recv-key", default="11" * 32)
    ap.add_argument("--send-key", default="22" * 32)
    ap.add_argument("--lifetime", type=float, default=300.0)
    args = ap.parse_args()
    secret = args.secret.encode()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((args.host, args.port))
    s.settimeout(1.0)
    print(f"ready {s.getsockname()[1]}", flush=True)
    deadline = time.monotonic() + args.lifetime
    while time.monotonic() < deadline:
        try:
            pkt, peer = s.recvfrom(4096)
        except socket.timeout:
            continue
        try:
            attrs = attrs_of(pkt)
        except ValueError:
            print(json.dumps({"error": "framing"}), flush=True)
            continue
        rec = {
            "code": pkt[0],
            "attrs": sorted({t for t, _, _ in attrs}),
            "eap_parts": [len(v) for t, v, _ in attrs if t == 79],
            "ma_ok": request_ma_ok(pkt, secret),
        }
        if pkt[0] == 4:
            rec["acct_auth_ok"] = acct_auth_ok(pkt, secret)
        print(json.dumps(rec), flush=True)
        if args.mode == "silent":
            continue
        out = answer(args, pkt, secret)
        if out:
            s.sendto(out, peer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
