"""Scanners: Debian's SIPVicious tools (svwar, svcrack) against sipd.

sipd runs the registrar and proxy roles with digest auth and real
accounts (200, 201 @example.com, made with sipctl). svwar guesses
extensions with REGISTER, INVITE and OPTIONS; svcrack guesses the
password of 200 from a word list that holds the right one late.

  - default configuration: their User-Agent (friendly-scanner) is
    dropped without an answer and the source banned (scanner_drops,
    bans, sipctl ban list);
  - "scanner_user_agent none": svwar still finds nothing, because an
    unknown user and a known one get the same challenge; svcrack is
    banned by the auth throttle after at most auth_fail_limit failures
    and never finds the password. A control run with a high limit shows
    that svcrack does find it when nothing stops it.

SIPVicious 0.3.3 ignores -b (it binds every address), so it sends from
127.0.0.1; each test has its own sipd, and legitimate phones use other
loopback addresses. Only 127.0.0.1 ports are targeted.
"""

import os
import re
import signal
import subprocess
import time

from sipdlib import status, bans, Sipd, Client, check, eq, free_port
from test_proxy import PROXY_CONF, UA

USERS = (("200@example.com", "pw200secret"), ("201@example.com", "s3cr3t201"))

# MD5 first: svcrack reads only the first challenge and knows MD5 only
BASE = PROXY_CONF + "auth_algorithms MD5,SHA-256\n"


def svwar(s, method, extensions="200-201,100-300"):
    """svwar over a range that starts with the real extensions."""
    r = subprocess.run(
        ["svwar", "-p", str(s.port), "-P", str(free_port()), "-m", method,
         "-e", extensions, "--force", "-t", "0.02", "--maximumtime", "2",
         "--domain", "example.com", "127.0.0.1"],
        capture_output=True, text=True, timeout=120)
    return r.stdout + r.stderr


def svcrack(s, words, banned=True):
    """svcrack over a word list; when banned, it is stopped (SIGINT:
    it prints what it found) a second after the ban instead of waiting
    for its own 10 s socket timeout."""
    path = os.path.join(s.dir, "words.txt")
    with open(path, "w") as f:
        f.write("\n".join(words) + "\n")
    p = subprocess.Popen(
        ["svcrack", "-p", str(s.port), "-P", str(free_port()), "-u", "200",
         "-d", path, "-t", "0.02", "--maximumtime", "2",
         "--domain", "example.com", "127.0.0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 60
        while banned and p.poll() is None and time.time() < deadline:
            if "127.0.0.1" in bans(s):
                time.sleep(1.0)
                p.send_signal(signal.SIGINT)
                break
            time.sleep(0.2)
        out, _ = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return out


def wordlist(n=30, right_at=25):
    words = ["guess%02d" % i for i in range(n)]
    words[right_at] = USERS[0][1]
    return words


def found_extensions(out):
    return re.findall(r"extension '([^']*)' (?:exists|probably exists)",
                      out)


def legit_phone_registers(s, host):
    ua = UA(s, "201", USERS[1][1], host=host)
    try:
        ua.register(expires=60)
    finally:
        ua.close()


def test_svwar_dropped_and_banned():
    with Sipd(conf=BASE, accounts=USERS) as s:
        out = svwar(s, "REGISTER")
        eq(found_extensions(out), [], "extensions svwar found:\n" + out)
        check("found nothing" in out, "svwar output:\n" + out)
        st = status(s)
        check(st["scanner_drops"] >= 1, "scanner_drops %r" %
              st["scanner_drops"])
        check(st["bans"] >= 1, "bans %r" % st["bans"])
        eq(st["responses_sent"]["4xx"] + st["responses_sent"]["2xx"], 0,
           "responses sent to the scanner")
        eq(bans(s).get("127.0.0.1", {}).get("reason"), "scanner",
           "ban of the scanner")
        check(re.search(r"banned 127\.0\.0\.1 for 3600 seconds: scanner",
                        s.log()), "ban logged")
        # once banned, its datagrams are dropped before they are parsed
        before = st["banned_drops"]
        svwar(s, "OPTIONS", "200-210")
        check(status(s)["banned_drops"] > before, "banned_drops")
        legit_phone_registers(s, "127.0.0.7")


def test_svwar_finds_nothing_without_ua_filter():
    conf = BASE + "scanner_user_agent none\n"
    with Sipd(conf=conf, accounts=USERS) as s:
        for method in ("REGISTER", "INVITE", "OPTIONS"):
            before = status(s)["requests_received"][method]
            out = svwar(s, method)
            eq(found_extensions(out), [], "%s: extensions svwar found:\n%s"
               % (method, out))
            check("found nothing" in out, "%s: svwar output:\n%s" % (
                method, out))
            check(status(s)["requests_received"][method] >= before + 2,
                  "%s: svwar's requests did not reach sipd" % method)
        st = status(s)
        eq(st["scanner_drops"], 0, "scanner_drops with the filter off")

        # what svwar saw: a known and an unknown user, and a wrong
        # password, get the same answer
        seen = {}
        for user in ("200", "150", "9999"):
            c = Client(s.addr, host="127.0.0.8")
            r = c.register("%s@example.com" % user)
            seen[user] = (r.status, r.reason, [n for n, _ in r.headers
                                                if n != "www-authenticate"],
                          len(r.all("www-authenticate")))
            c.close()
        eq(seen["150"], seen["200"], "unknown vs known user")
        eq(seen["9999"], seen["200"], "unknown vs known user")
        eq(seen["200"][0], 401, "REGISTER without credentials")
        known = Client(s.addr, host="127.0.0.9")
        unknown = Client(s.addr, host="127.0.0.10")
        r1 = known.register("200@example.com", password="wrong", alg="MD5")
        r2 = unknown.register("150@example.com", password="wrong",
                              alg="MD5")
        eq((r1.status, r1.reason), (r2.status, r2.reason),
           "wrong password vs unknown user")
        eq(r1.status, 401, "wrong password")
        known.close()
        unknown.close()
        legit_phone_registers(s, "127.0.0.7")


def test_svcrack_dropped_and_banned():
    with Sipd(conf=BASE, accounts=USERS) as s:
        out = svcrack(s, wordlist())
        check(USERS[0][1] not in out and "found nothing" in out,
              "svcrack found it:\n" + out)
        st = status(s)
        check(st["scanner_drops"] >= 1, "scanner_drops")
        eq(st["auth_failures"], 0, "attempts that reached auth")
        eq(bans(s).get("127.0.0.1", {}).get("reason"), "scanner",
           "ban of the scanner")


def test_svcrack_banned_by_auth_throttle():
    # the shipped throttle (auth_throttle 5: one attempt a second after
    # five failures) and a ban at the sixth failure
    limit = 6
    conf = BASE + "scanner_user_agent none\nauth_fail_limit %d\n" % limit
    with Sipd(conf=conf, accounts=USERS) as s:
        # enough guesses to go on past the throttle's second: svcrack
        # sends one every 20 ms at most, and a short list was used up
        # (every guess after the fifth dropped) before the sixth failure
        out = svcrack(s, wordlist(n=200, right_at=190))
        check(USERS[0][1] not in out and "found nothing" in out,
              "svcrack found it:\n" + out)
        st = status(s)
        eq(st["scanner_drops"], 0, "scanner_drops with the filter off")
        check(1 <= st["auth_failures"] <= limit, "%d attempts reached auth"
              " (limit %d)" % (st["auth_failures"], limit))
        eq(bans(s).get("127.0.0.1", {}).get("reason"),
           "repeated digest auth failures",
           "ban of the source")
        check(st["banned_drops"] >= 1, "banned_drops")
        legit_phone_registers(s, "127.0.0.7")


def test_svcrack_control_finds_password_when_unlimited():
    """The harness can fail: with no ban svcrack finds the password."""
    conf = BASE + ("scanner_user_agent none\nauth_fail_limit 100000\n"
                   "auth_throttle 0\n")
    with Sipd(conf=conf, accounts=USERS) as s:
        out = svcrack(s, wordlist(n=12, right_at=10), banned=False)
        check(re.search(r"\b200\s*\|\s*%s\b" % USERS[0][1], out),
              "svcrack did not find the password unhindered:\n" + out)
        # svcrack sends a guess again when its answer is slow (valgrind)
        n = status(s)["auth_failures"]
        check(10 <= n <= 12, "%d failures counted for 10 wrong guesses" % n)
