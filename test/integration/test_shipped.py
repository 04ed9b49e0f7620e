"""The shipped configuration, etc/sipd.conf: no test scaffolding in it,
and SIPp and sipsak let in as README says ("SIPp and sipsak"): by a
line added to a copy (auth_md5_user_agent), not by the file itself.

Both tools know MD5 only and read only the first challenge, which is
SHA-256 as shipped: without the line the SIPp caller fails on the 407
and sipsak stops with "unsupported authentication algorithm".
"""

import os
import re
import subprocess
import sys

from sipdlib import ROOT, SIPP_DIR, Sipd, check, eq, parse_challenge

sys.path.insert(0, SIPP_DIR)
from sipprun import SippRun, free_udp_port                     # noqa: E402
from test_proxy import wait_bound, sipp_ok, sipp_received       # noqa: E402

SHIPPED = os.path.join(ROOT, "etc", "sipd.conf")

# the accounts of README's quick start
ACCOUNTS = (("alice@localhost", "secret"), ("bob@localhost", "secret2"))


def shipped_keys():
    """(key, value) of every line of etc/sipd.conf that is not a comment."""
    out = []
    with open(SHIPPED) as f:
        for line in f:
            words = line.split("#", 1)[0].split()
            if words:
                out.append((words[0], " ".join(words[1:])))
    return out


def shipped_conf(extra=""):
    """etc/sipd.conf on the test's ports and database, and the lines a
    user adds to a copy of it."""
    with open(SHIPPED) as f:
        text = f.read().replace("{", "{{").replace("}", "}}")
    text = re.sub(r"(?m)^db\s+\S+", "db {db}", text)
    text = text.replace("127.0.0.1:5060", "127.0.0.1:{port}")
    text = text.replace("127.0.0.1:5070", "127.0.0.1:{port2}")
    return text + extra


def test_shipped_conf_has_no_test_scaffolding():
    keys = shipped_keys()
    check(keys, "no line in etc/sipd.conf")
    eq([v for k, v in keys if k == "auth_md5_user_agent"], [],
       "auth_md5_user_agent lines in etc/sipd.conf")
    eq([(k, v) for k, v in keys if re.search(r"sipp|sipsak", v, re.I)], [],
       "lines of etc/sipd.conf naming a test tool")
    # and as shipped, every agent that is not a libre or browser one is
    # offered SHA-256 first
    with Sipd(shipped_conf(), accounts=ACCOUNTS) as s:
        c = s.client()
        c.request("REGISTER", "sip:localhost",
                  ["User-Agent: SIPp",
                   "Contact: <sip:alice@127.0.0.1:%d>" % c.local[1]],
                  to="<sip:alice@localhost>",
                  frm="<sip:alice@localhost>;tag=%s" % c.ftag)
        r = c.final()
        c.close()
        check(r is not None and r.status == 401, "no 401: %r" % r)
        eq([parse_challenge(v).get("algorithm")
            for v in r.all("www-authenticate")], ["SHA-256", "MD5"],
           "challenges of etc/sipd.conf to SIPp")


def readme_sipp_call(s):
    """README's SIPp call: bob a SIPp callee given a binding with sipctl
    reg add, alice a SIPp caller through sipd. Returns the results of
    the caller and the callee."""
    port = free_udp_port()
    r = s.sipctl("reg", "add", "bob@localhost", "sip:bob@127.0.0.1:%d" % port)
    eq(r.returncode, 0, "sipctl reg add (%s)" % r.stderr.strip())
    uas = SippRun("proxy_uas.xml", s.addr, s.dir, keys={"callee": "bob"},
                  local_port=port, name="uas", rate=1)
    uas.start()
    try:
        wait_bound(uas)
        uac = SippRun("proxy_uac.xml", s.addr, s.dir,
                      keys={"caller": "alice", "callee": "bob",
                            "domain": "localhost"},
                      extra=["-au", "alice", "-ap", "secret"],
                      auth_uri="bob@localhost", name="uac", rate=1,
                      trace_msg=True)
        cres = uac.run(timeout=40)
        sres = uas.wait(timeout=20 if cres.ok else 1)
    finally:
        uas.kill()
    return uac, cres, sres


def test_readme_sipp_call_with_the_line_added():
    with Sipd(shipped_conf("auth_md5_user_agent SIPp\n"),
              accounts=ACCOUNTS) as s:
        uac, cres, sres = readme_sipp_call(s)
        sipp_ok(cres, "README's SIPp caller on etc/sipd.conf with"
                " auth_md5_user_agent SIPp")
        sipp_ok(sres, "README's SIPp callee")
        check(s.alive(), "sipd died")

    # as shipped: SIPp answers the first challenge, SHA-256, and fails
    with Sipd(shipped_conf(), accounts=ACCOUNTS) as s:
        uac, cres, sres = readme_sipp_call(s)
        check(not cres.ok, "SIPp called through etc/sipd.conf as shipped:"
              " %s" % cres.summary())
        got = sipp_received(uac, "SIP/2.0 407")
        check(got, "SIPp got no 407")
        eq([parse_challenge(v).get("algorithm")
            for v in got[0].all("proxy-authenticate")], ["SHA-256", "MD5"],
           "challenges SIPp got")
        check(s.alive(), "sipd died")


def readme_sipsak(s):
    """README's sipsak registration of alice."""
    return subprocess.run(
        ["sipsak", "-U", "-s", "sip:alice@localhost:%d" % s.port,
         "-a", "secret", "-u", "alice", "-C", "sip:alice@127.0.0.1:5099",
         "-x", "300"], capture_output=True, text=True, timeout=30)


def test_readme_sipsak_with_the_line_added():
    with Sipd(shipped_conf("auth_md5_user_agent sipsak\n"),
              accounts=ACCOUNTS) as s:
        r = readme_sipsak(s)
        eq(r.returncode, 0, "sipsak -U with auth_md5_user_agent sipsak:"
           "\n%s%s" % (r.stdout, r.stderr))
        out = s.sipctl("reg", "list", "alice@localhost")
        check("sip:alice@127.0.0.1:5099" in out.stdout and
              "sipsak" in out.stdout, "sipctl reg list: %r" % out.stdout)

    with Sipd(shipped_conf(), accounts=ACCOUNTS) as s:
        r = readme_sipsak(s)
        check(r.returncode != 0, "sipsak registered on etc/sipd.conf as"
              " shipped")
        check("unsupported authentication algorithm" in r.stdout + r.stderr,
              "sipsak's error: %s%s" % (r.stdout, r.stderr))
        eq(s.query("SELECT count(*) FROM bindings"), [(0,)], "bindings")
