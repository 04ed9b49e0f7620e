"""Presence across restarts (issue 4, item 5): subscriptions and
publications live in SQLite; after sipd ends (SIGTERM) or is killed
(SIGKILL) and starts again, it keeps the dialogs and sends every
subscriber a NOTIFY in the same dialog (Call-ID, tags), with a CSeq
higher than any before, carrying the current state; sipctl sub list
--json shows them throughout. A subscription that expired while sipd was
down is not restored.

The user agents are the scripted PUAs of test_presence.py; they stay up
(same sockets) while sipd restarts.
"""

import os
import signal
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from sipdlib import (Sipd, Client, check, eq, free_port,  # noqa: E402
                     rand_token, wait_for)
from test_presence import (PRES_CONF, ACCOUNTS, PUA, Notify,  # noqa: E402
                           pidf, pres_conf, presence_sub, publish_ok,
                           sub_list, sctl, parse_winfo, reg_of, closing,
                           alive)


def restart(s, sig, meanwhile=None):
    """Stop sipd with sig (SIGTERM or SIGKILL), run meanwhile() while it
    is down, and start it again on the same configuration, database and
    ports."""
    rc = s.stop(sig)
    if sig == signal.SIGTERM and rc != 0:
        # checked at the end of the test (exit_clean), so that the rest
        # of the test still says whether the subscriptions survived
        s.bad_exit = "sipd exited with %s on SIGTERM%s:\n%s" % (
            rc, " (signal %d)" % -rc if rc < 0 else "", s.log()[-1500:])
    if meanwhile:
        meanwhile()
    s.start()


def exit_clean(s):
    """sipd ended cleanly on every SIGTERM of the test, and ends cleanly
    now (exit status 0, RFC-less but what an init system expects)."""
    check(not getattr(s, "bad_exit", None), getattr(s, "bad_exit", ""))
    rc = s.stop(signal.SIGTERM)
    eq(rc, 0, "exit status of sipd on SIGTERM at the end:\n%s"
       % s.log()[-1500:])


def keyed(subs):
    return dict(((x["watcher"], x["presentity"], x["event"]), x)
                for x in subs)


def check_after_restart(sub, before, what):
    """The NOTIFY a subscriber gets after a restart: same dialog (the
    Sub checks Call-ID and tags), higher CSeq; returns it."""
    n = sub.notify(timeout=5, what="NOTIFY after the restart (%s)" % what)
    check(n.cseq > before.cseq, "%s: CSeq after the restart %d, before"
          " %d" % (what, n.cseq, before.cseq))
    eq(n.msg.get("call-id"), sub.callid, "Call-ID")
    return n


def restart_keeps_subscriptions(sig):
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        bob = PUA(s, "bob")
        alice = PUA(s, "alice")
        carol = PUA(s, "carol")
        try:
            publish_ok(bob, pidf("bob@example.com",
                                 (("desk", "open", "before"),),
                                 activities=("away",)), expires=600)
            psub, _ = presence_sub(alice, "bob@example.com")
            rsub, _ = presence_sub(carol, "bob@example.com", "reg")
            wsub, _ = presence_sub(bob, "bob@example.com",
                                   "presence.winfo")
            # some traffic, so that CSeqs and versions moved
            time.sleep(1.1)
            bob.register(expires=600)
            last_p = psub.notify(what="NOTIFY after REGISTER")
            last_r = rsub.notify(what="reg NOTIFY after REGISTER")
            last_w = wsub.got[-1]
            v_reg = int(reg_of(last_r)[0]["version"])
            before = keyed(sub_list(s))
            eq(len(before), 3, "subscriptions before the restart")

            # while sipd is down, the operator adds a second binding of
            # bob: the reg NOTIFY after the restart has the current state
            other = "sip:bob@127.0.0.1:%d" % free_port()
            restart(s, sig, lambda: sctl(s, "reg", "add", "bob@example.com",
                                         other, "--expires", "600"))

            n = check_after_restart(psub, last_p, "presence")
            eq(n.state, "active", "state after the restart")
            p = n.pidf()
            eq(p.tuples, {"desk": "open"}, "bob's publication survived")
            eq(p.notes, {"desk": "before"}, "note")
            eq(p.activities, {"away"}, "activity")

            n = check_after_restart(rsub, last_r, "reg")
            attrs, reg = reg_of(n)
            check(int(attrs["version"]) > v_reg, "reginfo version after"
                  " the restart %s, before %d" % (attrs["version"], v_reg))
            eq(reg["state"], "active", "bob still registered")
            eq(sorted(c["uri"] for c in reg["contacts"]),
               sorted([bob.contact_uri, other]), "contacts after the"
               " restart (the one added while sipd was down too)")

            n = check_after_restart(wsub, last_w, "winfo")
            _, w, _ = parse_winfo(n.body)
            eq(w.get("sip:alice@example.com"), ("active", "approved"),
               "alice in bob's watcher list after the restart")

            after = keyed(sub_list(s))
            eq(sorted(after), sorted(before), "sipctl sub list after the"
               " restart")
            for k, x in after.items():
                eq((x["call_id"], x["state"], x["contact"]),
                   (before[k]["call_id"], before[k]["state"],
                    before[k]["contact"]), "row of %s" % (k,))

            # the dialogs go on: a refresh, a change, an unsubscribe
            time.sleep(1.1)
            eq(psub.refresh(expires=600).status, 200, "refresh after the"
               " restart")
            psub.notify(what="NOTIFY of the refresh")
            time.sleep(1.1)
            publish_ok(bob, pidf("bob@example.com",
                                 (("desk", "closed", "after"),)))
            n = psub.notify(what="NOTIFY of a PUBLISH after the restart",
                            pred=lambda n: n.pidf().notes.get("desk") ==
                            "after")
            eq(n.pidf().tuples, {"desk": "closed"}, "new state")
            time.sleep(1.1)
            eq(rsub.unsubscribe().status, 200, "unsubscribe after the"
               " restart")
            n = rsub.notify(what="final NOTIFY",
                            pred=lambda n: n.state == "terminated")
            alive(s)
            if sig == signal.SIGTERM:
                exit_clean(s)
        finally:
            closing(alice, bob, carol)


def test_sigterm_restart_keeps_subscriptions_and_notifies():
    restart_keeps_subscriptions(signal.SIGTERM)


def test_kill9_restart_keeps_subscriptions_and_notifies():
    restart_keeps_subscriptions(signal.SIGKILL)


def test_kill9_right_after_notify_cseq_still_grows():
    """sipd is killed right after a burst of NOTIFYs (before it wrote
    their CSeqs back): the NOTIFY after the restart still has a higher
    CSeq than every NOTIFY before it, in the same dialog."""
    conf = pres_conf("presence_notify_interval 0\n")
    with Sipd(conf, accounts=ACCOUNTS) as s:
        bob = PUA(s, "bob", server=s.addr2)
        alice = PUA(s, "alice")
        try:
            psub, _ = presence_sub(alice, "bob@example.com")
            _, etag = publish_ok(bob, pidf("bob@example.com",
                                           (("t", "open", "0"),)))
            for i in range(1, 8):
                _, etag = publish_ok(bob, pidf("bob@example.com",
                                               (("t", "open", str(i)),)),
                                     etag=etag)
            ns = psub.notify_count(0.6)
            check(ns, "NOTIFYs of the burst")
            top = max(n.cseq for n in psub.got)
            restart(s, signal.SIGKILL)
            n = psub.notify(timeout=5, what="NOTIFY after kill -9")
            check(n.cseq > top, "CSeq after kill -9: %d, highest before"
                  " %d" % (n.cseq, top))
            eq(n.pidf().notes, {"t": "7"}, "the last published state")
        finally:
            closing(alice, bob)


def test_cseq_written_back_ahead_and_exactly_at_stop():
    """A NOTIFY's CSeq is not written at once: the row is written back
    once the CSeq is 100 ahead of it (a restart adds 1000), and exactly
    at a clean stop."""
    conf = pres_conf("presence_notify_interval 0\n")
    with Sipd(conf, accounts=ACCOUNTS) as s:
        bob = PUA(s, "bob", server=s.addr2)
        alice = PUA(s, "alice")

        def stored():
            return s.query("SELECT local_cseq FROM subscriptions WHERE"
                           " watcher = 'alice@example.com'")[0][0]

        def publish(n, etag):
            for i in range(n):
                _, etag = publish_ok(bob, pidf("bob@example.com",
                                               (("t", "open", str(i)),)),
                                     etag=etag)
                psub.notify(what="NOTIFY of PUBLISH %d" % i)
            return etag, psub.got[-1].cseq

        try:
            psub, _ = presence_sub(alice, "bob@example.com")
            etag, top = publish(5, None)
            time.sleep(1.3)
            low = stored()
            check(top - 100 < low < top, "after a few NOTIFYs the row"
                  " holds CSeq %d, the last NOTIFY had %d" % (low, top))
            etag, top = publish(110, etag)
            time.sleep(1.3)
            ahead = stored()
            check(top - 100 <= ahead <= top and ahead > low,
                  "after 110 more NOTIFYs the row holds CSeq %d, the last"
                  " NOTIFY had %d" % (ahead, top))
            etag, top = publish(3, etag)
            time.sleep(1.3)
            eq(stored(), ahead, "the row after 3 more NOTIFYs (CSeq %d)"
               % top)
            eq(s.stop(signal.SIGTERM), 0, "exit status on SIGTERM")
            eq(stored(), top, "CSeq in the row after a clean stop")
        finally:
            closing(alice, bob)


def test_pending_subscription_stays_pending_across_restart():
    """An outsider's pending subscription is restored pending (NOTIFY
    pending without a body)."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        ext = PUA(s, "mallory", password="", domain="evil.test")
        ext.password = None
        try:
            sub = ext.subscription("bob@example.com")
            eq(sub.subscribe(expires=600).status, 200, "pending")
            first = sub.notify()
            eq(first.state, "pending", "state")
            restart(s, signal.SIGKILL)
            n = check_after_restart(sub, first, "pending")
            eq(n.state, "pending", "still pending")
            eq(n.body, "", "no body while pending")
            eq([x["state"] for x in sub_list(s)], ["pending"],
               "sipctl sub list")
        finally:
            closing(ext)


def test_subscription_expired_while_down_not_restored():
    """A subscription whose expiry passed while sipd was down is not
    restored (no active NOTIFY to it, not in sipctl sub list); another
    one is."""
    conf = pres_conf("presence_min_expires 2\n")
    with Sipd(conf, accounts=ACCOUNTS) as s:
        alice = PUA(s, "alice")
        carol = PUA(s, "carol")
        try:
            short, _ = presence_sub(alice, "bob@example.com", expires=3)
            long_, first = presence_sub(carol, "bob@example.com",
                                        expires=600)
            s.stop(signal.SIGKILL)
            time.sleep(3.5)
            s.start()
            check_after_restart(long_, first, "carol")
            got = short.notify_count(1.5)
            check(all(n.state == "terminated" for n in got),
                  "an expired subscription was notified active after"
                  " the restart: %s" % got)
            eq([x["watcher"] for x in sub_list(s)], ["carol@example.com"],
               "sipctl sub list after the restart")
        finally:
            closing(alice, carol)


class TcpListener:
    """A TCP socket a subscriber listens on (the port of its Contact),
    for the connection sipd opens after a restart."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.conns = []

    def accept(self, timeout):
        self.sock.settimeout(timeout)
        try:
            c, peer = self.sock.accept()
        except socket.timeout:
            return None
        cl = Client.__new__(Client)
        cl.sock, cl.buf, cl.transport = c, b"", "tcp"
        cl.server, cl.local = peer, c.getsockname()
        self.conns.append(cl)
        return cl

    def close(self):
        for c in self.conns:
            c.close()
        self.sock.close()


def test_tcp_subscriber_reached_at_contact_after_restart():
    """A subscriber over TCP: its connection dies with sipd. After the
    restart sipd must reach it at its Contact (the address it listens
    on, RFC 3261 18.2.2/18.1.1), not at the connection's old source
    port, and send the NOTIFY there."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        lst = TcpListener()
        alice = PUA(s, "alice", transport="tcp", contact_port=lst.port)
        try:
            sub, first = presence_sub(alice, "bob@example.com")
            restart(s, signal.SIGKILL)
            conn = lst.accept(6)
            check(conn is not None, "sipd did not connect to the"
                  " subscriber's Contact (127.0.0.1:%d) after the restart;"
                  " sipd log:\n%s" % (lst.port, s.log()[-1500:]))
            m = conn.recv(3)
            check(m is not None and m.method == "NOTIFY",
                  "no NOTIFY on the new connection: %r" % m)
            n = Notify(m)
            eq(m.get("call-id"), sub.callid, "Call-ID")
            check(n.cseq > first.cseq, "CSeq grows")
            eq(n.state, "active", "state")
        finally:
            closing(alice)
            lst.close()


def test_sigterm_right_after_notify_exits_cleanly():
    """SIGTERM while CSeqs of recent NOTIFYs are not yet written back:
    sipd writes them and exits with status 0 (no crash), and the
    subscription is restored with a higher CSeq."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        alice = PUA(s, "alice")
        try:
            sub, first = presence_sub(alice, "bob@example.com")
            time.sleep(0.2)
            rc = s.stop(signal.SIGTERM)
            eq(rc, 0, "exit status on SIGTERM 0.2 s after a NOTIFY (%s)"
               "; sipd log:\n%s" % (
                   "killed by signal %d" % -rc if rc and rc < 0 else rc,
                   s.log()[-1200:]))
            s.start()
            check_after_restart(sub, first, "after a clean stop")
        finally:
            closing(alice)


def test_schema_1_database_upgraded_for_presence():
    """A database of schema version 1 (before presence): sipd refuses it
    and names sipctl db upgrade; after the upgrade (version 4: the
    presence tables, the nat column of the bindings, the busy limits and
    forwards of issue 14) the accounts are kept and presence works, and
    the state survives a restart."""
    import sqlite3
    schema = os.path.join(os.path.dirname(os.path.dirname(HERE)), "db",
                          "schema.sql")
    s = Sipd(PRES_CONF, accounts=(), start=False)
    try:
        con = sqlite3.connect(s.db)
        with open(schema) as f:
            con.executescript(f.read())
        con.close()
        eq(s.query("SELECT version FROM version WHERE name = 'schema'"),
           [(1,)], "schema version of the old database")
        try:
            s.start()
            raise AssertionError("sipd started on a schema 1 database")
        except AssertionError:
            raise
        except Exception as e:
            check("upgrade" in str(e), "sipd's refusal does not name the"
                  " upgrade: %s" % e)
        s.proc = None
        s.logf.close()
        r = s.sipctl("db", "upgrade")
        eq(r.returncode, 0, "sipctl db upgrade: %s%s" % (r.stdout,
                                                          r.stderr))
        eq(s.query("SELECT version FROM version WHERE name = 'schema'"),
           [(4,)], "schema version after the upgrade")
        tables = set(x[0] for x in s.query(
            "SELECT name FROM sqlite_master WHERE type = 'table'"))
        check({"subscriptions", "publications", "presence_rules",
               "presence_state", "forwards"} <= tables, "tables: %s" %
              tables)
        for aor, pw in ACCOUNTS:
            eq(s.sipctl("user", "add", aor, pw).returncode, 0,
               "user add")
        s.start()
        bob = PUA(s, "bob")
        alice = PUA(s, "alice")
        try:
            publish_ok(bob, pidf("bob@example.com",
                                 (("up", "open", "upgraded"),)))
            sub, first = presence_sub(alice, "bob@example.com")
            eq(first.pidf().notes, {"up": "upgraded"}, "state")
            restart(s, signal.SIGKILL)
            n = check_after_restart(sub, first, "after the upgrade")
            eq(n.pidf().notes, {"up": "upgraded"}, "state")
        finally:
            closing(alice, bob)
    finally:
        s.close()


# --- subscriptions that end while the restart's NOTIFYs go out -------------
RESTART_SUBS = 3000     # 15 rounds of 200 NOTIFYs, one every 100 ms
RESTART_UAS = 10        # sockets they are spread over (receive buffers)


def unsubscribe_nowait(sub):
    """A SUBSCRIBE with Expires: 0 in the dialog, with credentials for
    the nonce of the PUA's last challenge (a refresh is authenticated
    too), its answer not awaited (drain() collects it)."""
    sub.cseq += 1
    ruri = sub.target or sub.ruri
    hdrs = ["Event: %s" % sub.event, "Expires: 0"]
    if sub.ua.password and sub.ua.chall:
        hdrs.append(sub.ua.auth_header("SUBSCRIBE", ruri))
    sub.unsubscribe = sub.ua.build(
        "SUBSCRIBE", ruri, sub.frm, sub.to, sub.callid, sub.cseq, hdrs,
        routes=sub.route_set)
    sub.ua.send(sub.unsubscribe)


def drain(uas, timeout):
    """Read what arrived on any of the UAs within timeout (the PUAs
    answer every NOTIFY with 200); it is kept in their .received."""
    import select
    ready, _, _ = select.select([ua.sock for ua in uas], [], [], timeout)
    for ua in uas:
        if ua.sock in ready:
            while ua._next(0.0005) is not None:
                pass


def cloned_subscriptions(s, uas, n):
    """n subscriptions of alice to bob, spread over the PUAs in uas: one
    real one per PUA, the others copies of its row with a dialog of
    their own, written while sipd is stopped. In the database the i-th
    has id i + 1 and the i-th earliest expiry, so that sipd restores
    (and paces the restart's NOTIFYs) in list order. Returns the Subs
    and their first NOTIFY's CSeq."""
    import sqlite3
    real = [presence_sub(ua, "bob@example.com", expires=3600)
            for ua in uas]
    cseq = max(first.cseq for _, first in real)
    eq(s.stop(signal.SIGTERM), 0, "exit status on SIGTERM")
    con = sqlite3.connect(s.db)
    con.row_factory = sqlite3.Row
    rows = dict((r["call_id"], dict(r)) for r in
                con.execute("SELECT * FROM subscriptions"))
    eq(len(rows), len(uas), "rows of the real subscriptions")
    subs = []
    for i in range(n):
        model, _ = real[i % len(uas)]
        sub = model if i < len(uas) else \
            model.ua.subscription("bob@example.com")
        if sub is not model:
            sub.remote_tag = rand_token(16)
            sub.route_set, sub.target = model.route_set, model.target
            sub.cseq = model.cseq
        subs.append(sub)
    expires = int(time.time()) + 3000
    with con:
        con.execute("DELETE FROM subscriptions")
        for i, sub in enumerate(subs):
            row = dict(rows[real[i % len(uas)][0].callid])
            row.update(id=i + 1, call_id=sub.callid, remote_tag=sub.ftag,
                       local_tag=sub.remote_tag, expires=expires + i)
            con.execute("INSERT INTO subscriptions (%s) VALUES (%s)" % (
                ", ".join(row), ", ".join("?" * len(row))),
                list(row.values()))
    con.close()
    return subs, cseq


def test_subscriptions_ending_during_restart_notifies():
    """Issue 12, item 5. After a restart sipd notifies the restored
    subscriptions 200 at a time every 100 ms, walking its list with a
    pointer to the next one. Subscriptions that end meanwhile (here by
    unsubscribing: Expires 0, final NOTIFY answered) are freed: when the
    pointer is on one of them, the walk must move on, not use it (a
    use-after-free the sanitizer build reports). Ended are: the first of
    the list before the first round (the pointer is on it for 500 ms),
    the next one the walk is about to reach after every round seen, and
    one in twenty of those far ahead of it. sipd stays up; every other
    subscription gets its NOTIFY after the restart; an ended one gets a
    final NOTIFY (terminated) and nothing after it; sipctl sub list has
    the others."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        uas = [PUA(s, "alice") for _ in range(RESTART_UAS)]
        try:
            subs, before = cloned_subscriptions(s, uas, RESTART_SUBS)
            index = dict((sub.callid, i) for i, sub in enumerate(subs))
            ended = set()

            def end(i):
                if i < len(subs) and i not in ended:
                    ended.add(i)
                    unsubscribe_nowait(subs[i])

            got = set()                 # notified after the restart
            read = [0] * len(uas)

            def restart_notified():
                """The subscriptions notified after the restart (active,
                in the new CSeq range), of what came since the last
                call."""
                for k, ua in enumerate(uas):
                    for m in ua.received[read[k]:]:
                        if not m.is_response and m.method == "NOTIFY" \
                                and m.get("call-id") in index:
                            n = Notify(m)
                            if n.cseq > before and n.state == "active":
                                got.add(index[m.get("call-id")])
                    read[k] = len(ua.received)
                return got

            logged = len(s.log())
            s.start()
            wait_for(lambda: "subscriptions restored" in s.log()[logged:],
                     "sipd restored the subscriptions", interval=0.01)
            started = time.time()
            end(0)
            spread = False
            deadline = time.time() + 30
            while time.time() < deadline:
                drain(uas, 0.01)
                restart_notified()
                if len(got | ended) >= len(subs):
                    break
                if got:
                    # the walk's pointer is on the next one now
                    nxt = max(got) + 1
                    end(nxt)
                    if not spread and nxt >= 200:
                        spread = True
                        for i in range(nxt + 200, len(subs), 20):
                            end(i)
                check(s.alive(), "sipd died while the restart's NOTIFYs"
                      " went out, %.1f s after it restored the"
                      " subscriptions:\n%s" % (time.time() - started,
                                                s.log()[-3000:]))
            # the final NOTIFYs, and anything (wrongly) after them; an
            # unsubscribe still unanswered goes again, as a UA's Timer E
            # would send it (a loaded machine may drop a datagram)
            answered = set()
            resent = set()
            seen_upto = [0] * len(uas)

            def unanswered():
                for k, ua in enumerate(uas):
                    for m in ua.received[seen_upto[k]:]:
                        if m.is_response and m.get("call-id") in index:
                            answered.add(index[m.get("call-id")])
                    seen_upto[k] = len(ua.received)
                return [i for i in ended if i not in answered]

            until = time.time() + 1.5
            settle = time.time() + 20
            resend = time.time() + 0.5
            while time.time() < until or (time.time() < settle and
                                          unanswered()):
                drain(uas, 0.05)
                if time.time() >= resend:
                    for i in unanswered():
                        subs[i].ua.send(subs[i].unsubscribe)
                        resent.add(i)
                    resend = time.time() + 0.5
            until = time.time() + 1.0
            while time.time() < until:
                drain(uas, 0.05)
            alive(s)
            check(spread, "the restart's NOTIFYs did not come in rounds")

            restart_notified()
            missing = sorted(set(range(len(subs))) - ended - got)
            check(not missing, "%d subscriptions got no NOTIFY after the"
                  " restart (the first: %s); sipd log:\n%s" % (
                      len(missing), missing[:10], s.log()[-1500:]))
            ahead = [i for i in ended if i not in got]
            check(len(ahead) > 50, "only %d subscriptions ended before"
                  " the restart's NOTIFY reached them" % len(ahead))
            for i in sorted(ended):
                sub = subs[i]
                seen = {}
                answer = None
                for m in sub.ua.received:
                    if m.get("call-id") != sub.callid:
                        continue
                    if m.is_response and (answer is None or
                                          answer.status != 200):
                        answer = m
                    elif m.method == "NOTIFY":
                        n = Notify(m)
                        seen.setdefault(n.cseq, n)
                # the presence role answers statelessly: a copy sent
                # again after a 200 that got lost finds no subscription
                check(answer is not None and (answer.status == 200 or
                                              (i in resent and
                                               answer.status == 481)),
                      "unsubscribe of subscription %d: %s" % (
                          i, answer.start if answer else "no answer"))
                ns = [seen[c] for c in sorted(seen)]
                final = [n for n in ns if n.state == "terminated"]
                eq(len(final), 1, "final NOTIFYs of subscription %d: %s"
                   % (i, ns))
                check(ns[-1] is final[0], "subscription %d got a NOTIFY"
                      " after its final one: %s" % (i, ns))
            listed = sub_list(s)
            eq(len(listed), len(subs) - len(ended), "sipctl sub list")
            gone = set(subs[i].callid for i in ended)
            check(not [x for x in listed if x["call_id"] in gone],
                  "an ended subscription is in sipctl sub list")
            exit_clean(s)
        finally:
            closing(*uas)
