"""How the proxy reaches a next hop: RFC 3263 through the configured DNS
servers, and TCP phones over their connection or at their Contact.

  dns_server IP[:PORT]     repeatable, at most 8; default port 53

A DNS stub (UDP on 127.0.0.1, standard library only, answers encoded by
hand) serves the zone far.test: SRV _sip._udp.far.test -> sip1.far.test
and A sip1.far.test -> 127.0.0.1. It records every query, so a test sees
what sipd asked. A phone registered over TCP from the address of its
Contact is reached through its connection while that is open and by a
new connection to its Contact after; one behind a NAT (a private Contact
address, a trap on 127.0.0.99 as in test_nat.py) loses its binding. The
event log module opens its file at the first event, never at "sipd -t".
"""

import os
import select
import socket
import struct
import threading
import time

from sipdlib import (Sipd, MODULES, TestFailure, check, eq, param,
                     free_port)
from test_proxy import (PROXY_CONF, EVENTLOG, ACCOUNTS, UA, proxy_conf,
                        caller, closing, alive, wait_events)
from test_nat import Trap, nated_phone
from test_sipp import reg_list_json
from test_daemon import run_sipd

FAR = "far.test"

# --- a DNS server stub ------------------------------------------------------

A, NAPTR, SRV, AAAA = 1, 35, 33, 28
TYPES = {A: "A", NAPTR: "NAPTR", SRV: "SRV", AAAA: "AAAA"}


def dns_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def srv_rdata(target, port, priority=10, weight=10):
    return struct.pack("!HHH", priority, weight, port) + dns_name(target)


def a_rdata(addr):
    return socket.inet_aton(addr)


class DnsStub:
    """An authoritative DNS server on 127.0.0.1 for a few records.

    records maps (name, type) to a list of rdata. A known name asked for
    another type gets an empty NOERROR answer, an unknown one NXDOMAIN.
    Each query is kept in .queries as (name, type name)."""

    def __init__(self, records):
        self.records = dict(((n.lower(), t), v) for (n, t), v in
                            records.items())
        self.names = set(n for n, _ in self.records)
        self.queries = []
        self.rcode = None          # every answer with this code
        self.silent = False        # no answer at all
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def conf(self):
        return "dns_server 127.0.0.1:%d\n" % self.port

    def _serve(self):
        self.sock.settimeout(0.1)
        while self.running:
            try:
                data, src = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                reply = self.answer(data)
            except (IndexError, struct.error, UnicodeDecodeError):
                continue
            if reply:
                self.sock.sendto(reply, src)

    def answer(self, data):
        qid, flags, qdcount = struct.unpack("!HHH", data[:6])
        if flags & 0x8000 or qdcount != 1:
            return None
        labels, i = [], 12
        while data[i]:
            labels.append(data[i + 1:i + 1 + data[i]].decode())
            i += 1 + data[i]
        i += 1
        qtype, _ = struct.unpack("!HH", data[i:i + 4])
        question = data[12:i + 4]
        name = ".".join(labels).lower()
        self.queries.append((name, TYPES.get(qtype, str(qtype))))

        if self.silent:
            return None
        rdatas = self.records.get((name, qtype), [])
        rcode = 0 if name in self.names else 3     # NXDOMAIN
        if self.rcode is not None:
            rdatas, rcode = [], self.rcode
        # QR, the query's opcode and RD, AA, RA
        rflags = 0x8000 | (flags & 0x7900) | 0x0400 | 0x0080 | rcode
        out = struct.pack("!HHHHHH", qid, rflags, 1, len(rdatas), 0, 0)
        out += question
        for rd in rdatas:
            # the owner name: a pointer to the question's
            out += struct.pack("!HHHIH", 0xc00c, qtype, 1, 60, len(rd))
            out += rd
        return out

    def asked(self, name, qtype):
        return (name.lower(), qtype) in self.queries

    def close(self):
        self.running = False
        self.thread.join(2.0)
        self.sock.close()


def far_zone(port):
    """The stub of far.test: SIP over UDP at sip1.far.test:port."""
    return DnsStub({("_sip._udp." + FAR, SRV): [srv_rdata("sip1." + FAR,
                                                           port)],
                    ("sip1." + FAR, A): [a_rdata("127.0.0.1")],
                    (FAR, A): [], ("_sip._tcp." + FAR, SRV): []})


def far_ua():
    """A UAS of far.test on 127.0.0.1 (UDP)."""
    return UA(None, "carl", None, domain=FAR, server=("127.0.0.1", 9))


# --- 1. RFC 3263 by the configured DNS server --------------------------------

def test_dns_srv_next_hop_stateful():
    """roles=proxy: an authenticated local user calls sip:carl@far.test;
    NAPTR (none), SRV and A from the dns_server send the INVITE to the
    SRV target's port."""
    far = far_ua()
    dns = far_zone(far.local[1])
    conf = proxy_conf(dns.conf)
    try:
        with Sipd(conf, accounts=ACCOUNTS) as s:
            far.s = s
            alice = caller(s)
            try:
                d = alice.invite("sip:carl@%s" % FAR)
                inc = far.expect_invite(timeout=5.0)
                inv = inc.invite_req
                eq(inv.start, "INVITE sip:carl@%s SIP/2.0" % FAR,
                   "Request-URI kept (the SRV target is the next hop only)")
                eq(inv.src, s.addr, "sent from sipd's socket")
                eq(inv.get("max-forwards"), "69", "Max-Forwards")
                check(inv.all("via")[0].startswith(
                    "SIP/2.0/UDP 127.0.0.1:%d;" % s.port),
                    "sipd's Via: %s" % inv.get("via"))
                check(inv.get("proxy-authorization") is None,
                      "sipd passed on the credentials meant for it")
                check(dns.asked("_sip._udp." + FAR, "SRV"),
                      "no SRV query for _sip._udp.%s: %s" % (
                          FAR, dns.queries))
                check(dns.asked("sip1." + FAR, "A"),
                      "no A query for the SRV target: %s" % dns.queries)
                check(dns.asked(FAR, "NAPTR"), "RFC 3263 starts with NAPTR:"
                      " %s" % dns.queries)
                eq(dns.queries.index((FAR, "NAPTR")), 0,
                   "NAPTR first (%s)" % dns.queries)
                inc.answer()
                eq(d.final().status, 200, "answered in far.test")
                inc.expect_ack()
                d.request("BYE", wait=False)
                inc.expect_and_reply("BYE")
                eq(alice.expect_response(d.callid, "BYE",
                                         final=True).status,
                   200, "BYE to far.test")
                alive(s)
            finally:
                closing(alice)
    finally:
        far.close()
        dns.close()


def test_dns_srv_next_hop_stateless():
    """roles=stateless-proxy: the same lookup, for the INVITE and again
    for the caller's ACK of the 486."""
    far = far_ua()
    dns = far_zone(far.local[1])
    conf = proxy_conf(dns.conf, roles="registrar,stateless-proxy")
    try:
        with Sipd(conf, accounts=ACCOUNTS) as s:
            far.s = s
            alice = caller(s)
            try:
                d = alice.invite("sip:carl@%s" % FAR)
                inc = far.expect_invite(timeout=5.0)
                eq(inc.invite_req.start, "INVITE sip:carl@%s SIP/2.0" % FAR,
                   "Request-URI")
                check(dns.asked("_sip._udp." + FAR, "SRV"),
                      "no SRV query: %s" % dns.queries)
                inc.reply(486, "Busy Here")
                eq(d.final().status, 486, "far.test's answer, statelessly")
                ack = inc.expect_ack()
                eq(param(ack.get("via"), "branch"),
                   param(inc.invite_req.get("via"), "branch"),
                   "the caller's ACK on the INVITE's branch")
                alive(s)
            finally:
                closing(alice)
    finally:
        far.close()
        dns.close()


def dns_failure_answer(dns, domain, timeout=10.0):
    """alice calls sip:carl@domain through a proxy whose DNS is dns: the
    final response, the seconds it took and sipd's log."""
    with Sipd(proxy_conf(dns.conf), accounts=ACCOUNTS) as s:
        alice = caller(s)
        try:
            started = time.time()
            d = alice.invite("sip:carl@%s" % domain)
            r = d.final(timeout=timeout)
            took = time.time() - started
            alive(s)
            return r, took, s.log()
        finally:
            closing(alice)


def test_dns_unknown_domain_answered():
    """A domain the DNS does not know (NXDOMAIN for everything): the
    lookup ends with A, and the caller gets 404 at once (not a 500), with
    a log line that names the domain and the DNS error."""
    dns = DnsStub({})
    try:
        r, took, log = dns_failure_answer(dns, "nowhere.test")
        check(r is not None, "no final response")
        eq(r.status, 404, "final response for a domain without DNS"
           " records")
        check(took < 5.0, "the answer took %.1f s" % took)
        check(dns.asked("nowhere.test", "NAPTR"),
              "queries: %s" % dns.queries)
        check(dns.asked("nowhere.test", "A"), "RFC 3263 ends with"
              " A: %s" % dns.queries)
        check(any("cannot resolve nowhere.test" in l and "NXDOMAIN" in l
                  for l in log.splitlines()),
              "no log line naming the domain and NXDOMAIN:\n" + log)
    finally:
        dns.close()


def test_dns_server_failure_answered_503():
    """A DNS server that answers SERVFAIL: the caller gets 503 (worth a
    retry), not 404 and not a silent 500, and the log says SERVFAIL."""
    dns = DnsStub({})
    dns.rcode = 2
    try:
        r, took, log = dns_failure_answer(dns, "broken.test")
        check(r is not None, "no final response")
        eq(r.status, 503, "final response when the DNS fails")
        check(any("cannot resolve broken.test" in l and "SERVFAIL" in l
                  for l in log.splitlines()),
              "no log line naming the domain and SERVFAIL:\n" + log)
    finally:
        dns.close()


def test_dns_server_silent_answered_503():
    """A DNS server that never answers: 503 once libre's DNS client gives
    up, and a log line that says so."""
    dns = DnsStub({})
    dns.silent = True
    try:
        r, took, log = dns_failure_answer(dns, "silent.test", timeout=40.0)
        check(r is not None, "no final response")
        eq(r.status, 503, "final response when the DNS does not answer")
        check(any("cannot resolve silent.test" in l and "DNS" in l
                  for l in log.splitlines()),
              "no log line naming the domain:\n" + log)
    finally:
        dns.close()


def test_dns_static_route_wins():
    """A static route for the domain: no DNS query at all."""
    far = far_ua()
    other = far_ua()
    dns = far_zone(other.local[1])
    conf = proxy_conf(dns.conf + "route %s>127.0.0.1:%d\n" % (
        FAR, far.local[1]))
    try:
        with Sipd(conf, accounts=ACCOUNTS) as s:
            far.s = s
            alice = caller(s)
            try:
                d = alice.invite("sip:carl@%s" % FAR)
                inc = far.expect_invite()
                inc.reply(486, "Busy Here")
                inc.expect_ack()
                eq(d.final().status, 486, "by the static route")
                other.no_request("INVITE", 0.3)
                eq(dns.queries, [], "DNS queries with a static route")
            finally:
                closing(alice)
    finally:
        far.close()
        other.close()
        dns.close()


def line_of(path, text):
    """The number of the last line of the file at path that starts with
    text (sipdlib appends lines of its own after the test's)."""
    n = 0
    with open(path) as f:
        for i, line in enumerate(f, 1):
            if line.startswith(text):
                n = i
    check(n, "no line %r in %s" % (text, path))
    return n


def check_conf(s, extra, ok, what=None):
    """sipd -t of the configuration of s with extra lines: passes, or
    fails naming the file, the last line and what."""
    s.write_conf(PROXY_CONF + extra)
    nlines = line_of(s.conf_path, extra.strip().splitlines()[-1])
    r = run_sipd("-t", "-f", s.conf_path, "-m", MODULES)
    text = r.stdout + r.stderr
    if ok:
        eq(r.returncode, 0, "sipd -t with %r: %s" % (extra, text.strip()))
        return
    check(r.returncode != 0, "sipd -t accepted %r" % extra)
    where = "%s:%d" % (s.conf_path, nlines)
    check(where in r.stderr, "the error for %r does not name %s: %r" % (
        extra, where, r.stderr))
    if what:
        check(what in r.stderr, "the error for %r does not say %r: %r" % (
            extra, what, r.stderr))


def test_dns_server_config():
    s = Sipd(accounts=(), start=False)
    try:
        for line in ("dns_server 127.0.0.1:5353", "dns_server 127.0.0.1",
                     "dns_server [::1]:5353", "dns_server ::1"):
            check_conf(s, line + "\n", ok=True)
        check_conf(s, "dns_server nonsense\n", ok=False, what="nonsense")
        check_conf(s, "dns_server ns1.example.com\n", ok=False,
                   what="ns1.example.com")
        eight = "".join("dns_server 127.0.0.%d\n" % i for i in range(1, 9))
        check_conf(s, eight, ok=True)
        check_conf(s, eight + "dns_server 127.0.0.9\n", ok=False,
                   what="8")
    finally:
        s.close()


def test_dns_server_bad_port_refused():
    """A port out of range or not a number is an error, not a port
    truncated to 16 bits or read as 0."""
    s = Sipd(accounts=(), start=False)
    try:
        for value in ("127.0.0.1:99999", "127.0.0.1:0", "127.0.0.1:53x",
                      "[::1]:abc"):
            check_conf(s, "dns_server %s\n" % value, ok=False, what=value)
    finally:
        s.close()


# --- 2. TCP phones: their connection, then their Contact ---------------------

class ContactListener:
    """The TCP port of a phone's Contact: sipd connects here once the
    phone's own connection is gone."""

    def __init__(self):
        self.port = free_port()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(4)

    def accept(self, timeout=5.0):
        r, _, _ = select.select([self.sock], [], [], timeout)
        check(r, "sipd opened no connection to the Contact port %d within"
              " %.1f s" % (self.port, timeout))
        conn, peer = self.sock.accept()
        return conn, peer

    def no_connection(self, timeout=0.5):
        r, _, _ = select.select([self.sock], [], [], timeout)
        if r:
            conn, peer = self.sock.accept()
            conn.settimeout(0.5)
            try:
                data = conn.recv(65535)
            except socket.timeout:
                data = b""
            conn.close()
            raise TestFailure("sipd connected to the Contact port from %s"
                              " although the phone's connection is open:"
                              "\n%s" % (peer, data.decode(errors="replace")))

    def close(self):
        self.sock.close()


def tcp_phone(s, user, listener):
    """A phone that registers over TCP from an ephemeral port, its
    Contact the port it listens on."""
    pw = dict((a.split("@")[0], p) for a, p in ACCOUNTS)[user]
    ua = UA(s, user, pw, transport="tcp", contact_port=listener.port)
    ua.register()
    check(ua.local[1] != listener.port, "REGISTER from the Contact port")
    return ua


def adopt(ua, conn):
    """The UA now reads and writes on conn (a connection sipd opened)."""
    ua.close()
    ua.cl.sock = ua.sock = conn
    ua.cl.buf = b""


def contacts(s, aor):
    return [e["contact"] for e in reg_list_json(s, aor)]


def test_tcp_phone_reached_over_its_open_connection():
    listener = ContactListener()
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        alice = tcp_phone(s, "alice", listener)
        bob = caller(s, "bob")
        try:
            eq(contacts(s, "alice@example.com"), [alice.contact_uri],
               "alice's binding")
            d = bob.invite("sip:alice@example.com")
            inc = alice.expect_invite()
            eq(inc.invite_req.start.split()[1], alice.contact_uri,
               "Request-URI: the Contact")
            check(inc.invite_req.all("via")[0].startswith(
                "SIP/2.0/TCP 127.0.0.1:%d;" % s.port),
                "sipd's Via: %s" % inc.invite_req.get("via"))
            listener.no_connection(0.3)
            inc.answer()
            eq(d.final().status, 200, "answered over the connection")
            inc.expect_ack()
            d.request("BYE", wait=False)
            inc.expect_and_reply("BYE")
            eq(bob.expect_response(d.callid, "BYE", final=True).status,
               200, "BYE over the connection")
            listener.no_connection(0.3)
            alive(s)
        finally:
            closing(alice, bob)
            listener.close()


def test_tcp_phone_reached_at_contact_after_close():
    listener = ContactListener()
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        alice = tcp_phone(s, "alice", listener)
        bob = caller(s, "bob")
        conn = None
        try:
            alice.close()
            time.sleep(1.0)
            eq(contacts(s, "alice@example.com"), [alice.contact_uri],
               "alice's binding after her connection closed")

            d = bob.invite("sip:alice@example.com")
            conn, peer = listener.accept()
            check(peer[1] != s.port, "sipd connects from an ephemeral"
                  " port: %s" % (peer,))
            adopt(alice, conn)
            inc = alice.expect_invite()
            eq(inc.invite_req.start.split()[1], alice.contact_uri,
               "Request-URI: the Contact")
            check(inc.invite_req.all("via")[0].startswith(
                "SIP/2.0/TCP 127.0.0.1:%d;" % s.port),
                "sipd's Via: %s" % inc.invite_req.get("via"))
            inc.answer()
            eq(d.final().status, 200, "answered over the new connection")
            inc.expect_ack()
            d.request("BYE", wait=False)
            inc.expect_and_reply("BYE")
            eq(bob.expect_response(d.callid, "BYE", final=True).status,
               200, "BYE over the new connection")
            listener.no_connection(0.3)
            eq(contacts(s, "alice@example.com"), [alice.contact_uri],
               "alice's binding after the call")
            alive(s)
        finally:
            closing(alice, bob)
            listener.close()


def test_tcp_phone_closes_mid_call_bye_at_contact():
    """The dialog's flow was the phone's connection; once it is closed
    the BYE goes to the Contact over a new connection."""
    listener = ContactListener()
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        alice = tcp_phone(s, "alice", listener)
        bob = caller(s, "bob")
        try:
            d = bob.invite("sip:alice@example.com")
            inc = alice.expect_invite()
            inc.answer()
            eq(d.final().status, 200, "answered over the connection")
            inc.expect_ack()
            alice.close()
            time.sleep(1.0)
            d.request("BYE", wait=False)
            conn, _ = listener.accept()
            adopt(alice, conn)
            bye = inc.expect_and_reply("BYE")
            eq(bye.start.split()[1], alice.contact_uri,
               "Request-URI of the BYE")
            eq(bob.expect_response(d.callid, "BYE", final=True).status,
               200, "BYE at the Contact")
            alive(s)
        finally:
            closing(alice, bob)
            listener.close()


def test_tcp_nated_phone_close_removes_binding():
    """Behind a NAT (a Contact address other than the source) a TCP
    phone is reachable only over its connection: when that closes its
    binding goes; a phone at its own address keeps its binding."""
    listener = ContactListener()
    trap = Trap()
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        carol = nated_phone(s, trap, user="carol", transport="tcp")
        alice = tcp_phone(s, "alice", listener)
        bob = caller(s, "bob")
        try:
            eq(contacts(s, "carol@example.com"), [carol.contact_uri],
               "carol's binding")
            eq(reg_list_json(s, "carol@example.com")[0]["source"],
               "127.0.0.1:%d" % carol.local[1], "carol's source")
            carol.close()
            alice.close()
            deadline = time.time() + 5.0
            while contacts(s, "carol@example.com"):
                check(time.time() < deadline, "carol's binding still"
                      " there 5 s after her connection closed: %s" %
                      reg_list_json(s, "carol@example.com"))
                time.sleep(0.1)
            out = s.sipctl("reg", "list")
            eq(out.returncode, 0, "sipctl reg list")
            check("carol@example.com" not in out.stdout,
                  "carol in reg list: %r" % out.stdout)
            check("alice@example.com" in out.stdout,
                  "alice not in reg list: %r" % out.stdout)
            time.sleep(0.5)
            eq(contacts(s, "alice@example.com"), [alice.contact_uri],
               "alice (not behind a NAT) keeps her binding")

            d = bob.invite("sip:carol@example.com")
            eq(d.final().status, 480, "carol after her connection closed")
            trap.check_empty()
            alive(s)
        finally:
            closing(carol, alice, bob)
            trap.close()
            listener.close()


# --- 3. the event log file -------------------------------------------------

def test_eventlog_check_creates_no_file():
    s = Sipd(PROXY_CONF + EVENTLOG, accounts=ACCOUNTS, start=False)
    path = os.path.join(s.dir, "events.log")
    try:
        r = run_sipd("-t", "-f", s.conf_path, "-m", MODULES)
        eq(r.returncode, 0, "sipd -t with the event log (%s)" %
           r.stderr.strip())
        check(not os.path.exists(path), "sipd -t created %s" % path)
        # the running daemon writes it
        s.start()
        bob = UA(s, "bob", "secret2")
        try:
            bob.register()
            wait_events(s, lambda e: e.get("event") == "binding-added",
                        "binding-added")
            check(os.path.exists(path), "no %s" % path)
            alive(s)
        finally:
            closing(bob)
    finally:
        s.close()


def test_eventlog_unwritable_path_refused():
    s = Sipd(PROXY_CONF + "module eventlog\n"
             "eventlog_file {dir}/missing/events.log\n",
             accounts=ACCOUNTS, start=False)
    try:
        path = os.path.join(s.dir, "missing", "events.log")
        nlines = line_of(s.conf_path, "eventlog_file ")
        r = run_sipd("-t", "-f", s.conf_path, "-m", MODULES)
        check(r.returncode != 0, "sipd -t accepted an event log in a"
              " directory that does not exist")
        where = "%s:%d" % (s.conf_path, nlines)
        check(where in r.stderr, "the error does not name %s: %r" % (
            where, r.stderr))
        check(path in r.stderr, "the error does not name %s: %r" % (
            path, r.stderr))
        try:
            s.start(timeout=3)
            started = True
        except TestFailure:
            started = False
        check(not started, "sipd started with an unwritable event log")
        check(not os.path.exists(os.path.dirname(path)),
              "sipd created the directory")
    finally:
        s.close()
