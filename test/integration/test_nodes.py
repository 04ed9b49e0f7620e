"""Several sipd nodes on one PostgreSQL (node_name, node_uri): a phone
registered at one node is reached from another, through the node that
holds its flow (UDP behind a NAT, TCP) or directly (a routable Contact);
a change made by sipctl or by another node is seen at once by every
node's caches; a name that a running node holds is refused.

Node A listens on 127.0.0.1, node B on 127.0.0.2 (and C on 127.0.0.3);
each test starts its own PostgreSQL server (test/pg/pgserver.py) and
stops everything by PID.
"""

import json
import os
import sys
import time

from sipdlib import Sipd, check, eq, wait_for
from test_proxy import PROXY_CONF, ACCOUNTS, UA, caller, closing, phone
from test_nat import Trap, nated_phone
from test_pg import pg_conf, psql
from test_presence import PRES_CONF, PUA, pidf, publish_ok
from test_presence import ACCOUNTS as PRES_ACCOUNTS

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "pg"))
from pgserver import PgServer                                  # noqa: E402


class Node(Sipd):
    """A sipd node of the shared database, on its own loopback address."""

    def __init__(self, pg, name, host, accounts=(), extra="",
                 base=PROXY_CONF, **kw):
        self.host = host
        conf = pg_conf(pg.uri, base.replace("127.0.0.1", host))
        conf += "node_name %s\nnode_uri sip:%s:{port}\n" % (name, host)
        super().__init__(conf + extra, accounts=accounts, **kw)

    @property
    def addr(self):
        return (self.host, self.port)


def nodes(pg, n=2, accounts=ACCOUNTS, **kw):
    a = Node(pg, "a", "127.0.0.1", accounts=accounts, **kw)
    out = [a]
    for name, host in (("b", "127.0.0.2"), ("c", "127.0.0.3"))[:n - 1]:
        out.append(Node(pg, name, host, **kw))
    return out


def close_all(*items):
    for x in items:
        x.close()


def call_answered(alice, callee, what):
    """alice calls bob; the callee phone answers; the call is torn down."""
    d = alice.invite("sip:bob@example.com")
    inc = callee.expect_invite()
    inc.answer()
    eq(d.final().status, 200, what + ": the call is answered")
    inc.expect_ack()
    d.request("BYE", wait=False)
    inc.expect_and_reply("BYE")
    eq(alice.expect_response(d.callid, "BYE", final=True).status, 200,
       what + ": the BYE answered")
    return inc


def test_nated_udp_phone_at_a_called_from_b():
    """bob's UDP phone is behind a NAT and registered at A; alice calls
    from B: the INVITE reaches bob through A (from A's socket, to the
    NAT's address, never to the private Contact), and the BYE too."""
    with PgServer() as pg:
        a, b = nodes(pg)
        trap = Trap()
        bob = nated_phone(a, trap)
        alice = caller(b)
        try:
            rows = psql(pg, "SELECT aor, node FROM bindings")
            eq(rows, [["bob@example.com", "a"]], "the binding names A")
            r = b.sipctl("reg", "list", "--json")
            eq(r.returncode, 0, "sipctl reg list: %s" % r.stderr)
            eq([x["node"] for x in json.loads(r.stdout)], ["a"],
               "sipctl shows the node of the binding")
            inc = call_answered(alice, bob, "NATed phone at A")
            eq(inc.invite_req.src, a.addr, "the INVITE came from A's"
               " socket, through the phone's NAT")
            eq(inc.invite_req.start.split()[1], bob.contact_uri,
               "Request-URI: the registered Contact")
            check("nn" not in inc.invite_req.get("route", ""),
                  "no node token reaches the phone: %s" % inc.invite_req)
            trap.check_empty()
        finally:
            closing(alice, bob)
            trap.close()
            close_all(a, b)


def test_tcp_phone_at_a_called_from_b():
    """bob's phone registered over TCP at A; alice calls from B: the
    INVITE comes down bob's own connection to A."""
    with PgServer() as pg:
        a, b = nodes(pg)
        bob = phone(a, "bob", transport="tcp")
        alice = caller(b)
        try:
            call_answered(alice, bob, "TCP phone at A")
        finally:
            closing(alice, bob)
            close_all(a, b)


def test_routable_udp_phone_reached_directly_from_b():
    """A phone without NAT over UDP is reached from B directly: its
    INVITE comes from B's socket, A is not on the way."""
    with PgServer() as pg:
        a, b = nodes(pg)
        bob = phone(a, "bob")
        alice = caller(b)
        try:
            inc = call_answered(alice, bob, "routable phone")
            eq(inc.invite_req.src, b.addr, "sent by B itself")
        finally:
            closing(alice, bob)
            close_all(a, b)


def test_routable_phone_of_killed_node_reached_at_once():
    """bob registered at A with a routable Contact over UDP; A is killed
    (-9): a call from B reaches bob at once, without waiting for him to
    register again."""
    with PgServer() as pg:
        a, b = nodes(pg)
        bob = phone(a, "bob")
        alice = caller(b)
        try:
            a.kill9()
            inc = call_answered(alice, bob, "bob after A died")
            eq(inc.invite_req.src, b.addr, "sent by B")
        finally:
            closing(alice, bob)
            close_all(a, b)


def test_nated_phone_of_killed_node_not_rung_in_vain():
    """bob's UDP phone behind a NAT registered at A; A is killed (-9):
    a call from B is not sent to the dead node (it would time out after
    32 s): B answers at once that bob cannot be reached now."""
    with PgServer() as pg:
        a, b = nodes(pg)
        trap = Trap()
        bob = nated_phone(a, trap)
        alice = caller(b)
        try:
            a.kill9()
            t0 = time.time()
            d = alice.invite("sip:bob@example.com")
            st = d.final(timeout=5.0).status
            took = time.time() - t0
            check(st in (404, 480), "bob unreachable: %d" % st)
            check(took < 2.0, "answered at once: %.2f s" % took)
            check("its node a is gone" in b.log(), "B says why")
            trap.check_empty()
        finally:
            closing(alice, bob)
            trap.close()
            close_all(a, b)


def test_forged_node_route_is_not_followed():
    """A Route naming A with a token not made by a node of the database
    is no route to bob's flow: A challenges the caller as any other."""
    with PgServer() as pg:
        a, b = nodes(pg)
        trap = Trap()
        bob = nated_phone(a, trap)
        alice = caller(a)
        try:
            token = "n" + "bob@example.com".encode().hex() + "00" * 8
            d = alice.invite(bob.contact_uri, auth=False,
                             headers=("Route: <sip:%s@127.0.0.1:%d;lr>"
                                      % (token, a.port),))
            st = d.final().status
            check(st in (403, 407), "a forged token: %d" % st)
            check(bob._next(0.5) is None, "bob not rung")
            trap.check_empty()
        finally:
            closing(alice, bob)
            trap.close()
            close_all(a, b)


def test_sipctl_change_seen_by_every_node_at_once():
    """Each node's caches hold bob's forwards and bindings; a forward set
    with sipctl, and a binding removed with sipctl, are seen by the next
    call at every node at once (PostgreSQL's notification, no timer)."""
    with PgServer() as pg:
        a, b, c = nodes(pg, 3)
        bob = phone(a, "bob")
        carol = phone(a, "carol")
        alice = caller(b)
        alice_c = caller(c, port=0)
        try:
            # the caches of B and C fill with bob's state
            call_answered(alice, bob, "before the forward, at B")
            call_answered(alice_c, bob, "before the forward, at C")
            r = a.sipctl("forward", "set", "bob@example.com", "always",
                         "carol@example.com")
            eq(r.returncode, 0, "sipctl forward set: %s" % r.stderr)
            for who, ua in (("B", alice), ("C", alice_c)):
                d = ua.invite("sip:bob@example.com")
                inc = carol.expect_invite(timeout=3.0)
                inc.reply(486, "Busy Here")
                inc.expect_ack()
                eq(d.final().status, 486, "at %s the forward to carol is"
                   " seen at once" % who)
            r = a.sipctl("forward", "del", "bob@example.com", "always")
            eq(r.returncode, 0, "sipctl forward del: %s" % r.stderr)
            r = a.sipctl("reg", "del", "bob@example.com")
            eq(r.returncode, 0, "sipctl removes bob's binding: %s" %
               r.stderr)
            for who, ua in (("B", alice), ("C", alice_c)):
                d = ua.invite("sip:bob@example.com")
                st = d.final().status
                check(st in (404, 480), "at %s bob is gone at once: %d"
                      % (who, st))
        finally:
            closing(alice, alice_c, bob, carol)
            close_all(a, b, c)


def test_node_name_in_use_refused_free_after_kill9():
    """A second node named as a running one refuses to start, naming the
    key, line and problem; once that node is killed (-9), its name is
    free (PostgreSQL ended its session and its lock)."""
    with PgServer() as pg:
        a = Node(pg, "a", "127.0.0.1", accounts=ACCOUNTS)
        twin = Node(pg, "a", "127.0.0.2", start=False)
        try:
            twin.proc = None
            try:
                twin.start(timeout=5.0)
                raise AssertionError("a second node 'a' started")
            except Exception as e:            # TestFailure: it exited
                check("another running node" in twin.log(),
                      "the refusal says why: %s / %s" % (e, twin.log()))
                check("node_name" in twin.log() and
                      "sipd.conf:" in twin.log(),
                      "file, line and key named: %s" % twin.log())
            # with workers, worker 0 takes the name: refused the same
            twin2 = Node(pg, "a", "127.0.0.3", start=False,
                         extra="workers 2\n")
            try:
                twin2.start(timeout=5.0)
                raise AssertionError("a second node 'a' with workers"
                                     " started")
            except Exception:
                check("another running node" in twin2.log() and
                      "worker 0" in twin2.log(),
                      "refused by worker 0: %s" % twin2.log())
            finally:
                twin2.close()
            a.kill9()
            wait_for(lambda: psql(pg, "SELECT count(*) FROM pg_locks"
                                  " WHERE locktype = 'advisory'") ==
                     [["0"]], "A's lock gone with its session", 5.0)
            twin.start()
            check(twin.alive(), "the name is free again")
            eq(psql(pg, "SELECT name, uri FROM nodes"),
               [["a", "sip:127.0.0.2:%d" % twin.port]],
               "the node's row says where it is now")
        finally:
            close_all(twin, a)


def test_node_keys_checked():
    """node_name without node_uri, a bad name or URI, a node on SQLite:
    sipd -t names file, line and problem."""
    import subprocess
    from sipdlib import SIPD, MODULES
    bad = (("node_name a\n", "node_name needs node_uri"),
           ("node_name a/b\nnode_uri sip:127.0.0.1\n", "letters, digits"),
           ("node_name a\nnode_uri tel:+1\n", "not a SIP URI"),
           ("node_uri sip:127.0.0.1\n", "node_uri needs node_name"))
    with Sipd(PROXY_CONF, accounts=(), start=False) as s:
        for extra, want in bad + (("node_name a\nnode_uri sip:h\n",
                                   "needs a PostgreSQL database"),):
            s.write_conf(PROXY_CONF + extra)
            r = subprocess.run([SIPD, "-t", "-f", s.conf_path, "-m",
                                MODULES], capture_output=True, text=True,
                               timeout=30)
            out = r.stdout + r.stderr
            check(r.returncode != 0, "sipd -t refuses %r" % extra)
            check(want in out and "sipd.conf:" in out,
                  "%r: %s" % (want, out))


def test_publish_at_a_reaches_watcher_at_b():
    """alice watches bob's presence through B; bob publishes at A: B is
    told by PostgreSQL and NOTIFYs alice the new state, at once; bob's
    registration at A is in the NOTIFY of alice's reg subscription at B.
    The subscription is B's: only B sends its NOTIFYs."""
    with PgServer() as pg:
        a, b = nodes(pg, accounts=PRES_ACCOUNTS, base=PRES_CONF)
        bob = PUA(a, "bob")
        alice = PUA(b, "alice")
        try:
            sub = alice.subscription("bob@example.com")
            eq(sub.subscribe(expires=600).status, 200, "SUBSCRIBE at B")
            n = sub.notify()
            eq(n.msg.src, b.addr, "the first NOTIFY comes from B")
            eq(psql(pg, "SELECT node FROM subscriptions"), [["b"]],
               "the subscription is B's")

            t0 = time.time()
            publish_ok(bob, pidf("bob@example.com",
                                 (("bob-desk", "open", "Lunch"),),
                                 activities=("away",)), expires=600)
            n = sub.notify(timeout=3.0, pred=lambda n: n.pidf().tuples)
            took = time.time() - t0
            eq(n.msg.src, b.addr, "the NOTIFY of bob's PUBLISH at A comes"
               " from B, which owns the subscription")
            eq(n.pidf().tuples, {"bob-desk": "open"}, "bob's tuple")
            eq(n.pidf().activities, {"away"}, "bob's activity")
            check(took < 1.5, "told at once: %.2f s" % took)

            reg = alice.subscription("bob@example.com", event="reg")
            eq(reg.subscribe(expires=600).status, 200, "reg SUBSCRIBE")
            reg.notify()
            bob.register()
            n = reg.notify(timeout=3.0,
                           pred=lambda n: bob.contact_uri in n.body)
            eq(n.msg.src, b.addr, "bob's registration at A, told by B")
        finally:
            closing(alice, bob)
            close_all(a, b)


def test_subscriptions_of_killed_node_taken_over():
    """alice subscribes at A; A is killed (-9): within a few seconds B
    owns the subscription (PostgreSQL ended A's session, and its lock),
    NOTIFYs alice the current state from its own socket, and a PUBLISH
    at B reaches alice."""
    with PgServer() as pg:
        a, b = nodes(pg, accounts=PRES_ACCOUNTS, base=PRES_CONF)
        alice = PUA(a, "alice")
        bob = PUA(b, "bob")
        try:
            sub = alice.subscription("bob@example.com")
            eq(sub.subscribe(expires=600).status, 200, "SUBSCRIBE at A")
            eq(sub.notify().msg.src, a.addr, "A's NOTIFY")
            t0 = time.time()
            a.kill9()
            n = sub.notify(timeout=6.0)
            took = time.time() - t0
            eq(n.msg.src, b.addr, "the NOTIFY after the takeover comes"
               " from B")
            eq(n.state, "active", "still active")
            check(took < 4.0, "taken over within 4 s: %.2f s" % took)
            eq(psql(pg, "SELECT node FROM subscriptions"), [["b"]],
               "the subscription is B's now")
            check("taken over" in b.log(), "B says so: %s" % b.log()[-500:])

            publish_ok(bob, pidf("bob@example.com",
                                 (("bob-desk", "open", "Back"),)),
                       expires=600)
            n = sub.notify(timeout=3.0, pred=lambda n: n.pidf().tuples)
            eq(n.pidf().tuples, {"bob-desk": "open"}, "bob's PUBLISH at"
               " B reaches alice after the takeover")
        finally:
            closing(alice, bob)
            close_all(a, b)


def test_busy_lamp_at_b_follows_call_proxied_by_a():
    """carol watches bob's dialog through B; alice calls bob and both are
    at A (the call never touches B): B hears of A's call events through
    PostgreSQL, and carol's busy lamp shows bob's call confirmed, then
    terminated, in NOTIFYs from B."""
    from test_presence import presence_sub, dialogs_of, call_bob
    with PgServer() as pg:
        a, b = nodes(pg, accounts=PRES_ACCOUNTS, base=PRES_CONF)
        bob = PUA(a, "bob")
        alice = PUA(a, "alice")
        carol = PUA(b, "carol")
        try:
            bob.register(expires=300)
            dsub, n = presence_sub(carol, "bob@example.com", "dialog")
            eq(dialogs_of(n)[1], [], "no dialog before the call")
            time.sleep(1.1)       # past the rate limit
            d, inc = call_bob(a, alice, bob)
            n = dsub.notify(timeout=4, what="dialog NOTIFY, confirmed",
                            pred=lambda n: any(
                                x["state"] == "confirmed" for x in
                                dialogs_of(n)[1]))
            eq(n.msg.src, b.addr, "from B, which owns the subscription")
            x = dialogs_of(n)[1][0]
            eq(x.get("call-id"), d.callid, "the call's Call-ID")
            eq(x.get("direction"), "recipient", "bob is the recipient")
            d.request("BYE", wait=False)
            inc.expect_and_reply("BYE")
            n = dsub.notify(timeout=4, what="dialog NOTIFY, terminated",
                            pred=lambda n: any(
                                x["state"] == "terminated" for x in
                                dialogs_of(n)[1]))
            eq(n.msg.src, b.addr, "the lamp goes off, from B")
        finally:
            closing(alice, bob, carol)
            close_all(a, b)
