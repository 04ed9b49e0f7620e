"""sipctl: accounts, imports, bindings, errors, and use beside a loaded
daemon."""

import json
import os
import re
import sqlite3
import subprocess
import time

from sipdlib import (timing, Sipd, SIPCTL, DEFAULT_CONF, check, eq,
                     contact_uri, param, start_refused,
                     parse_challenge, digest_header)
from test_sipp import (SIPP_CONF, add_users, sipp_load, bindings,
                       reg_list_json, sipp_ok)
from test_presence import (PRES_CONF, ACCOUNTS as PRES_ACCOUNTS, PUA,
                           presence_sub, reg_of)
from test_proxy import closing


def bound_count(s):
    return s.query("SELECT count(*) FROM bindings")[0][0]


def accounts(s):
    return [r[0] for r in s.query(
        "SELECT username || '@' || domain FROM accounts ORDER BY id")]


def listed_accounts(s):
    r = s.sipctl("user", "list")
    eq(r.returncode, 0, "user list (%s)" % r.stderr.strip())
    lines = r.stdout.splitlines()
    check(lines and lines[0].split()[:3] == ["ACCOUNT", "CREATED",
                                            "BINDINGS"],
          "user list header: %r" % r.stdout[:200])
    return {l.split()[0]: int(l.split()[3]) for l in lines[1:] if l}


def invite_redirect(s, user):
    """INVITE user@example.com on the redirect socket: the response."""
    c = s.client(port=s.port2)
    c.request("INVITE", "sip:%s@example.com" % user,
              ["Contact: <sip:caller@127.0.0.1:%d>" % c.local[1]])
    r = c.final()
    c.close()
    return r


# --- accounts ----------------------------------------------------------------

def test_user_add_passwd_del_list():
    with Sipd() as s:
        r = s.sipctl("user", "add", "carol@example.com", "c-pass")
        eq(r.returncode, 0, "user add (%s)" % r.stderr.strip())
        eq(r.stdout.strip(), "added carol@example.com", "user add output")
        eq(listed_accounts(s), {"alice@example.com": 0, "bob@example.com": 0,
                                "carol@example.com": 0}, "user list")

        r = s.sipctl("user", "add", "carol@example.com", "other")
        check(r.returncode != 0, "a second user add of carol succeeded")
        check("carol@example.com" in r.stderr and "exists" in r.stderr,
              "duplicate add error: %r" % r.stderr)

        # the domain part is case-insensitive, the user part is not
        r = s.sipctl("user", "add", "Carol@EXAMPLE.com", "x")
        eq(r.returncode, 0, "user add Carol@EXAMPLE.com (%s)" % r.stderr)
        check("Carol@example.com" in accounts(s), "domain lower-cased: %r"
              % accounts(s))

        r = s.sipctl("user", "passwd", "carol@example.com", "new-pass")
        eq(r.returncode, 0, "user passwd (%s)" % r.stderr.strip())
        r = s.sipctl("user", "passwd", "nobody@example.com", "x")
        check(r.returncode != 0, "passwd of a missing account succeeded")
        check("nobody@example.com" in r.stderr, "names the account: %r" %
              r.stderr)

        # HA1 only, never the password
        for md5, sha in s.query("SELECT ha1_md5, ha1_sha256 FROM accounts"
                                " WHERE username = 'carol'"):
            eq((len(md5), len(sha)), (16, 32), "HA1 sizes")
        with open(s.db, "rb") as f:
            check(b"new-pass" not in f.read(), "password in the database")

        r = s.sipctl("user", "del", "carol@example.com")
        eq(r.returncode, 0, "user del (%s)" % r.stderr.strip())
        eq(r.stdout.strip(), "removed carol@example.com", "user del output")
        r = s.sipctl("user", "del", "carol@example.com")
        check(r.returncode != 0, "a second user del succeeded")
        check("no account" in r.stderr, "second del error: %r" % r.stderr)
        eq(sorted(listed_accounts(s)), ["Carol@example.com",
                                        "alice@example.com",
                                        "bob@example.com"], "accounts left")


def test_password_change_takes_effect_live():
    with Sipd() as s:
        r = s.client().register("alice@example.com", "secret")
        eq(r.status, 200, "REGISTER with the first password")
        r = s.sipctl("user", "passwd", "alice@example.com", "changed")
        eq(r.returncode, 0, "user passwd (%s)" % r.stderr.strip())
        for alg in ("SHA-256", "MD5"):
            r = s.client().register("alice@example.com", "secret", alg=alg)
            eq(r.status, 401, "%s REGISTER with the old password" % alg)
            r = s.client().register("alice@example.com", "changed", alg=alg)
            eq(r.status, 200, "%s REGISTER with the new password" % alg)


def test_user_del_removes_bindings():
    with Sipd() as s:
        c = s.client()
        r = c.register("alice@example.com", "secret", contacts=[
            "<sip:alice@127.0.0.1:7001>", "<sip:alice@127.0.0.1:7002>"])
        eq(r.status, 200, "REGISTER alice")
        r = s.client().register("bob@example.com", "secret2")
        eq(r.status, 200, "REGISTER bob")
        eq(invite_redirect(s, "alice").status, 302, "redirect before del")
        eq(listed_accounts(s)["alice@example.com"], 2, "alice's bindings")

        r = s.sipctl("user", "del", "alice@example.com")
        eq(r.returncode, 0, "user del (%s)" % r.stderr.strip())
        eq(sorted(bindings(s)), ["bob@example.com"], "AORs bound after del")
        eq([e["aor"] for e in reg_list_json(s)], ["bob@example.com"],
           "reg list after del")
        # the running daemon sees it
        eq(invite_redirect(s, "alice").status, 404, "redirect after del")
        r = s.client().register("alice@example.com", "secret")
        eq(r.status, 401, "REGISTER of a deleted account")
        eq(sorted(bindings(s)), ["bob@example.com"], "AORs bound at end")


# --- import --------------------------------------------------------------------

def _import_lines(n, prefix="imp"):
    return ["%s%d@example.com pw%d" % (prefix, i, i) for i in range(n)]


def test_import_5000_from_stdin():
    with Sipd() as s:
        lines = ["# accounts of the import test", ""] + _import_lines(5000)
        lines.insert(1000, "  \t  ")                   # blank with spaces
        lines.append("imp7@example.com   changed7  ")  # updates, trims
        r = s.sipctl("user", "import", "-", stdin="\n".join(lines) + "\n")
        eq(r.returncode, 0, "user import - (%s)" % r.stderr.strip())
        eq(r.stdout.strip(), "imported 5001 accounts", "import output")
        eq(s.query("SELECT count(*) FROM accounts"), [(5002,)],
           "accounts after the import")
        for user, pw, want in (("imp0", "pw0", 200), ("imp4999", "pw4999",
                                                      200),
                               ("imp7", "changed7", 200), ("imp7", "pw7",
                                                           401)):
            r = s.client().register(user + "@example.com", pw)
            eq(r.status, want, "REGISTER %s with %s" % (user, pw))


def test_import_malformed_line_imports_nothing():
    with Sipd() as s:
        before = accounts(s)
        good = _import_lines(5000)
        cases = [
            (2500, "no-at-sign pw", "USER@DOMAIN"),
            (4000, "lonely@example.com", "user@domain password"),
            (4999, "spaced@example.com two words", "one word"),
            (1, "@example.com pw", "USER@DOMAIN"),
        ]
        for lineno, bad, why in cases:
            lines = list(good)
            lines[lineno - 1] = bad
            text = "\n".join(lines) + "\n"
            path = os.path.join(s.dir, "users-%d.txt" % lineno)
            with open(path, "w") as f:
                f.write(text)
            for src, name, stdin in ((path, path, None),
                                     ("-", "(stdin)", text)):
                r = s.sipctl("user", "import", src, stdin=stdin)
                check(r.returncode != 0, "import with %r at line %d"
                      " succeeded" % (bad, lineno))
                check("%s:%d:" % (name, lineno) in r.stderr,
                      "error names %s:%d: %r" % (name, lineno, r.stderr))
                check(why in r.stderr, "error says %r: %r" % (why, r.stderr))
                check("nothing imported" in r.stderr,
                      "says nothing was imported: %r" % r.stderr)
                eq(r.stdout, "", "stdout of a failed import")
                eq(accounts(s), before, "accounts after a failed import")

        r = s.sipctl("user", "import", os.path.join(s.dir, "missing.txt"))
        check(r.returncode != 0, "import of a missing file succeeded")
        check("missing.txt" in r.stderr, "names the file: %r" % r.stderr)


# --- errors ---------------------------------------------------------------------

def test_errors_name_the_problem():
    with Sipd() as s:
        for args, words in (
                (("user", "add", "alice", "pw"), ["'alice'", "USER@DOMAIN"]),
                (("user", "add", "a b@example.com", "pw"), ["USER@DOMAIN"]),
                (("user", "add", "dave@example.com", ""), ["password"]),
                (("user", "del", "@example.com"), ["USER@DOMAIN"]),
                (("user", "passwd", "alice@", "x"), ["USER@DOMAIN"]),
                (("reg", "list", "not-an-aor"), ["not-an-aor"]),
                (("reg", "del", "alice"), ["USER@DOMAIN"]),
                (("reg", "del", "alice@example.com"), ["no binding"]),
                (("reg", "add", "alice@example.com", "not a uri"),
                 ["SIP URI"]),
                (("reg", "add", "ghost@example.com", "sip:g@127.0.0.1"),
                 ["no account", "ghost@example.com"]),
                (("reg", "add", "alice@example.com", "sip:a@127.0.0.1",
                  "--expires", "0"), ["--expires"]),
                (("reg", "add", "alice@example.com", "sip:a@127.0.0.1",
                  "--q", "2"), ["--q"])):
            r = s.sipctl(*args)
            eq(r.returncode, 1, "exit status of sipctl %s (%s)" % (
                " ".join(args), r.stderr.strip()))
            for w in words:
                check(w in r.stderr, "sipctl %s: %r not in %r" % (
                    " ".join(args), w, r.stderr))
            check(r.stderr.startswith("sipctl: "), "prefix: %r" % r.stderr)
        eq(accounts(s), ["alice@example.com", "bob@example.com"],
           "accounts after the errors")
        eq(bindings(s), {}, "bindings after the errors")

        # usage errors: exit 2 and the usage
        for args in (("frobnicate",), ("user",), ("user", "add", "x@y"),
                     ("reg", "list", "--yaml"), ("db",), ()):
            r = s.sipctl(*args)
            eq(r.returncode, 2, "exit status of sipctl %s" % " ".join(args))
            check("usage" in r.stderr, "usage for sipctl %s: %r" % (
                " ".join(args), r.stderr))


def test_missing_database_and_config():
    s = Sipd(accounts=(), start=False)
    try:
        r = s.sipctl("user", "list")
        check(r.returncode != 0, "user list without a database succeeded")
        check(s.db in r.stderr and "no database" in r.stderr,
              "names the missing database: %r" % r.stderr)
        check(not os.path.exists(s.db), "a read command created the db")
        for args in (("reg", "list"), ("user", "add", "x@example.com", "y"),
                     ("db", "check")):
            r = s.sipctl(*args)
            check(r.returncode != 0, "sipctl %s without a database" %
                  " ".join(args))
            check(s.db in r.stderr, "names %s: %r" % (s.db, r.stderr))

        r = s.sipctl("db", "init")
        eq(r.returncode, 0, "db init (%s)" % r.stderr.strip())
        check(os.path.exists(s.db), "db init created the file")
        r = s.sipctl("db", "check")
        eq(r.returncode, 0, "db check")
        check(re.match(r"database OK, schema version \d+", r.stdout),
              "db check output: %r" % r.stdout)
        eq(s.sipctl("reg", "list", "--json").stdout.strip(), "[]",
           "reg list --json of an empty database")

        missing = os.path.join(s.dir, "nope.conf")
        r = subprocess.run([SIPCTL, "-f", missing, "user", "list"],
                           capture_output=True, text=True, timeout=30)
        check(r.returncode != 0, "sipctl with a missing config succeeded")
        check(missing in r.stderr, "names the config: %r" % r.stderr)

        bad = os.path.join(s.dir, "bad.conf")
        with open(bad, "w") as f:
            f.write("domain example.com\ndb %s\ndomain\n" % s.db)
        r = subprocess.run([SIPCTL, "-f", bad, "user", "list"],
                           capture_output=True, text=True, timeout=30)
        check(r.returncode != 0, "sipctl with a bad config succeeded")
        check("%s:3" % bad in r.stderr, "names %s:3: %r" % (bad, r.stderr))

        # $SIPD_CONF is the default configuration
        env = dict(os.environ, SIPD_CONF=s.conf_path)
        r = subprocess.run([SIPCTL, "user", "list"], capture_output=True,
                           text=True, timeout=30, env=env)
        eq(r.returncode, 0, "sipctl with $SIPD_CONF (%s)" % r.stderr)
    finally:
        s.close()


# --- what sipctl says about accounts, domains and the database ---------------

def test_unknown_user_is_no_such_user():
    with Sipd(PRES_CONF, accounts=PRES_ACCOUNTS) as s:
        for args in (("reg", "list", "ghost@example.com"),
                     ("reg", "list", "ghost@example.com", "--json"),
                     ("reg", "list", "sip:Ghost@EXAMPLE.com"),
                     ("presence", "show", "ghost@example.com"),
                     ("presence", "show", "alice@other.test")):
            r = s.sipctl(*args)
            what = "sipctl " + " ".join(args)
            eq(r.returncode, 1, "exit status of %s (%s)" % (
                what, r.stderr.strip()))
            eq(r.stdout, "", "stdout of " + what)
            aor = args[2].replace("sip:", "").split("@")
            aor = "%s@%s" % (aor[0], aor[1].lower())
            eq(r.stderr, "sipctl: %s %s: no such user %s\n" % (
                args[0], args[1], aor), "message of " + what)

        # an account without bindings or presence is not an error
        r = s.sipctl("reg", "list", "alice@example.com")
        eq(r.returncode, 0, "reg list of alice (%s)" % r.stderr.strip())
        eq(len(r.stdout.splitlines()), 1, "only the header: %r" % r.stdout)
        eq(s.sipctl("reg", "list", "alice@example.com", "--json")
           .stdout.strip(), "[]", "reg list --json of alice")
        r = s.sipctl("presence", "show", "alice@example.com")
        eq(r.returncode, 0, "presence show alice (%s)" % r.stderr.strip())
        check("bindings: 0" in r.stdout, "presence show: %r" % r.stdout)


def test_user_add_domain_not_served():
    conf = DEFAULT_CONF.replace("domain example.com\n",
                                "domain example.com\ndomain Example.ORG\n")
    with Sipd(conf) as s:
        r = s.sipctl("user", "add", "carol@example.net", "pw")
        eq(r.returncode, 1, "user add in a domain not served (%s)" %
           r.stderr.strip())
        eq(r.stdout, "", "stdout of the refused user add")
        for w in ("user add: example.net is not a domain of %s" %
                  s.conf_path, "it serves example.com, Example.ORG",
                  "'domain example.net'", "--force"):
            check(w in r.stderr, "%r not in %r" % (w, r.stderr))
        eq(accounts(s), ["alice@example.com", "bob@example.com"],
           "accounts after the refused user add")

        # a served domain, in any case, is taken
        r = s.sipctl("user", "add", "carol@EXAMPLE.org", "pw")
        eq((r.returncode, r.stderr), (0, ""), "user add in example.org")

        # --force, before or after the account: added, with a warning
        for args in (("--force", "dave@example.net", "pw"),
                     ("erin@example.net", "pw", "--force")):
            r = s.sipctl("user", "add", *args)
            eq(r.returncode, 0, "user add %s (%s)" % (" ".join(args),
                                                      r.stderr.strip()))
            check("warning" in r.stderr and "example.net" in r.stderr,
                  "warning of a forced add: %r" % r.stderr)
        # with no word to spare, --force is the password
        r = s.sipctl("user", "add", "frank@example.com", "--force")
        eq(r.returncode, 0, "a password '--force' (%s)" % r.stderr.strip())
        eq(accounts(s), ["alice@example.com", "bob@example.com",
                         "carol@example.org", "dave@example.net",
                         "erin@example.net", "frank@example.com"],
           "accounts at the end")

        # an import too: all or nothing, the line named
        text = "gina@example.com pw\nhank@other.test pw\n"
        r = s.sipctl("user", "import", "-", stdin=text)
        eq(r.returncode, 1, "import with a domain not served")
        check("(stdin):2: other.test is not a domain of %s" % s.conf_path
              in r.stderr and "nothing imported" in r.stderr,
              "import message: %r" % r.stderr)
        r = s.sipctl("user", "import", "--force", "-", stdin=text)
        eq(r.returncode, 0, "import --force (%s)" % r.stderr.strip())
        check("gina@example.com" in accounts(s) and
              "hank@other.test" in accounts(s), "imported with --force")

    # a configuration without a domain line says so
    with Sipd(DEFAULT_CONF.replace("domain example.com\n", ""),
              accounts=(), start=False) as s:
        eq(s.sipctl("db", "init").returncode, 0, "db init")
        r = s.sipctl("user", "add", "ivy@example.com", "pw")
        eq(r.returncode, 1, "user add with no domain line")
        check("it has no 'domain' line" in r.stderr, "message: %r" %
              r.stderr)


def test_reg_list_columns_aligned():
    with Sipd() as s:
        long_contact = "sip:alice@127.0.0.1:7100;transport=tcp;ob;" + \
            "x-long-parameter=" + "a" * 60
        r = s.sipctl("reg", "add", "alice@example.com", long_contact,
                     "--expires", "315360000")
        eq(r.returncode, 0, "reg add (%s)" % r.stderr.strip())
        c = s.client()
        agent = "Long Phone/1.0 (with spaces)"
        r = c.register("bob@example.com", "secret2", extra=[
            "User-Agent: " + agent])
        eq(r.status, 200, "REGISTER bob")
        c.close()

        r = s.sipctl("reg", "list")
        eq(r.returncode, 0, "reg list (%s)" % r.stderr.strip())
        lines = r.stdout.splitlines()
        eq(len(lines), 3, "lines: %r" % r.stdout)
        head = lines[0]
        start = {w: head.index(w) for w in ("CONTACT", "TRANS", "SOURCE",
                                            "USER-AGENT")}
        end_expires = head.index("EXPIRES") + len("EXPIRES")
        rows = {l.split()[0]: l for l in lines[1:]}
        for aor, line in rows.items():
            for col, pos in start.items():
                check(line[pos - 1] == " " and line[pos] != " " or
                      col == "SOURCE" and line[pos] == " ",
                      "%s does not start at column %d in %r (header %r)"
                      % (col, pos, line, head))
            check(line[end_expires - 1].isdigit() and
                  line[end_expires] == " ",
                  "EXPIRES does not end at column %d in %r (header %r)"
                  % (end_expires, line, head))
        eq(rows["alice@example.com"].split()[1], long_contact,
           "alice's contact, whole")
        eq(rows["bob@example.com"][start["USER-AGENT"]:], agent,
           "bob's user agent, last and whole")
        # the seconds left: the whole 315360000, or a second less when a
        # second turned between the add and the list
        left = int(rows["alice@example.com"][:end_expires].split()[-1])
        check(315359990 <= left <= 315360000,
              "alice's expiry: %r" % rows["alice@example.com"])


def test_db_directory_missing_named():
    missing = "{dir}/missing/sub"
    conf = DEFAULT_CONF.replace("db {db}", "db %s/sipd.db" % missing)
    s = Sipd(conf, accounts=(), start=False)
    try:
        text = open(s.conf_path).read()
        lineno = [i for i, l in enumerate(text.splitlines(), 1)
                  if l.startswith("db ")][0]
        where = "%s:%d: db: directory %s does not exist" % (
            s.conf_path, lineno, missing.format(dir=s.dir))

        # the commands that read: no vague error, nothing created
        for args in (("user", "list"), ("reg", "list"),
                     ("reg", "list", "alice@example.com"),
                     ("presence", "show", "alice@example.com"),
                     ("user", "add", "x@example.com", "y"),
                     ("db", "check"), ("db", "upgrade")):
            r = s.sipctl(*args)
            what = "sipctl " + " ".join(args)
            eq(r.returncode, 1, "exit status of %s" % what)
            eq(r.stderr, "sipctl: error: %s (run 'sipctl db init' to"
               " create it and the database)\n" % where,
               "message of " + what)
        check(not os.path.exists(os.path.join(s.dir, "missing")),
              "a command that reads created the directory")

        # sipd says the same and stops
        out = start_refused(s, "a db in a missing directory")
        check("sipd: error: %s (create it, or run 'sipctl db init')" %
              where in out, "sipd's message: %s" % out)
        check("unable to open" not in out, "SQLite's vague error: %s" % out)
        check(not os.path.exists(os.path.join(s.dir, "missing")),
              "sipd created the directory")

        # db init creates it (documented), then all is well
        r = s.sipctl("db", "init")
        eq(r.returncode, 0, "db init (%s)" % r.stderr.strip())
        check(os.path.isdir(missing.format(dir=s.dir)),
              "db init created the directory")
        s.start()
        eq(s.sipctl("user", "list").returncode, 0, "user list")

        # a file where the directory should be
        s.stop()
        with open(os.path.join(s.dir, "plain"), "w"):
            pass
        s.write_conf(conf.replace(missing, "{dir}/plain"))
        r = s.sipctl("user", "list")
        eq((r.returncode, r.stderr), (1, "sipctl: error: %s:%d: db:"
                                      " directory %s/plain: Not a"
                                      " directory\n" % (s.conf_path,
                                                        lineno, s.dir)),
           "sipctl with a file as the directory")
        out = start_refused(s, "a db under a file")
        check("%s:%d: db: directory %s/plain: Not a directory" % (
            s.conf_path, lineno, s.dir) in out, "sipd: %s" % out)

        # the file missing in an existing directory: named too
        s.write_conf(conf.replace(missing, "{dir}"))
        r = s.sipctl("reg", "list")
        eq((r.returncode, r.stderr), (1, "sipctl: error: %s:%d: db: no"
                                      " database %s/sipd.db (start sipd"
                                      " once, or run 'sipctl db init')\n"
                                      % (s.conf_path, lineno, s.dir)),
           "sipctl without the database file")
    finally:
        s.close()


# --- bindings -------------------------------------------------------------------

def test_reg_add_del_seen_by_daemon():
    with Sipd() as s:
        r = s.sipctl("reg", "add", "alice@example.com",
                     "sip:alice@127.0.0.1:7100", "--expires", "600", "--q",
                     "0.5")
        eq(r.returncode, 0, "reg add (%s)" % r.stderr.strip())
        r = s.sipctl("reg", "add", "alice@example.com",
                     "sip:alice@127.0.0.1:7200;transport=tcp")
        eq(r.returncode, 0, "reg add, default expiry (%s)" % r.stderr)
        listed = reg_list_json(s, "alice@example.com")
        eq([(e["contact"], e["q"], e["nat"]) for e in listed],
           [("sip:alice@127.0.0.1:7200;transport=tcp", 1.0, False),
            ("sip:alice@127.0.0.1:7100", 0.5, False)],
           "listed, by q, not behind a NAT")
        check(590 <= listed[1]["expires"] <= 600, "expires %r" %
              listed[1]["expires"])
        check(3590 <= listed[0]["expires"] <= 3600, "default expires %r" %
              listed[0]["expires"])

        # the daemon answers with what sipctl added
        r = s.client().register("alice@example.com", "secret", contacts=[])
        eq(r.status, 200, "query REGISTER")
        eq(sorted(contact_uri(v) for v in r.all("contact")),
           ["sip:alice@127.0.0.1:7100",
            "sip:alice@127.0.0.1:7200;transport=tcp"], "contacts in the 200")
        r = invite_redirect(s, "alice")
        eq(r.status, 302, "redirect to sipctl's bindings")
        eq([contact_uri(v) for v in r.all("contact")],
           ["sip:alice@127.0.0.1:7200;transport=tcp",
            "sip:alice@127.0.0.1:7100"], "302 contacts, by q")

        # del one contact (URI comparison, not text), then the rest
        r = s.sipctl("reg", "del", "alice@example.com",
                     "sip:ALICE@127.0.0.1:7100")
        check(r.returncode != 0, "user part compared case-insensitively")
        r = s.sipctl("reg", "del", "alice@example.com",
                     "sip:alice@127.0.0.1:7100;lr")
        eq(r.returncode, 0, "reg del one contact (%s)" % r.stderr.strip())
        eq(r.stdout.strip(), "removed 1 binding of alice@example.com",
           "reg del output")
        eq(list(bindings(s).values()),
           [["sip:alice@127.0.0.1:7200;transport=tcp"]], "left")
        r = s.sipctl("reg", "del", "alice@example.com")
        eq(r.returncode, 0, "reg del all (%s)" % r.stderr.strip())
        eq(bindings(s), {}, "bindings after reg del")
        eq(invite_redirect(s, "alice").status, 480, "redirect with no"
           " binding")


def test_reg_add_same_contact_twice_updates():
    with Sipd() as s:
        for expires in ("600", "900"):
            r = s.sipctl("reg", "add", "alice@example.com",
                         "sip:alice@127.0.0.1:7300", "--expires", expires)
            eq(r.returncode, 0, "reg add (%s)" % r.stderr.strip())
        listed = reg_list_json(s)
        eq([e["contact"] for e in listed], ["sip:alice@127.0.0.1:7300"],
           "bindings after adding the same contact twice")
        check(890 <= listed[0]["expires"] <= 900, "the second expiry won: %r"
              % listed[0]["expires"])
        r = s.client().register("alice@example.com", "secret", contacts=[])
        eq([contact_uri(v) for v in r.all("contact")],
           ["sip:alice@127.0.0.1:7300"], "contacts the registrar returns")


def _reg_add_del_notified(conf):
    """alice watches bob's presence and reg: a binding added with sipctl
    reg add makes him open with that contact registered, one removed
    with sipctl reg del closed with it unregistered."""
    with Sipd(conf, accounts=PRES_ACCOUNTS) as s:
        alice = PUA(s, "alice")
        try:
            pres, n = presence_sub(alice, "bob@example.com")
            eq(n.pidf().basics(), {"closed"}, "no binding: closed")
            reg, n = presence_sub(alice, "bob@example.com", "reg")
            eq(reg_of(n)[1]["contacts"], [], "no contact yet")

            contact = "sip:bob@127.0.0.1:7400"
            r = s.sipctl("reg", "add", "bob@example.com", contact,
                         "--expires", "600")
            eq(r.returncode, 0, "reg add (%s)" % r.stderr.strip())
            eq(r.stdout.strip(), "added bob@example.com -> %s for 600"
               " seconds" % contact, "reg add output")
            p = pres.notify(what="presence NOTIFY after reg add").pidf()
            eq(p.basics(), {"open"}, "bound with sipctl: open (%s)" % p.raw)
            _, rg = reg_of(reg.notify(what="reg NOTIFY after reg add"))
            eq([(c["uri"], c["state"], c["event"]) for c in rg["contacts"]],
               [(contact, "active", "registered")], "reg after reg add")

            time.sleep(1.1)
            r = s.sipctl("reg", "del", "bob@example.com", contact)
            eq(r.returncode, 0, "reg del (%s)" % r.stderr.strip())
            eq(r.stdout.strip(), "removed 1 binding of bob@example.com",
               "reg del output")
            p = pres.notify(what="presence NOTIFY after reg del").pidf()
            eq(p.basics(), {"closed"}, "unbound with sipctl: closed")
            _, rg = reg_of(reg.notify(what="reg NOTIFY after reg del"))
            eq([(c["uri"], c["state"], c["event"]) for c in rg["contacts"]],
               [(contact, "terminated", "unregistered")],
               "reg after reg del")
            eq(bound_count(s), 0, "bindings left")

            # an error of the daemon is sipctl's
            r = s.sipctl("reg", "del", "bob@example.com")
            eq(r.returncode, 1, "reg del of nothing")
            eq(r.stderr.strip(), "sipctl: reg del: no binding of"
               " bob@example.com", "reg del of nothing: message")
        finally:
            closing(alice)


def test_reg_add_del_notifies_watchers():
    _reg_add_del_notified(PRES_CONF)


def test_reg_add_del_notifies_watchers_workers_2():
    """With two workers, worker 0 (the control socket's) runs the
    change, and has the subscriptions."""
    _reg_add_del_notified(PRES_CONF + "workers 2\n")


def test_reg_list_json_fields():
    with Sipd() as s:
        agent = 'Test "UA" \\ 1.0 \u00e9'
        c = s.client()
        r = c.register("alice@example.com", "secret", expires=300,
                       extra=["User-Agent: " + agent])
        eq(r.status, 200, "REGISTER")
        c2 = s.client("tcp")
        r = c2.register("bob@example.com", "secret2", expires=200)
        eq(r.status, 200, "REGISTER over TCP")

        out = s.sipctl("reg", "list", "--json")
        eq(out.returncode, 0, "reg list --json")
        data = json.loads(out.stdout)
        check(isinstance(data, list), "a JSON array: %r" % out.stdout)
        eq(len(data), 2, "entries")
        a, b = data                           # ordered by AOR
        eq(a["aor"], "alice@example.com", "aor")
        eq(a["contact"], "sip:alice@127.0.0.1:%d" % c.local[1], "contact")
        check(isinstance(a["expires"], int) and 290 <= a["expires"] <= 300,
              "expires: %r" % a["expires"])
        eq(a["transport"], "udp", "transport")
        eq(a["source"], "127.0.0.1:%d" % c.local[1], "source")
        eq(a["user_agent"], agent, "user_agent round trip")
        eq(a["q"], 1.0, "q")
        eq(a["call_id"], c.callid, "call_id")
        eq(a["cseq"], 2, "cseq of the authenticated REGISTER")
        eq(a["socket"], "udp:127.0.0.1:%d" % s.port, "socket")
        eq(b["aor"], "bob@example.com", "second aor")
        eq(b["transport"], "tcp", "bob's transport")
        eq(b["source"], "127.0.0.1:%d" % c2.local[1], "bob's source")
        eq(b["socket"], "tcp:127.0.0.1:%d" % s.port, "bob's socket")

        # outbound and Path fields, and a binding without User-Agent
        r = s.sipctl("user", "add", "carol@example.com", "c-pw")
        eq(r.returncode, 0, "user add carol")
        c3 = s.client()
        uuid = "urn:uuid:00000000-0000-1000-8000-000a95a0e128"
        r = c3.register("carol@example.com", "c-pw", contacts=[
            '<sip:carol@127.0.0.1:%d>;+sip.instance="<%s>";reg-id=1'
            % (c3.local[1], uuid)], extra=[
                "Supported: path, outbound",
                "Path: <sip:edge.example.com;lr;ob>"])
        eq(r.status, 200, "REGISTER carol with instance, reg-id, Path")
        (e,) = reg_list_json(s, "carol@example.com")
        eq(e["path"], "<sip:edge.example.com;lr;ob>", "path")
        eq(e["instance"], "<%s>" % uuid, "instance")
        eq(e["reg_id"], 1, "reg_id")
        check("reg-id=1" in e["params"] and "expires" not in e["params"],
              "params: %r" % e["params"])
        eq(e["contact"], "sip:carol@127.0.0.1:%d" % c3.local[1],
           "contact without header parameters")
        eq(e["user_agent"], "", "user_agent of a REGISTER without one")
        eq(sorted(e), sorted(["aor", "contact", "expires", "transport",
                              "source", "user_agent", "q", "call_id", "cseq",
                              "socket", "path", "instance", "reg_id",
                              "params", "nat", "node"]), "keys of an entry")
        eq(e["nat"], False, "nat of a phone registering from its Contact")
        for k in e:
            check(e[k] is not None, "%s is null" % k)
        c3.close()

        only = reg_list_json(s, "bob@example.com")
        eq([e["aor"] for e in only], ["bob@example.com"], "filtered by AOR")
        r = s.sipctl("reg", "list", "nobody@example.com", "--json")
        eq((r.returncode, r.stdout), (1, ""), "reg list of an unknown AOR")

        # the text listing shows the same
        r = s.sipctl("reg", "list")
        eq(r.returncode, 0, "reg list")
        lines = r.stdout.splitlines()
        eq(lines[0].split(), ["AOR", "CONTACT", "EXPIRES", "TRANS",
                              "SOURCE", "USER-AGENT"], "header")
        eq(len(lines), 4, "lines of reg list")
        check(lines[1].startswith("alice@example.com") and agent in lines[1],
              "alice's line: %r" % lines[1])
        c.close()
        c2.close()


# --- beside a loaded daemon --------------------------------------------------------

@timing
def test_beside_daemon_under_sipp_load():
    with Sipd(SIPP_CONF) as s:
        n = 4000
        csv, aors = add_users(s, n, prefix="busy")
        run = sipp_load(s, csv, calls=n, rate=500)
        run.start()
        results = []
        try:
            while bound_count(s) < 50 and run.alive():
                time.sleep(0.05)
            check(run.alive(), "SIPp ended before sipctl ran")
            # while SIPp registers: a big import, listings, single edits
            lines = "\n".join(_import_lines(3000, "extra")) + "\n"
            r = s.sipctl("user", "import", "-", stdin=lines)
            results.append(("import", r))
            for i in range(5):
                r = s.sipctl("reg", "list", "--json")
                results.append(("reg list --json", r))
                if r.returncode == 0:
                    json.loads(r.stdout)
                r = s.sipctl("user", "add", "live%d@example.com" % i, "pw")
                results.append(("user add", r))
                r = s.sipctl("reg", "add", "live%d@example.com" % i,
                             "sip:live%d@127.0.0.1:7400" % i)
                results.append(("reg add", r))
            r = s.sipctl("db", "check")
            results.append(("db check", r))
            check(run.alive(), "SIPp ended before sipctl was done: the"
                  " load was too short to overlap")
        finally:
            res = run.wait(120)
        for what, r in results:
            eq(r.returncode, 0, "sipctl %s beside the loaded daemon (%s)" % (
                what, r.stderr.strip()))
        eq(results[0][1].stdout.strip(), "imported 3000 accounts",
           "import output")
        sipp_ok(res, "%d registrations while sipctl worked" % n)
        check(s.alive(), "sipd alive after the load")
        bound = bindings(s)
        eq(sorted(a for a in bound if a.startswith("busy")), sorted(aors),
           "AORs SIPp registered")
        eq(sorted(a for a in bound if a.startswith("live")),
           ["live%d@example.com" % i for i in range(5)], "sipctl's bindings")
        eq(s.query("SELECT count(*) FROM accounts"), [(2 + n + 3000 + 5,)],
           "accounts")
        r = s.sipctl("db", "check")
        eq(r.returncode, 0, "db check after the load (%s)" % r.stderr)
        eq(s.query("PRAGMA integrity_check"), [("ok",)], "integrity")
        r = s.client().register("extra2999@example.com", "pw2999")
        eq(r.status, 200, "an imported user registers")


@timing
def test_big_import_beside_loaded_daemon():
    # an operator's bulk import (200,000 accounts in one transaction)
    # while phones register: no REGISTER may fail because of it. Under
    # ASan sipd runs three times slower (half the rate) and the import's
    # transaction six times (every malloc of SQLite's goes through ASan):
    # a quarter of the accounts holds the lock about as long, and a
    # loaded CI machine took it past the 5 s a REGISTER waits with all
    asan = "ASAN_OPTIONS" in os.environ
    with Sipd(SIPP_CONF) as s:
        n = 3000
        csv, aors = add_users(s, n, prefix="bulk")
        accounts = 50000 if asan else 200000
        big = "".join("big%d@example.com pw%d\n" % (i, i)
                      for i in range(accounts))
        run = sipp_load(s, csv, calls=n, rate=250 if asan else 500)
        run.start()
        try:
            while bound_count(s) < 50 and run.alive():
                time.sleep(0.05)
            check(run.alive(), "SIPp ended before the import")
            t = time.time()
            r = s.sipctl("user", "import", "-", stdin=big)
            took = time.time() - t
            still = run.alive()
        finally:
            res = run.wait(120)
        eq(r.returncode, 0, "bulk import (%s)" % r.stderr.strip())
        check(still, "the import (%.1fs) outlasted the load" % took)
        sipp_ok(res, "%d registrations during a %.1fs import of %d"
                " accounts" % (n, took, accounts))
        eq(sorted(a for a in bindings(s)), sorted(aors), "AORs bound")


def test_register_during_long_write_lock_one_answer():
    # a REGISTER that arrives while another process holds the write lock
    # longer than sipd waits; then the phone retransmits the same request
    # (same branch). One transaction must get one final answer: the
    # retransmission gets the same status and To tag, not a second try.
    with Sipd() as s:
        c = s.client()
        r = c.register("alice@example.com")            # the challenge
        eq(r.status, 401, "challenge")
        chall = [x for x in map(parse_challenge, r.all("www-authenticate"))
                 if x.get("algorithm") == "SHA-256"][0]
        auth = digest_header(chall, "REGISTER", "sip:example.com", "alice",
                             "secret")
        lock = sqlite3.connect(s.db, timeout=10, isolation_level=None)
        try:
            lock.execute("BEGIN IMMEDIATE")
            lock.execute("UPDATE accounts SET created = created")
            text = c.request("REGISTER", "sip:example.com",
                             ["Contact: <sip:alice@127.0.0.1:%d>" %
                              c.local[1], "Authorization: " + auth],
                             to="<sip:alice@example.com>",
                             frm="<sip:alice@example.com>;tag=%s" % c.ftag)
            first = c.final(timeout=8)
        finally:
            lock.execute("COMMIT")
            lock.close()
        check(first is not None, "no answer while the database was locked")
        c.send_raw(text)                               # retransmission
        again = c.final(timeout=5)
        check(again is not None, "no answer to the retransmission")
        eq((again.status, param(again.get("to"), "tag")),
           (first.status, param(first.get("to"), "tag")),
           "final response to the retransmission (status, To tag) after"
           " %d %s" % (first.status, first.reason))
        bound = bindings(s)
        if first.status != 200:
            eq(bound, {}, "a binding exists although the phone was told"
               " %d" % first.status)
