"""Calls routed to server pools (issue 14, item 1): the proxy and the
redirect role with "route PATTERN>pool:NAME".

The members are SIPp user agents (test/sipp/pool_uas.xml, run with -aa so
that the pool's OPTIONS probes are answered) for the load test, and small
threaded UDP members (class Member) for the rest: one that answers, one
that answers 503 with Retry-After, one that is stopped (answers nothing,
not even the probes).
"""

import json
import os
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from sipdlib import (Sipd, Msg, SIPP_DIR, check, eq, param,  # noqa: E402
                     rand_token, start_refused, wait_for)
from test_proxy import UA, closing, alive, events, contact_uri  # noqa

sys.path.insert(0, SIPP_DIR)
from sipprun import SippRun  # noqa: E402

# a trusted socket for the callers (numbers leave by their routes), a
# redirect socket; probes every second, down after two misses
CONF = """\
domain example.com
db {db}
log_level debug
module location
module auth
module eventlog
eventlog_file {dir}/events.log
listen udp:127.0.0.1:{port};roles=proxy;auth=off
listen udp:127.0.0.1:{port2};roles=redirect;auth=off
pool_probe_interval 1
pool_probe_failures 2
route 555*>pool:gw
"""


class Member:
    """A pool member on a UDP port of 127.0.0.1, in a thread. mode:
    "answer" (200 to INVITE, OPTIONS and BYE), "busy503" (503 with
    Retry-After to INVITE and OPTIONS), "invite503" (503 to INVITE only:
    its probes say it is up), "stopped" (nothing at all)."""

    def __init__(self, mode="answer", retry_after=30):
        self.mode = mode
        self.retry_after = retry_after
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.invites = []           # Call-IDs, in order
        self.options = 0
        self.running = True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    @property
    def uri(self):
        return "sip:127.0.0.1:%d" % self.port

    def reply(self, req, src, code, reason, extra=()):
        to = req.get("to")
        if code > 100 and ";tag=" not in to:
            to += ";tag=" + rand_token(6)
        lines = ["SIP/2.0 %d %s" % (code, reason)]
        lines += ["Via: %s" % v for v in req.all("via")]
        if req.method == "INVITE" and code == 200:
            lines += ["Record-Route: %s" % v
                      for v in req.all("record-route")]
            lines.append("Contact: <sip:pbx@127.0.0.1:%d>" % self.port)
        lines += ["From: %s" % req.get("from"), "To: %s" % to,
                  "Call-ID: %s" % req.get("call-id"),
                  "CSeq: %s" % req.get("cseq")]
        lines += list(extra)
        lines.append("Content-Length: 0")
        self.sock.sendto(("\r\n".join(lines) + "\r\n\r\n").encode(), src)

    def run(self):
        while self.running:
            try:
                data, src = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            m = Msg(data.decode("utf-8", "replace"))
            if m.is_response or self.mode == "stopped":
                continue
            if m.method == "INVITE":
                self.invites.append(m.get("call-id"))
            if m.method == "OPTIONS":
                self.options += 1
            if m.method == "ACK":
                continue
            if (self.mode == "busy503" and m.method in ("INVITE",
                                                        "OPTIONS")) or \
                    (self.mode == "invite503" and m.method == "INVITE"):
                self.reply(m, src, 503, "Service Unavailable",
                           ["Retry-After: %d" % self.retry_after])
            else:
                self.reply(m, src, 200, "OK")

    def close(self):
        self.running = False
        self.thread.join(1)
        self.sock.close()


def pool_conf(line, extra=""):
    return CONF + line + "\n" + extra


def pool_json(s, name="gw"):
    r = s.sipctl("pool", name, "--json")
    eq(r.returncode, 0, "sipctl pool --json: %s" % r.stderr)
    return json.loads(r.stdout)


def members_by_uri(s):
    """{member URI: its object} of sipctl pool --json (any shape of a
    list of members, or of pools holding lists of members)."""
    data = pool_json(s)
    out = {}

    def walk(x):
        if isinstance(x, dict):
            if "uri" in x and "state" in x:
                out[x["uri"]] = x
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    walk(data)
    return out


def state_of(s, member):
    return members_by_uri(s).get(member.uri, {}).get("state")


def call(s, ua, number="5551234", server=None):
    """An INVITE from the trusted socket's side; returns the Dialog."""
    ua.server = server or s.addr
    return ua.invite("sip:%s@example.com" % number, auth=False)


def test_failover_on_503_within_one_call_and_member_drained():
    a, b = Member("invite503", retry_after=30), Member()
    conf = pool_conf("pool gw algorithm=least-busy %s;weight=10 %s" % (
        a.uri, b.uri))
    with Sipd(conf) as s:
        alice = UA(s, "alice")
        try:
            wait_for(lambda: state_of(s, a) == "up", "A up", timeout=3)
            d = call(s, alice)
            eq(d.final().status, 200, "the call, after A's 503")
            eq((len(a.invites), b.invites), (1, [d.callid]),
               "A (first by weight) then B in the same call")
            wait_for(lambda: state_of(s, a) == "drained", "A drained")
            d.request("BYE")
            d2 = call(s, alice)
            eq(d2.final().status, 200, "the next call")
            eq(len(a.invites), 1, "a drained member gets no call")
            eq(b.invites[-1], d2.callid, "B took it")
            ev = [e for e in events(s) if e.get("event") == "routed"]
            check(ev and ev[0]["how"] == "pool" and
                  ev[0]["callee"] == "gw", "pool event: %s" % ev)
            alive(s)
        finally:
            closing(alice)
            a.close()
            b.close()


def test_stopped_member_gets_no_call_after_probes():
    a, b = Member(), Member()
    conf = pool_conf("pool gw %s;weight=10 %s" % (a.uri, b.uri))
    with Sipd(conf) as s:
        alice = UA(s, "alice")
        try:
            wait_for(lambda: a.options and b.options, "probes", timeout=3)
            eq(state_of(s, a), "up", "A answers its probes")
            a.mode = "stopped"
            t0 = time.time()
            wait_for(lambda: state_of(s, a) == "down", "A down",
                     timeout=5)
            check(time.time() - t0 <= 3.5, "down within interval x"
                  " failures (2 s) and a probe's wait")
            for _ in range(3):
                d = call(s, alice)
                eq(d.final().status, 200, "a call with A down")
                d.request("BYE")
            eq(a.invites, [], "the stopped member got no call")
            eq(len(b.invites), 3, "B took every call")
            # back: up after one answer
            a.mode = "answer"
            wait_for(lambda: state_of(s, a) == "up", "A up again",
                     timeout=4)
        finally:
            closing(alice)
            a.close()
            b.close()


def test_every_member_full_answers_503_with_retry_after():
    a = Member()
    conf = pool_conf("pool gw %s;max=1" % a.uri)
    with Sipd(conf) as s:
        alice = UA(s, "alice")
        try:
            d = call(s, alice)
            eq(d.final().status, 200, "the first call")
            eq(members_by_uri(s)[a.uri].get("calls"), 1,
               "one call in progress")
            d2 = call(s, alice)
            r = d2.final()
            eq(r.status, 503, "the pool is full")
            check(r.get("retry-after"), "503 with Retry-After")
            d.request("BYE")
            wait_for(lambda: members_by_uri(s)[a.uri].get("calls") == 0,
                     "the call ended")
            d3 = call(s, alice)
            eq(d3.final().status, 200, "room again")
        finally:
            closing(alice)
            a.close()


def test_redirect_lists_live_members_in_order_of_choice():
    a, b, c = Member(), Member(), Member("stopped")
    conf = pool_conf("pool gw algorithm=least-busy %s %s;weight=3 %s" % (
        a.uri, b.uri, c.uri))
    with Sipd(conf) as s:
        alice = UA(s, "alice")
        try:
            wait_for(lambda: state_of(s, c) == "down", "C down",
                     timeout=5)
            firsts = []
            for _ in range(8):
                d = call(s, alice, server=s.addr2)
                r = d.final()
                eq(r.status, 302, "redirected to the pool")
                got = [(contact_uri(v), param(v.split(">", 1)[1], "q"))
                       for v in r.all("contact")]
                uris = [u for u, _ in got]
                check(c.uri not in " ".join(uris), "down C left out")
                eq(sorted(uris), sorted(["sip:5551234@127.0.0.1:%d" % m.port
                                         for m in (a, b)]),
                   "both live members listed")
                eq([q for _, q in got], ["1.000", "0.999"], "q falls")
                firsts.append(uris[0])
            nb = firsts.count("sip:5551234@127.0.0.1:%d" % b.port)
            eq((nb, len(firsts) - nb), (6, 2),
               "least-busy by recent redirects, 3:1 as the weights")
            # nobody alive: 503
            a.mode = b.mode = "stopped"
            wait_for(lambda: state_of(s, a) == "down" and
                     state_of(s, b) == "down", "all down", timeout=5)
            d = call(s, alice, server=s.addr2)
            eq(d.final().status, 503, "no member alive")
            eq(a.invites + b.invites + c.invites, [],
               "a redirect sends nothing to members")
        finally:
            closing(alice)
            for m in (a, b, c):
                m.close()


def test_route_to_unknown_pool_refused():
    s = Sipd(CONF.replace("pool:gw", "pool:nope") +
             "pool gw sip:127.0.0.1:5999\n", accounts=(), start=False)
    try:
        out = start_refused(s, "no pool nope")
        check("no pool nope" in out and "sipd.conf:" in out,
              "refused naming the line:\n" + out)
    finally:
        s.close()


def sipp_member(s, weight_name, delay_ms):
    run = SippRun("pool_uas.xml", s.addr, s.dir, calls=100000, rate=1,
                  keys={"callee": "pbx"}, trace_msg=False,
                  extra=["-aa", "-d", str(delay_ms)],
                  name="member-" + weight_name)
    return run


def start_members(s, members):
    """Start SIPp members on ports other than sipd's (not bound yet:
    the kernel may hand out the same free port twice)."""
    for m in members:
        for _ in range(5):
            m.start()
            if m.port not in (s.port, s.port2):
                break
            m.kill()
            m.proc.wait()


def invites_received(run):
    """INVITEs a SIPp member answered: its successful calls."""
    stats = run.final_stats()
    try:
        return int(stats.get("SuccessfulCall(C)", 0))
    except ValueError:
        return 0


def pool_load(delays, weights, calls=300, rate=50, hold_ms=2000):
    """SIPp members answering after delays (ms) with weights, calls from
    SIPp through the proxy: the INVITEs each member answered."""
    with Sipd(CONF, accounts=(), start=False) as s:
        members = [sipp_member(s, "m%d" % i, d)
                   for i, d in enumerate(delays)]
        start_members(s, members)
        try:
            line = "pool gw algorithm=least-busy " + " ".join(
                "sip:127.0.0.1:%d;weight=%d" % (m.port, w)
                for m, w in zip(members, weights))
            s.write_conf(CONF + line + "\n")
            s.start()
            wait_for(lambda: len(members_by_uri(s)) == len(members) and
                     all(v.get("state") == "up" for v in
                         members_by_uri(s).values()), "members up",
                     timeout=10)
            uac = SippRun("pool_uac.xml", s.addr, s.dir, calls=calls,
                          rate=rate, keys={"caller": "alice",
                                           "callee": "5551234",
                                           "domain": "example.com"},
                          extra=["-d", str(hold_ms), "-l", "400"])
            res = uac.run(timeout=180)
            check(res.ok, "%d calls: %s%s" % (calls, res.summary(),
                                               res.errors()))
            time.sleep(2.5)     # the members' statistics, every second
            alive(s)
        finally:
            for m in members:
                m.kill()
        return [invites_received(m) for m in members]


def test_least_busy_spreads_300_calls_by_weight_sipp():
    """Three SIPp members of weights 1, 1 and 2; 300 calls of 2 s at 50
    a second: each member's share within 10 % of its weight's."""
    got = pool_load((0, 0, 0), (1, 1, 2))
    eq(sum(got), 300, "every call answered by a member: %s" % got)
    for n, want in zip(got, (75, 75, 150)):
        check(abs(n - want) <= want * 0.10,
              "calls per member %s within 10%% of 75/75/150" % got)


def test_least_busy_spares_the_member_holding_calls_longest_sipp():
    """The same with the first member slow (it answers after 3 s, so
    its calls last 5 s where the others' last 2 s): least-busy counts
    its calls in progress and sends it fewer; the other two keep their
    1:2 ratio within 10 %."""
    got = pool_load((3000, 0, 0), (1, 1, 2))
    eq(sum(got), 300, "every call answered by a member: %s" % got)
    check(got[0] < 0.6 * got[1],
          "the slow member gets clearly fewer calls than its twin: %s"
          % got)
    check(abs(got[2] / float(got[1]) - 2.0) <= 0.2,
          "the other two keep 1:2 within 10 %%: %s" % got)


def test_sipp_members_overloaded_slow_and_stopped():
    """Three SIPp members: one answers every INVITE 503 with Retry-After
    (weight 10, so chosen first), one is slow (answers after 1 s), one
    answers at once. The first call fails over from the 503 member, which
    is then drained and gets no other; once the quick member is stopped
    (killed by its PID) and the probes found it down, no call is sent to
    it: every call of both runs succeeds."""
    with Sipd(CONF, accounts=(), start=False) as s:
        overloaded = SippRun("pool_uas_503.xml", s.addr, s.dir,
                             calls=100000, rate=1, extra=["-aa"],
                             name="member-503")
        slow = sipp_member(s, "slow", 1000)
        quick = sipp_member(s, "quick", 0)
        members = (overloaded, slow, quick)
        start_members(s, members)
        try:
            s.write_conf(CONF + "pool gw sip:127.0.0.1:%d;weight=10"
                         " sip:127.0.0.1:%d sip:127.0.0.1:%d\n" % (
                             overloaded.port, slow.port, quick.port))
            s.start()
            wait_for(lambda: len(members_by_uri(s)) == 3 and
                     all(v.get("state") == "up" for v in
                         members_by_uri(s).values()), "members up",
                     timeout=10)

            def calls(n):
                uac = SippRun("pool_uac.xml", s.addr, s.dir, calls=n,
                              rate=5, keys={"caller": "alice",
                                            "callee": "5551234",
                                            "domain": "example.com"},
                              extra=["-d", "500"])
                res = uac.run(timeout=120)
                check(res.ok, "%d calls: %s%s" % (n, res.summary(),
                                                   res.errors()))

            calls(10)
            over = "sip:127.0.0.1:%d" % overloaded.port
            eq(members_by_uri(s)[over]["state"], "drained",
               "the 503 member drained")
            firsts = [e["target"] for e in events(s)
                      if e.get("event") == "routed"]
            eq(firsts.count(over), 1, "the 503 member was first once")

            quick.kill()
            qu = "sip:127.0.0.1:%d" % quick.port
            wait_for(lambda: members_by_uri(s)[qu]["state"] == "down",
                     "the stopped member down", timeout=5)
            before = len(firsts)
            calls(5)
            firsts = [e["target"] for e in events(s)
                      if e.get("event") == "routed"][before:]
            eq(len(firsts), 5, "five more calls routed")
            check(qu not in firsts and over not in firsts,
                  "neither the stopped nor the drained member was chosen:"
                  " %s" % firsts)
            alive(s)
        finally:
            for m in members:
                m.kill()
