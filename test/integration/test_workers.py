"""workers N: a master and N worker processes that share the UDP ports.

Every worker sends its requests from the shared listen port (a phone
behind a NAT must see them come from the port it registered with), and
which worker sent one shows in its Via branch: "z9hG4bK" and 16 hex
digits, the last two the worker's index. A response that the kernel
gives to another worker is handed to the one the branch names. The
tests check the processes (/proc), the spread of REGISTERs over the
workers, calls through the stateful proxy between phones that reach
different workers (their responses handed over), retransmissions,
presence steered to worker 0 (the NOTIFYs' responses handed to it), a
nonce of one worker accepted by another, a binding written by one worker
used by another, a call from either worker to a phone on a TCP
connection of worker 0 (handed over), the restart of the set after a
SIGKILL, and the config errors.
"""

import os
import signal
import socket
import sqlite3
import subprocess
import time

from sipdlib import (Sipd, DEFAULT_CONF, SIPD, MODULES, check, eq, status,
                     param, parse_challenge, digest_header, rand_token,
                     wait_for)
from test_proxy import PROXY_CONF, ACCOUNTS, UA, phone, caller, closing, sdp
from test_presence import (PRES_CONF, PUA, presence_sub, publish_ok, pidf,
                           reg_of, dialogs_of, call_bob, hang_up)
from test_presence import ACCOUNTS as PRES_ACCOUNTS

W2 = "workers 2\n"


def children(pid):
    """The pids whose parent is pid (from /proc)."""
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        fields = st.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[1]) == pid:
            kids.append(int(d))
    return sorted(kids)


def gone(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def sql_exec(s, sql, args=()):
    con = sqlite3.connect(s.db, timeout=10)
    try:
        con.execute(sql, args)
        con.commit()
    finally:
        con.close()


def sent_by_worker(s, msg):
    """The index of the worker that sent a request, from its Via branch;
    the request must come from the shared listen port, as its Via says."""
    via = msg.get("via")
    sent_by = via.split()[1].split(";")[0]
    eq(int(sent_by.rsplit(":", 1)[1]), s.port, "the Via's port of a"
       " request sipd sent: %s" % via)
    eq(msg.src[1], s.port, "the source port of a request sipd sent")
    branch = param(via, "branch")
    check(branch.startswith("z9hG4bK") and len(branch) == 23,
          "a branch libre drew: %s" % via)
    w = int(branch[-2:], 16)
    check(w < 2, "the branch names a worker: %s" % via)
    return w


def test_workers_processes_and_stop():
    """Two workers and a master; the pid file holds the master; status
    lists the workers; SIGTERM stops them all."""
    with Sipd(DEFAULT_CONF + W2) as s:
        master = s.proc.pid
        with open(s.pidfile) as f:
            eq(int(f.read()), master, "pid file")
        kids = children(master)
        eq(len(kids), 2, "worker processes of the master %d" % master)
        st = status(s)
        eq(st["workers"], 2, "workers in status")
        eq(st["master_pid"], master, "master_pid in status")
        eq(sorted(st["worker_pids"]), kids, "worker_pids in status")
        eq(st["worker"], 0, "status comes from worker 0")
        eq(st["pid"], st["worker_pids"][0], "pid of worker 0")
        check("worker_ports" not in st, "no private ports: %r" % st)
        text = s.sipctl("status").stdout
        check("workers              2, master pid %d" % master in text,
              "text status:\n" + text)
        eq(s.stop(), 0, "exit status of the master")
        wait_for(lambda: all(gone(k) for k in kids), "workers exit",
                 timeout=10.0)
        check(not os.path.exists(s.pidfile), "pid file removed")


def test_workers_register_spread_and_nonce():
    """REGISTERs from many source ports all get 200 and are stored; both
    workers take some (worker 0's count is above 0 and below the
    total). A challenge got on one port is answered from another, which
    may reach the other worker: nonces are checked without state."""
    n = 40
    with Sipd(DEFAULT_CONF + W2 + "registrar_max_contacts 100\n") as s:
        ok, ports = 0, set()
        for i in range(n):
            c = s.client()
            try:
                ports.add(c.local[1])
                r = c.register("alice@example.com", "secret", expires=300)
                ok += r is not None and r.status == 200
            finally:
                c.close()
        eq(ok, n, "REGISTERs answered 200")
        # a port the kernel gave again is the same contact: a refresh
        rows = s.query("SELECT count(*) FROM bindings WHERE"
                       " aor = 'alice@example.com'")[0][0]
        eq(rows, len(ports), "bindings in the database (one a source"
           " port, %d REGISTERs)" % n)
        st = status(s)
        got = st["requests_received"]["REGISTER"]
        check(0 < got < 2 * n, "worker 0 received %d of the %d REGISTERs:"
              " the kernel's hash spreads them" % (got, 2 * n))

        # challenge on one socket, credentials from others
        for i in range(10):
            a, b = s.client(), s.client()
            try:
                ruri = "sip:example.com"
                to = "<sip:bob@example.com>"
                hdrs = ["Contact: <sip:bob@127.0.0.1:%d>" % b.local[1]]
                a.request("REGISTER", ruri, hdrs, to=to, frm=to +
                          ";tag=" + rand_token(6))
                r = a.final()
                eq(r.status, 401, "first REGISTER")
                chall = parse_challenge(r.all("www-authenticate")[0])
                auth = digest_header(chall, "REGISTER", ruri, "bob",
                                     "secret2")
                b.request("REGISTER", ruri, hdrs + ["Authorization: " +
                                                    auth],
                          to=to, frm=to + ";tag=" + rand_token(6))
                r = b.final()
                eq(r.status, 200, "REGISTER with another port's nonce")
            finally:
                closing(a, b)


def test_workers_calls_across_workers():
    """Calls through the stateful proxy between phones on fresh ports:
    the INVITE is handled by the caller's worker, the BYE by the callee's
    one; both cases (same worker, other worker) happen, every call
    completes, and a retransmitted INVITE is absorbed. Every request
    leaves from the shared port; the callee's responses to worker 0's
    INVITE, when the kernel gives them to worker 1, are handed to
    worker 0."""
    with Sipd(PROXY_CONF + W2, accounts=ACCOUNTS) as s:
        pairs = set()
        for i in range(30):
            bob = phone(s, "bob")
            alice = caller(s)
            try:
                d = alice.invite("sip:bob@example.com")
                inc = bob.expect_invite()
                w_inv = sent_by_worker(s, inc.invite_req)
                if i == 0:
                    # the caller sends its INVITE again: absorbed
                    alice.send(alice.sent[-1])
                inc.reply(180, "Ringing")
                inc.reply(200, "OK", body=sdp(41000))
                ok = d.final()
                eq(ok.status, 200, "call %d answered" % i)
                inc.expect_ack()
                inc.request("BYE", wait=False)
                m = alice.expect_request("BYE", callid=d.callid)
                w_bye = sent_by_worker(s, m)
                alice.reply(m, 200, "OK")
                r = bob.expect_response(inc.callid, "BYE", final=True)
                eq(r.status, 200, "BYE of call %d" % i)
                if i == 0:
                    time.sleep(0.6)
                    invs = [m for m in bob.received if not m.is_response
                            and m.method == "INVITE"
                            and m.get("call-id") == inc.callid]
                    eq(len(invs), 1, "INVITEs forwarded for one INVITE"
                       " sent twice")
                pairs.add((w_inv, w_bye))
            finally:
                closing(alice, bob)
            if len(set(a == b for a, b in pairs)) == 2 and i >= 9 and \
                    (0, 1) in pairs:
                break
        check(len(set(a == b for a, b in pairs)) == 2,
              "calls within one worker and across workers: %r" % pairs)
        check(len(set(a for a, _ in pairs)) == 2,
              "INVITEs handled by both workers: %r" % pairs)
        check((0, 1) in pairs, "a call of worker 0 to a phone of worker"
              " 1: %r" % pairs)
        n = status(s)["handoffs_received"]
        check(n >= 2, "responses (180, 200) handed to worker 0: %d" % n)


def test_workers_presence_on_worker_0():
    """SUBSCRIBEs from many ports all reach worker 0 (its status counts
    them all, and it sends every NOTIFY from the shared port); the
    responses to the NOTIFYs that reach worker 1 are handed to worker 0,
    so no NOTIFY is sent twice; a PUBLISH from yet another port is
    notified to every watcher."""
    n = 12
    with Sipd(PRES_CONF + W2, accounts=PRES_ACCOUNTS) as s:
        subs, uas = [], []
        try:
            for i in range(n):
                ua = PUA(s, "alice")
                uas.append(ua)
                sub, first = presence_sub(ua, "bob@example.com")
                eq(sent_by_worker(s, first.msg), 0,
                   "worker of the NOTIFY of subscription %d" % i)
                subs.append(sub)
            st = status(s)
            eq(st["subscriptions"], n, "subscriptions in worker 0")
            eq(st["requests_received"]["SUBSCRIBE"], 2 * n,
               "SUBSCRIBEs (with their 401 rounds) received by worker 0")
            bob = PUA(s, "bob")
            uas.append(bob)
            publish_ok(bob, pidf("bob@example.com",
                                 (("bob-desk", "open", "In"),)))
            for sub in subs:
                nt = sub.notify(what="NOTIFY of the PUBLISH")
                eq(nt.pidf().tuples, {"bob-desk": "open"}, "tuples")
            # past T1: a NOTIFY whose 200 was lost would be sent again
            time.sleep(1.2)
            for ua in uas[:n]:
                cseqs = [m.get("cseq") for m in ua.received
                         if not m.is_response and m.method == "NOTIFY"]
                eq(len(cseqs), len(set(cseqs)), "NOTIFYs sent again to"
                   " watcher port %d: %r" % (ua.local[1], cseqs))
            got = status(s)["handoffs_received"]
            check(got >= 1, "responses to NOTIFYs handed to worker 0: %d"
                  % got)
        finally:
            closing(*uas)


def test_workers_presence_of_worker_1():
    """Registrations and calls that worker 1 handles reach the watchers
    of worker 0: carol watches bob's reg and dialog packages (worker 0
    has every subscription); bob registers from fresh ports until worker
    1 takes a REGISTER (worker 0's count stays), and its NOTIFY shows
    that contact; alice calls bob from fresh ports until worker 1
    proxies a call, and the dialog NOTIFY shows it confirmed, then
    terminated; worker 0 counts that call as bob's (sipctl avail)."""
    with Sipd(PRES_CONF + W2, accounts=PRES_ACCOUNTS) as s:
        carol = PUA(s, "carol")
        uas = [carol]
        try:
            rsub, _ = presence_sub(carol, "bob@example.com", "reg")
            dsub, _ = presence_sub(carol, "bob@example.com", "dialog")
            bob = None
            for i in range(40):
                bob = PUA(s, "bob")
                uas.append(bob)
                before = status(s)["requests_received"].get("REGISTER", 0)
                bob.register(expires=300)
                after = status(s)["requests_received"].get("REGISTER", 0)
                uri = bob.contact_uri
                n = rsub.notify(timeout=4, what="reg NOTIFY of the"
                                " REGISTER %d (worker %d)" % (
                                    i, 0 if after > before else 1),
                                pred=lambda n: any(
                                    c["uri"] == uri and
                                    c["state"] == "active"
                                    for c in reg_of(n)[1]["contacts"]))
                if after == before:
                    break
            check(after == before, "no REGISTER reached worker 1")

            for i in range(40):
                alice = PUA(s, "alice")
                uas.append(alice)
                d, inc = call_bob(s, alice, bob)
                w = sent_by_worker(s, inc.invite_req)
                n = dsub.notify(timeout=4, what="dialog NOTIFY of call %d"
                                " (worker %d), confirmed" % (i, w),
                                pred=lambda n: any(
                                    x.get("call-id") == d.callid and
                                    x["state"] == "confirmed"
                                    for x in dialogs_of(n)[1]))
                # worker 0 counts the call for busy_limit too
                r = s.sipctl("avail", "bob@example.com")
                check(r.stdout.startswith("calls 1,"), "sipctl avail"
                      " (worker 0) during call %d of worker %d: %s%s" % (
                          i, w, r.stdout, r.stderr))
                hang_up(alice, bob, d)
                n = dsub.notify(timeout=4, what="dialog NOTIFY of call %d"
                                " (worker %d), ended" % (i, w),
                                pred=lambda n: not any(
                                    x.get("call-id") == d.callid and
                                    x["state"] == "confirmed"
                                    for x in dialogs_of(n)[1]))
                if w == 1:
                    break
            eq(w, 1, "a call proxied by worker 1")
            st = status(s)
            check(st["worker_events_told"] >= 1, "batches worker 0 was"
                  " told: %r" % st["worker_events_told"])
        finally:
            closing(*uas)


def test_workers_binding_of_one_worker_used_by_other():
    """bob registers from many ports (so through both workers), each
    time replacing his only binding; a call from a port of alice's
    reaches the latest one: no worker serves a stale binding."""
    with Sipd(PROXY_CONF + W2, accounts=ACCOUNTS) as s:
        seen = set()
        for i in range(16):
            bob = UA(s, "bob", "secret2")
            try:
                before = status(s)["requests_received"].get("REGISTER", 0)
                bob.register()
                after = status(s)["requests_received"].get("REGISTER", 0)
                w_reg = 0 if after > before else 1
                # drop the others: one binding, the newest
                for row in s.query("SELECT contact FROM bindings WHERE"
                                   " aor = 'bob@example.com'"):
                    if str(bob.local[1]) not in row[0]:
                        sql_exec(s, "DELETE FROM bindings WHERE"
                                 " contact = ?", (row[0],))
                alice = caller(s)
                try:
                    d = alice.invite("sip:bob@example.com")
                    inc = bob.expect_invite()
                    w_inv = sent_by_worker(s, inc.invite_req)
                    seen.add((w_reg, w_inv))
                    inc.reply(486, "Busy Here")
                    eq(d.final().status, 486, "the newest binding rang")
                finally:
                    alice.close()
            finally:
                bob.close()
            if any(a != b for a, b in seen):
                break
        check(any(a != b for a, b in seen), "a binding registered through"
              " one worker called through the other: %r" % seen)


def test_workers_tcp_callee_from_either_worker():
    """Worker 0 alone has the TCP connections. A UDP caller whose INVITE
    reaches worker 1 is handed to worker 0 (handoffs in its status), so
    every caller rings the phones registered over TCP (a Contact with
    ";transport=tcp", and one without): answered, ACKed and hung up from
    the caller's side, or cancelled while ringing."""
    with Sipd(PROXY_CONF + W2, accounts=ACCOUNTS) as s:
        bob = phone(s, "bob", transport="tcp")
        # a Contact without ";transport=tcp": its binding says TCP
        carol = UA(s, "carol", "secret3", transport="tcp")
        carol.register(contact="<sip:carol@%s:%d>" % carol.local)
        try:
            for i in range(24):
                callee, ua = (("bob", bob) if i % 2 == 0 else
                              ("carol", carol))
                alice = caller(s)
                try:
                    d = alice.invite("sip:%s@example.com" % callee)
                    inc = ua.expect_invite(timeout=3.0)
                    if i % 3 == 2:
                        inc.reply(180, "Ringing")
                        eq(d.response(status=180).status, 180,
                           "180 through the proxy, call %d" % i)
                        eq(d.cancel().status, 200, "200 to the CANCEL")
                        inc.expect_and_reply("CANCEL")
                        inc.reply(487, "Request Terminated")
                        eq(d.final().status, 487, "487 of call %d" % i)
                        continue
                    inc.answer()
                    eq(d.final().status, 200, "200 of call %d" % i)
                    inc.expect_ack()
                    d.request("BYE", wait=False)
                    inc.expect_and_reply("BYE")
                    eq(alice.expect_response(d.callid, "BYE",
                                             final=True).status, 200,
                       "200 to the caller's BYE, call %d" % i)
                finally:
                    alice.close()
        finally:
            bob.close()
            carol.close()
        n = status(s)["handoffs_received"]
        check(n >= 1, "requests handed to worker 0: %d" % n)
        check(s.alive(), "sipd died:\n" + s.log()[-2000:])


def test_workers_handoff_refuses_strangers():
    """The handoff sockets' names are open to every local process: a
    worker refuses a connection that no sibling worker made, and says
    so; what the stranger sends is never read."""
    with Sipd(PROXY_CONF + W2, accounts=ACCOUNTS) as s:
        name = b"\0sipd-handoff-%d-0" % s.proc.pid
        u = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            u.connect(name)
            u.send(b"\x64\x70\x69\x73" + b"\0" * 200 +
                   b"INVITE sip:bob@example.com SIP/2.0\r\n\r\n")
        except OSError:
            pass        # refused before the send: as good
        finally:
            u.close()
        wait_for(lambda: "handoff: a connection not from a worker refused"
                 in s.log(), "the stranger's connection refused",
                 timeout=10.0)
        eq(status(s)["handoffs_received"], 0, "handoffs_received")
        check(s.alive(), "sipd died:\n" + s.log()[-2000:])


def test_workers_reload_reaches_every_worker():
    """sipctl reload (worker 0) and a SIGHUP to the master both make
    every worker reload, each once."""
    with Sipd(DEFAULT_CONF + W2) as s:
        r = s.sipctl("reload")
        eq(r.returncode, 0, "sipctl reload: %s" % r.stderr)
        check("the other 1 workers reload too" in r.stdout, r.stdout)
        wait_for(lambda: "sipd/1: notice: reloaded" in s.log(),
                   "worker 1 reloads", timeout=10.0)
        os.kill(s.proc.pid, signal.SIGHUP)
        wait_for(lambda: s.log().count("sipd/1: notice: reloaded") == 2
                   and s.log().count("sipd/0: notice: reloaded") == 2,
                   "both workers reload on SIGHUP", timeout=10.0)
        time.sleep(0.3)
        eq(s.log().count("sipd/0: notice: reloaded"), 2,
           "reloads of worker 0")


def test_workers_restart_after_kill():
    """Worker 0 killed with SIGKILL: the master starts the set again and
    it serves (REGISTERs, the control socket); the master's pid stays."""
    with Sipd(DEFAULT_CONF + W2) as s:
        master = s.proc.pid
        old = children(master)
        # worker 0: the control socket comes back with the new set
        os.kill(status(s)["worker_pids"][0], signal.SIGKILL)
        wait_for(lambda: len(children(master)) == 2 and
                   not set(children(master)) & set(old),
                   "a new set of workers", timeout=10.0)
        wait_for(lambda: s.log().count("sipd: info: worker 1 started")
                   >= 2, "worker 1 started again", timeout=10.0)
        check("died: starting the 2 workers again" in s.log(),
              "the death is logged")
        for i in range(5):
            c = s.client()
            try:
                r = c.register("alice@example.com", "secret")
                eq(r.status if r else None, 200, "REGISTER after restart")
            finally:
                c.close()
        st = status(s)
        eq(sorted(st["worker_pids"]), children(master),
           "status lists the new workers")
        eq(st["worker_restarts"], 1, "restarts of the set")


def test_workers_config_errors():
    """A bad workers value stops sipd with the file, the line and the
    problem."""
    for val in ("-1", "x", "0", "65"):
        s = Sipd(DEFAULT_CONF + "workers %s\n" % val, start=False)
        try:
            p = subprocess.run([SIPD, "-t", "-f", s.conf_path, "-m",
                                MODULES], capture_output=True, text=True,
                               timeout=30)
            eq(p.returncode, 2, "exit status for workers %s" % val)
            check("%s:" % s.conf_path in p.stderr and
                  "'%s' is not a number from 1 to 64" % val in p.stderr,
                  "message for workers %s: %s" % (val, p.stderr))
        finally:
            s.close()
