"""test_baresip_presence: two real baresip 1.0.0 user agents with
baresip's presence module see each other's presence through sipd's
presence role.

bob publishes (account parameter pubint=60: baresip's presence publisher
sends PUBLISH with a PIDF after its REGISTER succeeded, basic open), alice
watches (her contacts file lists bob with ;presence=p2p, so that
baresip's presence subscriber sends SUBSCRIBE for bob through her
outbound proxy, sipd). Both authenticate with digest (MD5, as sipd gives
agents named baresip).

baresip 1.0.0's presence module has two commands, presence_online ('[')
and presence_offline (']'), nothing for "away": its subscriber even maps
an RPID <rpid:away/> to Offline. So "bob goes away" is presence_offline
here: bob PUBLISHes with SIP-If-Match and a PIDF whose basic is closed,
sipd NOTIFYs alice, and alice's contact list (the contacts command)
shows bob Offline; presence_online brings him back Online.

The set-up (headless, loopback only, a DNS stub that refuses every
query, no sound device, the ctrl_tcp driver) is test_baresip.py's: its
Baresip class is reused, with the contact and presence modules added.
"""

import os
import re
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import sipdlib                                           # noqa: E402
from sipdlib import Sipd, check, eq                      # noqa: E402
from test_baresip import (Baresip, DnsStub, BARESIP, ACCOUNT,  # noqa
                          loopback_only, not_loopback, TRACE_RE)
from test_presence import Pidf, sub_list, wait_for         # noqa: E402
from test_proxy import tag_of                              # noqa: E402

CONF = """\
# test_baresip_presence: registrar, presence and proxy on one socket
domain example.com
db {db}
log_level debug
module location
module auth
listen udp:127.0.0.1:{port};roles=registrar,presence,proxy
listen tcp:127.0.0.1:{port};roles=registrar,presence,proxy
registrar_min_expires 10
auth_nonce_expiry 60
presence_notify_interval 200
"""

# the modules of presence, after ctrl_tcp (contact.so before presence.so:
# the presence subscriber reads the contact list when it starts)
EXTRA_MODULES = "module_app\t\tcontact.so\nmodule_app\t\tpresence.so\n"


class PresenceBaresip(Baresip):
    """A Baresip of test_baresip with the contact and presence modules,
    a contacts file, and account parameters added."""

    def __init__(self, name, user, password, sipd_port, dns_port,
                 contacts=(), account_extra=""):
        Baresip.__init__(self, name, user, password, sipd_port, dns_port)
        with open(os.path.join(self.dir, "config"), "a") as f:
            f.write(EXTRA_MODULES)
        line = ACCOUNT.format(user=user, password=password, port=sipd_port,
                              answermode="manual").rstrip("\n")
        with open(os.path.join(self.dir, "accounts"), "w") as f:
            f.write(line + account_extra + "\n")
        with open(os.path.join(self.dir, "contacts"), "w") as f:
            f.write("# contacts of test_baresip_presence\n")
            for c in contacts:
                f.write(c + "\n")

    def contacts(self):
        """The contact list as baresip prints it ({uri: status}), from
        the contacts command (ANSI colours removed)."""
        data = self.command("contacts").get("data", "")
        data = re.sub(r"\x1b\[[0-9;]*m", "", data)
        out = {}
        for line in data.splitlines():
            m = re.match(r"^[ >]\s*(Online|Offline|Busy|Unknown)\s+"
                         r".*<([^>]+)>", line)
            if m:
                out[m.group(2)] = m.group(1)
        return out, data


def wait_contact(ua, uri, status, timeout=15.0):
    deadline = time.time() + timeout
    while True:
        got, data = ua.contacts()
        if got.get(uri) == status:
            return data
        if time.time() > deadline or not ua.alive():
            raise sipdlib.TestFailure(
                "baresip %s: contact %s is not %s within %.0f s; contacts"
                " command:\n%s\nbaresip log tail:\n%s" % (
                    ua.name, uri, status, timeout, data, ua.log()[-4000:]))
        time.sleep(0.2)


def trace(ua):
    """The SIP messages of baresip's trace (-s) with their bodies, as
    (source, destination, Msg) in order (test_baresip's sip_trace stops
    at the end of the header)."""
    text = ua.log()
    out = []
    for m in TRACE_RE.finditer(text):
        head = m.group(4)
        cl = re.search(r"(?im)^(content-length|l)\s*:\s*(\d+)", head)
        n = int(cl.group(2)) if cl else 0
        body = text[m.end():m.end() + n]
        out.append((m.group(2), m.group(3), sipdlib.Msg(head + body)))
    return out


def notifies_to(ua):
    """The NOTIFYs baresip received, as Msg, in order."""
    return [m for src, dst, m in trace(ua)
            if not m.is_response and m.method == "NOTIFY"]


def publishes_of(ua):
    return [m for src, dst, m in trace(ua)
            if not m.is_response and m.method == "PUBLISH"]


def test_baresip_presence_offline_seen_by_watcher():
    """bob (baresip) publishes open, then offline (closed), then online;
    alice (baresip) watches him through sipd and her contact list
    follows: Online, Offline, Online."""
    if not shutil.which(BARESIP):
        raise sipdlib.TestFailure("baresip is missing (Debian package"
                                  " baresip-core)")
    if not os.path.exists("/usr/lib/baresip/modules/presence.so"):
        raise sipdlib.TestFailure("baresip's presence module is missing"
                                  " (/usr/lib/baresip/modules/presence.so)")
    dns = DnsStub()
    srv = Sipd(CONF, accounts=(("alice@example.com", "secret-a"),
                               ("bob@example.com", "secret-b")))
    bob = PresenceBaresip("bob", "bob", "secret-b", srv.port, dns.port,
                          account_extra=";pubint=60")
    alice = PresenceBaresip("alice", "alice", "secret-a", srv.port,
                            dns.port, contacts=(
                                '"Bob" <sip:bob@example.com>;presence=p2p',))
    bob_uri = "sip:bob@example.com"
    try:
        bob.start()
        bob.wait_registered(10, server=srv)
        # bob's publisher: PUBLISH after REGISTER_OK, stored by sipd
        wait_for(lambda: srv.query(
            "SELECT count(*) FROM publications WHERE presentity ="
            " 'bob@example.com'")[0][0] >= 1, "bob's publication in"
            " sipd's database", timeout=10)
        time.sleep(1.0)             # a second initial PUBLISH, if any
        out = srv.sipctl("pub", "list", "bob@example.com").stdout
        check("bob@example.com" in out and
              "127.0.0.1:%d" % bob.sip_port in out,
              "sipctl pub list: bob's publication from his port:\n" + out)

        alice.start()
        alice.wait_registered(10, server=srv)
        # alice's presence subscriber starts a second after baresip
        wait_for(lambda: [x for x in sub_list(srv, "bob@example.com")
                          if x["watcher"] == "alice@example.com"],
                 "alice's subscription to bob (sipctl sub list)",
                 timeout=10)
        subs = sub_list(srv, "bob@example.com")
        eq([(x["watcher"], x["event"], x["state"]) for x in subs],
           [("alice@example.com", "presence", "active")],
           "sipctl sub list --json")
        check(":%d" % alice.sip_port in subs[0]["contact"],
              "subscription contact %r is alice's port" %
              subs[0]["contact"])

        wait_contact(alice, bob_uri, "Online")
        n = notifies_to(alice)
        check(n, "alice's trace has no NOTIFY")
        p = Pidf(n[-1].body)
        eq(p.basics(), {"open"}, "the PIDF alice got")
        eq(p.entity, bob_uri, "entity of the PIDF")
        # baresip 1.0.0's publisher often sends two initial PUBLISHes
        # (one from its start timer, one on REGISTER_OK before the first
        # SIP-ETag came back), both with tuple t4109: two entities at
        # sipd. The composed document must still have each tuple once
        # (RFC 3863 4.1.2), else bob's later presence_offline modifies
        # one of them and alice, who reads the first <basic>, may never
        # see it.
        npub = srv.query("SELECT count(*) FROM publications WHERE"
                         " presentity = 'bob@example.com'")[0][0]
        eq(sorted(p.tuple_ids), sorted(set(p.tuple_ids)),
           "tuple ids of the PIDF sipd composed from bob's %d"
           " publications must be unique:\n%s" % (npub, p.raw))

        # bob goes away: presence_offline
        before = len(publishes_of(bob))
        resp = bob.command("presence_offline")
        check(resp.get("ok"), "bob: presence_offline failed: %s" % resp)
        data = wait_contact(alice, bob_uri, "Offline")
        pubs = publishes_of(bob)[before:]
        check(pubs, "bob sent no PUBLISH for presence_offline")
        check(pubs[-1].get("sip-if-match"), "bob's PUBLISH modifies his"
              " publication (SIP-If-Match): %s" % pubs[-1].raw)
        check("<basic>closed</basic>" in pubs[-1].body,
              "bob published closed: %s" % pubs[-1].body)
        p = Pidf(notifies_to(alice)[-1].body)
        eq(p.basics(), {"closed"}, "the PIDF of the last NOTIFY to alice")
        check("changed status from" in alice.log() and
              "Offline" in alice.log(),
              "alice's log does not say bob changed status")
        out = srv.sipctl("presence", "show", "bob@example.com").stdout
        check("<basic>closed</basic>" in out, "sipctl presence show:\n" +
              out)
        eq(srv.query("SELECT count(*) FROM publications WHERE presentity"
                     " = 'bob@example.com'")[0][0], npub,
           "publications of bob after the modify (it creates none)")

        # and back
        resp = bob.command("presence_online")
        check(resp.get("ok"), "bob: presence_online failed: %s" % resp)
        wait_contact(alice, bob_uri, "Online")
        eq(Pidf(notifies_to(alice)[-1].body).basics(), {"open"},
           "the last NOTIFY to alice")

        # what sipd sent alice: her dialog, to her port, from sipd
        for m in notifies_to(alice):
            eq(m.get("event"), "presence", "Event of the NOTIFY")
            check(m.get("subscription-state", "").startswith("active"),
                  "Subscription-State %r" % m.get("subscription-state"))
        check(srv.alive(), "sipd died:\n" + srv.log()[-3000:])
        for ua in (alice, bob):
            loopback_only(ua)
            dests = ua.destinations()
            if dests is not None:
                out = sorted(a for a in dests if not_loopback(a))
                check(not out, "baresip %s sent to %s" % (ua.name, out))
        check(not dns.queries, "baresip asked DNS (the local stub, which"
              " refused): %s" % dns.queries)
    except Exception:
        for ua in (alice, bob):
            sys.stderr.write("--- baresip %s log (tail) ---\n%s\n" % (
                ua.name, ua.log()[-6000:]))
        sys.stderr.write("--- sipd log (tail) ---\n%s\n" %
                         srv.log()[-6000:])
        raise
    finally:
        for ua in (alice, bob):
            ua.close()
        srv.close()
        dns.close()


# subscriptions of 10 seconds: libre refreshes them after 9, 18, ...
# seconds; nonces of 15 seconds: the first refresh answers with the
# initial SUBSCRIBE's nonce, the second with a stale one (401)
REFRESH_CONF = CONF.replace("auth_nonce_expiry 60", "auth_nonce_expiry 15") + \
    "presence_min_expires 5\npresence_max_expires 10\n"


def in_dialog_subscribes(ua):
    """The SUBSCRIBEs with a To tag in baresip's trace, each as (request,
    its final response or None), in order."""
    msgs = [m for src, dst, m in trace(ua)]
    out = []
    for m in msgs:
        if m.is_response or m.method != "SUBSCRIBE" or \
                not tag_of(m.get("to", "")):
            continue
        final = [r for r in msgs if r.is_response and r.status >= 200 and
                 r.get("call-id") == m.get("call-id") and
                 r.get("cseq") == m.get("cseq")]
        out.append((m, final[-1] if final else None))
    return out


def test_baresip_refreshes_subscription_with_credentials():
    """A refresh is authenticated like the initial SUBSCRIBE (issue 13,
    item 10): baresip (alice) watches bob, sipd grants 10 seconds, and
    libre refreshes in the dialog every 9 seconds with digest
    credentials, sent at once for the nonce it has; once that nonce is
    stale, sipd's 401 makes it send the refresh again with new
    credentials and a higher CSeq. Each refresh ends in 200, the
    subscription stays active, and the unsubscribe when baresip quits
    is accepted (the row goes)."""
    if not shutil.which(BARESIP):
        raise sipdlib.TestFailure("baresip is missing (Debian package"
                                  " baresip-core)")
    dns = DnsStub()
    srv = Sipd(REFRESH_CONF, accounts=(("alice@example.com", "secret-a"),
                                       ("bob@example.com", "secret-b")))
    alice = PresenceBaresip("alice", "alice", "secret-a", srv.port,
                            dns.port, contacts=(
                                '"Bob" <sip:bob@example.com>;presence=p2p',))
    try:
        alice.start()
        alice.wait_registered(10, server=srv)
        wait_for(lambda: sub_list(srv, "bob@example.com"),
                 "alice's subscription to bob (sipctl sub list)",
                 timeout=10)

        def answered():
            done = [(m, r) for m, r in in_dialog_subscribes(alice)
                    if r is not None and r.status == 200]
            return len(done) >= 2 and done
        done = wait_for(answered, lambda: "two refreshes of alice"
                        " answered 200; in the dialog: %s" % [
                            (m.get("cseq"), r and r.status) for m, r in
                            in_dialog_subscribes(alice)], timeout=30)
        for m, r in done:
            check(m.get("authorization"), "a refresh accepted without"
                  " credentials:\n" + m.raw)
        seen = in_dialog_subscribes(alice)
        first = seen[0][1]
        check(first is not None and first.status == 200, "libre's first"
              " refresh, with the credentials it had, answered %s" % (
                  first and first.start))
        check([r for m, r in seen if r is not None and r.status == 401],
              "no refresh was challenged (stale nonce)")
        for i, (m, r) in enumerate(seen):
            if r is not None and r.status == 401:
                later = [x for x, y in seen[i + 1:]
                         if y is not None and y.status == 200]
                check(later and int(later[0].get("cseq").split()[0]) >
                      int(m.get("cseq").split()[0]),
                      "a challenged refresh was not sent again with a"
                      " higher CSeq and accepted")
            else:
                check(r is None or r.status == 200, "a refresh of"
                      " baresip answered %s" % (r and r.start))
        subs = sub_list(srv, "bob@example.com")
        eq([(x["watcher"], x["state"]) for x in subs],
           [("alice@example.com", "active")], "sipctl sub list")
        check(subs[0]["expires"] <= 10, "expiry %s" % subs[0])
        check("may not act as" not in srv.log(), "a refresh refused:\n"
              + srv.log()[-3000:])

        # baresip's unsubscribe when it quits: in the dialog too
        alice.stop()
        wait_for(lambda: sub_list(srv) == [], lambda: "the subscription"
                 " after baresip quit: %s" % sub_list(srv), timeout=5)
        last = in_dialog_subscribes(alice)[-1]
        check(last[0].get("expires") == "0" and last[1] is not None and
              last[1].status == 200, "baresip's unsubscribe: %s -> %s" % (
                  last[0].get("expires"), last[1] and last[1].start))
    except Exception:
        sys.stderr.write("--- baresip alice log (tail) ---\n%s\n" %
                         alice.log()[-6000:])
        sys.stderr.write("--- sipd log (tail) ---\n%s\n" %
                         srv.log()[-6000:])
        raise
    finally:
        alice.close()
        srv.close()
        dns.close()


if __name__ == "__main__":
    test_baresip_presence_offline_seen_by_watcher()
    test_baresip_refreshes_subscription_with_credentials()
    print("ok")
