"""Calls go where someone can take them (issue 14, items 2 to 5).

Call forwarding (always, busy, no answer, unavailable) set with sipctl,
busy users (published busy, or on busy_limit calls), phones whose
keep-alive failed, ring groups (parallel and sequential) and forwarding
loops, through the stateful proxy and the redirect role. The phones are
the scripted user agents of test_proxy.py (UA), which see every header
sipd sends: Diversion, Reason, the 302's Contact list; the event log
shows how each call was steered.
"""

import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from sipdlib import (Sipd, SIPD, MODULES, check, eq, param,  # noqa
                     free_port)
from test_proxy import (UA, closing, alive, wait_events, events,  # noqa
                        contact_uri, uri_of)
from test_presence import PUA, pidf, publish_ok  # noqa: E402

ACCOUNTS = (("alice@example.com", "secret"), ("bob@example.com", "secret2"),
            ("carol@example.com", "secret3"), ("dave@example.com", "secret4"))
PASSWORDS = dict((a.split("@")[0], p) for a, p in ACCOUNTS)

# registrar, presence and proxy; the event log in the test folder
CONF = """\
domain example.com
db {db}
log_level debug
module location
module auth
module eventlog
eventlog_file {dir}/events.log
listen udp:127.0.0.1:{port};roles=registrar,presence,proxy
listen udp:127.0.0.1:{port2};roles=redirect;auth=off
registrar_min_expires 10
auth_nonce_expiry 300
"""

GROUPS = """\
group 600@example.com parallel bob carol
group 601@example.com sequential --ring 2 bob carol dave
"""


def phone(s, user, cls=UA):
    ua = cls(s, user, PASSWORDS[user])
    ua.register()
    return ua


def sipctl_ok(s, *args):
    r = s.sipctl(*args)
    eq(r.returncode, 0, "sipctl %s: %s%s" % (" ".join(args), r.stdout,
                                             r.stderr))
    return r


def routed(s, how):
    return [e for e in events(s) if e.get("event") == "routed" and
            e.get("how") == how]


def diversion(msg):
    return msg.all("diversion")


def answered_by(d, inc):
    """inc answers; the caller gets the 200 and ACKs; both hang up."""
    inc.answer()
    eq(d.final().status, 200, "the caller's final answer")
    inc.expect_ack()


def hang_up(d, inc):
    d.request("BYE", wait=False)
    inc.expect_and_reply("BYE")
    d.ua.expect_response(d.callid, "BYE", final=True)


# --- forwarding through the proxy --------------------------------------------

def test_forward_always_goes_to_target_with_diversion():
    with Sipd(CONF, accounts=ACCOUNTS) as s:
        bob, carol = phone(s, "bob"), phone(s, "carol")
        alice = UA(s, "alice", "secret")
        try:
            sipctl_ok(s, "forward", "set", "bob@example.com", "always",
                      "carol@example.com")
            d = alice.invite("sip:bob@example.com")
            inc = carol.expect_invite()
            div = diversion(inc.invite_req)
            check(div and "<sip:bob@example.com>" in div[0] and
                  param(div[0].split(">", 1)[1], "reason") ==
                  "unconditional",
                  "Diversion of an always forward: %s" % div)
            bob.no_request("INVITE", timeout=0.5)
            answered_by(d, inc)
            ev = wait_events(s, lambda e: e.get("event") == "routed" and
                             e.get("how") == "forward-always",
                             "routed event")[0]
            eq((ev["callee"], ev["target"], ev["call_id"]),
               ("bob@example.com", "sip:carol@example.com", d.callid),
               "the routed event")
            # carol's lamp: she is the callee of the call events
            wait_events(s, lambda e: e.get("event") == "call" and
                        e.get("aor") == "carol@example.com" and
                        e.get("state") == "confirmed", "carol confirmed")
            hang_up(d, inc)
            alive(s)
        finally:
            closing(alice, bob, carol)


def test_forward_busy_when_every_phone_says_busy():
    with Sipd(CONF, accounts=ACCOUNTS) as s:
        bob, carol = phone(s, "bob"), phone(s, "carol")
        alice = UA(s, "alice", "secret")
        try:
            sipctl_ok(s, "forward", "set", "bob@example.com", "busy",
                      "carol@example.com")
            d = alice.invite("sip:bob@example.com")
            inc = bob.expect_invite()
            inc.reply(486, "Busy Here")
            inc.expect_ack()
            inc2 = carol.expect_invite(callid=d.callid)
            div = diversion(inc2.invite_req)
            check(div and "reason=user-busy" in div[0],
                  "Diversion of a busy forward: %s" % div)
            answered_by(d, inc2)
            check(routed(s, "forward-busy"), "forward-busy event")
            hang_up(d, inc2)
        finally:
            closing(alice, bob, carol)


def test_forward_noanswer_cancels_with_reason_then_forwards():
    with Sipd(CONF, accounts=ACCOUNTS) as s:
        bob, carol = phone(s, "bob"), phone(s, "carol")
        alice = UA(s, "alice", "secret")
        try:
            sipctl_ok(s, "forward", "set", "bob@example.com", "noanswer",
                      "carol@example.com", "--after", "2")
            d = alice.invite("sip:bob@example.com")
            inc = bob.expect_invite()
            inc.reply(180, "Ringing")
            t0 = time.time()
            cancel = bob.expect_request("CANCEL", timeout=5)
            took = time.time() - t0
            check(1.5 <= took <= 3.5, "CANCEL after about 2 s: %.1f s"
                  % took)
            check("forwarded on no answer" in cancel.get("reason", ""),
                  "Reason of the CANCEL: %s" % cancel.get("reason"))
            bob.reply(cancel, 200, "OK")
            inc.reply(487, "Request Terminated")
            inc2 = carol.expect_invite(callid=d.callid)
            check(any("reason=no-answer" in v
                      for v in diversion(inc2.invite_req)),
                  "Diversion of a no-answer forward")
            answered_by(d, inc2)
            check(routed(s, "forward-noanswer"), "forward-noanswer event")
            hang_up(d, inc2)
        finally:
            closing(alice, bob, carol)


def test_forward_unavailable_when_no_phone():
    with Sipd(CONF, accounts=ACCOUNTS) as s:
        carol = phone(s, "carol")
        alice = UA(s, "alice", "secret")
        try:
            d = alice.invite("sip:bob@example.com")
            eq(d.final().status, 480, "bob without a phone, no forward")
            sipctl_ok(s, "forward", "set", "bob@example.com",
                      "unavailable", "carol@example.com")
            d = alice.invite("sip:bob@example.com")
            inc = carol.expect_invite(callid=d.callid)
            check(any("reason=unavailable" in v
                      for v in diversion(inc.invite_req)),
                  "Diversion of an unavailable forward")
            answered_by(d, inc)
            hang_up(d, inc)
            # deleted: 480 again
            sipctl_ok(s, "forward", "del", "bob@example.com",
                      "unavailable")
            d = alice.invite("sip:bob@example.com")
            eq(d.final().status, 480, "after forward del")
        finally:
            closing(alice, carol)


def test_forward_loop_ends_482_and_to_caller_not_taken():
    with Sipd(CONF, accounts=ACCOUNTS) as s:
        bob, carol = phone(s, "bob"), phone(s, "carol")
        alice = UA(s, "alice", "secret")
        try:
            sipctl_ok(s, "forward", "set", "bob@example.com", "always",
                      "carol@example.com")
            sipctl_ok(s, "forward", "set", "carol@example.com", "always",
                      "bob@example.com")
            d = alice.invite("sip:bob@example.com")
            eq(d.final().status, 482, "a forwarding loop")
            bob.no_request("INVITE", timeout=0.3)
            carol.no_request("INVITE", timeout=0.3)
            check("forwarding loop" in s.log(), "the loop is logged")
            # a forward to the caller is not taken: bob's phone rings
            sipctl_ok(s, "forward", "set", "bob@example.com", "always",
                      "alice@example.com")
            d = alice.invite("sip:bob@example.com")
            inc = bob.expect_invite(callid=d.callid)
            eq(diversion(inc.invite_req), [], "no Diversion")
            inc.reply(486, "Busy Here")
            eq(d.final().status, 486, "bob busy")
            alive(s)
        finally:
            closing(alice, bob, carol)


def test_forward_to_a_number_leaves_by_its_route():
    """A forward to a number is called as sip:NUMBER@the user's domain,
    so the routes take it: here a trunk on 127.0.0.1 that strips the
    leading 0."""
    with Sipd(CONF, accounts=ACCOUNTS, start=False) as s:
        trunk_port = free_port()
        while trunk_port in (s.port, s.port2):
            trunk_port = free_port()
        s.write_conf(CONF + "route 0*>127.0.0.1:%d;strip=1\n" %
                     trunk_port)
        s.start()
        trunk = UA(s, "trunk", port=trunk_port)
        alice = UA(s, "alice", "secret")
        try:
            sipctl_ok(s, "forward", "set", "bob@example.com", "always",
                      "0301234")
            d = alice.invite("sip:bob@example.com")
            inc = trunk.expect_invite(callid=d.callid)
            eq(inc.invite_req.start.split()[1],
               "sip:301234@127.0.0.1:%d" % trunk_port,
               "the number after the route's strip")
            check(any("<sip:bob@example.com>" in v
                      for v in diversion(inc.invite_req)),
                  "Diversion naming bob")
            answered_by(d, inc)
            hang_up(d, inc)
        finally:
            closing(alice, trunk)


# --- busy ---------------------------------------------------------------------

def test_published_busy_gets_486_or_busy_forward():
    with Sipd(CONF, accounts=ACCOUNTS) as s:
        bob, carol = phone(s, "bob", PUA), phone(s, "carol")
        alice = UA(s, "alice", "secret")
        try:
            _, etag = publish_ok(bob, pidf("bob@example.com",
                                           activities=("busy",)))
            d = alice.invite("sip:bob@example.com")
            eq(d.final().status, 486, "bob published busy")
            bob.no_request("INVITE", timeout=0.3)
            sipctl_ok(s, "forward", "set", "bob@example.com", "busy",
                      "carol@example.com")
            d = alice.invite("sip:bob@example.com")
            inc = carol.expect_invite(callid=d.callid)
            answered_by(d, inc)
            hang_up(d, inc)
            # available again (the publication modified): bob's phone
            publish_ok(bob, pidf("bob@example.com"), etag=etag)
            sipctl_ok(s, "forward", "del", "bob@example.com", "busy")
            d = alice.invite("sip:bob@example.com")
            inc = bob.expect_invite(callid=d.callid)
            inc.reply(486, "Busy Here")
            eq(d.final().status, 486, "from bob's phone this time")
        finally:
            closing(alice, bob, carol)


def test_busy_limit_counts_calls_in_progress():
    with Sipd(CONF, accounts=ACCOUNTS) as s:
        bob = phone(s, "bob")
        alice = UA(s, "alice", "secret")
        carol = UA(s, "carol", "secret3")
        try:
            sipctl_ok(s, "user", "set", "bob@example.com", "busy_limit",
                      "1")
            d = alice.invite("sip:bob@example.com")
            inc = bob.expect_invite()
            answered_by(d, inc)
            d2 = carol.invite("sip:bob@example.com")
            eq(d2.final().status, 486, "bob on a call with busy_limit 1")
            bob.no_request("INVITE", timeout=0.3)
            hang_up(d, inc)
            d2 = carol.invite("sip:bob@example.com")
            inc2 = bob.expect_invite(callid=d2.callid)
            answered_by(d2, inc2)
            hang_up(d2, inc2)
        finally:
            closing(alice, bob, carol)


# --- ring groups ---------------------------------------------------------------

def test_group_parallel_rings_every_member():
    with Sipd(CONF + GROUPS, accounts=ACCOUNTS) as s:
        bob, carol = phone(s, "bob"), phone(s, "carol")
        alice = UA(s, "alice", "secret")
        try:
            d = alice.invite("sip:600@example.com")
            ib = bob.expect_invite()
            ic = carol.expect_invite()
            ib.reply(180, "Ringing")
            ic.answer()
            eq(d.final().status, 200, "carol answered the group")
            c = bob.expect_request("CANCEL")
            check("elsewhere" in c.get("reason", ""), "bob's CANCEL")
            bob.reply(c, 200, "OK")
            ib.reply(487, "Request Terminated")
            ev = routed(s, "group")
            check(ev and ev[0]["callee"] == "600@example.com" and
                  ev[0]["target"] == "bob@example.com,carol@example.com",
                  "group event: %s" % ev)
            hang_up(d, ic)
        finally:
            closing(alice, bob, carol)


def test_group_sequential_skips_busy_and_rings_in_turn():
    with Sipd(CONF + GROUPS, accounts=ACCOUNTS) as s:
        bob = phone(s, "bob", PUA)
        carol, dave = phone(s, "carol"), phone(s, "dave")
        alice = UA(s, "alice", "secret")
        try:
            publish_ok(bob, pidf("bob@example.com", activities=("busy",)))
            d = alice.invite("sip:601@example.com")
            ic = carol.expect_invite()
            dave.no_request("INVITE", timeout=0.5)
            ic.reply(180, "Ringing")
            t0 = time.time()
            c = carol.expect_request("CANCEL", timeout=4)
            carol.reply(c, 200, "OK")
            ic.reply(487, "Request Terminated")
            idv = dave.expect_invite(callid=d.callid, timeout=3)
            check(time.time() - t0 < 3.5, "dave rang after carol's 2 s")
            bob.no_request("INVITE", timeout=0.1)
            idv.reply(180, "Ringing")
            c = dave.expect_request("CANCEL", timeout=4)
            dave.reply(c, 200, "OK")
            idv.reply(487, "Request Terminated")
            eq(d.final().status, 480, "nobody answered the group")
        finally:
            closing(alice, bob, carol, dave)


def test_group_as_forward_target_and_all_busy():
    with Sipd(CONF + GROUPS, accounts=ACCOUNTS) as s:
        carol = phone(s, "carol")
        bob = phone(s, "bob")
        alice = UA(s, "alice", "secret")
        try:
            sipctl_ok(s, "forward", "set", "dave@example.com", "always",
                      "600")
            d = alice.invite("sip:dave@example.com")
            ib = bob.expect_invite(callid=d.callid)
            ic = carol.expect_invite(callid=d.callid)
            ib.reply(486, "Busy Here")
            ic.reply(486, "Busy Here")
            eq(d.final().status, 486, "every member busy")
        finally:
            closing(alice, bob, carol)


def test_bad_groups_refused_by_sipd_t():
    for line, what in (
            ("group 600@example.com parallel", "has no members"),
            ("group 600@example.com ringall bob", "not parallel or"),
            ("group 600@example.com parallel bob 600", "member of itself"),
            ("group 600@example.com sequential --ring 0 bob",
             "--ring needs"),
            ("group 600@other.org parallel bob", "not a served domain"),
            ("group 600@example.com parallel bob\n"
             "group 601@example.com parallel 600@example.com",
             "a group cannot contain a group")):
        s = Sipd(CONF + line + "\n", accounts=(), start=False)
        try:
            r = subprocess.run([SIPD, "-t", "-f", s.conf_path, "-m",
                                MODULES], capture_output=True, text=True,
                               timeout=30)
            out = r.stdout + r.stderr
            check(r.returncode != 0, "sipd -t accepted %r" % line)
            at = "%s:%d:" % (s.conf_path,
                             CONF.count("\n") + line.count("\n") + 1)
            check(what in out and at in out,
                  "refused naming the line and %r:\n%s" % (what, out))
        finally:
            s.close()


# --- the redirect role -----------------------------------------------------------

def redirect_call(s, ua, target):
    """An INVITE to the redirect socket; returns the final response."""
    ua.server = s.addr2
    d = ua.invite(target, auth=False)
    return d.final()


def test_redirect_forwards_busy_and_groups():
    with Sipd(CONF + GROUPS, accounts=ACCOUNTS) as s:
        bob = phone(s, "bob", PUA)
        carol, dave = phone(s, "carol"), phone(s, "dave")
        alice = UA(s, "alice", "secret")
        try:
            r = redirect_call(s, alice, "sip:bob@example.com")
            eq(r.status, 302, "bob's phone")
            eq([contact_uri(v) for v in r.all("contact")],
               [bob.contact_uri], "302 to bob's phone")
            sipctl_ok(s, "forward", "set", "bob@example.com", "always",
                      "carol@example.com")
            r = redirect_call(s, alice, "sip:bob@example.com")
            eq([contact_uri(v) for v in r.all("contact")],
               [carol.contact_uri], "302 to carol (always)")
            sipctl_ok(s, "forward", "del", "bob@example.com", "always")
            publish_ok(bob, pidf("bob@example.com", activities=("busy",)))
            r = redirect_call(s, alice, "sip:bob@example.com")
            eq(r.status, 486, "bob busy")
            sipctl_ok(s, "forward", "set", "bob@example.com", "busy",
                      "dave@example.com")
            r = redirect_call(s, alice, "sip:bob@example.com")
            eq([contact_uri(v) for v in r.all("contact")],
               [dave.contact_uri], "302 to dave (busy)")
            r = redirect_call(s, alice, "sip:601@example.com")
            eq(r.status, 302, "sequential group")
            got = [(contact_uri(v), param(v.split(">", 1)[1], "q"))
                   for v in r.all("contact")]
            eq(got, [(carol.contact_uri, "1.000"),
                     (dave.contact_uri, "0.999")],
               "sequential group: busy bob left out, falling q")
            r = redirect_call(s, alice, "sip:nobody@example.com")
            eq(r.status, 404, "unknown user")
            sipctl_ok(s, "forward", "set", "carol@example.com", "always",
                      "dave@example.com")
            sipctl_ok(s, "forward", "set", "dave@example.com", "always",
                      "carol@example.com")
            r = redirect_call(s, alice, "sip:carol@example.com")
            eq(r.status, 482, "a forwarding loop, redirected")
            r = redirect_call(s, alice, "sip:alice@example.com")
            eq(r.status, 480, "alice has no phone")
            sipctl_ok(s, "forward", "set", "alice@example.com",
                      "unavailable", "sip:voicemail@192.0.2.10")
            r = redirect_call(s, alice, "sip:alice@example.com")
            eq([contact_uri(v) for v in r.all("contact")],
               ["sip:voicemail@192.0.2.10"], "302 to the unavailable"
               " forward's URI")
            alive(s)
        finally:
            closing(alice, bob, carol, dave)
