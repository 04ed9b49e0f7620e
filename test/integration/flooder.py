#!/usr/bin/env python3
"""flooder: junk, malformed SIP and valid-looking requests over UDP from
many loopback source addresses, at a fixed total rate (test_flood.py).

  flooder.py HOST:PORT [--rate N] [--duration S] [--first 30 --last 250]
             [--heavy 2,3] [--heavy-share 0.3]

Each source address 127.0.0.FIRST .. 127.0.0.LAST gets a socket of its
own (no spoofing: sockets bound to each address). A third of the
packets are junk bytes, a third malformed SIP (a request line with
broken or missing headers), a third valid-looking OPTIONS and REGISTER
requests; heavy-share of all packets come from the heavy addresses
(127.0.0.H), valid-looking requests, fast enough to exceed flood_rate.
Replies are never read. The target must be a loopback address. Prints
one JSON line at the end: packets sent, seconds, achieved rate.
"""

import argparse
import json
import os
import random
import socket
import sys
import time


def payloads(n=64):
    junk = [os.urandom(random.randint(1, 300)) for _ in range(n // 4)]
    junk += [b"\x80" + os.urandom(40), b"GET / HTTP/1.0\r\n\r\n".lower(),
             b"\xff" * 200, b"hello"]
    bad = []
    for i in range(n // 4):
        bad.append(random.choice([
            b"INVITE sip:bob@example.com SIP/2.0\r\nVia: garbage\r\n\r\n",
            b"REGISTER sip:example.com SIP/2.0\r\n\r\n",
            b"OPTIONS sip:x SIP/2.0\r\nCSeq: abc\r\nContent-Length: 9"
            b"99\r\n\r\nx",
            b"INVITE  SIP/2.0\r\n" + os.urandom(50),
            b"BYE sip:%d@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0."
            b"0.9;branch=z9hG4bK%d\r\nCall-ID: %d\r\n\r\n" % (i, i, i),
        ]))
    return junk, bad


def request(method, src, n):
    return ("%s sip:%d@example.com SIP/2.0\r\n"
            "Via: SIP/2.0/UDP %s:9;branch=z9hG4bKfl%d;rport\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:%d@example.com>;tag=f%d\r\n"
            "To: <sip:%d@example.com>\r\n"
            "Call-ID: flood%d@%s\r\n"
            "CSeq: 1 %s\r\n"
            "User-Agent: Flooder\r\n"
            "Content-Length: 0\r\n\r\n" % (
                method, n % 1000, src, n, n % 1000, n, n % 1000, n, src,
                method)).encode()


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("target")
    ap.add_argument("--rate", type=int, default=3000)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--first", type=int, default=30)
    ap.add_argument("--last", type=int, default=250)
    ap.add_argument("--heavy", default="")
    ap.add_argument("--heavy-share", type=float, default=0.3)
    a = ap.parse_args(argv)

    host, port = a.target.rsplit(":", 1)
    if not host.startswith("127."):
        print("flooder: loopback targets only", file=sys.stderr)
        return 2
    dst = (host, int(port))

    def sock(addr):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        s.bind((addr, 0))
        s.setblocking(False)
        return s

    many = [(sock("127.0.0.%d" % i), "127.0.0.%d" % i)
            for i in range(a.first, a.last + 1)]
    heavy = [(sock("127.0.0.%d" % int(h)), "127.0.0.%d" % int(h))
             for h in a.heavy.split(",") if h]
    junk, bad = payloads()

    # a fixed schedule of (socket, payload), replayed
    plan = []
    for i in range(4096):
        if heavy and random.random() < a.heavy_share:
            s, src = heavy[i % len(heavy)]
            plan.append((s, request(random.choice(("REGISTER", "MESSAGE",
                                                   "OPTIONS")), src, i)))
            continue
        s, src = many[i % len(many)]
        kind = i % 3
        if kind == 0:
            plan.append((s, random.choice(junk)))
        elif kind == 1:
            plan.append((s, random.choice(bad)))
        else:
            plan.append((s, request(random.choice(("REGISTER", "OPTIONS",
                                                   "INVITE")), src, i)))

    sent = errors = 0
    batch = max(1, a.rate // 100)
    start = time.time()
    end = start + a.duration
    i = 0
    while True:
        now = time.time()
        if now >= end:
            break
        due = int((now - start) * a.rate)
        if sent + errors >= due:
            time.sleep(min(0.005, end - now))
            continue
        for _ in range(batch):
            s, data = plan[i]
            i = (i + 1) % len(plan)
            try:
                s.sendto(data, dst)
                sent += 1
            except (BlockingIOError, OSError):
                errors += 1
    took = time.time() - start
    print(json.dumps({"sent": sent, "errors": errors, "seconds": took,
                      "rate": sent / took}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
