"""Registrar: register with digest auth, refresh, remove, expiry, limits.

RFC 3261 section 10 on the wire and in the database: add, refresh and
remove bindings, Expires and the contact expires parameter, Min-Expires
(423), the maximum expires, Contact: * with Expires: 0, Call-ID/CSeq
ordering, the To AOR against the authenticated user and the served
domains, the contact limit, rport/received, Path (RFC 3327), +sip.instance
and reg-id (RFC 5626), TCP and IPv6, and the digest side of a REGISTER:
MD5 and SHA-256, stale nonces, nonce-count replays, bans after repeated
failures. sipctl reg list/del are checked against what the phones
registered.
"""

import email.utils
import hashlib
import hmac
import json
import os
import re
import socket
import time

from sipdlib import (timing, Sipd, Client, DEFAULT_CONF, check, eq, param,
                     contact_uri, parse_challenge, sipc, digest_header,
                     rand_token)


ALICE = "alice@example.com"
BOB = "bob@example.com"


# --- helpers of this file ---------------------------------------------------

def conf_with(*lines):
    """DEFAULT_CONF with more lines (a later key wins over an earlier)."""
    return DEFAULT_CONF + "".join(line + "\n" for line in lines)


def pick_challenge(resp, alg):
    """The challenge of resp for algorithm alg, or None."""
    for v in resp.all("www-authenticate"):
        c = parse_challenge(v)
        if c.get("algorithm", "MD5").upper() == alg.upper():
            return c
    return None


class Phone:
    """A registering UA on a raw Client that keeps its digest challenge.

    The first authenticated request fetches a challenge; every request
    after it reuses the nonce with the next nonce count, as real phones
    do. .last is the text of the last request sent."""

    def __init__(self, s, aor=ALICE, password="secret", transport="udp",
                 host="127.0.0.1", server=None, alg="SHA-256", user=None,
                 user_agent=None):
        self.s = s
        self.c = Client(server or s.addr, transport, host=host)
        self.aor = aor
        self.password = password
        self.alg = alg
        self.user = user or aor.split("@")[0]
        self.domain = aor.split("@")[1]
        self.user_agent = user_agent
        self.chall = None
        self.nc = 0
        self.last = None

    @property
    def contact(self):
        """The phone's own contact URI (its local address)."""
        host = self.c.local[0]
        if ":" in host:
            host = "[%s]" % host
        return "sip:%s@%s:%d%s" % (
            self.aor.split("@")[0], host, self.c.local[1],
            ";transport=tcp" if self.c.transport == "tcp" else "")

    def _headers(self, contacts, expires, extra):
        hdrs = []
        if self.user_agent:
            hdrs.append("User-Agent: " + self.user_agent)
        hdrs += list(extra)
        hdrs += ["Contact: %s" % c for c in contacts]
        if expires is not None:
            hdrs.append("Expires: %s" % expires)
        return hdrs

    def challenge(self, ruri=None, to_aor=None):
        """Send an unauthenticated REGISTER; keep and return the 401."""
        ruri = ruri or "sip:" + self.domain
        to_aor = to_aor or self.aor
        self.c.request("REGISTER", ruri, self._headers([], None, []),
                       to="<sip:%s>" % to_aor,
                       frm="<sip:%s>;tag=%s" % (to_aor, self.c.ftag))
        r = self.c.final()
        check(r is not None, "no answer to an unauthenticated REGISTER")
        eq(r.status, 401, "unauthenticated REGISTER")
        self.chall = pick_challenge(r, self.alg)
        check(self.chall is not None,
              "no %s challenge in:\n%s" % (self.alg, r.raw))
        self.nc = 0
        return r

    def send(self, contacts=None, expires=None, extra=(), cseq=None,
             callid=None, branch=None, ruri=None, to_aor=None, nc=None,
             password=None, auth=True):
        """Send a REGISTER (authenticated unless auth=False)."""
        if contacts is None:
            contacts = ["<%s>" % self.contact]
        ruri = ruri or "sip:" + self.domain
        to_aor = to_aor or self.aor
        hdrs = self._headers(contacts, expires, extra)
        if auth:
            if self.chall is None:
                self.challenge(ruri, to_aor)
            if nc is None:
                self.nc += 1
                nc = self.nc
            hdrs.append("Authorization: " + digest_header(
                self.chall, "REGISTER", ruri, self.user,
                self.password if password is None else password, nc=nc))
        self.last = self.c.request(
            "REGISTER", ruri, hdrs, to="<sip:%s>" % to_aor,
            frm="<sip:%s>;tag=%s" % (to_aor, self.c.ftag), cseq=cseq,
            callid=callid, branch=branch)
        return self.last

    def reg(self, *args, timeout=3.0, **kw):
        """send() and return the final response (None if none came)."""
        self.send(*args, **kw)
        return self.c.final(timeout)

    def close(self):
        self.c.close()


def ok(resp, what):
    """Fail unless resp is a 200."""
    check(resp is not None, "%s: no answer" % what)
    eq(resp.status, 200, "%s (%s)" % (what, resp.raw.split("\r\n")[0]))
    return resp


def contacts_of(resp):
    """{contact URI: (expires int or None, q float)} of a response."""
    out = {}
    for v in resp.all("contact"):
        e = param(v, "expires")
        q = param(v, "q")
        out[contact_uri(v)] = (int(e) if e is not None else None,
                               float(q) if q is not None else 1.0)
    return out


def bindings(s, aor=ALICE, cols="contact"):
    """Rows of the bindings of aor, oldest first."""
    rows = s.query("SELECT %s FROM bindings WHERE aor = ? ORDER BY id"
                   % cols, (aor,))
    if "," not in cols:
        return [r[0] for r in rows]
    return rows


def now():
    return int(time.time())


def near(got, want, slack, what):
    check(abs(got - want) <= slack,
          "%s: expected %d (+-%d), got %d" % (what, want, slack, got))


def ipv6_usable():
    try:
        so = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    except OSError:
        return False
    try:
        so.bind(("::1", 0))
        return True
    except OSError:
        return False
    finally:
        so.close()


def restart_after_kill9(s, timeout=5.0):
    """kill -9 sipd, start it again and wait until the new one is up.

    Sipd.start() looks for "started with" in a log file that already
    holds the first start's line, so count the lines instead."""
    n = s.log().count("started with")
    s.kill9()
    s.start()
    deadline = time.time() + timeout
    while s.log().count("started with") <= n:
        check(s.alive(), "sipd exited after the restart:\n" + s.log())
        check(time.time() < deadline, "sipd did not start again:\n" +
              s.log())
        time.sleep(0.02)


# --- the tests that came first -----------------------------------------------

def test_register_sha256():
    with Sipd() as s:
        c = s.client()
        r = c.register("alice@example.com", "secret", expires=120)
        eq(r.status, 200, "REGISTER with SHA-256 digest")
        contacts = r.all("contact")
        eq(len(contacts), 1, "contacts in the 200")
        eq(param(contacts[0], "expires"), "120", "expires of the binding")
        check(r.get("date", "").endswith("GMT"), "Date header: %s" % r.raw)
        rows = s.query("SELECT aor, contact, transport, received, socket"
                       " FROM bindings")
        eq(len(rows), 1, "rows in the database")
        aor, contact, tp, recv, sock = rows[0]
        eq(aor, "alice@example.com", "aor")
        eq(contact, contact_uri(contacts[0]), "stored contact")
        eq(tp, "udp", "transport")
        eq(recv, "127.0.0.1:%d" % c.local[1], "source address")
        eq(sock, "udp:127.0.0.1:%d" % s.port, "socket")


def test_register_md5_libre_client():
    with Sipd() as s:
        rc, r = sipc("-u", "alice", "-p", "secret", "register",
                     "127.0.0.1:%d" % s.port, "alice@example.com",
                     "<sip:alice@127.0.0.1:5999>")
        eq(rc, 0, "sipc exit status")
        eq(r.status, 200, "REGISTER through libre's client stack")
        rows = s.query("SELECT contact, user_agent FROM bindings")
        eq(rows, [("sip:alice@127.0.0.1:5999", "sipd-test-client (libre)")],
           "binding")


def test_challenge_offers_sha256_first():
    with Sipd() as s:
        c = s.client()
        r = c.register("alice@example.com")
        eq(r.status, 401, "unauthenticated REGISTER")
        ch = [parse_challenge(v) for v in r.all("www-authenticate")]
        eq([x.get("algorithm") for x in ch], ["SHA-256", "MD5"],
           "algorithms offered")
        for x in ch:
            eq(x.get("qop"), "auth", "qop")
            eq(x.get("realm"), "example.com", "realm")


def test_retransmission_gets_the_same_challenge():
    # the challenge is stateless: a retransmitted REGISTER (its first 401
    # lost or late) must get the same bytes, nonce included, or a client
    # that matches responses by their bytes (SIPp) fails the
    # registration when the second 401 comes; another request gets
    # another nonce
    with Sipd() as s:
        c = s.client()
        aor = "<sip:alice@example.com>"
        text = c.request("REGISTER", "sip:example.com",
                         ["Contact: <sip:alice@127.0.0.1:%d>" % c.local[1]],
                         to=aor, frm=aor + ";tag=%s" % c.ftag)
        first = c.final()
        eq(first.status, 401, "challenge")
        time.sleep(1.1)               # the nonce's time is in seconds
        c.send_raw(text)
        again = c.final()
        check(again is not None, "no answer to the retransmission")
        eq(again.raw, first.raw, "the retransmission's 401")
        c.request("REGISTER", "sip:example.com",
                  ["Contact: <sip:alice@127.0.0.1:%d>" % c.local[1]],
                  to=aor, frm=aor + ";tag=%s" % c.ftag)
        other = c.final()
        eq(other.status, 401, "the next request's challenge")
        nonces = lambda m: [parse_challenge(v)["nonce"]
                            for v in m.all("www-authenticate")]
        check(not set(nonces(other)) & set(nonces(first)),
              "the next request got the first one's nonce")


def test_wrong_password_and_unknown_user_look_the_same():
    with Sipd() as s:
        for alg in ("SHA-256", "MD5"):
            answers = []
            for aor, pw in (("alice@example.com", "wrong"),
                            ("nobody@example.com", "whatever")):
                c = s.client()
                r = c.register(aor, pw, alg=alg)
                check(r is not None, "%s %s: no answer" % (alg, aor))
                answers.append(r)
                c.close()
            a, b = answers
            eq(a.status, 401, "wrong password (%s)" % alg)
            eq(b.status, 401, "unknown user (%s)" % alg)
            eq(a.reason, b.reason, "reason phrases")
            names = lambda m: [n for n, _ in m.headers]
            eq(names(a), names(b), "header names (%s)" % alg)
            sa = [parse_challenge(v) for v in a.all("www-authenticate")]
            sb = [parse_challenge(v) for v in b.all("www-authenticate")]
            eq([sorted(x) for x in sa], [sorted(x) for x in sb],
               "challenge parameters")
            # every value but the nonce is the same, and nothing is stale
            strip = lambda chs: [{k: v for k, v in x.items()
                                  if k != "nonce"} for x in chs]
            eq(strip(sa), strip(sb), "challenge values (%s)" % alg)
            check(all("stale" not in x for x in sa + sb),
                  "a wrong password is not a stale nonce")
            for n in ("content-length", "server", "supported", "allow"):
                eq(a.get(n), b.get(n), "%s header" % n)
        eq(s.query("SELECT count(*) FROM bindings"), [(0,)], "bindings")


# --- digest algorithms -------------------------------------------------------

def test_register_md5_raw():
    with Sipd() as s:
        p = Phone(s, alg="MD5")
        r = ok(p.reg(expires=120), "REGISTER with MD5 digest")
        eq(list(contacts_of(r)), [p.contact], "contact in the 200")
        eq(bindings(s), [p.contact], "stored binding")
        # a SHA-256 phone of the same account beside it
        q = Phone(s, alg="SHA-256")
        r = ok(q.reg(expires=120), "REGISTER with SHA-256 digest")
        eq(sorted(contacts_of(r)), sorted([p.contact, q.contact]),
           "both contacts in the 200")


def test_libre_user_agent_gets_md5_challenge_only():
    with Sipd() as s:
        p = Phone(s, alg="MD5", user_agent="baresip v3.0 (libre)")
        r = p.challenge()
        algs = [parse_challenge(v).get("algorithm")
                for v in r.all("www-authenticate")]
        eq(algs, ["MD5"], "algorithms offered to a libre user agent")
        r = ok(p.reg(expires=120), "MD5 REGISTER of a libre agent")
        eq(bindings(s, cols="contact, user_agent"),
           [(p.contact, "baresip v3.0 (libre)")], "stored binding")
        # another agent still gets both, SHA-256 first
        q = Phone(s, user_agent="Linphone/5.2")
        r = q.challenge()
        algs = [parse_challenge(v).get("algorithm")
                for v in r.all("www-authenticate")]
        eq(algs, ["SHA-256", "MD5"], "algorithms offered to Linphone")


def test_md5_left_out_is_neither_offered_nor_accepted():
    """auth_algorithms SHA-256: no MD5 challenge, not even to an agent of
    auth_md5_user_agent or a built-in one, and an answer computed with
    MD5 gets a new challenge, not a 200 (sipd.conf(5), auth_algorithms)."""
    with Sipd(conf_with("auth_algorithms SHA-256",
                        "auth_md5_user_agent SIPp")) as s:
        for agent in ("Linphone/5.2", "SIPp", "baresip v3.0 (libre)"):
            c = Client(s.addr)
            hdrs = ["User-Agent: " + agent,
                    "Contact: <sip:alice@127.0.0.1:%d>" % c.local[1]]
            to, frm = "<sip:%s>" % ALICE, "<sip:%s>;tag=%s" % (ALICE, c.ftag)
            c.request("REGISTER", "sip:example.com", hdrs, to=to, frm=frm)
            r = c.final()
            eq(r.status, 401, "REGISTER of %s" % agent)
            eq([parse_challenge(v).get("algorithm")
                for v in r.all("www-authenticate")], ["SHA-256"],
               "algorithms offered to %s" % agent)
            md5 = dict(pick_challenge(r, "SHA-256"), algorithm="MD5")
            auth = digest_header(md5, "REGISTER", "sip:example.com",
                                 "alice", "secret")
            c.request("REGISTER", "sip:example.com",
                      hdrs + ["Authorization: " + auth], to=to, frm=frm)
            r = c.final()
            eq(r.status, 401, "MD5 credentials of %s" % agent)
            eq([parse_challenge(v).get("algorithm")
                for v in r.all("www-authenticate")], ["SHA-256"],
               "algorithms offered again to %s" % agent)
            c.close()
        eq(s.query("SELECT count(*) FROM bindings"), [(0,)], "bindings")
        check("failed digest" not in s.log(), "an MD5 answer counted as a"
              " failure:\n" + s.log()[-2000:])


# --- add, refresh, several contacts ------------------------------------------

def test_refresh_same_callid_moves_expiry():
    with Sipd() as s:
        p = Phone(s)
        ok(p.reg(expires=60), "first REGISTER")
        rows = bindings(s, cols="id, contact, expires, cseq, callid")
        eq(len(rows), 1, "rows after the first REGISTER")
        bid, contact, exp1, cseq1, callid = rows[0]
        near(exp1, now() + 60, 2, "expiry of the first REGISTER")
        time.sleep(1.1)
        r = ok(p.reg(expires=300), "refresh")
        eq(contacts_of(r), {p.contact: (300, 1.0)}, "contacts of the 200")
        rows = bindings(s, cols="id, contact, expires, cseq, callid")
        eq(len(rows), 1, "still one row after the refresh")
        bid2, contact2, exp2, cseq2, callid2 = rows[0]
        eq(contact2, contact, "contact")
        eq(callid2, callid, "Call-ID")
        near(exp2, now() + 300, 2, "expiry after the refresh")
        check(exp2 > exp1 + 200, "expiry moved: %d -> %d" % (exp1, exp2))
        check(cseq2 > cseq1, "stored CSeq %d -> %d" % (cseq1, cseq2))


def test_refresh_with_new_callid_replaces_binding():
    """RFC 3261 10.3 step 7: another Call-ID updates the binding
    whatever its CSeq (the phone rebooted)."""
    with Sipd() as s:
        p = Phone(s)
        ok(p.reg(expires=60, cseq=50), "first REGISTER")
        newid = rand_token(16) + "@rebooted"
        r = ok(p.reg(expires=120, cseq=1, callid=newid),
               "REGISTER of the same contact with a new Call-ID")
        eq(contacts_of(r), {p.contact: (120, 1.0)}, "contacts of the 200")
        rows = bindings(s, cols="contact, callid, cseq")
        eq(rows, [(p.contact, newid, 1)], "one binding, new Call-ID")


def test_second_contact_added():
    with Sipd() as s:
        p1, p2 = Phone(s), Phone(s)
        b = Phone(s, aor=BOB, password="secret2")
        ok(b.reg(expires=200), "bob")
        ok(p1.reg(expires=100), "alice phone 1")
        r = ok(p2.reg(expires=150), "alice phone 2")
        eq(contacts_of(r), {p1.contact: (100, 1.0), p2.contact: (150, 1.0)},
           "the 200 lists every binding of alice and only hers")
        date = email.utils.parsedate_to_datetime(r.get("date", ""))
        near(int(date.timestamp()), now(), 5, "Date header")
        eq(sorted(bindings(s)), sorted([p1.contact, p2.contact]),
           "alice's rows")
        eq(bindings(s, BOB), [b.contact], "bob's rows")
        # phone 1 refreshing sees phone 2 too
        r = ok(p1.reg(expires=100), "refresh of phone 1")
        eq(sorted(contacts_of(r)), sorted([p1.contact, p2.contact]),
           "contacts after the refresh")
        eq(len(bindings(s)), 2, "no duplicate row")


def test_q_values_order_the_200():
    with Sipd() as s:
        p = Phone(s)
        cts = ["<sip:low@127.0.0.1:5001>;q=0.2",
               "<sip:top@127.0.0.1:5002>",
               "<sip:mid@127.0.0.1:5003>;q=0.7"]
        r = ok(p.reg(contacts=cts, expires=120), "REGISTER of three")
        got = [(contact_uri(v), float(param(v, "q") or 1.0))
               for v in r.all("contact")]
        eq(got, [("sip:top@127.0.0.1:5002", 1.0),
                 ("sip:mid@127.0.0.1:5003", 0.7),
                 ("sip:low@127.0.0.1:5001", 0.2)],
           "contacts of the 200, best q first")
        rows = s.query("SELECT contact, q FROM bindings ORDER BY contact")
        eq(rows, [("sip:low@127.0.0.1:5001", 200),
                  ("sip:mid@127.0.0.1:5003", 700),
                  ("sip:top@127.0.0.1:5002", 1000)], "stored q")
        # another phone adds q=0.5: it goes between mid and low
        q = Phone(s)
        r = ok(q.reg(contacts=["<sip:half@127.0.0.1:5004>;q=0.5"],
                     expires=120), "REGISTER with q=0.5")
        eq([contact_uri(v) for v in r.all("contact")],
           ["sip:top@127.0.0.1:5002", "sip:mid@127.0.0.1:5003",
            "sip:half@127.0.0.1:5004", "sip:low@127.0.0.1:5001"],
           "order after a fourth contact")


def test_contact_expires_param_beats_expires_header():
    with Sipd() as s:
        p = Phone(s)
        cts = ["<sip:a@127.0.0.1:5001>;expires=30",
               "<sip:b@127.0.0.1:5002>"]
        r = ok(p.reg(contacts=cts, expires=90), "REGISTER")
        eq(contacts_of(r), {"sip:a@127.0.0.1:5001": (30, 1.0),
                            "sip:b@127.0.0.1:5002": (90, 1.0)},
           "expires of each contact")
        t = now()
        rows = dict(s.query("SELECT contact, expires FROM bindings"))
        near(rows["sip:a@127.0.0.1:5001"], t + 30, 2, "stored expiry a")
        near(rows["sip:b@127.0.0.1:5002"], t + 90, 2, "stored expiry b")
        # the parameter is not kept as a contact parameter
        eq(s.query("SELECT params FROM bindings"), [("",), ("",)],
           "stored params")


def test_default_expires_when_none_given():
    conf = conf_with("registrar_default_expires 300")
    with Sipd(conf=conf) as s:
        p = Phone(s)
        r = ok(p.reg(), "REGISTER without any expires")
        eq(contacts_of(r), {p.contact: (300, 1.0)}, "default expires")
        (exp,), = s.query("SELECT expires FROM bindings")
        near(exp, now() + 300, 2, "stored expiry")


def test_max_expires_clamped():
    conf = conf_with("registrar_max_expires 600",
                     "registrar_default_expires 300")
    with Sipd(conf=conf) as s:
        p = Phone(s)
        r = ok(p.reg(expires=7200), "REGISTER with Expires 7200")
        eq(contacts_of(r), {p.contact: (600, 1.0)}, "clamped expires")
        (exp,), = s.query("SELECT expires FROM bindings")
        near(exp, now() + 600, 2, "stored expiry")
        # larger than 2^32-1 counts as 2^32-1, then the maximum applies
        r = ok(p.reg(contacts=["<sip:big@127.0.0.1:5005>"
                               ";expires=99999999999"], expires=60),
               "REGISTER with a huge expires parameter")
        eq(contacts_of(r)["sip:big@127.0.0.1:5005"], (600, 1.0),
           "clamped huge expires")


def test_min_expires_423():
    conf = conf_with("registrar_min_expires 60")
    with Sipd(conf=conf) as s:
        p = Phone(s)
        r = p.reg(expires=30)
        check(r is not None, "no answer to Expires 30")
        eq(r.status, 423, "Expires below registrar_min_expires")
        eq(r.get("min-expires"), "60", "Min-Expires header")
        eq(bindings(s), [], "nothing stored after a 423")
        # the contact parameter is checked, not only the header
        r = p.reg(contacts=["<%s>;expires=59" % p.contact], expires=3600)
        eq(r.status, 423, "contact expires=59 with Expires 3600")
        eq(r.get("min-expires"), "60", "Min-Expires header")
        eq(bindings(s), [], "nothing stored after the second 423")
        # one bad contact refuses the whole request
        r = p.reg(contacts=["<sip:x@127.0.0.1:5001>;expires=120",
                            "<sip:y@127.0.0.1:5002>;expires=5"])
        eq(r.status, 423, "one contact below the minimum")
        eq(bindings(s), [], "nothing stored from a half-good request")
        # the minimum itself is fine
        r = ok(p.reg(expires=60), "Expires equal to the minimum")
        eq(contacts_of(r), {p.contact: (60, 1.0)}, "contacts")


def test_contact_uri_comparison():
    """RFC 3261 19.1.4: the refresh of an equal URI updates its binding;
    host and transport compare without case, the user part with case."""
    with Sipd() as s:
        p = Phone(s)
        first = "sip:e@Host.Example.NET:5001;transport=udp"
        ok(p.reg(contacts=["<%s>" % first], expires=120), "REGISTER")
        r = ok(p.reg(contacts=["<sip:e@host.example.net:5001;"
                               "TRANSPORT=UDP>"], expires=300),
               "refresh of an equal URI")
        eq(len(r.all("contact")), 1, "one contact in the 200")
        check(bindings(s, cols="contact, expires")[0][1] > now() + 200,
              "the binding was not refreshed")
        eq(len(bindings(s)), 1, "one row")
        # E is not e; no transport is not transport=udp
        ok(p.reg(contacts=["<sip:E@host.example.net:5001;transport=udp>",
                           "<sip:e@host.example.net:5001>"], expires=120),
           "two URIs that differ")
        eq(len(bindings(s)), 3, "three rows")


def test_duplicate_contact_in_one_register():
    """The same contact twice in one REGISTER is one binding: a
    registrar either keeps one (200) or refuses the request (400), but
    never stores the same URI twice for an AOR."""
    with Sipd() as s:
        p = Phone(s)
        uri = "sip:dup@127.0.0.1:5001"
        r = p.reg(contacts=["<%s>" % uri, "<%s>" % uri], expires=120)
        check(r is not None, "no answer")
        check(r.status in (200, 400), "status %d" % r.status)
        rows = bindings(s)
        check(rows.count(uri) <= 1, "the same contact stored %d times"
              " (status %d): %r" % (rows.count(uri), r.status, rows))
        if r.status == 200:
            eq([contact_uri(v) for v in r.all("contact")], [uri],
               "contacts of the 200")


def test_bad_expires_and_q_400():
    with Sipd() as s:
        p = Phone(s)
        for what, kw in (
                ("Expires: abc", dict(expires="abc")),
                ("expires=-5", dict(contacts=["<%s>;expires=-5" %
                                              p.contact])),
                ("q=1.5", dict(contacts=["<%s>;q=1.5" % p.contact],
                               expires=60)),
                ("q=abc", dict(contacts=["<%s>;q=abc" % p.contact],
                               expires=60)),
                ("Contact: <http://x>", dict(contacts=["<http://x.org/>"],
                                             expires=60))):
            r = p.reg(**kw)
            check(r is not None, "%s: no answer" % what)
            eq(r.status, 400, what)
        eq(bindings(s), [], "nothing stored")
        ok(p.reg(contacts=["<%s>;q=0" % p.contact], expires=60), "q=0")
        eq(bindings(s, cols="contact, q"), [(p.contact, 0)], "q=0 stored")


# --- removal -----------------------------------------------------------------

def test_unregister_one_contact():
    with Sipd() as s:
        p = Phone(s)
        a, b = "sip:a@127.0.0.1:5001", "sip:b@127.0.0.1:5002"
        ok(p.reg(contacts=["<%s>" % a, "<%s>" % b], expires=120),
           "REGISTER of two")
        eq(sorted(bindings(s)), [a, b], "two rows")
        r = ok(p.reg(contacts=["<%s>;expires=0" % a]), "remove a")
        left = contacts_of(r)
        eq(list(left), [b], "the 200 lists only b")
        check(left[b][0] in (119, 120) and left[b][1] == 1.0,
              "b's expires (a second may have passed) and q: %r"
              % (left[b],))
        eq(bindings(s), [b], "rows after removing a")
        # Expires: 0 in the header removes too (below the minimum is fine)
        r = ok(p.reg(contacts=["<%s>" % b], expires=0), "remove b")
        eq(r.all("contact"), [], "no contact left in the 200")
        eq(bindings(s), [], "rows after removing b")
        # removing what is not bound is not an error
        ok(p.reg(contacts=["<sip:zz@127.0.0.1:5009>"], expires=0),
           "remove an unknown contact")


def test_unregister_all_with_star():
    with Sipd() as s:
        p1, p2 = Phone(s), Phone(s)
        b = Phone(s, aor=BOB, password="secret2")
        ok(p1.reg(expires=120), "phone 1")
        ok(p2.reg(expires=120), "phone 2")
        ok(b.reg(expires=120), "bob")
        eq(len(bindings(s)), 2, "alice's rows")
        r = ok(p1.reg(contacts=["*"], expires=0), "Contact: * Expires: 0")
        eq(r.all("contact"), [], "no contact in the 200")
        eq(bindings(s), [], "alice's rows after *")
        eq(bindings(s, BOB), [b.contact], "bob keeps his binding")
        # no bindings left: * is still fine
        ok(p2.reg(contacts=["*"], expires=0), "* with nothing bound")


def test_star_needs_expires_zero_and_no_other_contact():
    with Sipd() as s:
        p = Phone(s)
        ok(p.reg(expires=120), "REGISTER")
        before = bindings(s, cols="contact, expires, cseq")
        cases = [
            ("* without Expires", dict(contacts=["*"])),
            ("* with Expires 10", dict(contacts=["*"], expires=10)),
            ("* with Expires 0 and another contact",
             dict(contacts=["*", "<sip:x@127.0.0.1:5001>"], expires=0)),
            ("* and another contact in one header",
             dict(contacts=["*, <sip:x@127.0.0.1:5001>"], expires=0)),
            ("* with expires=0 as a parameter only",
             dict(contacts=["*;expires=0"])),
        ]
        for what, kw in cases:
            r = p.reg(**kw)
            check(r is not None, "%s: no answer" % what)
            eq(r.status, 400, what)
            eq(bindings(s, cols="contact, expires, cseq"), before,
               "bindings after %s" % what)


# --- expiry ------------------------------------------------------------------

def test_expired_binding_removed_from_database():
    conf = conf_with("registrar_min_expires 1",
                     "location_expire_interval 100")
    with Sipd(conf=conf) as s:
        p = Phone(s)
        keep = Phone(s)
        ok(keep.reg(expires=120), "a binding that stays")
        t0 = time.time()
        r = ok(p.reg(expires=2), "REGISTER for 2 seconds")
        eq(contacts_of(r)[p.contact], (2, 1.0), "expires in the 200")
        check(p.contact in bindings(s), "row stored")
        gone = None
        while time.time() - t0 < 6:
            if p.contact not in bindings(s):
                gone = time.time() - t0
                break
            time.sleep(0.1)
        check(gone is not None, "expired row still in the database after"
              " 6 s: %r" % bindings(s, cols="contact, expires"))
        check(gone > 0.9, "row removed too early, after %.1f s" % gone)
        eq(bindings(s), [keep.contact], "rows after the expiry")
        check("removed 1 expired" in s.log(), "expiry not logged:\n" +
              s.log())
        r = ok(keep.reg(contacts=[]), "REGISTER without Contact")
        eq(list(contacts_of(r)), [keep.contact], "bindings on the wire")


def test_expired_binding_never_returned():
    # the cleanup runs once a minute: expired rows stay in the table
    conf = conf_with("registrar_min_expires 1",
                     "location_expire_interval 60000")
    with Sipd(conf=conf) as s:
        p = Phone(s)
        short, long_ = "sip:short@127.0.0.1:5001", "sip:long@127.0.0.1:5002"
        ok(p.reg(contacts=["<%s>;expires=1" % short,
                           "<%s>;expires=120" % long_]), "REGISTER")
        time.sleep(2.2)
        eq(sorted(bindings(s)), [long_, short],
           "the expired row is still in the table")
        r = ok(p.reg(contacts=[]), "REGISTER without Contact")
        eq(list(contacts_of(r)), [long_], "expired binding not returned")
        out = s.sipctl("reg", "list", "--json")
        eq(out.returncode, 0, "sipctl reg list status")
        eq([x["contact"] for x in json.loads(out.stdout)], [long_],
           "sipctl lists no expired binding")
        # the redirect role does not hand it out either
        rc = Client(s.addr2)
        rc.request("INVITE", "sip:alice@example.com",
                   ["Contact: <sip:caller@127.0.0.1:%d>" % rc.local[1]])
        r = rc.final()
        check(r is not None, "no answer to the INVITE")
        eq(r.status, 302, "redirect")
        eq([contact_uri(v) for v in r.all("contact")], [long_],
           "contacts of the 302")
        # registering it again makes a live binding with its full time
        r = ok(p.reg(contacts=["<%s>;expires=90" % short]), "re-REGISTER")
        eq(contacts_of(r)[short], (90, 1.0), "renewed binding")
        check(contacts_of(r)[long_][0] <= 120, "long one listed: %r" % r.raw)


def test_register_without_contact_lists_bindings():
    with Sipd() as s:
        p = Phone(s)
        r = ok(p.reg(contacts=[]), "query with no binding")
        eq(r.all("contact"), [], "no contact yet")
        check(r.get("date") is not None, "Date header")
        a, b = "sip:a@127.0.0.1:5001", "sip:b@127.0.0.1:5002"
        ok(p.reg(contacts=["<%s>;expires=120" % a,
                           "<%s>;expires=300;q=0.5" % b]), "REGISTER")
        before = bindings(s, cols="contact, expires, cseq, callid")
        time.sleep(1.5)
        q = Phone(s)         # another phone, another Call-ID
        r = ok(q.reg(contacts=[]), "query")
        got = contacts_of(r)
        eq(sorted(got), [a, b], "bindings listed")
        check(116 <= got[a][0] <= 119, "remaining expires of a: %r" % got)
        check(296 <= got[b][0] <= 299, "remaining expires of b: %r" % got)
        eq(got[b][1], 0.5, "q of b")
        eq([contact_uri(v) for v in r.all("contact")], [a, b], "q order")
        eq(bindings(s, cols="contact, expires, cseq, callid"), before,
           "a query changes nothing")


# --- Call-ID and CSeq ordering -----------------------------------------------

def test_out_of_order_cseq_rejected():
    with Sipd() as s:
        p = Phone(s)
        ok(p.reg(expires=120, cseq=10), "REGISTER with CSeq 10")
        before = bindings(s, cols="contact, expires, cseq")
        eq(before[0][2], 10, "stored CSeq")
        time.sleep(1.1)
        r = p.reg(expires=300, cseq=5)
        check(r is not None, "no answer to CSeq 5")
        eq(r.status, 400, "same Call-ID, lower CSeq")
        eq(bindings(s, cols="contact, expires, cseq"), before,
           "bindings after the out-of-order refresh")
        r = p.reg(contacts=["<%s>" % p.contact], expires=0, cseq=6)
        eq(r.status, 400, "out-of-order removal")
        r = p.reg(contacts=["*"], expires=0, cseq=7)
        eq(r.status, 400, "out-of-order Contact: *")
        eq(bindings(s, cols="contact, expires, cseq"), before,
           "bindings after the out-of-order removals")
        r = ok(p.reg(expires=300, cseq=11), "CSeq 11")
        eq(contacts_of(r), {p.contact: (300, 1.0)}, "refreshed")
        eq(bindings(s, cols="cseq"), [11], "stored CSeq")


def test_retransmission_same_cseq_gets_200():
    with Sipd() as s:
        p = Phone(s)
        r1 = ok(p.reg(expires=120, cseq=20), "REGISTER")
        rows = bindings(s, cols="contact, cseq")
        p.c.send_raw(p.last)         # the very same bytes again
        r2 = ok(p.c.final(), "retransmission")
        eq(r2.get("cseq"), "20 REGISTER", "CSeq of the answer")
        eq(sorted(contacts_of(r2)), sorted(contacts_of(r1)), "contacts")
        eq(bindings(s, cols="contact, cseq"), rows, "one binding still")


# --- who may register what ---------------------------------------------------

def test_to_aor_must_be_authenticated_user():
    with Sipd() as s:
        # alice's credentials for bob's AOR
        p = Phone(s, aor=BOB, user="alice", password="secret")
        r = p.reg(expires=120)
        check(r is not None, "no answer")
        eq(r.status, 403, "alice registering bob")
        eq(bindings(s, BOB), [], "no binding for bob")
        eq(s.query("SELECT count(*) FROM bindings"), [(0,)], "no binding")
        # bob himself may
        q = Phone(s, aor=BOB, password="secret2")
        ok(q.reg(expires=120), "bob registering bob")
        eq(bindings(s, BOB), [q.contact], "bob's binding")
        # and alice may not remove it
        r = p.reg(contacts=["*"], expires=0)
        eq(r.status, 403, "alice removing bob's bindings")
        eq(bindings(s, BOB), [q.contact], "bob's binding kept")


def test_to_user_case_sensitive_host_not():
    """The To user is the authenticated user compared case-sensitively
    (RFC 3261 19.1.4), the host case-insensitively: alice may not
    register Alice or ALICE (403), and alice@EXAMPLE.COM is alice."""
    with Sipd() as s:
        for to in ("Alice@example.com", "ALICE@example.com"):
            p = Phone(s, aor=to, user="alice", password="secret")
            try:
                r = p.reg(expires=120)
                check(r is not None, "no answer for %s" % to)
                eq(r.status, 403, "alice registering %s" % to)
            finally:
                p.close()
        eq(s.query("SELECT count(*) FROM bindings"), [(0,)], "no binding")
        p = Phone(s, aor="alice@EXAMPLE.COM", user="alice",
                  password="secret")
        try:
            ok(p.reg(expires=120), "alice registering alice@EXAMPLE.COM")
            eq(bindings(s, ALICE), [p.contact], "alice's binding")
        finally:
            p.close()


def test_to_domain_not_served_404():
    with Sipd() as s:
        p = Phone(s, aor="alice@other.org")
        r = p.reg(expires=120, ruri="sip:example.com", auth=False)
        check(r is not None, "no answer")
        eq(r.status, 404, "To domain not served")
        eq(s.query("SELECT count(*) FROM bindings"), [(0,)], "no binding")


def test_request_uri_domain_not_served_404():
    with Sipd() as s:
        p = Phone(s)
        r = p.reg(expires=120, ruri="sip:other.org", auth=False)
        check(r is not None, "no answer")
        eq(r.status, 404, "Request-URI domain not served")
        eq(s.query("SELECT count(*) FROM bindings"), [(0,)], "no binding")


def test_require_unknown_extension_420():
    with Sipd() as s:
        p = Phone(s)
        r = p.reg(expires=120, extra=["Require: foo"])
        check(r is not None, "no answer")
        eq(r.status, 420, "Require: foo")
        eq(r.get("unsupported"), "foo", "Unsupported header")
        eq(bindings(s), [], "no binding")


# --- contact limit -----------------------------------------------------------

def test_max_contacts_replace_oldest():
    conf = conf_with("registrar_max_contacts 2",
                     "registrar_overflow replace")
    with Sipd(conf=conf) as s:
        a, b, c = Phone(s), Phone(s), Phone(s)
        ok(a.reg(expires=120), "phone a")
        time.sleep(1.1)
        ok(b.reg(expires=120), "phone b")
        time.sleep(1.1)
        r = ok(c.reg(expires=120), "phone c, one too many")
        eq(sorted(contacts_of(r)), sorted([b.contact, c.contact]),
           "the oldest (a) made room")
        eq(sorted(bindings(s)), sorted([b.contact, c.contact]), "rows")
        # a refresh at the limit replaces nothing
        r = ok(b.reg(expires=120), "refresh of b")
        eq(sorted(contacts_of(r)), sorted([b.contact, c.contact]),
           "contacts after a refresh at the limit")


def test_max_contacts_reject():
    conf = conf_with("registrar_max_contacts 2",
                     "registrar_overflow reject")
    with Sipd(conf=conf) as s:
        a, b, c = Phone(s), Phone(s), Phone(s)
        ok(a.reg(expires=120), "phone a")
        ok(b.reg(expires=120), "phone b")
        r = c.reg(expires=120)
        check(r is not None, "no answer to the third contact")
        eq(r.status, 403, "third contact with overflow reject")
        eq(sorted(bindings(s)), sorted([a.contact, b.contact]),
           "rows after the 403")
        r = c.reg(contacts=["<sip:x@127.0.0.1:5001>",
                            "<sip:y@127.0.0.1:5002>"], expires=120)
        eq(r.status, 403, "two new contacts at once")
        ok(a.reg(expires=120), "refresh of a at the limit")
        # one leaves and one comes in the same request: fits
        r = ok(a.reg(contacts=["<%s>;expires=0" % a.contact,
                               "<sip:swap@127.0.0.1:5009>"], expires=120),
               "swap at the limit")
        eq(sorted(contacts_of(r)), sorted([b.contact,
                                           "sip:swap@127.0.0.1:5009"]),
           "contacts after the swap")
        ok(a.reg(contacts=["<sip:swap@127.0.0.1:5009>"], expires=0),
           "swap leaves")
        ok(c.reg(expires=120), "c fits now")
        eq(sorted(bindings(s)), sorted([b.contact, c.contact]), "rows")


# --- digest details ----------------------------------------------------------

def forge_nonce(s, made, realm="example.com"):
    """A nonce as sipd makes it, from the key sipd keeps in the database."""
    rows = s.query("SELECT value FROM secrets WHERE name = 'nonce_key'")
    check(rows, "no nonce key in the database")
    stamp = int(made).to_bytes(8, "big") + os.urandom(8)
    mac = hmac.new(bytes(rows[0][0]), stamp + realm.encode(),
                   hashlib.sha256).digest()[:16]
    return (stamp + mac).hex()


def test_stale_nonce_forged_old():
    with Sipd() as s:       # auth_nonce_expiry 30
        p = Phone(s)
        p.challenge()
        # the forging is right: a nonce made now is accepted
        p.chall = dict(p.chall, nonce=forge_nonce(s, now()))
        p.nc = 0
        ok(p.reg(expires=120), "REGISTER with a fresh forged nonce")
        # one made 100 s ago: right password, stale=true on every challenge
        p.chall = dict(p.chall, nonce=forge_nonce(s, now() - 100))
        p.nc = 0
        r = p.reg(expires=300)
        check(r is not None, "no answer to an old nonce")
        eq(r.status, 401, "old nonce")
        chs = [parse_challenge(v) for v in r.all("www-authenticate")]
        eq([x.get("algorithm") for x in chs], ["SHA-256", "MD5"],
           "algorithms")
        eq([x.get("stale", "").lower() for x in chs], ["true", "true"],
           "stale=true")
        check(all(x["nonce"] != p.chall["nonce"] for x in chs),
              "a new nonce")
        (exp,), = s.query("SELECT expires FROM bindings")
        near(exp, now() + 120, 2, "the stale request changed nothing")
        # the new nonce works
        p.chall = pick_challenge(r, "SHA-256")
        p.nc = 0
        r = ok(p.reg(expires=300), "REGISTER with the new nonce")
        eq(contacts_of(r), {p.contact: (300, 1.0)}, "refreshed")
        # an old nonce with a wrong password is a failure, not stale
        p.chall = dict(p.chall, nonce=forge_nonce(s, now() - 100))
        p.nc = 0
        r = p.reg(expires=300, password="wrong")
        eq(r.status, 401, "old nonce, wrong password")
        check(all("stale" not in parse_challenge(v)
                  for v in r.all("www-authenticate")),
              "no stale=true for a wrong password:\n" + r.raw)


def test_stale_nonce_after_expiry():
    conf = conf_with("auth_nonce_expiry 10")
    with Sipd(conf=conf) as s:
        p = Phone(s)
        p.challenge()
        time.sleep(11.2)
        r = p.reg(expires=120)
        check(r is not None, "no answer to an expired nonce")
        eq(r.status, 401, "expired nonce")
        chs = [parse_challenge(v) for v in r.all("www-authenticate")]
        check(chs, "no challenge")
        eq([x.get("stale", "").lower() for x in chs], ["true"] * len(chs),
           "stale=true")
        eq(bindings(s), [], "no binding from an expired nonce")
        p.chall = pick_challenge(r, "SHA-256")
        p.nc = 0
        ok(p.reg(expires=120), "REGISTER with the fresh nonce")
        eq(bindings(s), [p.contact], "binding")


def test_nonce_count_replay_rejected():
    with Sipd() as s:
        p = Phone(s)
        ok(p.reg(expires=120), "REGISTER with nc=1")
        (exp,), = s.query("SELECT expires FROM bindings")
        # the same Authorization (nonce, nc=1) in a new request
        replay = p.last
        replay = re.sub(r"branch=z9hG4bK\w+", "branch=z9hG4bK" +
                        rand_token(12), replay)
        replay = re.sub(r"CSeq: \d+", "CSeq: %d" % (p.c.cseq + 5), replay)
        replay = replay.replace("Expires: 120", "Expires: 300")
        p.c.send_raw(replay)
        r = p.c.final()
        check(r is not None, "no answer to the replay")
        eq(r.status, 401, "replayed nonce count")
        eq(s.query("SELECT expires FROM bindings"), [(exp,)],
           "the replay changed nothing")
        # counts may skip ahead; a count used once is never good again
        ok(p.reg(expires=120, nc=5), "nc=5")
        ok(p.reg(expires=120, nc=6), "nc=6")
        r = p.reg(expires=300, nc=6)
        eq(r.status, 401, "nc=6 again with a new branch")
        # the next count works
        p.nc = 6
        r = ok(p.reg(expires=300), "nc=7")
        eq(contacts_of(r), {p.contact: (300, 1.0)}, "refreshed by nc=7")


def test_nonce_count_replay_simple():
    """Exactly the issue's case: same nonce and nc, new branch -> 401;
    nc+1 -> 200."""
    with Sipd() as s:
        p = Phone(s)
        ok(p.reg(expires=120), "nc=1")
        r = p.reg(expires=120, nc=1)
        check(r is not None, "no answer")
        eq(r.status, 401, "nc=1 again")
        r = ok(p.reg(expires=120, nc=2), "nc=2")


def test_brute_force_ban():
    conf = conf_with("auth_fail_limit 5", "auth_throttle 0",
                     "auth_ban_time 600")
    with Sipd(conf=conf) as s:
        p = Phone(s, password="wrong")
        p.challenge()
        for i in range(4):
            r = p.reg(expires=120)
            check(r is not None, "no answer to wrong password %d" % (i + 1))
            eq(r.status, 401, "wrong password %d" % (i + 1))
        r = p.reg(expires=120, timeout=1.0)      # the fifth failure bans
        check(r is None or r.status == 401,
              "fifth wrong password: %r" % r)
        # the sixth gets nothing, even with the right password
        r = p.reg(expires=120, password="secret", timeout=1.5)
        check(r is None, "banned source got an answer: %r" % r)
        # nor does another port of the same address, unauthenticated
        q = Client(s.addr)
        q.request("REGISTER", "sip:example.com",
                  ["Contact: <sip:alice@127.0.0.1:%d>" % q.local[1]],
                  to="<sip:alice@example.com>",
                  frm="<sip:alice@example.com>;tag=x1")
        check(q.final(1.5) is None, "banned address answered on a new port")
        eq(bindings(s), [], "no binding from the banned address")
        # another source address still gets answers and can register
        other = Phone(s, host="127.0.0.2")
        r = other.challenge()
        eq(r.status, 401, "challenge to 127.0.0.2")
        ok(other.reg(expires=120), "REGISTER from 127.0.0.2")
        eq(bindings(s, cols="received"), ["127.0.0.2:%d" %
                                          other.c.local[1]],
           "binding from 127.0.0.2")
        check(re.search(r"banned 127\.0\.0\.1\b", s.log()),
              "the ban is not logged:\n" + s.log())
        check(s.alive(), "sipd died")


def test_digest_uri_must_match_request_uri():
    """RFC 7616 3.4.6 (RFC 2617 3.2.2.5): the server MUST make sure the
    digest uri names the Request-URI's resource, else 400."""
    with Sipd() as s:
        p = Phone(s)
        p.challenge()
        auth = digest_header(p.chall, "REGISTER", "sip:elsewhere.example.org",
                             "alice", "secret", nc=1)
        p.c.request("REGISTER", "sip:example.com",
                    ["Contact: <%s>" % p.contact, "Expires: 120",
                     "Authorization: " + auth],
                    to="<sip:alice@example.com>",
                    frm="<sip:alice@example.com>;tag=%s" % p.c.ftag)
        r = p.c.final()
        check(r is not None, "no answer")
        check(r.status in (400, 401, 403),
              "credentials for another URI accepted: %d %s" %
              (r.status, r.reason))
        eq(bindings(s), [], "no binding")


def test_throttle_after_failures():
    conf = conf_with("auth_throttle 2", "auth_fail_limit 100")
    with Sipd(conf=conf) as s:
        p = Phone(s, password="wrong")
        p.challenge()
        for i in range(2):
            r = p.reg(expires=120)
            eq(r.status, 401, "wrong password %d" % (i + 1))
        # at the threshold: one try a second, the rest dropped
        r = p.reg(expires=120, password="secret", timeout=0.5)
        check(r is None, "a throttled request was answered: %r" % r)
        time.sleep(1.1)
        r = ok(p.reg(expires=120, password="secret"),
               "right password a second later")
        eq(bindings(s), [p.contact], "binding")


@timing
def test_ban_ends_after_ban_time():
    conf = conf_with("auth_fail_limit 2", "auth_throttle 0",
                     "auth_ban_time 2")
    with Sipd(conf=conf) as s:
        p = Phone(s, password="wrong")
        p.challenge()
        eq(p.reg(expires=120).status, 401, "first failure")
        p.reg(expires=120, timeout=0.5)                  # banned now
        r = p.reg(expires=120, password="secret", timeout=0.5)
        check(r is None, "banned source answered: %r" % r)
        time.sleep(2.2)
        r = ok(p.reg(expires=120, password="secret"), "after the ban")
        eq(bindings(s), [p.contact], "binding")


# --- where the phone is ------------------------------------------------------

def test_received_and_rport_recorded():
    with Sipd() as s:
        p = Phone(s)
        decoy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        decoy.bind(("127.0.0.1", 0))
        dport = decoy.getsockname()[1]
        # a NATed phone: Via and Contact name an address it is not at
        p.c.via = lambda branch=None: (
            "SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport" %
            (dport, branch or "z9hG4bK" + rand_token(12)))
        private = "sip:alice@10.0.0.99:5060"
        try:
            r = ok(p.reg(contacts=["<%s>" % private], expires=120),
                   "REGISTER from behind a NAT")
            via = r.get("via")
            eq(param(via, "rport"), str(p.c.local[1]), "rport in the Via")
            eq(param(via, "received"), "127.0.0.1", "received in the Via")
            decoy.settimeout(0.3)
            try:
                decoy.recvfrom(65535)
                check(False, "a response went to the Via port, not rport")
            except socket.timeout:
                pass
        finally:
            decoy.close()
        eq(bindings(s, cols="contact, received, transport"),
           [(private, "127.0.0.1:%d" % p.c.local[1], "udp")],
           "contact as given, received as the source")


def test_received_follows_the_phone_on_refresh():
    """A NAT gives the phone a new port: the refresh records it, so the
    phone is reached where it is now."""
    with Sipd() as s:
        p = Phone(s)
        contact = "sip:alice@10.0.0.99:5060"
        ok(p.reg(contacts=["<%s>" % contact], expires=120), "REGISTER")
        old = p.c
        new = Client(s.addr)
        new.callid, new.cseq, new.ftag = old.callid, old.cseq, old.ftag
        p.c = new
        ok(p.reg(contacts=["<%s>" % contact], expires=120),
           "refresh from a new port")
        old.close()
        eq(bindings(s, cols="contact, received"),
           [(contact, "127.0.0.1:%d" % new.local[1])],
           "received after the refresh")


def test_register_on_redirect_socket_405():
    with Sipd() as s:
        p = Phone(s, server=s.addr2)
        r = p.reg(expires=120, auth=False)
        check(r is not None, "no answer")
        eq(r.status, 405, "REGISTER on a redirect-only socket")
        check("REGISTER" not in r.all("allow"),
              "Allow lists REGISTER: %r" % r.all("allow"))
        check("INVITE" in r.all("allow"), "Allow: %r" % r.all("allow"))
        eq(bindings(s), [], "no binding")


def test_path_stored_and_returned():
    with Sipd() as s:
        p = Phone(s)
        paths = ["<sip:edge1.example.net;lr>", "<sip:edge2.example.net;lr>"]
        r = ok(p.reg(expires=120, extra=["Supported: path"] +
                     ["Path: %s" % x for x in paths]), "REGISTER with Path")
        eq(r.all("path"), paths, "Path of the 200, in order")
        (path,), = s.query("SELECT path FROM bindings")
        eq([x.strip() for x in path.split(",")], paths, "stored Path")
        # a UA that does not say Supported: path gets no Path back
        q = Phone(s)
        r = ok(q.reg(expires=120,
                     extra=["Path: <sip:edge3.example.net;lr>"]),
               "REGISTER with Path, without Supported: path")
        eq(r.all("path"), [], "no Path in the 200")


def test_path_returned_is_the_requests_own():
    """RFC 3327 5.3: the 200 carries the Path of this REGISTER, not the
    Path stored with another binding of the AOR."""
    with Sipd() as s:
        p1, p2 = Phone(s), Phone(s)
        ok(p1.reg(expires=120, extra=["Supported: path",
                                       "Path: <sip:edge1.example.net;lr>"]),
           "phone 1 through edge1")
        r = ok(p2.reg(contacts=["<%s>;q=0.5" % p2.contact], expires=120,
                      extra=["Supported: path",
                             "Path: <sip:edge2.example.net;lr>"]),
               "phone 2 through edge2")
        eq(r.all("path"), ["<sip:edge2.example.net;lr>"],
           "Path of phone 2's 200")
        eq(dict(s.query("SELECT contact, path FROM bindings")),
           {p1.contact: "<sip:edge1.example.net;lr>",
            p2.contact: "<sip:edge2.example.net;lr>"}, "stored Paths")


def test_register_over_tcp():
    with Sipd() as s:
        p = Phone(s, transport="tcp")
        r = ok(p.reg(expires=120), "REGISTER over TCP")
        eq(list(contacts_of(r)), [p.contact], "contact")
        check(p.contact.endswith(";transport=tcp"), p.contact)
        eq(bindings(s, cols="contact, transport, received, socket"),
           [(p.contact, "tcp", "127.0.0.1:%d" % p.c.local[1],
             "tcp:127.0.0.1:%d" % s.port)], "stored binding")
        r = ok(p.reg(expires=300), "refresh on the same connection")
        eq(contacts_of(r), {p.contact: (300, 1.0)}, "refreshed")
        eq(len(bindings(s)), 1, "one row")


def test_register_over_ipv6():
    if not ipv6_usable():
        print("note: ::1 is not usable here; IPv6 registration skipped")
        return
    conf = conf_with("listen udp:[::1]:{port};roles=registrar")
    with Sipd(conf=conf) as s:
        p = Phone(s, server=("::1", s.port))
        r = ok(p.reg(expires=120), "REGISTER over IPv6")
        eq(list(contacts_of(r)), [p.contact], "contact")
        check("[::1]" in p.contact, p.contact)
        rows = bindings(s, cols="contact, transport, received, socket")
        eq(len(rows), 1, "rows")
        contact, tp, recv, sock = rows[0]
        eq(contact, p.contact, "stored contact")
        eq(tp, "udp", "transport")
        eq(recv, "[::1]:%d" % p.c.local[1], "source address")
        eq(sock, "udp:[::1]:%d" % s.port, "socket")


def test_register_over_ipv6_tcp():
    if not ipv6_usable():
        print("note: ::1 is not usable here; IPv6 registration skipped")
        return
    conf = conf_with("listen tcp:[::1]:{port};roles=registrar")
    with Sipd(conf=conf) as s:
        p = Phone(s, transport="tcp", server=("::1", s.port))
        r = ok(p.reg(expires=120), "REGISTER over TCP on IPv6")
        eq(list(contacts_of(r)), [p.contact], "contact")
        eq(bindings(s, cols="transport, received, socket"),
           [("tcp", "[::1]:%d" % p.c.local[1], "tcp:[::1]:%d" % s.port)],
           "stored binding")


def test_instance_and_reg_id_replace_binding():
    with Sipd() as s:
        inst = '"<urn:uuid:00000000-0000-1000-8000-00a0c91e6bf6>"'
        p = Phone(s)
        sup = ["Supported: outbound, path"]
        c1 = "sip:alice@127.0.0.1:5001;transport=udp"
        r = ok(p.reg(contacts=["<%s>;+sip.instance=%s;reg-id=1" %
                               (c1, inst)], expires=120, extra=sup),
               "REGISTER with instance and reg-id 1")
        v = r.get("contact")
        eq(contact_uri(v), c1, "contact")
        check("urn:uuid:00000000-0000-1000-8000-00a0c91e6bf6" in v,
              "+sip.instance echoed: %s" % v)
        eq(param(v, "reg-id"), "1", "reg-id echoed")
        # the phone comes back with a new address (another Call-ID)
        q = Phone(s)
        c2 = "sip:alice@127.0.0.1:5002;transport=udp"
        r = ok(q.reg(contacts=["<%s>;+sip.instance=%s;reg-id=1" %
                               (c2, inst)], expires=120, extra=sup),
               "same instance and reg-id, new URI")
        eq([contact_uri(x) for x in r.all("contact")], [c2],
           "the new URI replaced the old")
        eq(bindings(s, cols="contact, instance, reg_id"),
           [(c2, "<urn:uuid:00000000-0000-1000-8000-00a0c91e6bf6>", 1)],
           "one row, the new URI")
        # another flow of the same instance is another binding
        c3 = "sip:alice@127.0.0.1:5003;transport=udp"
        r = ok(q.reg(contacts=["<%s>;+sip.instance=%s;reg-id=2" %
                               (c3, inst)], expires=120, extra=sup),
               "same instance, reg-id 2")
        eq(sorted(contact_uri(x) for x in r.all("contact")),
           sorted([c2, c3]), "two flows")
        eq(len(bindings(s)), 2, "two rows")


def test_libre_client_tcp_and_unregister():
    with Sipd() as s:
        contact = "<sip:alice@127.0.0.1:5998;transport=tcp>"
        rc, r = sipc("-t", "tcp", "-u", "alice", "-p", "secret",
                     "-e", "300", "register", "127.0.0.1:%d" % s.port,
                     ALICE, contact)
        eq(rc, 0, "sipc exit status")
        eq(r.status, 200, "libre client over TCP")
        rows = bindings(s, cols="contact, transport, user_agent, expires")
        eq([x[:3] for x in rows],
           [("sip:alice@127.0.0.1:5998;transport=tcp", "tcp",
             "sipd-test-client (libre)")], "binding")
        near(rows[0][3], now() + 300, 2, "stored expiry")
        rc, r = sipc("-t", "tcp", "-u", "alice", "-p", "secret",
                     "-e", "0", "register", "127.0.0.1:%d" % s.port,
                     ALICE, contact)
        eq(rc, 0, "sipc exit status")
        eq(r.status, 200, "unregister through the libre client")
        eq(bindings(s), [], "no binding left")


# --- persistence -------------------------------------------------------------

def test_kill9_keeps_bindings_and_nonces():
    with Sipd() as s:
        phones = [Phone(s), Phone(s), Phone(s, aor=BOB, password="secret2")]
        for i, p in enumerate(phones):
            ok(p.reg(expires=120 + i), "REGISTER %d" % i)
        restart_after_kill9(s)
        q = Phone(s)
        r = ok(q.reg(contacts=[]), "query after kill -9")
        eq(sorted(contacts_of(r)), sorted([phones[0].contact,
                                           phones[1].contact]),
           "alice's bindings after kill -9")
        eq(bindings(s, BOB), [phones[2].contact], "bob's binding")
        # a nonce given before the restart is still good (nc+1)
        r = ok(phones[0].reg(expires=200), "old nonce after the restart")
        eq(contacts_of(r)[phones[0].contact], (200, 1.0), "refreshed")


# --- sipctl ------------------------------------------------------------------

def test_sipctl_reg_list_matches_phones():
    with Sipd() as s:
        a1 = Phone(s, user_agent="Yealink SIP-T46U 66.86.0.15")
        a2 = Phone(s, user_agent="Linphone/5.2.0")
        b = Phone(s, aor=BOB, password="secret2", transport="tcp",
                  user_agent="baresip v3.10.1 (libre)", alg="MD5")
        ok(a1.reg(expires=120), "alice desk phone")
        ok(a2.reg(contacts=["<%s>;q=0.5" % a2.contact], expires=300),
           "alice softphone")
        ok(b.reg(expires=600), "bob over TCP")
        want = {
            (ALICE, a1.contact): (120, "udp", "127.0.0.1:%d" %
                                  a1.c.local[1], a1.user_agent),
            (ALICE, a2.contact): (300, "udp", "127.0.0.1:%d" %
                                  a2.c.local[1], a2.user_agent),
            (BOB, b.contact): (600, "tcp", "127.0.0.1:%d" %
                               b.c.local[1], b.user_agent),
        }

        out = s.sipctl("reg", "list", "--json")
        eq(out.returncode, 0, "reg list --json status: " + out.stderr)
        items = json.loads(out.stdout)
        eq(len(items), 3, "entries of reg list --json")
        for x in items:
            key = (x["aor"], x["contact"])
            check(key in want, "unexpected entry %r" % x)
            exp, tp, src, ua = want[key]
            check(exp - 3 <= x["expires"] <= exp,
                  "seconds left of %s: %r" % (key, x["expires"]))
            eq(x["transport"], tp, "transport of %s" % (key,))
            eq(x["source"], src, "source of %s" % (key,))
            eq(x["user_agent"], ua, "user agent of %s" % (key,))
        eq({(x["aor"], x["contact"]) for x in items}, set(want),
           "every binding listed")

        out = s.sipctl("reg", "list")
        eq(out.returncode, 0, "reg list status: " + out.stderr)
        lines = out.stdout.strip().splitlines()
        check(lines[0].split()[:3] == ["AOR", "CONTACT", "EXPIRES"],
              "header line: %r" % lines[0])
        seen = set()
        for line in lines[1:]:
            f = line.split(None, 5)
            key = (f[0], f[1])
            check(key in want, "unexpected line %r" % line)
            exp, tp, src, ua = want[key]
            check(exp - 3 <= int(f[2]) <= exp, "seconds left: %r" % line)
            eq(f[3], tp, "transport column")
            eq(f[4], src, "source column")
            eq(f[5] if len(f) > 5 else "", ua, "user agent column")
            seen.add(key)
        eq(seen, set(want), "every binding in the table")

        out = s.sipctl("reg", "list", BOB, "--json")
        eq(out.returncode, 0, "reg list BOB status")
        eq([x["contact"] for x in json.loads(out.stdout)], [b.contact],
           "reg list of one AOR")


def test_sipctl_reg_del():
    with Sipd() as s:
        p1, p2 = Phone(s), Phone(s)
        b = Phone(s, aor=BOB, password="secret2")
        ok(p1.reg(expires=120), "phone 1")
        ok(p2.reg(expires=120), "phone 2")
        ok(b.reg(expires=120), "bob")
        out = s.sipctl("reg", "del", ALICE, p1.contact)
        eq(out.returncode, 0, "reg del AOR CONTACT: " + out.stderr)
        eq(bindings(s), [p2.contact], "rows after reg del of one")
        r = ok(p2.reg(contacts=[]), "query after reg del")
        eq(list(contacts_of(r)), [p2.contact], "p1 no longer returned")
        # the phone that was removed can come back
        r = ok(p1.reg(expires=120), "phone 1 again")
        eq(sorted(contacts_of(r)), sorted([p1.contact, p2.contact]),
           "both again")
        out = s.sipctl("reg", "del", ALICE)
        eq(out.returncode, 0, "reg del AOR: " + out.stderr)
        eq(bindings(s), [], "alice's rows after reg del AOR")
        eq(bindings(s, BOB), [b.contact], "bob untouched")
        r = ok(p2.reg(contacts=[]), "query after reg del AOR")
        eq(r.all("contact"), [], "nothing returned")
        out = s.sipctl("reg", "del", ALICE, "sip:nobody@127.0.0.1:9")
        check(out.returncode != 0, "reg del of nothing must fail")
        check(out.stderr.strip(), "reg del of nothing names the problem")


IPV6_DOMAINS_CONF = """\
domain [2001:db8::10]
domain 2001:db8::11
db {db}
log_level debug
module location
module auth
listen udp:127.0.0.1:{port};roles=registrar,proxy
"""


def test_ipv6_domains_bracketed_or_not_are_served():
    """A domain written [2001:db8::10] or 2001:db8::11 is the same domain
    as its other form: a REGISTER to either form reaches the registrar
    (401), not the proxy (407), and registers."""
    accounts = (("alice@[2001:db8::10]", "secret"),
                ("bob@2001:db8::11", "secret2"))
    with Sipd(conf=IPV6_DOMAINS_CONF, accounts=accounts) as s:
        for aor, ruri_host in (("alice@[2001:db8::10]", "[2001:db8::10]"),
                               ("bob@[2001:db8::11]", "[2001:db8::11]")):
            c = s.client()
            try:
                frm = "<sip:%s>;tag=%s" % (aor, c.ftag)
                c.request("REGISTER", "sip:" + ruri_host,
                          ["Contact: <sip:x@127.0.0.1:%d>" % c.local[1]],
                          to="<sip:%s>" % aor, frm=frm)
                r = c.final()
                check(r is not None, "no answer to REGISTER %s" % ruri_host)
                eq(r.status, 401, "REGISTER sip:%s: the registrar's "
                   "challenge" % ruri_host)
            finally:
                c.close()
        c = s.client()
        try:
            r = c.register("alice@[2001:db8::10]", "secret", expires=120)
            eq(r.status, 200, "alice registers at [2001:db8::10]")
        finally:
            c.close()
        rows = s.query("SELECT aor FROM bindings")
        eq(rows, [("alice@2001:db8::10",)], "one binding, one AOR form")


def test_ipv6_address_without_brackets_in_request_uri_400():
    """sip:2001:db8::10 is not a URI (RFC 3261 25.1: an IPv6 host is
    bracketed): 400, not a challenge."""
    with Sipd(conf=IPV6_DOMAINS_CONF, accounts=()) as s:
        c = s.client()
        try:
            c.send_raw("REGISTER sip:2001:db8::10 SIP/2.0\r\n"
                       "Via: %s\r\n"
                       "Max-Forwards: 70\r\n"
                       "From: <sip:alice@[2001:db8::10]>;tag=%s\r\n"
                       "To: <sip:alice@[2001:db8::10]>\r\n"
                       "Call-ID: %s@test\r\n"
                       "CSeq: 1 REGISTER\r\n"
                       "Contact: <sip:x@127.0.0.1:%d>\r\n"
                       "Content-Length: 0\r\n\r\n"
                       % (c.via(), c.ftag, rand_token(10), c.local[1]))
            r = c.final()
            check(r is not None, "no answer")
            eq(r.status, 400, "unbracketed IPv6 host in the Request-URI")
        finally:
            c.close()
        check(s.alive(), "sipd died")


def test_malformed_contact_400_before_challenge():
    """A REGISTER that can never succeed (a malformed Contact, a bad
    Expires) gets 400 at once, without credentials: a client is not asked
    to authenticate a request that must fail."""
    with Sipd() as s:
        p = Phone(s)
        for what, kw in (
                ("Contact: <sip:>", dict(contacts=["<sip:>"], expires=60)),
                ("Contact: garbage", dict(contacts=["<<<garbage"],
                                          expires=60)),
                ("Contact: <http://x>", dict(contacts=["<http://x.org/>"],
                                             expires=60)),
                ("Expires: abc", dict(expires="abc"))):
            r = p.reg(auth=False, **kw)
            check(r is not None, "%s: no answer" % what)
            eq(r.status, 400, "%s without credentials" % what)
        eq(bindings(s), [], "nothing stored")
        r = p.reg(auth=False, expires=60)
        eq(r.status, 401, "a good REGISTER without credentials")
