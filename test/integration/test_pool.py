"""Server pools: members probed with OPTIONS (up, down, drained), shown by
sipctl pool and the metrics; bad pool lines stop sipd -t, naming the
line. The members are small UDP responders on loopback."""

import json
import socket
import subprocess
import threading
import time
import urllib.request

from sipdlib import (Sipd, SIPD, MODULES, check, eq, free_port, status,
                     wait_for)
from test_control import parse_metrics


class Responder:
    """A UDP server answering OPTIONS with a code (and Retry-After)."""

    def __init__(self, code=200, retry_after=None):
        self.code = code
        self.retry_after = retry_after
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.probes = 0
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    @property
    def uri(self):
        return "sip:127.0.0.1:%d" % self.port

    def serve(self):
        while True:
            try:
                data, addr = self.sock.recvfrom(65535)
            except OSError:
                return
            text = data.decode("utf-8", "replace")
            if not text.startswith("OPTIONS "):
                continue
            self.probes += 1
            keep = [ln for ln in text.split("\r\n")
                    if ln.split(":")[0].strip().lower()
                    in ("via", "from", "to", "call-id", "cseq")]
            extra = ""
            if self.retry_after is not None:
                extra = "Retry-After: %d\r\n" % self.retry_after
            resp = "SIP/2.0 %d Whatever\r\n%s\r\n%sContent-Length: 0\r\n\r\n" \
                % (self.code, "\r\n".join(keep), extra)
            try:
                self.sock.sendto(resp.encode(), addr)
            except OSError:
                return

    def stop(self):
        self.sock.close()


POOL_CONF = """\
domain example.com
db {db}
log_level info
module location
module auth
listen udp:127.0.0.1:{port};roles=registrar
pool_probe_interval 1
pool_probe_failures 2
"""


def members(s, *args):
    r = s.sipctl("pool", *(args + ("--json",)))
    eq(r.returncode, 0, "sipctl pool --json (%s)" % r.stderr.strip())
    return {m["uri"]: m for m in json.loads(r.stdout)}


def state_is(s, uri, state):
    return members(s)[uri]["state"] == state


def test_pool_probes():
    """Three members answer: up; one stops: down after interval *
    failures; one answers 503 with Retry-After: drained."""
    rs = [Responder(), Responder(), Responder()]
    mport = free_port()
    conf = POOL_CONF + "metrics_listen 127.0.0.1:%d\n" % mport
    conf += "pool gw %s;weight=2 %s;max=4\npool gw %s\n" % (
        rs[0].uri, rs[1].uri, rs[2].uri)
    try:
        with Sipd(conf=conf) as s:
            wait_for(lambda: all(m["state"] == "up"
                                 for m in members(s).values()),
                     "every member up")
            ms = members(s, "gw")
            eq(len(ms), 3, "three members")
            m0 = ms[rs[0].uri]
            eq(m0["pool"], "gw", "pool")
            eq(m0["weight"], 2, "weight")
            eq(ms[rs[1].uri]["max"], 4, "max")
            eq(m0["last_probe"], 200, "last probe answer")
            check(m0["last_probe_time"] > 0, "probe time")
            eq(m0["calls"], 0, "calls")

            r = s.sipctl("pool")
            eq(r.returncode, 0, "sipctl pool")
            check(rs[2].uri in r.stdout and " up " in r.stdout,
                  "text listing:\n" + r.stdout)

            # no such pool: an error
            r = s.sipctl("pool", "nope")
            check(r.returncode != 0, "sipctl pool nope exits non-zero")
            check("no pool 'nope'" in r.stderr, "says why: " + r.stderr)

            # the metrics and the status
            url = "http://127.0.0.1:%d/metrics" % mport
            with urllib.request.urlopen(url, timeout=5) as resp:
                series = parse_metrics(resp.read().decode())
            for rsp in rs:
                key = '{pool="gw",member="%s"}' % rsp.uri
                eq(series[("sipd_pool_member_up", key)], 1, "up series")
                eq(series[("sipd_pool_member_calls", key)], 0,
                   "calls series")
            st = status(s)
            eq(st["pool_member_up"]["gw/%s" % rs[0].uri], 1,
               "status figure")

            # a member stops answering: down after 2 probes of 1 s
            rs[1].stop()
            t0 = time.time()
            wait_for(lambda: state_is(s, rs[1].uri, "down"),
                     "the stopped member down", timeout=6)
            check(time.time() - t0 >= 0.9, "not down at once")
            check("pool gw: %s down (2 probes" % rs[1].uri in s.log(),
                  "the log says why:\n" + s.log()[-600:])

            # a member answering 503 with Retry-After: drained
            rs[2].code, rs[2].retry_after = 503, 30
            wait_for(lambda: state_is(s, rs[2].uri, "drained"),
                     "the 503 member drained", timeout=4)
            eq(members(s)[rs[2].uri]["last_probe"], 503, "last answer")
            check("pool gw: %s drained for 30 s (503)" % rs[2].uri
                  in s.log(), "drain logged")

            with urllib.request.urlopen(url, timeout=5) as resp:
                series = parse_metrics(resp.read().decode())
            eq(series[("sipd_pool_member_up",
                       '{pool="gw",member="%s"}' % rs[1].uri)], 0,
               "down member series")
            eq(series[("sipd_pool_member_up",
                       '{pool="gw",member="%s"}' % rs[2].uri)], 0,
               "drained member series")
            eq(series[("sipd_pool_member_up",
                       '{pool="gw",member="%s"}' % rs[0].uri)], 1,
               "live member series")
    finally:
        for rsp in rs:
            rsp.stop()


def test_pool_reload_keeps_members():
    """A reload replaces the pools; a member that stays keeps its state."""
    rs = [Responder(), Responder()]
    conf = POOL_CONF + "pool gw %s %s\n" % (rs[0].uri, rs[1].uri)
    try:
        with Sipd(conf=conf) as s:
            wait_for(lambda: state_is(s, rs[0].uri, "up"), "member up")
            rs[0].code, rs[0].retry_after = 503, 60
            wait_for(lambda: state_is(s, rs[0].uri, "drained"), "drained")
            s.write_conf(POOL_CONF + "pool gw %s;weight=3\n"
                         "pool other %s\n" % (rs[0].uri, rs[1].uri))
            r = s.sipctl("reload")
            eq(r.returncode, 0, "reload: " + r.stderr)
            ms = members(s)
            eq(len(ms), 2, "members after the reload")
            eq(ms[rs[0].uri]["state"], "drained", "the state stays")
            eq(ms[rs[0].uri]["weight"], 3, "the new weight")
            eq(ms[rs[1].uri]["pool"], "other", "moved to another pool")
            eq(list(members(s, "other")), [rs[1].uri], "pool other")

            # a broken pool line: the reload is refused, the pools stay
            s.write_conf(POOL_CONF + "pool gw %s;weight=0\n" % rs[0].uri)
            r = s.sipctl("reload")
            check(r.returncode != 0, "a bad reload fails")
            check("weight must be a number >= 1" in r.stderr,
                  "the reload says why: " + r.stderr)
            eq(len(members(s)), 2, "the pools stay")
    finally:
        for rsp in rs:
            rsp.stop()


def test_pool_config_errors():
    """sipd -t on bad pool lines exits non-zero naming file:line."""
    for line, what in (
            ("pool gw", "pool 'gw' has no members"),
            ("pool gw sip:127.0.0.1;weight=0", "weight must be a number"),
            ("pool gw algorithm=best sip:127.0.0.1",
             "unknown algorithm 'best'"),
            ("pool gw sips:127.0.0.1", "use sip:...;transport=tls"),
            ("pool gw sip:127.0.0.1;flavour=x", "unknown parameter"),
            ("pool gw sip:127.0.0.1 sip:127.0.0.1", "listed twice"),
            ("pool gw sip:a b c d", "is not a member URI")):
        s = Sipd(POOL_CONF + line + "\n", start=False)
        try:
            r = subprocess.run([SIPD, "-t", "-f", s.conf_path, "-m",
                                MODULES], capture_output=True, text=True,
                               timeout=30)
            check(r.returncode != 0, "sipd -t accepted %r" % line)
            want = "%s:9: pool: " % s.conf_path
            out = r.stdout + r.stderr
            check(want in out and what in out,
                  "%r: expected %r and %r in:\n%s" % (line, want, what, out))
        finally:
            s.close()

    # a host name that does not resolve is no start failure; the only
    # DNS server is a stub on 127.0.0.1 that refuses every query, so
    # nothing leaves the machine
    from test_baresip import DnsStub
    dns = DnsStub()
    s = Sipd(POOL_CONF + "pool gw sip:nonexistent.invalid:5060\n"
             "dns_server 127.0.0.1:%d\n" % dns.port)
    try:
        wait_for(lambda: members(s)["sip:nonexistent.invalid:5060"]
                 ["state"] == "down", "the unresolved member down",
                 timeout=8)
        why = members(s)["sip:nonexistent.invalid:5060"]["last_probe"]
        check(why in ("unresolved", "timeout"), "why: %r" % why)
        if why == "unresolved":     # a DNS server that answers at once
            check("cannot resolve nonexistent.invalid" in s.log(),
                  "warning")
        check(dns.queries and all(q[0] == "nonexistent.invalid"
                                  for q in dns.queries),
              "the stub was asked: %s" % dns.queries)
    finally:
        s.close()
        dns.close()
