"""The availability service (issue 14 item 2, lib/avail): sipctl avail
USER@DOMAIN asks the running sipd how many calls a user is on (counted
from the proxy's call events) and whether the user published busy (the
presence role reads the user's publications).

The calls and PUBLISHes are those of test_presence.py: scripted user
agents (PUA) through the registrar, presence and proxy roles of one
sipd.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from sipdlib import Sipd, check, eq, wait_for  # noqa: E402
from test_proxy import closing, alive, wait_events  # noqa: E402
from test_presence import (PRES_CONF, ACCOUNTS, PUA, pidf,  # noqa: E402
                           publish_ok, call_bob, hang_up, pres_conf)


def avail(s, aor):
    r = s.sipctl("avail", aor)
    eq(r.returncode, 0, "sipctl avail %s: %s%s" % (aor, r.stderr,
                                                  r.stdout))
    return r.stdout.strip()


def test_avail_calls_during_a_call():
    """alice calls bob through the proxy: both are on one call while it
    lasts (alice from her INVITE on, bob from his answer), none after
    the BYE."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        bob = PUA(s, "bob")
        alice = PUA(s, "alice")
        try:
            eq(avail(s, "bob@example.com"), "calls 0, published busy no",
               "bob before the call")
            bob.register(expires=300)

            d, inc = call_bob(s, alice, bob)
            wait_events(s, lambda e: e.get("call_id") == d.callid and
                        e.get("state") == "confirmed" and
                        e.get("aor") == "bob@example.com",
                        "bob confirmed")
            eq(avail(s, "bob@example.com"), "calls 1, published busy no",
               "bob during the call")
            eq(avail(s, "sip:alice@example.com"),
               "calls 1, published busy no", "alice during the call")
            eq(avail(s, "carol@example.com"), "calls 0, published busy no",
               "carol is on no call")

            hang_up(alice, bob, d)
            wait_for(lambda: avail(s, "bob@example.com").startswith(
                "calls 0"), "bob on no call after the BYE")
            eq(avail(s, "alice@example.com"), "calls 0, published busy no",
               "alice after the BYE")
            alive(s)
        finally:
            closing(alice, bob)


def test_avail_published_busy():
    """bob publishes busy (RPID), then open, then a closed tuple
    (baresip's "presence closed"), then removes his publication: sipctl
    avail follows each change."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        bob = PUA(s, "bob")
        try:
            _, etag = publish_ok(bob, pidf("bob@example.com",
                                           activities=("busy",)),
                                 expires=600)
            eq(avail(s, "bob@example.com"), "calls 0, published busy yes",
               "bob published busy")

            _, etag = publish_ok(bob, pidf("bob@example.com"), etag=etag,
                                 expires=600)
            eq(avail(s, "bob@example.com"), "calls 0, published busy no",
               "bob published open")

            _, etag = publish_ok(bob, pidf("bob@example.com",
                                           (("t1", "closed", None),)),
                                 etag=etag, expires=600)
            eq(avail(s, "bob@example.com"), "calls 0, published busy yes",
               "bob published closed")

            r = bob.publish(None, etag=etag, expires=0)
            eq(r.status, 200, "bob removes his publication")
            eq(avail(s, "bob@example.com"), "calls 0, published busy no",
               "bob published nothing")
            alive(s)
        finally:
            closing(bob)


def test_avail_published_busy_expires():
    """bob publishes do not disturb for 2 seconds and does not refresh:
    busy while it lasts, not busy once it expired (the answer kept for
    him does not outlive the publication)."""
    with Sipd(pres_conf("presence_min_expires 2\n"),
              accounts=ACCOUNTS) as s:
        bob = PUA(s, "bob")
        try:
            publish_ok(bob, pidf("bob@example.com",
                                 note="Do not disturb"), expires=2)
            eq(avail(s, "bob@example.com"), "calls 0, published busy yes",
               "bob published do not disturb")
            wait_for(lambda: avail(s, "bob@example.com").endswith(
                "busy no"), "not busy once the publication expired",
                timeout=6)
            alive(s)
        finally:
            closing(bob)


def test_avail_bad_input():
    """sipctl avail without a user, or with something that is no
    USER@DOMAIN: a usage error, or sipd's error, and a nonzero status."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        r = s.sipctl("avail")
        eq(r.returncode, 2, "sipctl avail without a user: status")
        check("avail USER@DOMAIN" in r.stderr, "usage:\n" + r.stderr)

        r = s.sipctl("avail", "bob")
        eq(r.returncode, 1, "sipctl avail bob: status")
        check("'bob' is not USER@DOMAIN" in r.stderr, "error:\n" +
              r.stderr)

        r = s.sipctl("avail", "a@b@c")
        eq(r.returncode, 1, "sipctl avail a@b@c: status")
        alive(s)
