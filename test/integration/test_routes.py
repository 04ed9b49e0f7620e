"""Static routes and inbound numbers of the proxy (route, did).

A fake provider (a SIP trunk) is a Python UAS on loopback: it challenges
the first INVITE with 407 and checks the Proxy-Authorization digest of the
next one for the route's user and password before answering 200.

  route PATTERN>HOST[:PORT][;transport=udp|tcp][;user=U;password=P]
               [;strip=N][;prefix=DIGITS]
  did NUMBER>USER@DOMAIN

Every route here points at 127.0.0.1. The RFC 3263 path (a domain without
a static route) is tested in test_reach.py, with a DNS stub on loopback.
"""

import hashlib

from sipdlib import (Sipd, check, eq, param, parse_challenge,
                     rand_token)
from test_proxy import (PROXY_CONF, ACCOUNTS, UA, proxy_conf, phone,
                        caller, stranger, closing, alive, tag_of, sdp,
                        rr_uris, sipd_rr, send_simple)

TRUNK_USER = "trunkuser"
TRUNK_PASSWORD = "trunkpw"
TRUNK_REALM = "trunk.test"


def md5(text):
    return hashlib.md5(text.encode()).hexdigest()


def check_digest(value, method, user, password, realm, nonce):
    """Verify a Digest Authorization/Proxy-Authorization value (MD5,
    qop=auth or none); returns its parameters."""
    check(value and value.lower().startswith("digest "),
          "not Digest credentials: %r" % value)
    c = parse_challenge(value)
    eq(c.get("username"), user, "digest username")
    eq(c.get("realm"), realm, "digest realm")
    eq(c.get("nonce"), nonce, "digest nonce")
    eq(c.get("algorithm", "MD5").upper(), "MD5", "digest algorithm")
    ha1 = md5("%s:%s:%s" % (user, realm, password))
    ha2 = md5("%s:%s" % (method, c["uri"]))
    if c.get("qop"):
        eq(c["qop"], "auth", "digest qop")
        want = md5("%s:%s:%s:%s:auth:%s" % (ha1, nonce, c["nc"],
                                             c["cnonce"], ha2))
    else:
        want = md5("%s:%s:%s" % (ha1, nonce, ha2))
    eq(c.get("response"), want, "digest response for %s/%s" % (
        user, password))
    return c


class Trunk(UA):
    """A fake SIP provider on 127.0.0.1: a UAS that sipd reaches by a
    static route."""

    def __init__(self, s=None, port=0):
        UA.__init__(self, s, "trunk", None, domain=TRUNK_REALM,
                    server=("127.0.0.1", 9), port=port)

    def challenge_and_accept(self, callid=None, answer=200):
        """407 to the first INVITE, then check the credentials of the
        second and answer it (200 with SDP by default). Returns (first
        INVITE, second INVITE, UAS Dialog of the second)."""
        first = self.expect_request("INVITE", 5.0, callid)
        check(first.get("proxy-authorization") is None,
              "credentials before any challenge: %s" %
              first.get("proxy-authorization"))
        nonce = rand_token(20)
        self.reply(first, 407, "Proxy Authentication Required", headers=[
            'Proxy-Authenticate: Digest realm="%s", nonce="%s",'
            ' algorithm=MD5, qop="auth"' % (TRUNK_REALM, nonce)])
        ack = self.expect_request("ACK", 3.0, first.get("call-id"))
        eq(param(ack.get("via"), "branch"), param(first.get("via"),
                                                   "branch"),
           "the 407's ACK has the INVITE's branch")
        second = self.expect_request("INVITE", 3.0, first.get("call-id"))
        check(param(second.get("via"), "branch") !=
              param(first.get("via"), "branch"),
              "the INVITE with credentials is a new transaction")
        cred = check_digest(second.get("proxy-authorization"), "INVITE",
                            TRUNK_USER, TRUNK_PASSWORD, TRUNK_REALM, nonce)
        eq(cred["uri"], second.start.split()[1],
           "digest uri is the Request-URI")
        from test_proxy import Dialog
        d = Dialog.from_request(self, second)
        if answer == 200:
            d.answer()
        else:
            d.reply(answer, "Busy Here")
        return first, second, d


def trunk_conf(route, extra=""):
    return proxy_conf("route %s\n%s" % (route, extra))


def test_number_route_to_trunk_with_credentials():
    trunk = Trunk()
    conf = trunk_conf("0*>127.0.0.1:%d;strip=1;prefix=+49;user=%s;"
                      "password=%s" % (trunk.local[1], TRUNK_USER,
                                       TRUNK_PASSWORD))
    with Sipd(conf, accounts=ACCOUNTS) as s:
        trunk.s = s
        trunk.server = s.addr
        alice = caller(s)
        try:
            d = alice.invite("sip:0301234567@example.com")
            first, second, inc = trunk.challenge_and_accept()
            eq(first.start, "INVITE sip:+49301234567@127.0.0.1:%d SIP/2.0"
               % trunk.local[1], "Request-URI: 0 stripped, +49 added")
            eq(first.get("max-forwards"), "69", "Max-Forwards")
            eq(rr_uris(first), [sipd_rr(s, "udp")], "Record-Route")
            check("alice@example.com" in first.get("from"),
                  "From: %s" % first.get("from"))
            eq(second.start, first.start, "Request-URI of the retry")
            eq(second.get("call-id"), first.get("call-id"),
               "Call-ID of the retry")
            eq(second.get("from"), first.get("from"), "From of the retry")

            ok = d.final()
            eq(ok.status, 200, "the caller's final response (the trunk's"
               " 407 is sipd's business)")
            check(not [r for r in d.responses if r.status == 407],
                  "the trunk's 407 reached the caller")
            eq(tag_of(ok.get("to")), inc.local_tag, "To tag of the 200")
            ack = inc.expect_ack()
            eq(ack.start.split()[1], trunk.contact_uri,
               "ACK to the trunk's Contact")
            d.request("BYE", wait=False)
            inc.expect_and_reply("BYE")
            eq(alice.expect_response(d.callid, "BYE", final=True).status,
               200, "BYE through the trunk")
            alive(s)
        finally:
            closing(alice, trunk)


def test_trunk_retry_increments_cseq():
    """RFC 3261 22.2 (8.1.3.5): a request resubmitted with credentials
    takes a new CSeq; with the same one, a UAS that sees a new branch for
    the Call-ID, From tag and CSeq it just answered may take it for a
    merged request (8.2.2.2, 482)."""
    trunk = Trunk()
    conf = trunk_conf("0*>127.0.0.1:%d;user=%s;password=%s" % (
        trunk.local[1], TRUNK_USER, TRUNK_PASSWORD))
    with Sipd(conf, accounts=ACCOUNTS) as s:
        trunk.s = s
        trunk.server = s.addr
        alice = caller(s)
        try:
            alice.invite("sip:0301234567@example.com")
            first, second, inc = trunk.challenge_and_accept()
            n1 = int(first.get("cseq").split()[0])
            n2 = int(second.get("cseq").split()[0])
            check(n2 > n1, "CSeq of the INVITE with credentials: %d, of"
                  " the challenged one: %d" % (n2, n1))
        finally:
            closing(alice, trunk)


def test_trunk_busy_passed_back():
    trunk = Trunk()
    conf = trunk_conf("0*>127.0.0.1:%d;user=%s;password=%s" % (
        trunk.local[1], TRUNK_USER, TRUNK_PASSWORD))
    with Sipd(conf, accounts=ACCOUNTS) as s:
        trunk.s = s
        trunk.server = s.addr
        alice = caller(s)
        try:
            d = alice.invite("sip:0891234@example.com")
            first, second, inc = trunk.challenge_and_accept(answer=486)
            eq(first.start.split()[1], "sip:0891234@127.0.0.1:%d" %
               trunk.local[1], "Request-URI without strip and prefix")
            inc.expect_ack()
            eq(d.final().status, 486, "the trunk's 486 for the caller")
            alive(s)
        finally:
            closing(alice, trunk)


def test_number_route_refused_to_strangers():
    """No toll fraud: a number route is for authenticated local users."""
    trunk = Trunk()
    conf = trunk_conf("0*>127.0.0.1:%d;user=%s;password=%s" % (
        trunk.local[1], TRUNK_USER, TRUNK_PASSWORD))
    with Sipd(conf, accounts=ACCOUNTS) as s:
        ext = stranger(s)
        try:
            r, _, _ = send_simple(ext, "INVITE",
                                  "sip:0301234567@example.com", body=sdp())
            eq(r.status, 403, "a stranger calling a number")
            r, _, _ = send_simple(ext, "INVITE",
                                  "sip:0301234567@127.0.0.1:%d" % s.port,
                                  body=sdp())
            eq(r.status, 403, "a stranger calling a number at sipd's"
               " address")
            r, _, _ = send_simple(ext, "INVITE",
                                  "sip:0301234567@example.com", body=sdp(),
                                  frm="<sip:alice@example.com>;tag=nc")
            eq(r.status, 407, "a local From without credentials")
            trunk.no_request("INVITE", 0.5)
            alive(s)
        finally:
            closing(ext, trunk)


def test_domain_route():
    other = UA(None, "carl", None, domain="other.test",
               server=("127.0.0.1", 9))
    conf = trunk_conf("other.test>127.0.0.1:%d" % other.local[1])
    with Sipd(conf, accounts=ACCOUNTS) as s:
        other.s = s
        other.server = s.addr
        alice = caller(s)
        ext = stranger(s)
        try:
            d = alice.invite("sip:carl@other.test")
            inc = other.expect_invite()
            eq(inc.invite_req.start, "INVITE sip:carl@other.test SIP/2.0",
               "Request-URI kept by a domain route")
            eq(inc.invite_req.src, s.addr, "sent from sipd's socket")
            inc.answer()
            eq(d.final().status, 200, "answered in the other domain")
            inc.expect_ack()
            d.request("BYE", wait=False)
            inc.expect_and_reply("BYE")
            eq(alice.expect_response(d.callid, "BYE", final=True).status,
               200, "BYE")

            r, _, _ = send_simple(ext, "INVITE", "sip:carl@other.test",
                                  body=sdp())
            eq(r.status, 403, "a stranger to the other domain")
            other.no_request("INVITE", 0.3)
            alive(s)
        finally:
            closing(alice, ext, other)


def test_default_route_star():
    other = UA(None, "x", None, domain="far.test", server=("127.0.0.1", 9))
    conf = trunk_conf("*>127.0.0.1:%d" % other.local[1])
    with Sipd(conf, accounts=ACCOUNTS) as s:
        other.s = s
        other.server = s.addr
        alice = caller(s)
        try:
            d = alice.invite("sip:someone@far.test")
            inc = other.expect_invite()
            eq(inc.invite_req.start.split()[1], "sip:someone@far.test",
               "Request-URI")
            inc.reply(404, "Not Found")
            inc.expect_ack()
            eq(d.final().status, 404, "the far end's 404")
            # a served domain does not take the default route
            d = alice.invite("sip:nobody@example.com")
            eq(d.final().status, 404, "unknown local user")
            other.no_request("INVITE", 0.3)
            alive(s)
        finally:
            closing(alice, other)


def test_relay_to_other_host_for_local_user():
    """An authenticated local user reaches a SIP URI with an address (no
    static route, no DNS); a stranger does not."""
    other = UA(None, "carl", None, domain="127.0.0.1",
               server=("127.0.0.1", 9))
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        other.s = s
        other.server = s.addr
        alice = caller(s)
        ext = stranger(s)
        target = "sip:carl@127.0.0.1:%d" % other.local[1]
        try:
            d = alice.invite(target)
            inc = other.expect_invite()
            eq(inc.invite_req.start.split()[1], target, "Request-URI")
            inc.reply(486, "Busy Here")
            inc.expect_ack()
            eq(d.final().status, 486, "answer from the other host")
            r, _, _ = send_simple(ext, "INVITE", target, body=sdp())
            eq(r.status, 403, "a stranger to the other host")
            other.no_request("INVITE", 0.3)
            alive(s)
        finally:
            closing(alice, ext, other)


def test_did_maps_inbound_number_to_user():
    trunk = Trunk()
    conf = trunk_conf("0*>127.0.0.1:%d;user=%s;password=%s" % (
        trunk.local[1], TRUNK_USER, TRUNK_PASSWORD),
        "did 4930555>bob@example.com\ndid +4930556>carol@example.com\n")
    with Sipd(conf, accounts=ACCOUNTS) as s:
        trunk.s = s
        trunk.server = s.addr
        bob = phone(s, "bob")
        carol = phone(s, "carol")
        try:
            for ruri, ua in (("sip:4930555@127.0.0.1:%d" % s.port, bob),
                             ("sip:4930555@example.com", bob),
                             ("sip:+4930556@example.com", carol)):
                d = trunk.invite(ruri, auth=False,
                                 frm="<sip:+4917012345@127.0.0.1>;tag=%s"
                                 % rand_token(6))
                inc = ua.expect_invite()
                eq(inc.invite_req.start.split()[1], ua.contact_uri,
                   "%s reaches %s's contact" % (ruri, ua.aor))
                eq(inc.invite_req.get("to"), "<%s>" % ruri, "To kept")
                inc.answer()
                eq(d.final().status, 200, "inbound call to %s" % ruri)
                inc.expect_ack()
                d.request("BYE", wait=False)
                inc.expect_and_reply("BYE")
                trunk.expect_response(d.callid, "BYE", final=True)
            # a number without a did line nor an account
            r, _, _ = send_simple(trunk, "INVITE", "sip:4930999@example.com",
                                  frm="<sip:+4917012345@127.0.0.1>;tag=n",
                                  body=sdp())
            eq(r.status, 404, "an unknown inbound number")
            alive(s)
        finally:
            closing(trunk, bob, carol)


def test_route_config_errors():
    """A bad route or did line stops sipd at start, naming the line."""
    for line, what in (("route 0*>127.0.0.1:5060;strip=x", "strip"),
                       ("route 0*>127.0.0.1:5060;user=u", "password"),
                       ("route 0*>127.0.0.1:99999", "HOST"),
                       ("route nonsense", "PATTERN"),
                       ("route 0*>127.0.0.1;transport=sctp", "transport"),
                       ("did 123>bob@other.test", "served"),
                       ("did abc>bob@example.com", "NUMBER")):
        s = Sipd(proxy_conf(line + "\n"), accounts=ACCOUNTS, start=False)
        try:
            try:
                s.start(timeout=3)
                started = True
            except Exception:
                started = False
            check(not started, "sipd started with '%s'" % line)
            log = s.log()
            check(what in log, "the error for '%s' does not say %r:\n%s" % (
                line, what, log[-800:]))
        finally:
            s.close()
