"""SIPp against sipd: many distinct users register with digest auth.

The scenarios are test/sipp/register_auth.xml and unregister.xml; the
users come from test/sipp/users.py (a SIPp injection file and a
"sipctl user import" file). SIPp 3.6 answers MD5 challenges only, so
every sipd here runs with "auth_md5_user_agent SIPp".

The helpers at the top (SIPP_CONF, add_users, sipp_load, bindings,
reg_list_json, sipp_ok) are shared with test_daemon.py and test_sipctl.py.
"""

import json
import os
import sys
import time

from sipdlib import (Sipd, DEFAULT_CONF, SIPP_DIR, check, eq, status)

sys.path.insert(0, SIPP_DIR)
import users as sipp_users                                    # noqa: E402
from sipprun import SippRun, logged_aors, free_udp_port        # noqa: E402

DOMAIN = "example.com"

# The test configuration, with SIPp's MD5-only agent named, and the
# protocol debug log replaced by info (a load writes no line per request).
SIPP_CONF = DEFAULT_CONF.replace("log_level debug", "log_level info") + \
    "auth_md5_user_agent SIPp\n"


def add_users(s, n, prefix="alice", start=0):
    """Create n accounts PREFIX<start>.. with sipctl user import; returns
    (the SIPp injection file, the AORs)."""
    csv = os.path.join(s.dir, "%s%d-%d.csv" % (prefix, start, n))
    imp = os.path.join(s.dir, "%s%d-%d.import" % (prefix, start, n))
    aors = sipp_users.write_users(csv, imp, n, prefix, DOMAIN, start)
    r = s.sipctl("user", "import", imp)
    eq(r.returncode, 0, "sipctl user import of %d users (%s)" % (
        n, r.stderr.strip()))
    eq(r.stdout.strip(), "imported %d accounts" % n, "import output")
    return csv, aors


def sipp_load(s, csv, calls, rate, scenario="register_auth.xml",
              expires=3600, transport="u1", port=None, **kw):
    """A SippRun of scenario against s (not started)."""
    return SippRun(scenario, ("127.0.0.1", port or s.port), s.dir, inf=csv,
                   calls=calls, rate=rate, transport=transport,
                   keys={"domain": DOMAIN, "expires": expires},
                   auth_uri=DOMAIN, **kw)


def bindings(s):
    """{aor: [contact, ...]} of the unexpired bindings in the database."""
    out = {}
    for aor, contact in s.query(
            "SELECT aor, contact FROM bindings"
            " WHERE expires > strftime('%s','now') ORDER BY id"):
        out.setdefault(aor, []).append(contact)
    return out


def reg_list_json(s, *args):
    """sipctl reg list --json, parsed."""
    r = s.sipctl("reg", "list", *args, "--json")
    eq(r.returncode, 0, "sipctl reg list --json exit status (%s)" %
       r.stderr.strip())
    try:
        return json.loads(r.stdout)
    except ValueError as e:
        raise AssertionError("reg list --json is not JSON (%s): %r" %
                             (e, r.stdout[:500]))


def sipp_ok(res, what):
    """Fail with SIPp's own account unless every call succeeded."""
    check(res.ok, "%s: %s\n%s" % (what, res.summary(), res.errors()))


# --- tests -----------------------------------------------------------------

def test_register_200_users():
    with Sipd(SIPP_CONF, accounts=()) as s:
        r = s.sipctl("db", "init")
        eq(r.returncode, 0, "db init")
        csv, aors = add_users(s, 200)
        run = sipp_load(s, csv, calls=200, rate=100)
        res = run.run(timeout=90)
        sipp_ok(res, "200 registrations at 100/s")
        eq(res.successful, 200, "successful calls")
        eq(res.failed, 0, "failed calls")
        check(s.alive(), "sipd died under load:\n" + s.log()[-2000:])

        # every 200 that SIPp saw
        eq(sorted(logged_aors(res.logged(), "registered")), sorted(aors),
           "AORs whose 200 SIPp logged")

        # the database: one binding per AOR, to SIPp's address
        b = bindings(s)
        eq(sorted(b), sorted(aors), "AORs with a binding in the database")
        contact = "sip:%%s@127.0.0.1:%d" % run.port
        for aor in aors:
            eq(b[aor], [contact % aor.split("@")[0]], "contacts of " + aor)
        rows = s.query("SELECT count(*), count(DISTINCT aor),"
                       " min(user_agent), max(user_agent),"
                       " min(transport), max(transport) FROM bindings")
        eq(rows, [(200, 200, "SIPp", "SIPp", "udp", "udp")],
           "rows, distinct AORs, user agents, transports")

        # sipctl shows the same
        listed = reg_list_json(s)
        eq(len(listed), 200, "entries of reg list --json")
        eq(sorted(e["aor"] for e in listed), sorted(aors), "listed AORs")
        for e in listed:
            eq(e["contact"], contact % e["aor"].split("@")[0],
               "listed contact of " + e["aor"])
            check(3500 <= e["expires"] <= 3600,
                  "seconds left of %s: %r" % (e["aor"], e["expires"]))
            eq(e["transport"], "udp", "listed transport")
            eq(e["source"], "127.0.0.1:%d" % run.port, "listed source")
            eq(e["user_agent"], "SIPp", "listed user agent")


def test_register_over_tcp():
    with Sipd(SIPP_CONF) as s:
        csv, aors = add_users(s, 100, prefix="tcpuser")
        res = sipp_load(s, csv, calls=100, rate=100, transport="t1").run(90)
        sipp_ok(res, "100 registrations over TCP")
        b = bindings(s)
        eq(sorted(b), sorted(aors), "AORs registered over TCP")
        eq(s.query("SELECT DISTINCT transport FROM bindings"), [("tcp",)],
           "transport of the bindings")


def test_reregister_refreshes_not_duplicates():
    with Sipd(SIPP_CONF) as s:
        csv, aors = add_users(s, 50)
        run1 = sipp_load(s, csv, calls=50, rate=100, name="first")
        sipp_ok(run1.run(60), "first registration")
        # same users, same SIPp port: the same contacts, new Call-IDs
        run2 = sipp_load(s, csv, calls=50, rate=100, name="second",
                         expires=1800, local_port=run1.port)
        sipp_ok(run2.run(60), "second registration")
        rows = s.query("SELECT count(*), count(DISTINCT aor) FROM bindings")
        eq(rows, [(50, 50)], "rows and AORs after a refresh")
        for e in reg_list_json(s):
            check(1700 <= e["expires"] <= 1800,
                  "refreshed expiry of %s: %r" % (e["aor"], e["expires"]))


def test_checkpoints_by_thread_keep_every_binding():
    """Enough registrations to take the WAL past 1,000 pages: the
    checkpoint thread, not the commits, copies them to the database file,
    and every binding is there, read with the WAL set aside."""
    # REGISTERs that come while a group transaction is open share its
    # commit and write fewer WAL pages: slower under ASan, sipd makes
    # bigger groups, so the phones register again (refreshes) until the
    # WAL has passed 1,000 pages, three rounds at most
    rate = 200 if "ASAN_OPTIONS" in os.environ else 400
    with Sipd(SIPP_CONF) as s:
        csv, aors = add_users(s, 800, prefix="ckpt")
        for rnd in range(3):
            res = sipp_load(s, csv, calls=800, rate=rate,
                            expires=3600 - rnd,
                            name="round%d" % rnd).run(120)
            sipp_ok(res, "800 registrations at %d/s, round %d" % (rate,
                                                                 rnd))
            eq(len(bindings(s)), 800, "AORs bound")
            deadline = time.time() + 3
            while status(s)["db_checkpoints"] < 1 and \
                    time.time() < deadline:
                time.sleep(0.2)
            if status(s)["db_checkpoints"] >= 1:
                break
        check(status(s)["db_checkpoints"] >= 1,
              "db_checkpoints after %d rounds of 800 registrations: %r" %
              (rnd + 1, status(s)["db_checkpoints"]))
        check(s.alive(), "sipd died:\n" + s.log()[-2000:])
        # stopped: the database file holds them all (the last close
        # checkpoints the WAL and removes it)
        eq(s.stop(), 0, "sipd's exit status")
        check(not os.path.exists(s.db + "-wal"),
              "the WAL is left after a clean stop")
        eq(s.query("SELECT count(DISTINCT aor) FROM bindings"
                   " WHERE aor LIKE 'ckpt%'"), [(800,)],
           "AORs in the database file after the stop")


def test_unregister_all():
    with Sipd(SIPP_CONF) as s:
        csv, aors = add_users(s, 60)
        sipp_ok(sipp_load(s, csv, 60, 100, name="reg").run(60), "register")
        eq(len(bindings(s)), 60, "AORs bound before Contact: *")
        res = sipp_load(s, csv, 60, 100, scenario="unregister.xml",
                        name="unreg").run(60)
        sipp_ok(res, "Contact: * Expires: 0 of 60 users")
        eq(sorted(logged_aors(res.logged(), "unregistered")), sorted(aors),
           "AORs whose unregister SIPp logged")
        eq(bindings(s), {}, "bindings left")
        eq(reg_list_json(s), [], "reg list --json after unregister")


def test_wrong_passwords_fail_and_bind_nothing():
    with Sipd(SIPP_CONF) as s:
        csv, aors = add_users(s, 3)
        bad = os.path.join(s.dir, "bad.csv")
        with open(csv) as f, open(bad, "w") as g:
            for line in f:
                g.write(line.replace("password=pw-", "password=wrong-"))
        res = sipp_load(s, bad, calls=3, rate=10, max_retrans=1).run(60)
        eq(res.returncode, 1, "SIPp exit status (a call failed)")
        eq(res.successful, 0, "successful calls with wrong passwords")
        eq(res.failed, 3, "failed calls with wrong passwords")
        eq(bindings(s), {}, "bindings after wrong passwords")


def test_sipp_without_md5_agent_setting_fails():
    # the default config offers SHA-256 first; SIPp 3.6 cannot answer it
    with Sipd(DEFAULT_CONF) as s:
        csv, aors = add_users(s, 2)
        res = sipp_load(s, csv, calls=2, rate=10, max_retrans=1).run(60)
        check(res.returncode != 0, "SIPp succeeded against a SHA-256"
              " challenge: %s" % res.summary())
        eq(res.successful, 0, "successful calls")
        eq(bindings(s), {}, "bindings")
        # the same users with the setting register
        s.write_conf(SIPP_CONF)
        s.restart()
        sipp_ok(sipp_load(s, csv, calls=2, rate=10, name="md5").run(60),
                "with auth_md5_user_agent SIPp")
        eq(sorted(bindings(s)), sorted(aors), "bindings")


def test_sipp_callee_registered_by_another_program():
    """A SIPp callee whose binding another program on the host made (a
    second SIPp, a script): the REGISTER came from another port than the
    Contact's, with that port in its Via and no rport. It is not behind
    a NAT: the call reaches SIPp at its Contact (it went to the
    registrant's port, and the caller got a 408); reg list --json says
    "nat": false."""
    from test_proxy import (PROXY_CONF, ACCOUNTS, UA, sipp_run,
                            wait_bound)
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        port = free_udp_port()
        other = UA(s, "bob", "secret2")
        other.rport = False
        try:
            other.register(contact="<sip:bob@127.0.0.1:%d>" % port)
        finally:
            other.close()
        server = sipp_run(s, "proxy_uas.xml", name="uas", port=port,
                          keys={"callee": "bob", "caller": "alice"})
        server.start()
        try:
            wait_bound(server)
            client = sipp_run(s, "proxy_uac.xml", name="uac",
                              keys={"caller": "alice", "callee": "bob"},
                              extra=["-au", "alice", "-ap", "secret"],
                              auth_uri="bob@" + DOMAIN)
            cres = client.run(timeout=40)
            sres = server.wait(timeout=20 if cres.ok else 1)
        finally:
            server.kill()
        sipp_ok(cres, "SIPp caller")
        sipp_ok(sres, "SIPp callee registered by another program")
        eq([(e["contact"], e["nat"]) for e in
            reg_list_json(s, "bob@" + DOMAIN)],
           [("sip:bob@127.0.0.1:%d" % port, False)],
           "bob's binding in reg list --json")
        check(s.alive(), "sipd died")
