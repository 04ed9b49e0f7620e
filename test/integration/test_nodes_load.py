"""Nodes of sipd on one PostgreSQL server under load (issue 15).

kill9_under_registration_load_loses_no_acknowledged_binding: two nodes
share one server; SIPp registers users at both; node A is killed with
SIGKILL in the middle of its load. Every REGISTER that A answered 200
(read from SIPp's message trace) has its binding in PostgreSQL; node B
goes on serving its own load, finds A's bindings and takes A's users
over (REGISTER and a call through B).

pg_restart_during_call_load_no_crash_calls_resume: SIPp calls through
sipd at a steady rate while the PostgreSQL server is stopped and, about
2 s later, started again: sipd does not crash, every call of the outage
is refused with 500 and Retry-After: 5 (none hangs), and calls succeed
again once the server is back.

Each test starts its own PostgreSQL server (test/pg/pgserver.py) on
127.0.0.1 and stops every process it starts by PID.
"""

import os
import signal
import sys
import time

from sipdlib import Sipd, Client, ROOT, SIPP_DIR, check, eq, free_port, \
    timing
from test_proxy import (PROXY_CONF, ACCOUNTS, UA, register_at, wait_bound,
                        sipp_messages, closing, uri_of)
from test_sipp import add_users, DOMAIN
from test_pg import pg_conf, psql

sys.path.insert(0, SIPP_DIR)
from sipprun import SippRun, free_udp_port, logged_aors       # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "test", "pg"))
from pgserver import PgServer                                  # noqa: E402


class Node(Sipd):
    """A sipd node: its own directory, configuration and free port on
    host (registrar and proxy over UDP and TCP), the shared PostgreSQL
    server as its database, log level info (a load writes no line per
    request)."""

    def __init__(self, pg, host="127.0.0.1", accounts=(), name=None):
        self.host = host
        conf = pg_conf(pg.uri, PROXY_CONF.replace("127.0.0.1", host)
                       .replace("log_level debug", "log_level info"))
        if name:
            conf += "node_name %s\nnode_uri sip:%s:{port}\n" % (name, host)
        Sipd.__init__(self, conf, accounts=accounts, start=False)
        if host != "127.0.0.1":
            self.port = free_port(host)
            self.write_conf(conf)

    @property
    def addr(self):
        return (self.host, self.port)


def alive(s, what):
    check(s.alive(), "%s: sipd died (exit status %s):\n%s" % (
        what, s.proc and s.proc.returncode, s.log()[-3000:]))


def aor_of(msg):
    """user@domain of a message's To."""
    return uri_of(msg.get("to", "")).split(":", 1)[-1]


def acknowledged(run):
    """The AORs whose REGISTER with credentials got a 200, as SIPp's
    message trace has them (every message SIPp received, the 200s of
    calls it had already given up on included)."""
    return {aor_of(m) for m in sipp_messages(run, "received")
            if m.status == 200 and m.get("cseq") == "2 REGISTER"}


def pg_bindings(pg, prefix):
    """{aor: {contact, ...}} of the unexpired bindings in PostgreSQL of
    the users named PREFIX<n>."""
    out = {}
    for aor, contact in psql(
            pg, "SELECT aor, contact FROM bindings WHERE aor LIKE '%s%%'"
            " AND expires > extract(epoch FROM now())" % prefix):
        out.setdefault(aor, set()).add(contact)
    return out


def reg_load(s, csv, calls, rate, name):
    """SIPp registering users of csv at s, its message trace on, a
    request retransmitted once before its call fails."""
    return SippRun("register_auth.xml", s.addr, s.dir, inf=csv,
                   calls=calls, rate=rate, trace_msg=True, max_retrans=1,
                   keys={"domain": DOMAIN, "expires": 3600},
                   auth_uri=DOMAIN, name=name)


@timing
def test_kill9_under_registration_load_loses_no_acknowledged_binding():
    t0 = time.time()
    with PgServer() as pg, Node(pg, "127.0.0.1", name="a") as a, \
            Node(pg, "127.0.0.2", name="b") as b:
        eq(a.sipctl("db", "init").returncode, 0, "sipctl db init")
        csv_a, aors_a = add_users(a, 2000, prefix="a")
        csv_b, aors_b = add_users(a, 1000, prefix="b")
        a.start()
        b.start()
        load_a = reg_load(a, csv_a, 2000, 1000, "load-a")
        load_b = reg_load(b, csv_b, 1000, 500, "load-b")
        load_a.start()
        load_b.start()
        try:
            time.sleep(1.0)
            alive(a, "node A before the kill")
            eq(a.kill9(), -signal.SIGKILL, "node A's end")
            killed_at = time.time() - load_a.started
            load_a.kill(signal.SIGUSR1)     # no new call; ends the others
            res_a = load_a.wait(timeout=8)
            res_b = load_b.wait(timeout=8)
        finally:
            load_a.kill()
            load_b.kill()

        # what A acknowledged: the 200s of its message trace (a 200 that
        # SIPp logged from its scenario is one of them)
        acked = acknowledged(load_a)
        logged = set(logged_aors(res_a.logged(), "registered"))
        check(logged <= acked, "200s SIPp logged but not traced: %s" %
              sorted(logged - acked)[:10])
        # the kill came in the middle of the load: some registered, some
        # did not
        check(len(acked) >= 100 and res_a.failed > 0 and
              len(acked) < len(aors_a),
              "A killed at %.2f s: %d acknowledged, %s" % (
                  killed_at, len(acked), res_a.summary()))

        # every acknowledged binding is in PostgreSQL, with A's contact
        rows = pg_bindings(pg, "a")
        contact = "sip:%%s@127.0.0.1:%d" % load_a.port
        missing = sorted(aor for aor in acked if
                         contact % aor.split("@")[0] not in
                         rows.get(aor, ()))
        eq(missing, [], "acknowledged by A (%d) but not in PostgreSQL"
           % len(acked))
        unacked = set(rows) - acked
        stray = sorted(aor for aor in rows if aor not in aors_a)
        eq(stray, [], "bindings of users A never saw")

        # B served its own load while A died
        alive(b, "node B after A's death")
        check(res_b.ok, "B's load: %s\n%s" % (res_b.summary(),
                                                res_b.errors()))
        eq(sorted(pg_bindings(pg, "b")), sorted(aors_b),
           "B's users bound in PostgreSQL")

        # B finds a binding A made: a REGISTER without Contact at B
        some = sorted(acked)
        aor = some[0]
        cl = Client(b.addr)
        try:
            r = cl.register(aor, "pw-" + aor.split("@")[0], contacts=[])
        finally:
            cl.close()
        eq(r and r.status, 200, "query of %s at B" % aor)
        eq([uri_of(c) for c in r.all("contact")],
           [contact % aor.split("@")[0]], "%s's contacts at B" % aor)

        # A's users move to B: each REGISTER at B answered 200 with its
        # new contact and the one made through A
        phones = []
        try:
            for aor in some[1:4]:
                user = aor.split("@")[0]
                ua = UA(b, user, "pw-" + user, server=b.addr)
                phones.append(ua)
                r = ua.register()
                eq(sorted(uri_of(c) for c in r.all("contact")),
                   sorted([contact % user, ua.contact_uri]),
                   "%s's contacts in B's 200" % aor)
            # a call through B reaches a phone of A's user
            callee = phones[0]
            caller = UA(b, "b0", "pw-b0", server=b.addr)
            phones.append(caller)
            d = caller.invite(callee.uri)
            inc = callee.expect_invite(timeout=5)
            inc.answer()
            eq(d.final().status, 200, "the call through B is answered")
            inc.expect_ack()
            d.request("BYE", wait=False)
            inc.expect_and_reply("BYE")
            eq(caller.expect_response(d.callid, "BYE", final=True).status,
               200, "the BYE answered")
        finally:
            closing(*phones)
        alive(b, "node B at the end")
        print("  A killed at %.2f s of its load: %d acknowledged, %d more"
              " committed unacknowledged, %s; B: %s; %.1f s" % (
                  killed_at, len(acked), len(unacked), res_a.summary(),
                  res_b.summary(), time.time() - t0))


# --- PostgreSQL restarted under calls ---------------------------------------

def outcomes(run):
    """{call number: (what, rest)} of proxy_uac_outage.xml's log lines:
    ("answered", []) or ("refused", [retry-after])."""
    out = {}
    for line in run.logged():
        words = line.split()
        if words and words[0] in ("answered", "refused"):
            n = int(words[1])
            check(n not in out, "two outcomes of call %d" % n)
            out[n] = (words[0], words[2:])
    return out


def answered(run):
    """The numbers of the calls of run that were answered."""
    return sorted(n for n, (what, _) in outcomes(run).items()
                  if what == "answered")


def call_load(s, calls, rate, name):
    """SIPp calling bob as alice through s at rate; a call without an
    answer fails after 4 s (a hang) rather than being retried on."""
    return SippRun("proxy_uac_outage.xml", s.addr, s.dir, calls=calls,
                   rate=rate, keys={"domain": DOMAIN, "caller": "alice",
                                    "callee": "bob"},
                   auth_uri="bob@" + DOMAIN, name=name,
                   extra=["-au", "alice", "-ap", "secret",
                          "-recv_timeout", "4000",
                          "-max_invite_retrans", "3"])


@timing
def test_pg_restart_during_call_load_no_crash_calls_resume():
    t0 = time.time()
    with PgServer() as pg, Node(pg, accounts=ACCOUNTS) as s:
        s.start()
        pid = s.proc.pid
        port = free_udp_port()
        register_at(s, "bob", "secret2", port)
        uas = SippRun("proxy_uas.xml", s.addr, s.dir, calls=100000,
                      rate=1, local_port=port, name="uas",
                      keys={"domain": DOMAIN, "callee": "bob",
                            "caller": "alice"})
        uas.start()
        steady = None
        try:
            wait_bound(uas)
            rate, secs = 30, 6
            steady = call_load(s, rate * secs, rate, "steady").start()
            time.sleep(1.0)
            alive(s, "before the stop")
            halt = time.time() - steady.started
            pg.halt()
            time.sleep(2.0)
            alive(s, "PostgreSQL stopped")
            pg.resume()
            back = time.time() - steady.started
            res = steady.wait(timeout=secs + 8)
            alive(s, "after the steady load")
            final = call_load(s, 40, 40, "final").run(timeout=10)
        finally:
            if steady:
                steady.kill()
            uas.kill()
        alive(s, "at the end")
        with open(s.pidfile) as f:
            eq(int(f.read().split()[0]), pid, "the PID in sipd's PID file")

        # every call of the steady load ended: answered, or refused with
        # 500 and Retry-After: 5; none hung
        got = outcomes(steady)
        check(res.ok and len(got) == res.created,
              "steady load: %d outcomes logged, %s\n%s" % (
                  len(got), res.summary(), res.errors()))
        refused = sorted(n for n, (what, _) in got.items()
                         if what == "refused")
        check(refused, "no call refused: PostgreSQL stopped at %.2f s,"
              " back at %.2f s" % (halt, back))
        bad = [(n, got[n][1]) for n in refused if got[n][1] != ["5"]]
        eq(bad, [], "refusals without Retry-After: 5")
        ok = answered(steady)
        check(ok and ok[0] < refused[0] and ok[-1] > refused[-1],
              "answered calls before and after the outage: answered %s,"
              " refused %s" % (ok, refused))
        # calls started 2 s after the server was back are answered (sipd
        # tries again every second), by the calls' numbers
        late = [n for n in refused if n > (back + 2.0) * rate]
        eq(late, [], "calls refused after the server was back at %.2f s"
           % back)

        check(final.ok and len(answered(final)) == 40,
              "the final 40 calls: %s\n%s" % (final.summary(),
                                               final.errors()))
        log = s.log()
        eq(log.count("PostgreSQL connection lost"), 1,
           "the loss logged once:\n" + log[-3000:])
        check("PostgreSQL connection back" in log,
              "the return not logged:\n" + log[-3000:])
        print("  PostgreSQL stopped at %.2f s, back at %.2f s of the"
              " load: %d calls answered, %d refused (%d..%d); final: %s;"
              " %.1f s" % (halt, back, len(ok), len(refused),
                           refused[0], refused[-1], final.summary(),
                           time.time() - t0))
