"""A UDP relay that delays every datagram, for tests that need round trips
longer than a veth gives (the kernel here has no netem).

Run inside a namespace on the WAN between one client and the gateway:

    python3 udprelay.py --listen 198.51.100.4 --to 198.51.100.1 \
        --ports 500,4500 --delay 0.5

Each port is bound on the listen address; a datagram from the gateway
(--to) goes to the client last seen on that port, any other datagram goes
to the gateway on the same port, each `delay` seconds after it arrived, in
order. The client talks to the relay's address as its gateway; the gateway
sees the relay's address as the client's (like a NAT). One client at a
time. Prints "relay ready" once bound; counts per direction on exit
(SIGTERM)."""
import argparse
import heapq
import itertools
import select
import signal
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--to", required=True)
    ap.add_argument("--ports", default="500,4500")
    ap.add_argument("--delay", type=float, default=0.2)
    a = ap.parse_args()
    socks = {}
    for port in (int(p) for p in a.ports.split(",")):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((a.listen, port))
        s.setblocking(False)
        socks[s.fileno()] = (s, port)
    client = {}  # port -> the client's (address, port)
    queue = []   # (due, seq, socket, data, destination)
    seq = itertools.count()
    counts = {"to_gateway": 0, "to_client": 0}
    running = True

    def stop(*_):
        nonlocal running
        running = False
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("relay ready", flush=True)
    while running:
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, s, data, dst = heapq.heappop(queue)
            try:
                s.sendto(data, dst)
            except OSError:
                pass
        timeout = max(0.0, queue[0][0] - now) if queue else 0.5
        try:
            ready, _, _ = select.select(list(socks), [], [], min(timeout, 0.5))
        except InterruptedError:
            continue
        for fd in ready:
            s, port = socks[fd]
            for _ in range(64):  # bounded per wake-up
                try:
                    data, src = s.recvfrom(65535)
                except BlockingIOError:
                    break
                if src[0] == a.to:
                    dst = client.get(port)
                    if not dst:
                        continue
                    counts["to_client"] += 1
                else:
                    client[port] = src
                    dst = (a.to, port)
                    counts["to_gateway"] += 1
                heapq.heappush(queue, (time.monotonic() + a.delay, next(seq), s, data, dst))
    print(f"relay stopped: {counts}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
