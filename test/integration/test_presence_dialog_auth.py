"""test_presence_dialog_auth: a SUBSCRIBE inside a subscription dialog
(a refresh, or an unsubscribe with Expires: 0) is authenticated like the
initial SUBSCRIBE (issue 13, item 10).

Knowing a subscription's dialog identifiers (Call-ID, From tag, To tag)
is not enough to refresh it, end it or move its NOTIFYs elsewhere: on a
socket that authenticates, a watcher of a served domain is challenged
(401) and must answer as the subscription's watcher (the user part
compared case-sensitively, the host case-insensitively); another user's
credentials get 403. Credentials already on the refresh, for the nonce
of the dialog's earlier challenge, are accepted without a new challenge.
Where the initial SUBSCRIBE is not challenged (a socket with auth=off, a
watcher of a domain sipd does not serve), the refresh is not either.

Raw SIP over UDP on loopback, with test_presence's scripted PUA and Sub.
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from sipdlib import Sipd, check, eq, parse_challenge     # noqa: E402
from test_presence import (PRES_CONF, ACCOUNTS, PUA, Sub,  # noqa: E402
                           presence_sub, sub_list, stranger, publish_ok,
                           pidf)
from test_proxy import closing                           # noqa: E402

# alice, bob, carol, dave, and Alice: another user than alice
DLG_ACCOUNTS = ACCOUNTS + (("Alice@example.com", "secret5"),)


class Stolen(Sub):
    """Someone else's subscription dialog, as a UA that learnt its
    identifiers would send in it: the same Call-ID, tags, target and
    CSeq; From the watcher's URI with the watcher's tag unless frm is
    given."""

    def __init__(self, ua, sub, frm=None):
        Sub.__init__(self, ua, sub.presentity, sub.event)
        self.callid = sub.callid
        self.ftag = sub.ftag
        self.remote_tag = sub.remote_tag
        self.route_set = list(sub.route_set)
        self.target = sub.target
        self.cseq = sub.cseq
        self._frm = frm or "<%s>;tag=%s" % (sub.ua.uri, sub.ftag)

    @property
    def frm(self):
        return self._frm


def only_row(s):
    rows = sub_list(s)
    eq(len(rows), 1, "one subscription in sipctl sub list: %s" % rows)
    return rows[0]


def check_challenge(r, what):
    eq(r.status, 401, what)
    chall = r.all("www-authenticate")
    check(chall, "401 without WWW-Authenticate:\n" + r.raw)
    for v in chall:
        eq(parse_challenge(v).get("realm"), "example.com",
           "realm of the challenge to %s" % what)


def test_refresh_without_credentials_challenged_subscription_unchanged():
    """(a) A refresh without credentials gets 401: no NOTIFY, the
    subscription still active, its expiry not extended, its Contact not
    replaced. (c) The watcher's refresh carrying credentials for the
    nonce of the dialog's earlier challenge is accepted at once (no new
    challenge): 200, a NOTIFY, the new expiry. A refresh challenged and
    sent again with credentials and a higher CSeq is accepted too."""
    with Sipd(PRES_CONF, accounts=DLG_ACCOUNTS) as s:
        alice = PUA(s, "alice")
        try:
            sub, n = presence_sub(alice, "bob@example.com", expires=300)
            row = only_row(s)
            check(290 <= row["expires"] <= 300, "expiry %s" % row)
            time.sleep(1.1)

            r = sub.refresh(expires=1200, auth=False, headers=(
                "Contact: <sip:thief@127.0.0.1:9>",))
            check_challenge(r, "refresh without credentials")
            sub.no_notify(1.0)
            row = only_row(s)
            eq(row["state"], "active", "state after the 401")
            check(row["expires"] <= 299, "expiry extended by a refresh"
                  " without credentials: %s" % row)
            eq(row["contact"], alice.contact_uri, "Contact after the 401")

            # credentials of the initial SUBSCRIBE's nonce, next count
            nchall = len(alice.challenged)
            r = sub.refresh(expires=1200)
            eq(r.status, 200, "refresh with credentials")
            eq(len(alice.challenged), nchall, "challenges of a refresh"
               " that carried valid credentials")
            check("nonce=\"%s\"" % alice.chall["nonce"] in
                  alice.last_sent, "the refresh answered the dialog's"
                  " nonce:\n" + alice.last_sent)
            eq(r.get("expires"), "1200", "Expires of the 200")
            n = sub.notify(what="NOTIFY of the refresh")
            eq(n.state, "active", "Subscription-State")
            row = only_row(s)
            check(1190 <= row["expires"] <= 1200, "expiry after the"
                  " refresh: %s" % row)

            # no credentials ready: 401, then again with a higher CSeq
            alice.chall = None
            before = sub.cseq
            r = sub.refresh(expires=900)
            eq(r.status, 200, "refresh sent again with credentials")
            eq(len(alice.challenged), nchall + 1, "one challenge")
            eq(sub.cseq, before + 2, "CSeq of the refresh sent again")
            n = sub.notify(what="NOTIFY of the second refresh")
            eq(n.state, "active", "Subscription-State")
            check(890 <= only_row(s)["expires"] <= 900, "expiry")
        finally:
            closing(alice)


def test_unsubscribe_without_credentials_challenged_subscription_kept():
    """(b) An unsubscribe (Expires: 0) without credentials gets 401: no
    NOTIFY terminated, the subscription still there and still notified.
    (c) The watcher's unsubscribe with credentials ends it: 200, NOTIFY
    terminated, the row gone."""
    with Sipd(PRES_CONF, accounts=DLG_ACCOUNTS) as s:
        alice = PUA(s, "alice")
        bob = PUA(s, "bob")
        try:
            sub, n = presence_sub(alice, "bob@example.com")
            r = sub.refresh(expires=0, auth=False)
            check_challenge(r, "unsubscribe without credentials")
            sub.no_notify(1.0)
            eq(only_row(s)["state"], "active", "state after the 401")

            publish_ok(bob, pidf("bob@example.com",
                                 (("bob-desk", "open", "In"),)),
                       expires=600)
            n = sub.notify(what="NOTIFY of bob's PUBLISH")
            eq((n.state, n.pidf().tuples), ("active", {"bob-desk": "open"}),
               "the subscription still notified")

            r = sub.unsubscribe()
            eq(r.status, 200, "unsubscribe with credentials")
            eq(r.get("expires"), "0", "Expires of the 200")
            n = sub.notify(what="final NOTIFY")
            eq((n.state, n.reason), ("terminated", "timeout"),
               "Subscription-State of the final NOTIFY")
            eq(sub_list(s), [], "subscription after the unsubscribe")
        finally:
            closing(alice, bob)


def test_refresh_with_other_users_credentials_403():
    """(d) carol, who learnt the identifiers of alice's dialog, refreshes
    it (with alice's From, then her own) and unsubscribes it with her
    own valid credentials: 403 each time; alice's subscription keeps its
    Contact and expiry and gets no NOTIFY terminated. Alice (another
    user than alice: the user part is case-sensitive) gets 403 too;
    alice@EXAMPLE.COM's credentials (the host is not) are alice's."""
    with Sipd(PRES_CONF, accounts=DLG_ACCOUNTS) as s:
        alice = PUA(s, "alice")
        carol = PUA(s, "carol")
        other = PUA(s, "Alice", password="secret5")
        try:
            sub, n = presence_sub(alice, "bob@example.com", expires=300)
            time.sleep(1.1)

            for thief, frm in ((carol, None),
                               (carol, "<%s>;tag=%s" % (carol.uri,
                                                        sub.ftag)),
                               (other, None)):
                st = Stolen(thief, sub, frm)
                r = st.refresh(expires=1200)
                eq(r.status, 403, "%s refreshes alice's subscription"
                   " (From %s)" % (thief.aor, st.frm))
                check(thief.challenged, "%s was not challenged first"
                      % thief.aor)
                sub.cseq = st.cseq
                st = Stolen(thief, sub, frm)
                r = st.unsubscribe()
                eq(r.status, 403, "%s ends alice's subscription"
                   % thief.aor)
                sub.cseq = st.cseq
            sub.no_notify(1.0)
            thief_notifies = [m for ua in (carol, other)
                              for m in ua.received if not m.is_response
                              and m.method == "NOTIFY"]
            eq(thief_notifies, [], "NOTIFYs to the other users")
            row = only_row(s)
            eq((row["watcher"], row["state"]),
               ("alice@example.com", "active"), "the subscription")
            eq(row["contact"], alice.contact_uri, "its Contact")
            check(row["expires"] <= 299, "its expiry: %s" % row)
            check("auth: carol@example.com may not act as"
                  " alice@example.com" in s.log(), "log line of the 403")

            # alice's own refresh, From with the host in upper case
            sub2 = alice.subscription("bob@example.com")
            r = sub2.subscribe(frm="<sip:alice@EXAMPLE.COM>;tag=%s" %
                               sub2.ftag)
            eq(r.status, 200, "SUBSCRIBE from alice@EXAMPLE.COM")
            st = Stolen(alice, sub2, "<sip:alice@EXAMPLE.COM>;tag=%s" %
                        sub2.ftag)
            r = st.refresh(expires=600)
            eq(r.status, 200, "refresh of alice@EXAMPLE.COM by alice")
            for what in ("NOTIFY of the SUBSCRIBE", "NOTIFY of the"
                         " refresh"):
                alice.wait(lambda m: not m.is_response and
                           m.method == "NOTIFY" and
                           m.get("call-id") == sub2.callid, what)
        finally:
            closing(alice, carol, other)


def test_refresh_not_challenged_where_initial_is_not():
    """The refresh follows the initial SUBSCRIBE's rule. On the socket
    with auth=off, alice subscribes, refreshes and unsubscribes without
    credentials; an outsider (a domain sipd does not serve) refreshes
    without credentials too. But alice's refresh of her auth=off
    subscription sent to the socket that authenticates is challenged,
    as an initial SUBSCRIBE there would be."""
    with Sipd(PRES_CONF, accounts=DLG_ACCOUNTS) as s:
        alice = PUA(s, "alice", server=s.addr2)
        ext = stranger(s)
        try:
            sub, n = presence_sub(alice, "bob@example.com")
            r = sub.refresh(expires=600, auth=False)
            eq(r.status, 200, "refresh on the auth=off socket")
            sub.notify(what="NOTIFY of the refresh")

            alice.server = s.addr
            r = sub.refresh(expires=600, auth=False)
            check_challenge(r, "refresh sent to the socket that"
                            " authenticates")
            sub.no_notify(0.5)
            alice.server = s.addr2

            r = sub.refresh(expires=0, auth=False)
            eq(r.status, 200, "unsubscribe on the auth=off socket")
            n = sub.notify(what="final NOTIFY")
            eq(n.state, "terminated", "Subscription-State")
            eq(alice.challenged[1:], [], "other challenges")

            esub = ext.subscription("bob@example.com")
            eq(esub.subscribe(expires=600).status, 200, "outsider")
            eq(esub.notify().state, "pending", "outsider's state")
            r = esub.refresh(expires=600)
            eq(r.status, 200, "outsider's refresh")
            esub.notify(what="NOTIFY of the outsider's refresh")
            eq(ext.challenged, [], "challenges of the outsider")
        finally:
            closing(alice, ext)
