"""Robustness on the wire: cut, split, piled-up, slow and oversized
messages, numbers out of range, connection storms and limits.

Every test checks what sipd answers (or that it drops and counts) and
that it still answers a plain OPTIONS afterwards. The codes follow
RFC 3261: 400 for a malformed request (7.3, 8.2.2, 18.3 for a body
shorter than Content-Length on UDP, 20.22 Max-Forwards 0-255, 20.16
CSeq below 2**32, 20.10 q between 0 and 1, a Via port above 65535),
513 for a message over max_message_size (21.5.14). An Expires above the
registrar's maximum is clamped to it (10.3 step 7), not refused. On
TCP a message is framed by Content-Length (18.3): a short body waits
for the rest, for tcp_message_timeout at most.
"""

import socket
import subprocess
import time

from sipdlib import Sipd, Client, check, eq, rand_token, status, wait_for
from test_proxy import PROXY_CONF, ACCOUNTS

CONF = PROXY_CONF + "registrar_max_expires 3600\ntcp_message_timeout 2\n"


def request(method="OPTIONS", ruri="sip:example.com", cseq=None,
            extra=(), body="", clen=None, via=None, mf="70",
            transport="UDP", port=5099):
    lines = ["%s %s SIP/2.0" % (method, ruri),
             via or "Via: SIP/2.0/%s 127.0.0.1:%d;branch=z9hG4bK%s;rport" %
             (transport, port, rand_token()),
             "Max-Forwards: %s" % mf,
             "From: <sip:alice@example.com>;tag=%s" % rand_token(),
             "To: <sip:alice@example.com>",
             "Call-ID: %s" % rand_token(),
             "CSeq: %s" % (cseq or "1 " + method)]
    lines += list(extra)
    lines.append("Content-Length: %s" % (len(body) if clen is None
                                         else clen))
    return "\r\n".join(lines) + "\r\n\r\n" + body


def answer(s, text, transport="udp", timeout=1.5):
    """The first answer to a message sent on a fresh socket."""
    c = Client(s.addr, transport)
    try:
        c.send_raw(text)
        return c.recv(timeout)
    finally:
        c.close()


def healthy(s, transport="udp"):
    """sipd alive and answering a plain OPTIONS."""
    check(s.alive(), "sipd died:\n" + s.log()[-1500:])
    r = answer(s, request(transport=transport.upper()), transport)
    check(r is not None and r.status == 200, "OPTIONS after: %r" % r)


def tcp(s):
    c = socket.create_connection(s.addr, timeout=5)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return c


def closed_within(sock, seconds):
    """True if the peer closes the connection within seconds."""
    sock.settimeout(0.2)
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            data = sock.recv(4096)
            if not data:
                return True
        except socket.timeout:
            continue
        except ConnectionResetError:
            return True
    return False


def test_truncated_udp():
    with Sipd(conf=CONF, accounts=ACCOUNTS) as s:
        full = request()
        r = answer(s, full[:full.index("CSeq")])           # headers cut
        eq(r and r.status, 400, "headers cut: %r" % r)
        r = answer(s, request(body="v=0\r\n", clen=100))
        eq(r and r.status, 400, "body shorter than Content-Length")
        check("Content-Length" in r.reason, r.reason)
        healthy(s)


def test_truncated_tcp_waits_then_times_out():
    with Sipd(conf=CONF, accounts=ACCOUNTS) as s:
        for cut in ("body", "headers"):
            c = tcp(s)
            c.sendall(request(transport="TCP").encode())
            check(c.recv(4096).startswith(b"SIP/2.0 200"), "first message")
            text = request(transport="TCP", body="hello", clen=50)
            if cut == "headers":
                text = text[:text.index("CSeq")]
            c.sendall(text.encode())
            start = time.time()
            # sipd waits for the rest: nothing comes back for a while
            c.settimeout(1.0)
            try:
                data = c.recv(4096)
                check(data == b"", "answer to a %s cut on TCP: %r" % (
                    cut, data))
            except socket.timeout:
                pass
            check(closed_within(c, 6), "%s cut: connection not closed" %
                  cut)
            took = time.time() - start
            check(1.5 <= took <= 6, "%s cut: closed after %.1f s"
                  " (tcp_message_timeout 2)" % (cut, took))
            c.close()
        st = status(s)
        eq(st["message_timeouts"], 2, "message_timeouts")
        check("sent no complete message within 2 s" in s.log(), "logged")
        wait_for(lambda: status(s)["connections_open"] == 0,
                 "connections_open back to 0")
        healthy(s, "tcp")


def test_slow_sender_closed_by_message_timeout():
    """A byte every 0.3 s never finishes a message: the deadline is per
    message, so the trickle does not keep the connection open."""
    with Sipd(conf=CONF, accounts=ACCOUNTS) as s:
        c = tcp(s)
        c.sendall(request(transport="TCP").encode())
        check(c.recv(4096).startswith(b"SIP/2.0 200"), "first message")
        text = request(transport="TCP").encode()
        start = time.time()
        closed = False
        for i in range(40):
            try:
                c.send(text[i:i + 1])
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            if closed_within(c, 0.3):
                closed = True
                break
        took = time.time() - start
        check(closed, "a slow sender kept its connection %.1f s" % took)
        check(took <= 6, "closed after %.1f s" % took)
        eq(status(s)["message_timeouts"], 1, "message_timeouts")
        c.close()
        healthy(s, "tcp")


def test_split_byte_by_byte_tcp():
    with Sipd(conf=CONF, accounts=ACCOUNTS) as s:
        c = tcp(s)
        text = request(transport="TCP", body="v=0\r\n",
                       extra=["Content-Type: application/sdp"]).encode()
        for i in range(len(text)):
            c.send(text[i:i + 1])
            time.sleep(0.001)
        c.settimeout(3)
        check(c.recv(4096).startswith(b"SIP/2.0 200"),
              "answer to a message sent byte by byte")
        c.close()
        healthy(s, "tcp")


def test_many_messages_in_one_segment_tcp():
    with Sipd(conf=CONF, accounts=ACCOUNTS) as s:
        cl = Client(s.addr, "tcp")
        n = 30
        texts = [request(transport="TCP", cseq="%d OPTIONS" % (i + 1))
                 for i in range(n)]
        cl.send_raw("".join(texts))
        got = []
        for _ in range(n):
            r = cl.recv(3)
            if r is None:
                break
            got.append(r)
        eq(len(got), n, "answers to %d messages in one segment" % n)
        check(all(r.status == 200 for r in got), "all 200")
        eq(sorted(int(r.get("cseq").split()[0]) for r in got),
           list(range(1, n + 1)), "every CSeq answered")
        cl.close()
        healthy(s, "tcp")


def listen_backlog(port):
    """The accept queue length of the TCP listener on a port (ss)."""
    out = subprocess.run(["ss", "-ltnH", "sport = :%d" % port],
                         capture_output=True, text=True).stdout
    return int(out.split()[2]) if out.strip() else None


def test_connect_and_drop_storm():
    with Sipd(conf=CONF, accounts=ACCOUNTS) as s:
        # libre listens with a backlog of 5: the SYNs of a burst were
        # dropped and retried a second later (connlimit.c asks for more)
        check(listen_backlog(s.port) >= 128, "listen backlog %r" %
              listen_backlog(s.port))
        start = time.time()
        for i in range(300):
            c = socket.socket()
            c.bind(("127.0.0.%d" % (2 + i % 50), 0))
            c.connect(s.addr)
            if i % 2:      # half of them reset, half closed
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             b"\x01\x00\x00\x00\x00\x00\x00\x00")
            c.close()
        took = time.time() - start
        check(took < 15, "300 connections took %.1f s" % took)
        healthy(s, "tcp")
        wait_for(lambda: status(s)["connections_open"] == 0,
                 "connections_open back to 0: %r" %
                 status(s)["connections_open"])
        eq(status(s)["connections_refused"], 0, "none refused")
        healthy(s)


def test_garbage_after_content_length():
    with Sipd(conf=CONF, accounts=ACCOUNTS) as s:
        # UDP: octets past Content-Length are discarded (RFC 3261 18.3)
        r = answer(s, request(body="hello", clen=5) + "GARBAGE\x01 more")
        eq(r and r.status, 200, "UDP with trailing garbage")

        # TCP: what follows is the next message; a valid one is answered
        cl = Client(s.addr, "tcp")
        cl.send_raw(request(transport="TCP", body="hello", clen=5) +
                    request(transport="TCP", cseq="2 OPTIONS"))
        eq([cl.recv(2) and 200, cl.recv(2) and 200], [200, 200],
           "two messages framed by Content-Length")
        # garbage as the next message: the stream cannot be framed, the
        # connection is closed
        cl.send_raw(request(transport="TCP", cseq="3 OPTIONS", body="hi",
                            clen=2) + "GARBAGE\x01\r\n\r\n")
        r = cl.recv(2)
        eq(r and r.status, 200, "the message before the garbage")
        check(closed_within(cl.sock, 5), "connection left open after"
              " garbage")
        cl.close()
        healthy(s, "tcp")


def test_numbers_out_of_range():
    with Sipd(conf=CONF, accounts=ACCOUNTS) as s:
        cases = [
            ("CSeq 2**32", request(cseq="4294967296 OPTIONS"), 400),
            ("Content-Length huge", request(clen="99999999999"), 400),
            ("Content-Length negative", request(clen="-5"), 400),
            ("Max-Forwards 300", request(mf="300"), 400),
            ("Max-Forwards 300, proxied",
             request("MESSAGE", "sip:bob@example.com", mf="300"), 400),
            ("Via port 70000", request(
                via="Via: SIP/2.0/UDP 127.0.0.1:70000;branch=z9hG4bK%s" %
                rand_token()), 400),
            ("Via port 70000, rport", request(
                via="Via: SIP/2.0/UDP 127.0.0.1:70000;rport;branch=z9hG4bK"
                "%s" % rand_token()), 400),
        ]
        for what, text, code in cases:
            r = answer(s, text)
            check(r is not None, "%s: no answer" % what)
            eq(r.status, code, "%s: %s" % (what, r.start))
        check(status(s)["malformed"] >= len(cases), "malformed counted")

        for transport in ("udp", "tcp"):
            c = Client(s.addr, transport)
            contact = "<sip:alice@127.0.0.1:5099>"
            for extra, cexp in ((["Expires: 99999999999"], ""),
                                ([], ";expires=99999999999"),
                                (["Expires: 4294967296"], "")):
                r = c.register("alice@example.com", password="secret",
                               extra=extra, contacts=[contact + cexp])
                eq(r.status, 200, "%s: REGISTER %s%s" % (transport, extra,
                                                        cexp))
                eq(r.all("contact"), [contact + ";expires=3600"],
                   "%s: expires clamped to registrar_max_expires" %
                   transport)
            r = c.register("alice@example.com", password="secret",
                           contacts=[contact + ";q=2.5"])
            eq(r.status, 400, "%s: q=2.5" % transport)
            c.close()
        healthy(s)
        healthy(s, "tcp")


def test_oversize_and_too_many_headers():
    conf = CONF + "max_message_size 2048\nmax_headers 20\nmax_via 4\n"
    with Sipd(conf=conf, accounts=ACCOUNTS) as s:
        big = request(extra=["X-Pad: " + "x" * 3000])
        r = answer(s, big)
        eq(r and r.status, 513, "UDP over max_message_size")
        r = answer(s, big.replace("UDP", "TCP", 1), "tcp")
        eq(r and r.status, 513, "TCP over max_message_size")
        r = answer(s, request(extra=["X-H%d: %d" % (i, i)
                                     for i in range(20)]))
        eq(r and r.status, 400, "too many headers")
        vias = ["Via: SIP/2.0/UDP 127.0.0.%d:5060;branch=z9hG4bK%s" % (
            i + 2, rand_token()) for i in range(4)]
        r = answer(s, request(extra=vias))
        eq(r and r.status, 400, "too many Vias")
        check("Via" in r.reason, r.reason)
        r = answer(s, request(extra=vias[:2]))
        eq(r and r.status, 200, "three Vias are within max_via 4")
        eq(status(s)["over_limits"], 4, "over_limits")
        healthy(s)


def test_connections_per_source_limited():
    conf = CONF + "max_connections_per_source 3\n"
    with Sipd(conf=conf, accounts=ACCOUNTS) as s:
        held = []
        for i in range(3):
            c = Client(s.addr, "tcp")
            c.request("OPTIONS", "sip:example.com")
            eq(c.recv(2) and 200, 200, "connection %d" % (i + 1))
            held.append(c)
        extra = socket.create_connection(s.addr, timeout=5)
        check(closed_within(extra, 3), "a fourth connection was kept")
        extra.close()
        st = status(s)
        check(st["connections_refused"] >= 1, "connections_refused")
        eq(st["connections_open"], 3, "connections_open")
        # another source is not affected
        other = socket.socket()
        other.bind(("127.0.0.5", 0))
        other.connect(s.addr)
        other.sendall(request(transport="TCP").encode())
        other.settimeout(3)
        check(other.recv(4096).startswith(b"SIP/2.0 200"),
              "another source")
        other.close()
        for c in held:
            c.close()
        wait_for(lambda: status(s)["connections_open"] == 0,
                 "connections closed")
        healthy(s, "tcp")
