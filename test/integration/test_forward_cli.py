"""sipctl forward set/list/del and user set busy_limit (issue 14 items
2-3): their output, the rows they write, each refusal with its message
and exit status, beside a running sipd; the upgrade of a schema 3
database."""

import json
import os
import sqlite3

from sipdlib import Sipd, SIPCTL, check, eq

ALICE = "alice@example.com"


def ok(s, *args):
    r = s.sipctl(*args)
    eq(r.returncode, 0, "sipctl %s (%s)" % (" ".join(args), r.stderr.strip()))
    eq(r.stderr, "", "stderr of sipctl %s" % " ".join(args))
    return r.stdout


def refused(s, args, status, message):
    """sipctl args fails with status, says message on stderr, nothing on
    stdout"""
    r = s.sipctl(*args)
    what = "sipctl " + " ".join(args)
    eq(r.returncode, status, "exit status of %s (%s)" % (what,
                                                        r.stderr.strip()))
    eq(r.stdout, "", "stdout of " + what)
    check(message in r.stderr, "%s: %r does not say %r" % (
        what, r.stderr, message))
    return r.stderr


def rows(s):
    return s.query("SELECT aor, kind, target, after FROM forwards"
                   " ORDER BY aor, kind")


# --- forward set, list, del -----------------------------------------------

def test_forward_set_list_del():
    with Sipd() as s:
        check(s.alive(), "sipd runs beside sipctl")
        eq(ok(s, "forward", "set", ALICE, "always", "bob@example.com"),
           "alice@example.com: always forward to sip:bob@example.com\n",
           "set always")
        eq(ok(s, "forward", "set", "sip:alice@EXAMPLE.com", "busy",
              "+4930123#"),
           "alice@example.com: busy forward to +4930123#\n", "set busy")
        eq(ok(s, "forward", "set", ALICE, "noanswer",
              "sips:voicemail@vm.example.org;transport=tls"),
           "alice@example.com: noanswer forward to"
           " sips:voicemail@vm.example.org;transport=tls after 20 s\n",
           "set noanswer (default --after)")
        eq(ok(s, "forward", "set", "bob@example.com", "unavailable",
              "*55"), "bob@example.com: unavailable forward to *55\n",
           "set unavailable")
        eq(rows(s), [
            ("alice@example.com", "always", "sip:bob@example.com", 0),
            ("alice@example.com", "busy", "+4930123#", 0),
            ("alice@example.com", "noanswer",
             "sips:voicemail@vm.example.org;transport=tls", 20),
            ("bob@example.com", "unavailable", "*55", 0)], "rows")

        # one rule per kind: set again replaces it; --after before or after
        eq(ok(s, "forward", "set", ALICE, "noanswer", "--after", "45",
              "sip:vm@example.com"),
           "alice@example.com: noanswer forward to sip:vm@example.com"
           " after 45 s\n", "set noanswer --after 45")
        eq(ok(s, "forward", "set", ALICE, "noanswer", "sip:vm@example.com",
              "--after", "300"),
           "alice@example.com: noanswer forward to sip:vm@example.com"
           " after 300 s\n", "set noanswer --after 300")
        eq(s.query("SELECT count(*), max(after) FROM forwards WHERE"
                   " kind = 'noanswer'"), [(1, 300)], "noanswer row")

        # the table: columns as wide as their content
        out = ok(s, "forward", "list")
        lines = out.splitlines()
        eq(len(lines), 5, "list lines: %r" % out)
        eq(lines[0].split(), ["USER", "KIND", "TARGET", "AFTER"], "header")
        head = lines[0]
        starts = [head.index(w) for w in ("KIND", "TARGET", "AFTER")]
        eq(starts, [len(ALICE) + 1, len(ALICE) + 1 + len("unavailable") + 1,
                    len(ALICE) + 1 + len("unavailable") + 1 +
                    len("sip:bob@example.com") + 1], "column starts")
        want = [(ALICE, "always", "sip:bob@example.com", "-"),
                (ALICE, "busy", "+4930123#", "-"),
                (ALICE, "noanswer", "sip:vm@example.com", "300"),
                ("bob@example.com", "unavailable", "*55", "-")]
        for line, w in zip(lines[1:], want):
            eq(tuple(line.split()), w, "row %r" % line)
            for pos in starts:
                check(line[pos - 1] == " " and line[pos] != " ",
                      "column at %d in %r (header %r)" % (pos, line, head))

        # JSON
        got = json.loads(ok(s, "forward", "list", "--json"))
        eq([(e["user"], e["kind"], e["target"], e["after"]) for e in got],
           [(ALICE, "always", "sip:bob@example.com", None),
            (ALICE, "busy", "+4930123#", None),
            (ALICE, "noanswer", "sip:vm@example.com", 300),
            ("bob@example.com", "unavailable", "*55", None)], "JSON")
        check(all(isinstance(e["created"], int) and e["created"] > 0
                  for e in got), "created: %r" % got)

        # one user's
        got = json.loads(ok(s, "forward", "list", "--json",
                            "bob@example.com"))
        eq([(e["user"], e["kind"]) for e in got],
           [("bob@example.com", "unavailable")], "bob's rules")
        out = ok(s, "forward", "list", "bob@example.com")
        eq(len(out.splitlines()), 2, "bob's table: %r" % out)

        # del
        eq(ok(s, "forward", "del", ALICE, "busy"),
           "alice@example.com: removed the busy forward\n", "del busy")
        refused(s, ("forward", "del", ALICE, "busy"), 1,
                "sipctl: forward del: alice@example.com has no busy"
                " forward\n")
        eq(ok(s, "forward", "del", "bob@example.com", "UNAVAILABLE"),
           "bob@example.com: removed the unavailable forward\n",
           "del, kind in capitals")
        eq([r[1] for r in rows(s)], ["always", "noanswer"], "rows left")

        # a user without rules, and nobody's
        eq(ok(s, "forward", "list", "bob@example.com", "--json").strip(),
           "[]", "bob's rules after del")
        eq(ok(s, "forward", "list", "bob@example.com").split(),
           ["USER", "KIND", "TARGET", "AFTER"], "only the header")
        check(s.alive(), "sipd still runs")


def test_forward_refusals():
    with Sipd() as s:
        ok(s, "user", "add", "1234@example.com", "pw")
        cases = [
            (("forward", "set", ALICE, "sometimes", "bob@example.com"), 1,
             "sipctl: forward set: unknown kind 'sometimes' (always, busy,"
             " noanswer or unavailable)\n"),
            (("forward", "set", ALICE, "always", "bob"), 1,
             "sipctl: forward set: target 'bob': 'bob' is not a SIP URI,"
             " USER@DOMAIN or number"),
            (("forward", "set", ALICE, "always", "tel:+4930123"), 1,
             "sipctl: forward set: target 'tel:+4930123': 'tel:' is not a"
             " SIP URI scheme"),
            (("forward", "set", ALICE, "always", "sip:@"), 1,
             "sipctl: forward set: target 'sip:@': 'sip:@' is not a SIP"
             " URI with a host"),
            (("forward", "set", ALICE, "always", "bob@example.com x"), 1,
             "sipctl: forward set: target 'bob@example.com x': the target"
             " has a character a SIP URI cannot have (0x20)"),
            (("forward", "set", ALICE, "always", "12a"), 1,
             "target '12a'"),
            (("forward", "set", ALICE, "busy", "sip:alice@EXAMPLE.COM:5070"),
             1, "sipctl: forward set: target 'sip:alice@EXAMPLE.COM:5070'"
             " is alice@example.com itself\n"),
            (("forward", "set", ALICE, "busy", "alice@example.com"), 1,
             "is alice@example.com itself"),
            (("forward", "set", "1234@example.com", "busy", "1234"), 1,
             "sipctl: forward set: target '1234' is 1234@example.com"
             " itself\n"),
            (("forward", "set", "ghost@example.com", "always", "1000"), 1,
             "sipctl: forward set: no such user ghost@example.com\n"),
            (("forward", "set", "ghost", "always", "1000"), 1,
             "sipctl: forward set: 'ghost' is not USER@DOMAIN\n"),
            (("forward", "set", ALICE, "busy", "1000", "--after", "30"), 2,
             "sipctl: forward set: --after is only for noanswer, not"
             " busy\n"),
            (("forward", "set", ALICE, "noanswer", "1000", "--after", "0"),
             1, "sipctl: forward set: --after '0': must be 1 to 300"
             " seconds\n"),
            (("forward", "set", ALICE, "noanswer", "1000", "--after",
              "301"), 1, "--after '301': must be 1 to 300 seconds"),
            (("forward", "set", ALICE, "noanswer", "1000", "--after",
              "ten"), 1, "--after 'ten': must be 1 to 300 seconds"),
            (("forward", "set", ALICE, "noanswer", "1000", "--after"), 2,
             "usage: sipctl forward set"),
            (("forward", "set", ALICE, "always"), 2,
             "usage: sipctl forward set"),
            (("forward", "set", ALICE, "always", "1", "2"), 2,
             "usage: sipctl forward set"),
            (("forward", "list", "ghost@example.com"), 1,
             "sipctl: forward list: no such user ghost@example.com\n"),
            (("forward", "list", ALICE, "bob@example.com"), 2,
             "usage: sipctl forward set"),
            (("forward", "del", ALICE, "never"), 1,
             "sipctl: forward del: unknown kind 'never'"),
            (("forward", "del", "ghost@example.com", "busy"), 1,
             "sipctl: forward del: no such user ghost@example.com\n"),
            (("forward", "del", ALICE), 2, "usage: sipctl forward set"),
            (("forward",), 2, "usage: sipctl forward set"),
            (("forward", "show"), 2, "usage: sipctl forward set"),
        ]
        for args, status, message in cases:
            refused(s, args, status, message)
        eq(rows(s), [], "nothing written")


def test_forward_in_usage():
    with Sipd(start=False) as s:
        r = s.sipctl("--help")
        for line in ("forward set USER@DOMAIN always|busy|noanswer|"
                     "unavailable", "forward list [USER@DOMAIN] [--json]",
                     "forward del USER@DOMAIN KIND",
                     "user set USER@DOMAIN busy_limit N|unlimited"):
            check(line in r.stderr, "usage lacks %r: %s" % (line, r.stderr))


# --- busy_limit -----------------------------------------------------------

def busy_column(s):
    out = ok(s, "user", "list")
    lines = out.splitlines()
    eq(lines[0].split(), ["ACCOUNT", "CREATED", "BINDINGS", "BUSY-LIMIT"],
       "user list header")
    return {l.split()[0]: l.split()[-1] for l in lines[1:]}


def test_user_busy_limit():
    with Sipd() as s:
        eq(s.query("SELECT username, busy_limit FROM accounts ORDER BY"
                   " username"), [("alice", 0), ("bob", 0)], "defaults")
        eq(busy_column(s), {ALICE: "unlimited",
                            "bob@example.com": "unlimited"}, "listed")

        eq(ok(s, "user", "set", ALICE, "busy_limit", "2"),
           "alice@example.com: busy_limit 2\n", "set 2")
        eq(ok(s, "user", "set", "bob@example.com", "busy_limit", "1000"),
           "bob@example.com: busy_limit 1000\n", "set 1000")
        eq(s.query("SELECT username, busy_limit FROM accounts ORDER BY"
                   " username"), [("alice", 2), ("bob", 1000)], "rows")
        eq(busy_column(s), {ALICE: "2", "bob@example.com": "1000"},
           "listed after set")

        eq(ok(s, "user", "set", "bob@example.com", "busy_limit",
              "unlimited"), "bob@example.com: busy_limit unlimited\n",
           "set unlimited")
        eq(ok(s, "user", "set", ALICE, "busy_limit", "0"),
           "alice@example.com: busy_limit unlimited\n", "set 0")
        eq(s.query("SELECT busy_limit FROM accounts"), [(0,), (0,)],
           "rows after unlimited")

        # a new password keeps the limit
        ok(s, "user", "set", ALICE, "busy_limit", "3")
        ok(s, "user", "passwd", ALICE, "new")
        eq(busy_column(s)[ALICE], "3", "limit after passwd")

        for val in ("1001", "-1", "two", "", "3x"):
            refused(s, ("user", "set", ALICE, "busy_limit", val), 1,
                    "sipctl: user set: busy_limit '%s': must be 0 to 1000,"
                    " or unlimited\n" % val)
        refused(s, ("user", "set", "ghost@example.com", "busy_limit", "1"),
                1, "sipctl: user set: no such user ghost@example.com\n")
        refused(s, ("user", "set", ALICE, "call_limit", "1"), 2,
                "sipctl: user set: unknown setting 'call_limit'"
                " (busy_limit)\n")
        refused(s, ("user", "set", ALICE, "busy_limit"), 2,
                "user set USER@DOMAIN busy_limit N|unlimited")
        eq(busy_column(s)[ALICE], "3", "limit after the refusals")
        check(s.alive(), "sipd still runs")


def test_user_del_removes_forwards():
    with Sipd() as s:
        ok(s, "forward", "set", ALICE, "always", "1000")
        ok(s, "forward", "set", ALICE, "busy", "1001")
        ok(s, "forward", "set", "bob@example.com", "busy", "1002")
        eq(ok(s, "user", "del", ALICE), "removed alice@example.com\n",
           "user del")
        eq(rows(s), [("bob@example.com", "busy", "1002", 0)],
           "forwards after del")
        # added again: no rule comes back
        ok(s, "user", "add", ALICE, "secret")
        eq(ok(s, "forward", "list", ALICE, "--json").strip(), "[]",
           "alice's rules")


# --- upgrade ----------------------------------------------------------------

def test_db_upgrade_from_3_keeps_accounts():
    with Sipd(start=False) as s:
        ok(s, "user", "set", ALICE, "busy_limit", "2")
        con = sqlite3.connect(s.db)
        con.executescript("DROP TABLE forwards;"
                          " ALTER TABLE accounts DROP COLUMN busy_limit;"
                          " UPDATE version SET version = 3")
        con.close()

        refused(s, ("forward", "list"), 1, "sipctl db upgrade")
        r = s.sipctl("db", "upgrade")
        eq(r.returncode, 0, "db upgrade (%s)" % r.stderr.strip())
        eq(s.query("SELECT version FROM version WHERE name = 'schema'"),
           [(4,)], "version after the upgrade")
        eq(s.query("SELECT username, busy_limit FROM accounts ORDER BY"
                   " username"), [("alice", 0), ("bob", 0)],
           "accounts kept, unlimited")
        ok(s, "forward", "set", ALICE, "always", "bob@example.com")
        eq(rows(s), [(ALICE, "always", "sip:bob@example.com", 0)], "rows")
        s.start()
        r = s.client().register(ALICE, "secret")
        eq(r.status, 200, "REGISTER after the upgrade")
