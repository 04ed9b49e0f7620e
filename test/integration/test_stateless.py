"""Stateless proxy role (RFC 3261 16.11).

sipd forwards without transaction state: no 100 Trying, the Via branch
computed from the request so that a retransmission, the CANCEL and the
ACK of a non-2xx take the INVITE's branch, responses sent back by the
second Via (received, rport), one target (the best q). The routing and
auth policy is the one of the stateful proxy.
"""

import time

from sipdlib import Sipd, TestFailure, check, eq, param
from test_proxy import (ACCOUNTS, UA, proxy_conf, phone, caller, stranger,
                        closing, alive, sdp, sipd_rr, rr_uris, send_simple)
from test_nat import Trap, PRIVATE

SL_CONF = proxy_conf(roles="registrar,stateless-proxy")


def top_branch(m):
    return param(m.get("via"), "branch")


def invites(ua, callid):
    """Every INVITE the UA received for a call, retransmissions too."""
    return [m for m in ua.received if not m.is_response and
            m.method == "INVITE" and m.get("call-id") == callid]


def test_stateless_call_no_100():
    with Sipd(SL_CONF, accounts=ACCOUNTS) as s:
        bob = phone(s, "bob")
        alice = caller(s)
        try:
            d = alice.invite("sip:bob@example.com")
            inc = bob.expect_invite()
            inv = inc.invite_req
            eq(inv.start.split()[1], bob.contact_uri, "Request-URI")
            eq(inv.get("max-forwards"), "69", "Max-Forwards")
            eq(len(inv.all("via")), 2, "Vias")
            check(top_branch(inv).startswith("z9hG4bK"), "branch cookie")
            eq(rr_uris(inv), [sipd_rr(s, "udp")], "Record-Route")
            check(inv.get("proxy-authorization") is None,
                  "credentials for sipd forwarded")
            time.sleep(0.3)
            check(not [m for m in alice.received if m.is_response and
                       m.status == 100],
                  "the stateless proxy sent 100 Trying")
            inc.reply(180, "Ringing")
            eq(d.response().status, 180, "the caller's first response"
               " after the challenge")
            inc.reply(200, "OK", body=sdp(41000))
            ok = d.final()
            eq(ok.status, 200, "answered")
            eq(rr_uris(ok), [sipd_rr(s, "udp")], "Record-Route of the 200")
            eq(len(ok.all("via")), 1, "Vias of the 200")
            ack = inc.expect_ack()
            eq(ack.all("route"), [], "Route of the ACK")
            d.request("BYE", wait=False)
            inc.expect_and_reply("BYE")
            eq(alice.expect_response(d.callid, "BYE", final=True).status,
               200, "BYE")
            check(not [m for m in alice.received if m.is_response and
                       m.status == 100], "100 Trying at some point")
            alive(s)
        finally:
            closing(alice, bob)


def test_stateless_retransmission_same_branch():
    with Sipd(SL_CONF, accounts=ACCOUNTS) as s:
        bob = phone(s, "bob")
        ext = stranger(s, "pat", "outside.test")
        try:
            d = ext.invite("sip:bob@example.com", auth=False)
            inc = bob.expect_invite()
            time.sleep(0.2)
            ext.send(d.invite_text)            # the retransmission
            deadline = time.time() + 2
            while len(invites(bob, d.callid)) < 2 and \
                    time.time() < deadline:
                bob.wait(lambda m: False, "", 0.1, fail=False)
            got = invites(bob, d.callid)
            eq(len(got), 2, "INVITEs at the callee (the retransmission is"
               " forwarded too)")
            eq(top_branch(got[1]), top_branch(got[0]),
               "sipd's branch of the retransmission")
            eq(got[1].raw, got[0].raw, "the retransmission forwarded"
               " byte for byte the same")
            inc.reply(486, "Busy Here")
            r = d.final()
            eq(r.status, 486, "486 back to the caller")
            ack = inc.expect_ack()
            eq(top_branch(ack), top_branch(got[0]),
               "the ACK of the 486 takes the INVITE's branch")
            alive(s)
        finally:
            closing(ext, bob)


def test_stateless_cancel_and_ack_follow_invite_branch():
    with Sipd(SL_CONF, accounts=ACCOUNTS) as s:
        bob = phone(s, "bob")
        ext = stranger(s, "pat", "outside.test")
        try:
            d = ext.invite("sip:bob@example.com", auth=False)
            inc = bob.expect_invite()
            branch = top_branch(inc.invite_req)
            inc.reply(180, "Ringing")
            eq(d.response().status, 180, "180")
            d.cancel(wait=False)
            c = bob.expect_request("CANCEL")
            eq(top_branch(c), branch, "the CANCEL takes the INVITE's branch")
            eq(c.start.split()[1], inc.invite_req.start.split()[1],
               "Request-URI of the CANCEL")
            eq(c.get("cseq"), "%d CANCEL" % d.cseq, "CSeq of the CANCEL")
            eq(len(c.all("via")), 2, "Vias of the CANCEL")
            bob.reply(c, 200, "OK")
            r = ext.expect_response(d.callid, "CANCEL", final=True)
            eq(r.status, 200, "the callee's 200 for the CANCEL relayed")
            inc.reply(487, "Request Terminated")
            eq(d.final().status, 487, "487 relayed")
            ack = inc.expect_ack()
            eq(top_branch(ack), branch, "the ACK of the 487 takes the"
               " INVITE's branch")
            eq(ack.start.split()[1], inc.invite_req.start.split()[1],
               "Request-URI of the ACK")
            alive(s)
        finally:
            closing(ext, bob)


def test_stateless_local_caller_cancel():
    """RFC 3261 9.2: a CANCEL cannot be challenged (it cannot be
    resubmitted). An authenticated local caller's CANCEL follows its
    INVITE on the same branch like a caller's from outside."""
    with Sipd(SL_CONF, accounts=ACCOUNTS) as s:
        bob = phone(s, "bob")
        alice = caller(s)
        try:
            d = alice.invite("sip:bob@example.com")
            inc = bob.expect_invite()
            branch = top_branch(inc.invite_req)
            inc.reply(180, "Ringing")
            eq(d.response().status, 180, "180")
            d.cancel(wait=False)
            c = bob.wait(lambda m: m.method == "CANCEL", "CANCEL", 2.0,
                         fail=False)
            if c is None:
                alice.wait(lambda m: False, "", 0.3, fail=False)
                raise TestFailure(
                    "the local caller's CANCEL was not forwarded; the"
                    " caller got: %s" % ", ".join(
                        m.start + " (" + m.get("cseq", "") + ")"
                        for m in alice.received[-3:]))
            eq(top_branch(c), branch, "the CANCEL takes the INVITE's branch")
            bob.reply(c, 200, "OK")
            inc.reply(487, "Request Terminated")
            eq(d.final().status, 487, "487 relayed")
            inc.expect_ack()
            alive(s)
        finally:
            closing(alice, bob)


def test_stateless_local_caller_ack_of_failure():
    """The ACK of a non-2xx final response is part of the INVITE
    transaction and cannot be challenged: an authenticated local
    caller's ACK of a 486 reaches the callee on the INVITE's branch."""
    with Sipd(SL_CONF, accounts=ACCOUNTS) as s:
        bob = phone(s, "bob")
        alice = caller(s)
        try:
            d = alice.invite("sip:bob@example.com")
            inc = bob.expect_invite()
            branch = top_branch(inc.invite_req)
            inc.reply(486, "Busy Here")
            eq(d.final().status, 486, "486 relayed")
            ack = bob.wait(lambda m: m.method == "ACK", "ACK", 2.0,
                           fail=False)
            check(ack is not None, "the local caller's ACK of the 486 was"
                  " not forwarded (the callee retransmits its 486 until"
                  " Timer H)")
            eq(top_branch(ack), branch, "the ACK takes the INVITE's branch")
            alive(s)
        finally:
            closing(alice, bob)


def test_stateless_authenticated_retransmission_forwarded():
    """A retransmission of an INVITE with credentials is the same
    request: forwarded on the same branch, not challenged again."""
    with Sipd(SL_CONF, accounts=ACCOUNTS) as s:
        bob = phone(s, "bob")
        alice = caller(s)
        try:
            d = alice.invite("sip:bob@example.com")
            bob.expect_invite()
            alice.send(d.invite_text)
            deadline = time.time() + 2
            while len(invites(bob, d.callid)) < 2 and \
                    time.time() < deadline:
                bob.wait(lambda m: False, "", 0.1, fail=False)
            got = invites(bob, d.callid)
            late = [m.start for m in alice.received if m.is_response and
                    m.get("cseq") == "%d INVITE" % d.cseq]
            eq(len(got), 2, "INVITEs at the callee; the caller got %s" %
               late)
            eq(top_branch(got[1]), top_branch(got[0]), "branch")
        finally:
            closing(alice, bob)


def test_stateless_responses_by_second_via_rport():
    """A caller behind a NAT (private Via sent-by) gets the responses
    at the address its request came from: sipd relays them by the
    second Via, whose rport (RFC 3581) and received its server transport
    must have filled in."""
    with Sipd(SL_CONF, accounts=ACCOUNTS) as s:
        trap = Trap()
        bob = phone(s, "bob")
        ext = UA(s, "pat", None, domain="outside.test",
                 via_host=PRIVATE, via_port=trap.port,
                 contact_host=PRIVATE, contact_port=trap.port)
        try:
            d = ext.invite("sip:bob@example.com", auth=False)
            inc = bob.expect_invite()
            caller_via = inc.invite_req.all("via")[1]
            inc.reply(486, "Busy Here")
            r = ext.wait(lambda m: m.is_response, "a response", 2.0,
                         fail=False)
            trap.check_empty()
            check(r is not None, "no response reached the NATed caller;"
                  " its Via as forwarded: %s" % caller_via)
            eq(r.status, 486, "the callee's answer")
            alive(s)
        finally:
            closing(ext, bob)
            trap.close()


def test_stateless_one_target_best_q():
    with Sipd(SL_CONF, accounts=ACCOUNTS) as s:
        hi = phone(s, "bob", q="0.9")
        lo = phone(s, "bob", q="0.2")
        ext = stranger(s, "pat", "outside.test")
        try:
            d = ext.invite("sip:bob@example.com", auth=False)
            inc = hi.expect_invite()
            inc.reply(480, "Temporarily Unavailable")
            eq(d.final().status, 480, "the best target's answer, no more"
               " forking")
            inc.expect_ack()
            lo.no_request("INVITE", 0.5)
            alive(s)
        finally:
            closing(ext, hi, lo)


def test_stateless_policy_shared():
    """483, 420, 403 for a stranger's relay, 404 and 480: the stateful
    proxy's routing policy."""
    with Sipd(SL_CONF, accounts=ACCOUNTS) as s:
        ext = stranger(s)
        try:
            for ruri, kw, want in (
                    ("sip:bob@example.com", {"max_forwards": 0}, 483),
                    ("sip:bob@example.com",
                     {"headers": ["Proxy-Require: x-foo"]}, 420),
                    ("sip:victim@other.test", {}, 403),
                    ("sip:nobody@example.com", {}, 404),
                    ("sip:bob@example.com", {}, 480)):
                r, _, _ = send_simple(ext, "INVITE", ruri, body=sdp(), **kw)
                eq(r.status, want, "INVITE %s %s" % (ruri, kw))
            alive(s)
        finally:
            closing(ext)
