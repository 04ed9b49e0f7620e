"""test_baresip_forward: call forwarding and a ring group with real phones.

Three baresip processes (the Baresip class of test_baresip.py: loopback
only, driven through ctrl_tcp) register to sipd. bob never answers; bob
has a no-answer forward to carol after 2 s (sipctl forward set), carol
answers by herself. alice dials bob: bob's phone rings, sipd cancels it
after 2 s and carol's phone takes the call, with audio both ways; the
event log shows the forward and the call confirmed for carol, not bob.
Then alice dials the parallel ring group 600 (bob and carol): both
phones ring, carol answers, bob's phone stops ringing.
"""

import shutil
import sys
import time

import sipdlib
from sipdlib import Sipd, check
from test_baresip import (Baresip, DnsStub, BARESIP, CONF, events_of,
                          loopback_only)

GROUP = "group 600@example.com parallel bob carol\n"


def test_noanswer_forward_and_group_with_baresip():
    if not shutil.which(BARESIP):
        raise sipdlib.TestFailure("baresip is missing (Debian package"
                                  " baresip-core; make test installs it)")
    dns = DnsStub()
    srv = Sipd(CONF + GROUP, accounts=(("alice@example.com", "secret-a"),
                                       ("bob@example.com", "secret-b"),
                                       ("carol@example.com", "secret-c")))
    alice = Baresip("alice", "alice", "secret-a", srv.port, dns.port)
    bob = Baresip("bob", "bob", "secret-b", srv.port, dns.port)
    carol = Baresip("carol", "carol", "secret-c", srv.port, dns.port,
                    answermode="auto")
    phones = (alice, bob, carol)
    try:
        for ua in phones:
            ua.start()
        for ua in phones:
            ua.wait_registered(10, server=srv)
        r = srv.sipctl("forward", "set", "bob@example.com", "noanswer",
                       "carol@example.com", "--after", "2")
        check(r.returncode == 0, "sipctl forward set: %s" % r.stderr)

        # bob rings, nobody answers: after 2 s carol's phone takes it
        n = dict((ua.name, len(ua.events)) for ua in phones)
        t0 = time.time()
        resp = alice.command("dial", "sip:bob@example.com")
        check(resp.get("ok"), "alice: dial failed: %s" % resp)
        bob.wait_event("CALL_INCOMING", 10, after=n["bob"])
        bob.wait_event("CALL_CLOSED", 10, after=n["bob"])
        ev_c = carol.wait_event("CALL_ESTABLISHED", 10, after=n["carol"])
        ev_a = alice.wait_event("CALL_ESTABLISHED", 10, after=n["alice"])
        took = time.time() - t0
        check(1.5 <= took <= 8, "carol answered %.1f s after the dial"
              % took)
        check("alice@example.com" in ev_c.get("peeruri", ""),
              "carol's call is not from alice: %s" % ev_c)
        check("Diversion: <sip:bob@example.com>;reason=no-answer"
              in carol.log(), "carol's INVITE has no Diversion of bob")
        deadline = time.time() + 5
        for ua in (alice, carol):
            while "incoming rtp for 'audio' established" not in ua.log():
                check(time.time() < deadline,
                      "baresip %s received no RTP" % ua.name)
                time.sleep(0.05)
        evs = events_of(srv)
        check(any(e.get("event") == "routed" and
                  e.get("how") == "forward-noanswer" for e in evs),
              "no forward-noanswer event: %s" % evs[-6:])
        check(any(e.get("event") == "call" and
                  e.get("aor") == "carol@example.com" and
                  e.get("state") == "confirmed" for e in evs),
              "carol's call is not confirmed in the event log")
        check(not any(e.get("event") == "call" and
                      e.get("aor") == "bob@example.com" and
                      e.get("state") == "confirmed" for e in evs),
              "bob's lamp shows a call he never answered")
        resp = alice.command("hangup")
        check(resp.get("ok"), "alice: hangup failed: %s" % resp)
        carol.wait_event("CALL_CLOSED", 10, after=n["carol"])
        alice.wait_event("CALL_CLOSED", 10, after=n["alice"])

        # the ring group: bob and carol ring at once, carol answers
        r = srv.sipctl("forward", "del", "bob@example.com", "noanswer")
        check(r.returncode == 0, "sipctl forward del: %s" % r.stderr)
        n = dict((ua.name, len(ua.events)) for ua in phones)
        resp = alice.command("dial", "sip:600@example.com")
        check(resp.get("ok"), "alice: dial failed: %s" % resp)
        bob.wait_event("CALL_INCOMING", 10, after=n["bob"])
        carol.wait_event("CALL_ESTABLISHED", 10, after=n["carol"])
        alice.wait_event("CALL_ESTABLISHED", 10, after=n["alice"])
        bob.wait_event("CALL_CLOSED", 10, after=n["bob"])
        resp = alice.command("hangup")
        check(resp.get("ok"), "alice: hangup failed: %s" % resp)
        carol.wait_event("CALL_CLOSED", 10, after=n["carol"])
        for ua in phones:
            loopback_only(ua)
        check(srv.alive(), "sipd died:\n" + srv.log()[-3000:])
        check(not dns.queries, "baresip asked DNS: %s" % dns.queries)
    except Exception:
        for ua in phones:
            sys.stderr.write("--- baresip %s log (tail) ---\n%s\n" % (
                ua.name, ua.log()[-4000:]))
        sys.stderr.write("--- sipd log (tail) ---\n%s\n" %
                         srv.log()[-4000:])
        raise
    finally:
        for ua in phones:
            ua.close()
        srv.close()
        dns.close()
