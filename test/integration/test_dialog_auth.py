"""auth_in_dialog: requests inside a dialog challenged like a new call's.

With `auth_in_dialog on` the proxy challenges a local user's BYE (and
every in-dialog request but ACK and CANCEL) with 407 on a socket with
auth on; the BYE sent again with credentials reaches the other side.
The ACK passes unchallenged, a BYE with another user's credentials is
refused, and without the key nothing inside a dialog is challenged.
baresip answers the challenge of its BYE.
"""

import shutil
import time

from sipdlib import (Sipd, TestFailure, check, eq, parse_challenge,
                     digest_header)

from test_proxy import PROXY_CONF, ACCOUNTS, phone, caller, closing, alive
from test_baresip import (BARESIP, CONF as PHONES_CONF, Baresip, DnsStub,
                          sip_trace)


CONF = PROXY_CONF + "auth_in_dialog on\n"


def answered_call(s, alice, bob):
    """alice calls bob, who answers; the caller's Dialog and the callee's
    (the ACK passed unchallenged)."""
    d = alice.invite("sip:bob@example.com")
    inc = bob.expect_invite()
    inc.answer()
    eq(d.final().status, 200, "the call is answered")
    inc.expect_ack()
    return d, inc


def bye_with_credentials(d, ua, challenge, user=None, password=None):
    """The BYE again, with the credentials for its 407."""
    chall = parse_challenge(challenge.all("proxy-authenticate")[0])
    cred = digest_header(chall, "BYE", d.remote_target, user or ua.user,
                         password or ua.password)
    return d.request("BYE", headers=["Proxy-Authorization: " + cred],
                     wait=False)


def test_bye_challenged_then_passes_with_credentials():
    with Sipd(CONF, accounts=ACCOUNTS) as s:
        bob = phone(s, "bob")
        alice = caller(s)
        try:
            d, inc = answered_call(s, alice, bob)

            r = d.request("BYE")
            eq(r.status, 407, "a BYE without credentials")
            check(r.all("proxy-authenticate"), "no challenge in the 407")
            bob.no_request("BYE", 0.5)

            bye_with_credentials(d, alice, r)
            bye = inc.expect_and_reply("BYE")
            check(bye.get("proxy-authorization") is None,
                  "sipd passed on the credentials meant for it")
            r = alice.expect_response(d.callid, "BYE", final=True)
            eq(r.status, 200, "the BYE with credentials")
            alive(s)
        finally:
            closing(alice, bob)


def test_callee_bye_needs_callee_credentials():
    with Sipd(CONF, accounts=ACCOUNTS) as s:
        bob = phone(s, "bob")
        alice = caller(s)
        try:
            d, inc = answered_call(s, alice, bob)

            r = inc.request("BYE")
            eq(r.status, 407, "the callee's BYE without credentials")

            # alice's password for bob's BYE: refused, nothing passes
            bye_with_credentials(inc, bob, r, user="alice",
                                 password="secret")
            r = bob.expect_response(d.callid, "BYE", final=True)
            eq(r.status, 403, "the callee's BYE as another user")
            alice.no_request("BYE", 0.5)

            r = inc.request("BYE")
            eq(r.status, 407, "the callee's BYE again")
            bye_with_credentials(inc, bob, r)
            bye = alice.expect_request("BYE", callid=d.callid)
            alice.reply(bye, 200, "OK")
            eq(bob.expect_response(d.callid, "BYE", final=True).status,
               200, "the callee's BYE with its credentials")
            alive(s)
        finally:
            closing(alice, bob)


def test_off_by_default():
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        bob = phone(s, "bob")
        alice = caller(s)
        try:
            d, inc = answered_call(s, alice, bob)
            d.request("BYE", wait=False)
            inc.expect_and_reply("BYE")
            r = alice.expect_response(d.callid, "BYE", final=True)
            eq(r.status, 200, "a BYE without credentials, key unset")
        finally:
            closing(alice, bob)


def test_baresip_bye_challenged_and_answered():
    """alice (baresip) calls bob (baresip) and hangs up after the nonce
    of her INVITE expired: sipd challenges the BYE, baresip sends it
    again with credentials, sipd takes them off, bob gets the BYE."""
    if not shutil.which(BARESIP):
        raise TestFailure("baresip is missing (Debian package"
                          " baresip-core; make test installs it)")
    dns = DnsStub()
    # nonces valid 10 s: the BYE after that is challenged (stale)
    srv = Sipd(PHONES_CONF + "auth_in_dialog on\nauth_nonce_expiry 10\n",
               accounts=(("alice@example.com", "secret-a"),
                         ("bob@example.com", "secret-b")))
    alice = Baresip("alice", "alice", "secret-a", srv.port, dns.port)
    bob = Baresip("bob", "bob", "secret-b", srv.port, dns.port,
                  answermode="auto")
    try:
        for ua in (alice, bob):
            ua.start()
        for ua in (alice, bob):
            ua.wait_registered(10, server=srv)
        n_alice, n_bob = len(alice.events), len(bob.events)
        resp = alice.command("dial", "sip:bob@example.com")
        check(resp.get("ok"), "alice: dial failed: %s" % resp)
        bob.wait_event("CALL_ESTABLISHED", 15, after=n_bob)
        alice.wait_event("CALL_ESTABLISHED", 15, after=n_alice)

        # stale once more than 10 whole seconds passed since it was made
        time.sleep(12)
        resp = alice.command("hangup")
        check(resp.get("ok"), "alice: hangup failed: %s" % resp)
        alice.wait_event("CALL_CLOSED", 10, after=n_alice)
        bob.wait_event("CALL_CLOSED", 10, after=n_bob)

        trace = sip_trace(alice)
        byes = [m for src, d, m in trace
                if not m.is_response and m.method == "BYE"]
        got = [m for src, d, m in trace
               if m.is_response and m.get("cseq", "").endswith("BYE")]
        # libre sends the BYE with the INVITE's nonce, expired by now:
        # sipd challenges it (stale), libre sends it again answering the
        # new challenge, and sipd takes the credentials off
        eq([m.status for m in got], [407, 200], "answers to alice's BYEs")
        check("stale=true" in got[0].get("proxy-authenticate", ""),
              "the 407 to the BYE is not stale: %s" % got[0].raw)
        check(len(byes) == 2 and byes[1].get("proxy-authorization"),
              "alice's second BYE has no credentials: %s" %
              [m.raw for m in byes])
        at_bob = [m for src, d, m in sip_trace(bob)
                  if not m.is_response and m.method == "BYE" and
                  src == "127.0.0.1:%d" % srv.port]
        check(at_bob, "bob got no BYE from sipd")
        check(at_bob[0].get("proxy-authorization") is None,
              "sipd passed on the BYE's credentials")
        check(srv.alive(), "sipd died:\n" + srv.log()[-3000:])
    finally:
        for ua in (alice, bob):
            ua.close()
        srv.close()
        dns.close()
