"""sipd and sipctl on PostgreSQL (db postgresql://...): registrations,
calls, sipctl, the copy from SQLite, sipd -t's answers to a wrong
password, port or schema version, an outage of the server, and a server
that hangs (frozen with SIGSTOP).

Each test starts its own PostgreSQL server (test/pg/pgserver.py) on
127.0.0.1 and stops it by PID; rows are read with psql.
"""

import os
import signal
import sqlite3
import subprocess
import sys
import time

from sipdlib import (Sipd, Client, ROOT, SIPD, MODULES, check, eq,
                     wait_for, free_port, start_refused, timing,
                     parse_challenge, digest_header)
from test_proxy import PROXY_CONF, ACCOUNTS, UA, phone, caller, closing
from test_presence import PRES_CONF, PUA, pidf
from test_presence import ACCOUNTS as PRES_ACCOUNTS

sys.path.insert(0, os.path.join(ROOT, "test", "pg"))
from pgserver import PgServer, pg_bindir                       # noqa: E402


def pg_conf(uri, base=PROXY_CONF):
    return base.replace("db {db}", "db " + uri.replace("{", "{{")
                        .replace("}", "}}"))


def psql(pg, sql):
    """The rows of a query, read with psql (fields split on '|')."""
    r = subprocess.run([os.path.join(pg_bindir(), "psql"), "-XAtq",
                        "-h", pg.host, "-p", str(pg.port), "-U", pg.user,
                        "-d", pg.dbname, "-c", sql],
                       capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, PGPASSWORD=pg.password,
                                PGCONNECT_TIMEOUT="5"))
    check(r.returncode == 0, "psql %s: %s" % (sql, r.stderr))
    return [line.split("|") for line in r.stdout.splitlines() if line]


def sipd_check(conf_path):
    """sipd -t on a configuration: (exit status, output)."""
    r = subprocess.run([SIPD, "-t", "-f", conf_path, "-m", MODULES],
                       capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def test_register_and_call():
    """REGISTER with digest auth on PostgreSQL: 200 once the row is in
    the server; a call between two phones registered there."""
    with PgServer() as pg, Sipd(pg_conf(pg.uri), accounts=ACCOUNTS) as s:
        eq(psql(pg, "SELECT username FROM accounts ORDER BY 1"),
           [["alice"], ["bob"], ["carol"]], "accounts made by sipctl")
        bob = phone(s, "bob")
        alice = caller(s)
        try:
            rows = psql(pg, "SELECT aor, contact FROM bindings")
            eq(rows, [["bob@example.com", bob.contact_uri]],
               "bob's binding in PostgreSQL")
            d = alice.invite("sip:bob@example.com")
            inc = bob.expect_invite()
            inc.answer()
            eq(d.final().status, 200, "the call is answered")
            inc.expect_ack()
            d.request("BYE", wait=False)
            inc.expect_and_reply("BYE")
            eq(alice.expect_response(d.callid, "BYE", final=True).status,
               200, "the BYE answered")
        finally:
            closing(alice, bob)


def test_check_names_key_line_and_message():
    """sipd -t: a wrong password, a wrong port, a schema of another
    version, a malformed URI: the file, line and key, and the server's
    (or libpq's) message; an empty database passes (sipd creates the
    schema at start, and does)."""
    with PgServer() as pg, Sipd(pg_conf(pg.uri), accounts=(),
                                start=False) as s:
        conf = open(s.conf_path).read()
        lineno = [i + 1 for i, line in enumerate(conf.splitlines())
                  if line.startswith("db ")][0]
        where = "%s:%d: db: " % (s.conf_path, lineno)

        rc, out = sipd_check(s.conf_path)
        eq(rc, 0, "sipd -t on an empty database: %s" % out)
        eq(psql(pg, "SELECT count(*) FROM pg_tables WHERE"
                " schemaname = 'public'"), [["0"]],
           "sipd -t created nothing")

        # sipd itself creates the schema of an empty database at start
        s.start()
        eq(psql(pg, "SELECT version FROM version"), [["5"]],
           "the schema sipd made at start")
        s.stop()
        psql(pg, "DROP SCHEMA public CASCADE; CREATE SCHEMA public")

        def refused(uri, *words):
            with open(s.conf_path, "w") as f:
                f.write(conf.replace(pg.uri, uri))
            rc, out = sipd_check(s.conf_path)
            check(rc != 0, "sipd -t accepted %s: %s" % (uri, out))
            check(where in out, "no %r in: %s" % (where, out))
            for w in words:
                check(w in out, "no %r in: %s" % (w, out))
            check(pg.password not in out or pg.password in uri,
                  "the password printed: %s" % out)
            return out

        refused(pg.uri.replace(pg.password, "wrong"),
                "cannot connect to PostgreSQL",
                "password authentication failed for user \"sipd_test\"")
        port = free_port()
        refused(pg.uri.replace(":%d/" % pg.port, ":%d/" % port),
                "cannot connect to PostgreSQL", "%d" % port,
                "Connection refused")
        refused("postgresql://sipd_test@127.0.0.1:%d/postgres?bogus=1"
                % pg.port, "not a valid PostgreSQL connection URI",
                "bogus")

        # a schema of another version
        with open(s.conf_path, "w") as f:
            f.write(conf)
        r = s.sipctl("db", "init")
        eq(r.returncode, 0, "sipctl db init: %s" % r.stderr)
        psql(pg, "UPDATE version SET version = 99")
        refused(pg.uri, "schema version 99, not 5")
        out = start_refused(s, "a schema of another version")
        check(where in out and "schema version 99, not 5" in out,
              "sipd's refusal: %s" % out)
        r = s.sipctl("user", "list")
        check(r.returncode != 0 and where in r.stderr and
              "schema version 99" in r.stderr,
              "sipctl on another version: %s" % r.stderr)


def test_outage_500_retry_after_logged_once():
    """PostgreSQL stopped under sipd: requests that need the store get
    500 with Retry-After, the loss is logged once; once the server is
    back, so is the service."""
    with PgServer() as pg, Sipd(pg_conf(pg.uri), accounts=ACCOUNTS) as s:
        bob = phone(s, "bob")
        try:
            pg.halt()
            for i in range(4):
                r = bob.cl.register("bob@example.com", "secret2")
                eq(r.status, 500, "REGISTER %d with the server down" % i)
                eq(r.get("retry-after"), "5", "Retry-After of the 500")
            # a call: a local caller's credentials, and a caller from
            # outside to a local user's bindings
            alice = caller(s)
            outsider = UA(s, "carl", None, domain="other.org")
            try:
                for ua, what in ((alice, "credentials"),
                                 (outsider, "lookup")):
                    d = ua.invite("sip:bob@example.com")
                    r = d.final()
                    eq((r.status, r.get("retry-after")), (500, "5"),
                       "INVITE (%s) with the server down" % what)
            finally:
                closing(alice, outsider)
            log = s.log()
            eq(log.count("PostgreSQL connection lost"), 1,
               "the loss logged once:\n" + log)
            for word in ("cannot save", "credentials of", "routing"):
                check(word not in log, "a request logged the loss (%s):\n"
                      % word + log)

            pg.resume()

            def back():
                r = bob.cl.register("bob@example.com", "secret2")
                return r is not None and r.status == 200
            wait_for(back, "a 200 to REGISTER after the restart",
                     timeout=10)
            check("PostgreSQL connection back" in s.log(),
                  "no log line of the return:\n" + s.log())
            eq(s.log().count("PostgreSQL connection lost"), 1,
               "the loss logged once")
            eq(len(psql(pg, "SELECT id FROM bindings")), 1,
               "bob's binding")
        finally:
            bob.close()


def test_sipctl_on_postgresql():
    """sipctl user add/list, forward set/list, reg add/list, presence
    rules and db check, against PostgreSQL; the rows in the server."""
    with PgServer() as pg, Sipd(pg_conf(pg.uri), accounts=(),
                                start=False) as s:
        r = s.sipctl("user", "list")
        check(r.returncode != 0 and "no sipd schema" in r.stderr and
              "sipctl db init" in r.stderr, "before init: %s" % r.stderr)
        r = s.sipctl("db", "init")
        eq((r.returncode, r.stdout.strip()),
           (0, "database ready, schema version 5"), "db init")
        r = s.sipctl("db", "upgrade")
        eq(r.returncode, 0, "db upgrade: %s" % r.stderr)
        r = s.sipctl("db", "check")
        eq((r.returncode, r.stdout.strip()),
           (0, "database OK, schema version 5"), "db check")

        eq(s.sipctl("user", "add", "carol@example.com", "pw3").returncode,
           0, "user add")
        r = s.sipctl("user", "list")
        check(r.returncode == 0 and "carol@example.com" in r.stdout,
              "user list: %s %s" % (r.stdout, r.stderr))
        r = s.sipctl("forward", "set", "carol@example.com", "busy",
                     "sip:vm@example.com")
        eq(r.returncode, 0, "forward set: %s" % r.stderr)
        r = s.sipctl("forward", "list", "carol@example.com")
        check("sip:vm@example.com" in r.stdout, "forward list: %s"
              % r.stdout)
        r = s.sipctl("reg", "add", "carol@example.com",
                     "sip:carol@127.0.0.1:5099")
        eq(r.returncode, 0, "reg add: %s" % r.stderr)
        r = s.sipctl("presence", "allow", "sip:carol@example.com",
                     "sip:dave@example.com")
        eq(r.returncode, 0, "presence allow: %s" % r.stderr)

        eq(psql(pg, "SELECT username, domain FROM accounts"),
           [["carol", "example.com"]], "the account in PostgreSQL")
        eq(psql(pg, "SELECT aor, kind, target FROM forwards"),
           [["carol@example.com", "busy", "sip:vm@example.com"]],
           "the forward in PostgreSQL")
        eq(psql(pg, "SELECT aor, contact FROM bindings"),
           [["carol@example.com", "sip:carol@127.0.0.1:5099"]],
           "the binding in PostgreSQL")
        eq(len(psql(pg, "SELECT * FROM presence_rules")), 1, "the rule")


def test_db_copy_from_sqlite():
    """sipctl db copy FROM-CONF TO-CONF: an SQLite installation's
    accounts, bindings, forwards, rules, publications and subscriptions
    into PostgreSQL; a non-empty target refused without --force; a clash
    under --force copies nothing; sipd then serves the copied accounts."""
    with PgServer() as pg, Sipd(PROXY_CONF, accounts=ACCOUNTS) as old:
        bob = phone(old, "bob")
        bob.close()
        old.stop()
        for args in (("forward", "set", "alice@example.com", "noanswer",
                      "sip:vm@example.com", "--after", "15"),
                     ("user", "set", "alice@example.com", "busy_limit",
                      "2"),
                     ("presence", "allow", "sip:bob@example.com",
                      "sip:alice@example.com")):
            r = old.sipctl(*args)
            eq(r.returncode, 0, "%s: %s" % (args, r.stderr))
        exp = int(time.time()) + 3600
        con = sqlite3.connect(old.db)
        con.execute("INSERT INTO publications (presentity, event, etag,"
                    " expires, content_type, body, source, created,"
                    " updated) VALUES ('bob@example.com', 'presence',"
                    " 'e1', ?, 'application/pidf+xml', '<presence/>',"
                    " '127.0.0.1:5070', 1, 2)", (exp,))
        con.execute("INSERT INTO subscriptions (event, presentity, watcher,"
                    " state, expires, call_id, local_tag, remote_tag,"
                    " local_uri, remote_uri, contact, socket, local_cseq,"
                    " remote_cseq, created, updated) VALUES ('presence',"
                    " 'bob@example.com', 'alice@example.com', 'active', ?,"
                    " 'c1', 'lt', 'rt', 'sip:bob@example.com',"
                    " 'sip:alice@example.com', 'sip:alice@127.0.0.1:5071',"
                    " 'udp:127.0.0.1:5060', 3, 4, 1, 2)", (exp,))
        con.commit()
        con.close()

        new_conf = os.path.join(old.dir, "pg.conf")
        with open(new_conf, "w") as f:
            f.write(pg_conf(pg.uri).format(port=old.port, db="", dir=""))

        r = old.sipctl("db", "copy", old.conf_path, new_conf)
        eq(r.returncode, 0, "db copy: %s" % r.stderr)
        eq(r.stdout.strip(), "copied 3 accounts, 1 bindings, 1 forwards,"
           " 1 presence rules, 1 publications, 1 subscriptions", "summary")

        eq(psql(pg, "SELECT username, busy_limit FROM accounts ORDER BY 1"),
           [["alice", "2"], ["bob", "0"], ["carol", "0"]], "accounts")
        eq(psql(pg, "SELECT upper(encode(ha1_md5, 'hex')) ||"
                " upper(encode(ha1_sha256, 'hex')) FROM accounts"
                " WHERE username = 'bob'"),
           [[old.query("SELECT hex(ha1_md5) || hex(ha1_sha256) FROM"
                       " accounts WHERE username = 'bob'")[0][0]]],
           "bob's HA1s")
        eq(psql(pg, "SELECT aor, kind, target, after FROM forwards"),
           [["alice@example.com", "noanswer", "sip:vm@example.com", "15"]],
           "forwards")
        eq(psql(pg, "SELECT aor FROM bindings"), [["bob@example.com"]],
           "bindings")
        eq(psql(pg, "SELECT presentity, watcher, rule FROM presence_rules"),
           [["bob@example.com", "alice@example.com", "allow"]],
           "presence rules")

        eq(psql(pg, "SELECT etag, expires, content_type, body, source"
                " FROM publications"),
           [["e1", str(exp), "application/pidf+xml", "<presence/>",
             "127.0.0.1:5070"]], "publications")
        eq(psql(pg, "SELECT watcher, state, call_id, local_cseq,"
                " remote_cseq FROM subscriptions"),
           [["alice@example.com", "active", "c1", "3", "4"]],
           "subscriptions")

        # a second copy: refused; with --force, the publication's ETag
        # and the subscription clash: nothing copied
        r = old.sipctl("db", "copy", old.conf_path, new_conf)
        check(r.returncode != 0 and "not empty" in r.stderr and
              "--force" in r.stderr, "second copy: %s" % r.stderr)
        psql(pg, "UPDATE accounts SET busy_limit = 7")
        r = old.sipctl("db", "copy", "--force", old.conf_path, new_conf)
        check(r.returncode != 0 and "nothing copied" in r.stderr,
              "copy --force with a clash: %s" % r.stderr)
        eq(psql(pg, "SELECT DISTINCT busy_limit FROM accounts"), [["7"]],
           "nothing of the failed copy kept")

        # with the clashing rows gone, --force adds to the target
        psql(pg, "DELETE FROM publications; DELETE FROM subscriptions")
        r = old.sipctl("db", "copy", "--force", old.conf_path, new_conf)
        eq(r.returncode, 0, "copy --force: %s" % r.stderr)
        eq(psql(pg, "SELECT count(*) FROM accounts"), [["3"]],
           "accounts replaced, not doubled")

        # the wrong way round
        r = old.sipctl("db", "copy", new_conf, old.conf_path)
        check(r.returncode != 0 and "must be an SQLite" in r.stderr,
              "PostgreSQL as the source: %s" % r.stderr)

        # sipd on the copy: the copied HA1s authenticate
        old.conf_path = new_conf
        old.start()
        alice = phone(old, "alice")
        alice.close()


def test_presence_outage_500_retry_after():
    """PostgreSQL stopped under the presence role: a PUBLISH and a
    SUBSCRIBE get 500 with Retry-After: 5, nothing logged per request;
    the PUBLISH is stored once the server is back."""
    conf = pg_conf("PG", base=PRES_CONF).replace("PG", "{pg}")
    with PgServer() as pg, Sipd(conf.replace("{pg}", pg.uri),
                                accounts=PRES_ACCOUNTS) as s:
        carol = PUA(s, "carol", server=s.addr2)
        try:
            pg.halt()
            for i in range(2):
                r = carol.publish(pidf("carol@example.com"), auth=False)
                eq((r.status, r.get("retry-after")), (500, "5"),
                   "PUBLISH %d with the server down" % i)
                r = carol.subscription("dave@example.com").subscribe(
                    auth=False)
                eq((r.status, r.get("retry-after")), (500, "5"),
                   "SUBSCRIBE %d with the server down" % i)
            log = s.log()
            eq(log.count("PostgreSQL connection lost"), 1,
               "the loss logged once:\n" + log)
            check("cannot store" not in log, "a request logged the loss:\n"
                  + log)

            pg.resume()

            def stored():
                r = carol.publish(pidf("carol@example.com"), auth=False)
                return r.status == 200
            wait_for(stored, "a 200 to PUBLISH after the restart",
                     timeout=10)
            eq(psql(pg, "SELECT presentity FROM publications"),
               [["carol@example.com"]], "the publication in PostgreSQL")
        finally:
            carol.close()


def freeze(pg, pids):
    """SIGSTOP to the postmaster, then to its children (it forks no more
    once stopped): the server hangs with its sockets open, the kernel
    still accepting connections for it. The PIDs stopped are added to
    pids, for thaw()."""
    os.kill(pg.proc.pid, signal.SIGSTOP)
    pids.append(pg.proc.pid)
    r = subprocess.run(["pgrep", "-P", str(pg.proc.pid)],
                       capture_output=True, text=True, timeout=10)
    for pid in r.stdout.split():
        try:
            os.kill(int(pid), signal.SIGSTOP)
            pids.append(int(pid))
        except ProcessLookupError:
            pass
    check(len(pids) > 1, "no backend of the postmaster to stop")


def thaw(pids):
    for pid in reversed(pids):
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


def register_timed(cl, aor, password, timeout=8.0):
    """REGISTER, the 401 answered: (seconds to the 401, the final
    response to the authenticated REGISTER or None, its seconds)."""
    ruri = "sip:" + aor.split("@", 1)[1]
    hdrs = ["Contact: <sip:%s@%s:%d>" % (aor.split("@")[0], cl.local[0],
                                         cl.local[1]), "Expires: 300"]
    to = "<sip:%s>" % aor
    frm = "<sip:%s>;tag=%s" % (aor, cl.ftag)
    t0 = time.monotonic()
    cl.request("REGISTER", ruri, hdrs, to=to, frm=frm)
    r = cl.final(timeout)
    t_401 = time.monotonic() - t0
    check(r is not None and r.status == 401, "no 401 to REGISTER within"
          " %.1f s: %s" % (timeout, r and r.start))
    chall = [parse_challenge(v) for v in r.all("www-authenticate")
             if "SHA-256" in v][0]
    auth = digest_header(chall, "REGISTER", ruri, aor.split("@")[0],
                         password)
    t0 = time.monotonic()
    cl.request("REGISTER", ruri, hdrs + ["Authorization: " + auth],
               to=to, frm=frm)
    r = cl.final(timeout)
    return t_401, r, time.monotonic() - t0


@timing
def test_frozen_server_answers_within_seconds():
    """PostgreSQL frozen (SIGSTOP to the postmaster and its backends: the
    sockets stay open, nothing answers): the first request that needs the
    database gets 500 with Retry-After: 5 within WAIT_MS (3 s), the loss
    logged once; then the loop is free: an OPTIONS and a 401 come at
    once, and the requests that need the database get their 500 at once
    (the reconnection never blocks); after SIGCONT the service returns
    within seconds, the return logged."""
    with PgServer() as pg, Sipd(pg_conf(pg.uri), accounts=ACCOUNTS) as s:
        bob = phone(s, "bob")
        cl = Client(s.addr)
        times = {}
        pids = []
        try:
            freeze(pg, pids)
            t_401, r, t = register_timed(cl, "bob@example.com", "secret2")
            times["first 401"] = t_401
            times["first REGISTER"] = t
            check(t_401 < 1.0, "the 401 came after %.2f s" % t_401)
            check(r is not None, "no answer to REGISTER within 8 s")
            eq((r.status, r.get("retry-after")), (500, "5"),
               "REGISTER with the server frozen")
            check(2.5 <= t <= 4.5, "the 500 came after %.2f s" % t)
            frozen_at = time.monotonic()

            # the loop is free: what needs no database at once
            t0 = time.monotonic()
            cl.request("OPTIONS", "sip:example.com")
            r = cl.final(1.0)
            times["OPTIONS"] = time.monotonic() - t0
            check(r is not None and r.status == 200,
                  "OPTIONS during the freeze: %s" % (r and r.start))

            # what needs it: 500 at once, again and again, while the
            # reconnection attempts wait for the server (one given up
            # after 5 s, the next started)
            later = []
            while time.monotonic() - frozen_at < 6.5:
                t_401, r, t = register_timed(cl, "bob@example.com",
                                             "secret2", timeout=1.0)
                check(r is not None, "no answer to REGISTER within 1 s")
                eq((r.status, r.get("retry-after")), (500, "5"),
                   "REGISTER %d with the server frozen" % len(later))
                later.append(max(t_401, t))
                time.sleep(0.5)
            times["later REGISTERs (max)"] = max(later)
            alice = caller(s)
            try:
                t0 = time.monotonic()
                d = alice.invite("sip:bob@example.com")
                r = d.final(timeout=1.0)
                times["INVITE"] = time.monotonic() - t0
                eq((r.status, r.get("retry-after")), (500, "5"),
                   "INVITE with the server frozen")
            finally:
                alice.close()
            check(s.alive(), "sipd died during the freeze")
        finally:
            thaw(pids)
        thawed_at = time.monotonic()

        try:
            def back():
                r = cl.register("bob@example.com", "secret2")
                return r is not None and r.status == 200
            wait_for(back, "a 200 to REGISTER after SIGCONT", timeout=5)
            times["service back after SIGCONT"] = (time.monotonic() -
                                                   thawed_at)
            alice = caller(s)
            try:
                d = alice.invite("sip:bob@example.com")
                inc = bob.expect_invite()
                inc.answer()
                eq(d.final().status, 200, "a call after SIGCONT")
                inc.expect_ack()
            finally:
                alice.close()
        finally:
            bob.close()
            cl.close()

        log = s.log()
        eq(log.count("PostgreSQL connection lost"), 1,
           "the loss logged once:\n" + log)
        check("PostgreSQL connection lost: no answer from PostgreSQL"
              " within 3000 ms" in log, "why it was lost:\n" + log)
        check("PostgreSQL connection back" in log,
              "no log line of the return:\n" + log)
        for word in ("cannot save", "credentials of", "routing"):
            check(word not in log, "a request logged the loss (%s):\n"
                  % word + log)
        check(s.alive(), "sipd died")
        print("  " + ", ".join("%s %.2f s" % kv for kv in times.items()))
