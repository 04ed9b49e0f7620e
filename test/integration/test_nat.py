"""NAT traversal of the proxy: phones whose Contact is not where their
packets come from, keepalive pings, and TCP phones reached over their
own connection; what counts as behind a NAT (a private Contact, a Via
that is not the source, rport with another port; a third party's
registration does not) and the nat= parameter of a socket.

A phone "behind a NAT" here sends from 127.0.0.1:P but writes a private
address in its Contact and Via: 127.0.0.99:T, where a trap socket
listens. Whatever sipd sends to the trap went to the private address
instead of through the NAT binding (a real 10.x address is not used so
that no packet can leave the loopback network).
"""

import socket
import subprocess
import time

from sipdlib import Sipd, SIPD, MODULES, TestFailure, check, eq
from test_proxy import (PROXY_CONF, EVENTLOG, ACCOUNTS, UA, proxy_conf,
                        phone, caller, closing, alive, sdp, sipd_rr,
                        rr_uris, tag_of, wait_events, free_port)

PRIVATE = "127.0.0.99"


class Trap:
    """UDP and TCP sockets on the private address of a NATed phone."""

    def __init__(self):
        self.port = free_port(PRIVATE)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((PRIVATE, self.port))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((PRIVATE, self.port))
        self.tcp.listen(4)

    def check_empty(self, timeout=0.3):
        """Nothing reached the private address."""
        self.udp.settimeout(timeout)
        try:
            data = self.udp.recv(65535)
            raise TestFailure("sipd sent to the private address %s:%d"
                              " instead of through the NAT:\n%s" % (
                                  PRIVATE, self.port,
                                  data.decode(errors="replace")))
        except socket.timeout:
            pass
        self.tcp.settimeout(0.01)
        try:
            conn, _ = self.tcp.accept()
            conn.settimeout(0.5)
            try:
                data = conn.recv(65535)
            except socket.timeout:
                data = b""
            conn.close()
            raise TestFailure("sipd connected to the private address"
                              " %s:%d:\n%s" % (PRIVATE, self.port,
                                              data.decode(errors="replace")))
        except socket.timeout:
            pass

    def close(self):
        self.udp.close()
        self.tcp.close()


def nated_phone(s, trap, user="bob", transport="udp", register=True,
                password=None):
    pw = password or dict((a.split("@")[0], p) for a, p in ACCOUNTS)[user]
    ua = UA(s, user, pw, transport=transport, contact_host=PRIVATE,
            contact_port=trap.port, via_host=PRIVATE, via_port=trap.port)
    if register:
        ua.register()
    return ua


def binding_rows(s, aor="bob@example.com"):
    return s.query("SELECT contact, received, transport, socket FROM"
                   " bindings WHERE aor = ? AND expires >"
                   " strftime('%s','now') ORDER BY id", (aor,))


def wait_no_binding(s, contact, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not [r for r in binding_rows(s) if r[0] == contact]:
            return time.time()
        time.sleep(0.1)
    raise TestFailure("binding %s still there after %.1f s: %s" % (
        contact, timeout, binding_rows(s)))


# --- UDP ---------------------------------------------------------------------

def test_nated_callee_invite_reaches_received_address():
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        trap = Trap()
        bob = nated_phone(s, trap)
        alice = caller(s)
        try:
            eq(binding_rows(s), [(bob.contact_uri, "127.0.0.1:%d" %
                                  bob.local[1], "udp",
                                  "udp:127.0.0.1:%d" % s.port)],
               "the binding: private Contact, public source, socket")
            d = alice.invite("sip:bob@example.com")
            inc = bob.expect_invite()
            eq(inc.invite_req.start.split()[1], bob.contact_uri,
               "Request-URI: the registered Contact")
            eq(inc.invite_req.src, s.addr, "sent from the socket the"
               " REGISTER came on")
            inc.reply(486, "Busy Here")
            inc.expect_ack()
            eq(d.final().status, 486, "the NATed phone's answer")
            trap.check_empty()
            alive(s)
        finally:
            closing(alice, bob)
            trap.close()


def test_nated_callee_in_dialog_requests():
    """The ACK, a re-INVITE and the BYE of a call to a NATed phone reach
    it through the NAT too (its 200 names its private address, as such
    phones do)."""
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        trap = Trap()
        bob = nated_phone(s, trap)
        alice = caller(s)
        try:
            d = alice.invite("sip:bob@example.com")
            inc = bob.expect_invite()
            inc.answer()
            eq(d.final().status, 200, "answered")
            got = bob.wait(lambda m: m.method == "ACK", "ACK", 2.0,
                           fail=False)
            trap.check_empty()
            check(got is not None, "the ACK did not reach the NATed"
                  " callee")
            d.request("BYE", wait=False)
            inc.expect_and_reply("BYE")
            eq(alice.expect_response(d.callid, "BYE", final=True).status,
               200, "BYE")
            trap.check_empty()
        finally:
            closing(alice, bob)
            trap.close()


def test_nated_caller_gets_responses_and_requests():
    """A caller behind a NAT (private Via and Contact) gets its
    responses at its public address, and so does the callee's BYE."""
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        trap = Trap()
        bob = phone(s, "bob")
        alice = nated_phone(s, trap, "alice", register=False)
        try:
            d = alice.invite("sip:bob@example.com")
            inc = bob.expect_invite()
            inc.answer()
            eq(d.final().status, 200, "the NATed caller's 200")
            inc.expect_ack()
            trap.check_empty()
            inc.request("BYE", wait=False)
            bye = alice.wait(lambda m: m.method == "BYE", "BYE", 2.0,
                             fail=False)
            trap.check_empty()
            check(bye is not None, "the callee's BYE did not reach the"
                  " NATed caller")
        finally:
            closing(alice, bob)
            trap.close()


def test_nated_caller_gets_second_2xx_of_fork():
    """A 2xx of another fork after the first is relayed upstream by the
    caller's Via (received, rport), not to its private sent-by."""
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        trap = Trap()
        bob1 = phone(s, "bob")
        bob2 = phone(s, "bob")
        alice = nated_phone(s, trap, "alice", register=False)
        try:
            d = alice.invite("sip:bob@example.com")
            inc1 = bob1.expect_invite()
            inc2 = bob2.expect_invite()
            inc1.reply(200, "OK", body=sdp(41000))
            first = d.response(final=True)
            eq(first.status, 200, "the first 200")
            inc2.reply(200, "OK", body=sdp(42000))
            second = alice.wait(
                lambda m: m.is_response and m.status == 200 and
                tag_of(m.get("to")) == inc2.local_tag, "the second 200",
                2.0, fail=False)
            trap.check_empty()
            check(second is not None, "the second fork's 200 did not reach"
                  " the NATed caller")
        finally:
            closing(alice, bob1, bob2)
            trap.close()


def test_nated_caller_gets_2xx_retransmission():
    """The callee's retransmission of its 200 (relayed without
    transaction state, by the caller's Via) reaches a NATed caller at
    its public address."""
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        trap = Trap()
        bob = phone(s, "bob")
        alice = nated_phone(s, trap, "alice", register=False)
        try:
            d = alice.invite("sip:bob@example.com")
            inc = bob.expect_invite()
            inc.reply(200, "OK", body=sdp(41000))
            eq(d.response(final=True).status, 200, "the 200")
            bob.send(bob.answers[UA.key(inc.invite_req)],
                     inc.invite_req.src)
            time.sleep(0.3)
            alice.wait(lambda m: False, "", 0.3, fail=False)
            trap.check_empty()
            oks = [m for m in alice.received if m.is_response and
                   m.status == 200]
            eq(len(oks), 2, "200s at the NATed caller")
        finally:
            closing(alice, bob)
            trap.close()


# --- keepalive ---------------------------------------------------------------

PING_CONF = proxy_conf("registrar_nat_ping_interval 2\n"
                       "registrar_nat_ping_failures 2\n")


def expect_ping(ua, timeout):
    m = ua.expect_request("OPTIONS", timeout)
    eq(m.start.split()[1], ua.contact_uri, "Request-URI of the ping")
    check("keepalive@example.com" in m.get("from", ""),
          "From of the ping: %s" % m.get("from"))
    eq(m.src, ua.s.addr, "the ping comes from the socket the REGISTER"
       " came on")
    return m


def test_nat_ping_then_binding_removed():
    with Sipd(PING_CONF, accounts=ACCOUNTS) as s:
        trap = Trap()
        bob = nated_phone(s, trap)
        carol = phone(s, "carol")          # not NATed: no pings
        try:
            for _ in range(2):
                m = expect_ping(bob, 4.0)
                bob.reply(m, 200, "OK")
            eq(len(binding_rows(s)), 1, "bob's binding while it answers")
            # the phone is gone: pings go unanswered
            started = time.time()
            gone = wait_no_binding(s, bob.contact_uri, 16.0)
            check(gone - started >= 3, "removed after only %.1f s" % (
                gone - started))
            carol.no_request("OPTIONS", 0.1)
            check([m for m in carol.received if m.method == "OPTIONS"] == [],
                  "a binding whose Contact is its source was pinged")
            eq(len(binding_rows(s, "carol@example.com")), 1,
               "carol's binding stays")
            trap.check_empty()
            alive(s)
        finally:
            closing(bob, carol)
            trap.close()


def test_nat_ping_removal_event():
    with Sipd(PING_CONF + EVENTLOG, accounts=ACCOUNTS) as s:
        trap = Trap()
        bob = nated_phone(s, trap)
        try:
            m = expect_ping(bob, 4.0)
            bob.reply(m, 200, "OK")
            wait_no_binding(s, bob.contact_uri, 16.0)
            ev = wait_events(s, lambda e: e.get("event") ==
                             "binding-removed", "binding-removed", 2.0)
            eq((ev[0]["aor"], ev[0]["contact"]),
               ("bob@example.com", bob.contact_uri), "the removed binding")
            alive(s)
        finally:
            closing(bob)
            trap.close()


# --- TCP ---------------------------------------------------------------------

def test_tcp_phone_reached_over_its_connection():
    """A phone registered over TCP gets its calls over that connection;
    in-dialog requests of both sides follow (UDP caller, two
    Record-Route values)."""
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        bob = phone(s, "bob", transport="tcp")
        alice = caller(s)
        try:
            d = alice.invite("sip:bob@example.com")
            inc = bob.expect_invite()
            eq(inc.invite_req.start.split()[1], bob.contact_uri,
               "Request-URI")
            eq(rr_uris(inc.invite_req), [sipd_rr(s, "tcp"),
                                         sipd_rr(s, "udp")],
               "Record-Route of a UDP to TCP call")
            inc.answer()
            eq(d.final().status, 200, "answered over TCP")
            inc.expect_ack()
            inc.request("INFO", wait=False)
            info = alice.expect_request("INFO", callid=d.callid)
            alice.reply(info, 200, "OK")
            eq(bob.expect_response(d.callid, "INFO", final=True).status,
               200, "the callee's INFO over TCP and back")
            d.request("BYE", wait=False)
            inc.expect_and_reply("BYE")
            eq(alice.expect_response(d.callid, "BYE", final=True).status,
               200, "BYE")
            alive(s)
        finally:
            closing(alice, bob)


def test_tcp_nated_phone_invite_over_its_connection():
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        trap = Trap()
        bob = nated_phone(s, trap, transport="tcp")
        alice = caller(s)
        try:
            eq(binding_rows(s)[0][2], "tcp", "transport of the binding")
            d = alice.invite("sip:bob@example.com")
            inc = bob.expect_invite()
            eq(inc.invite_req.start.split()[1], bob.contact_uri,
               "Request-URI")
            inc.reply(486, "Busy Here")
            inc.expect_ack()
            eq(d.final().status, 486, "the answer over the connection")
            trap.check_empty()
            alive(s)
        finally:
            closing(alice, bob)
            trap.close()


def test_tcp_connection_close_removes_binding():
    """A TCP phone behind a NAT is reachable only over its connection:
    when that closes, its binding goes."""
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        trap = Trap()
        bob = nated_phone(s, trap, transport="tcp")
        carol = phone(s, "carol")
        contact = bob.contact_uri
        eq([r[0] for r in binding_rows(s)], [contact], "the TCP binding")
        bob.close()
        wait_no_binding(s, contact, 5.0)
        eq(len(binding_rows(s, "carol@example.com")), 1,
           "the UDP binding of another user stays")
        alice = caller(s)
        try:
            d = alice.invite("sip:bob@example.com")
            eq(d.final().status, 480, "bob after his connection closed")
            trap.check_empty()
            alive(s)
        finally:
            closing(alice, carol)
            trap.close()


def test_tcp_phone_without_pong_stays_registered():
    """A TCP phone that does not do RFC 5626 (no "ob", no reg-id) and
    stays quiet on its connection: sipd's keepalive must not close the
    connection and drop the binding because no CRLF "pong" came back
    (RFC 5626 3.5.1: pings are the client's; a server only answers
    them). Slow: libre pings after 16 to 20 s and gives up 10 s later."""
    with Sipd(proxy_conf("registrar_nat_ping_interval 2\n"),
              accounts=ACCOUNTS) as s:
        bob = phone(s, "bob", transport="tcp")
        try:
            bob.sock.settimeout(0.5)
            started = time.time()
            closed = None
            while time.time() - started < 32:
                try:
                    data = bob.sock.recv(4096)
                except socket.timeout:
                    continue
                if not data:
                    closed = time.time() - started
                    break
            rows = binding_rows(s)
            check(closed is None, "sipd closed the phone's connection %s"
                  " s after its REGISTER; bindings left: %s" % (
                      closed, rows))
            eq(len(rows), 1, "bob's binding")
        finally:
            closing(bob)


# --- what is behind a NAT ----------------------------------------------------

def nat_flags(s, aor="bob@example.com"):
    """(contact, nat) of the bindings of an AOR, as stored."""
    return s.query("SELECT contact, nat FROM bindings WHERE aor = ?"
                   " ORDER BY id", (aor,))


def third_party(s, callee_host="127.0.0.1", via_host=None, rport=False):
    """bob's phone on callee_host (it does not register) and another
    program on 127.0.0.1 that registers the phone's Contact for it, its
    own port in its Via (rport when asked); returns (phone, registrant)."""
    callee = UA(s, "bob", "secret2", host=callee_host)
    registrant = UA(s, "bob", "secret2", via_host=via_host)
    registrant.rport = rport
    registrant.register(contact=callee.contact)
    return callee, registrant


def call_reaches(s, reached, other, what):
    """alice calls bob: the INVITE reaches `reached` (a 486 ends it),
    nothing reaches `other`."""
    alice = caller(s)
    try:
        d = alice.invite("sip:bob@example.com")
        inc = reached.wait(lambda m: m.method == "INVITE", "INVITE", 3.0,
                           fail=False)
        check(inc is not None, "%s: the INVITE did not reach %s:%d;"
              " the caller got %s" % (what, reached.local[0],
                                      reached.local[1], alice.describe()))
        reached.reply(inc, 486, "Busy Here")
        eq(d.final().status, 486, "%s: the callee's answer" % what)
        other.no_request("INVITE", 0.3)
        return inc
    finally:
        alice.close()


def test_third_party_registration_reaches_contact():
    """A registration made by another program on the same host (a SIPp
    callee registered by a second SIPp): the Contact is 127.0.0.1:P1,
    the REGISTER comes from 127.0.0.1:P2 with P2 in its Via and no
    rport. Not behind a NAT: the call goes to P1 (it went to P2, which
    does not answer: 408)."""
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        callee, registrant = third_party(s)
        try:
            inc = call_reaches(s, callee, registrant, "third party")
            eq(inc.start.split()[1], callee.contact_uri, "Request-URI")
            eq(nat_flags(s), [(callee.contact_uri, 0)],
               "the binding, not behind a NAT")
            alive(s)
        finally:
            closing(callee, registrant)


def test_private_contact_is_behind_nat():
    """A Contact in private space (192.168.1.10:5060) registered from
    127.0.0.1 with a Via of the source: behind a NAT, reached at the
    source (checked stored first: nothing is sent to 192.168.1.10)."""
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        bob = UA(s, "bob", "secret2", contact_host="192.168.1.10",
                 contact_port=5060)
        try:
            bob.register()
            eq(nat_flags(s), [("sip:bob@192.168.1.10:5060", 1)],
               "a private Contact is behind a NAT")
            inc = call_reaches(s, bob, bob, "private Contact")
            eq(inc.start.split()[1], bob.contact_uri,
               "Request-URI: the registered Contact")
            alive(s)
        finally:
            closing(bob)


def test_via_of_another_address_is_behind_nat():
    """The top Via's sent-by is another address than the source (the
    Contact, 127.0.0.99, is not private): behind a NAT."""
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        trap = Trap()
        bob = UA(s, "bob", "secret2", contact_host=PRIVATE,
                 contact_port=trap.port, via_host="127.0.0.98")
        try:
            bob.register()
            eq(nat_flags(s), [(bob.contact_uri, 1)], "the binding")
            call_reaches(s, bob, bob, "Via of another address")
            trap.check_empty()
            alive(s)
        finally:
            closing(bob)
            trap.close()


def test_rport_with_another_port_is_behind_nat():
    """Over UDP, a Via of the source address with rport and another port
    than the source's: behind a NAT."""
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        trap = Trap()
        bob = UA(s, "bob", "secret2", contact_host=PRIVATE,
                 contact_port=trap.port, via_port=trap.port)
        try:
            bob.register()
            eq(nat_flags(s), [(bob.contact_uri, 1)], "with rport")
            call_reaches(s, bob, bob, "rport and another port")
            trap.check_empty()
            alive(s)
        finally:
            closing(bob)
            trap.close()


def nat_conf(nat, base=PROXY_CONF):
    """base with nat= on its UDP socket."""
    return base.replace(
        "listen udp:127.0.0.1:{port};roles=registrar,proxy",
        "listen udp:127.0.0.1:{port};roles=registrar,proxy;nat=" + nat)


def test_nat_never_uses_the_contact():
    """nat=never: a REGISTER that looks NATed (a Via of another
    address) and a private Contact are taken as they are; the INVITE
    goes to the Contact."""
    with Sipd(nat_conf("never"), accounts=ACCOUNTS) as s:
        callee, registrant = third_party(s, callee_host=PRIVATE,
                                         via_host="127.0.0.98",
                                         rport=True)
        carol = UA(s, "carol", "secret3", contact_host="192.168.1.10",
                   contact_port=5060)
        try:
            carol.register()
            eq(nat_flags(s, "carol@example.com"),
               [("sip:carol@192.168.1.10:5060", 0)],
               "a private Contact on a nat=never socket")
            eq(nat_flags(s), [(callee.contact_uri, 0)], "bob's binding")
            inc = call_reaches(s, callee, registrant, "nat=never")
            eq(inc.start.split()[1], callee.contact_uri, "Request-URI")
            alive(s)
        finally:
            closing(callee, registrant, carol)


def test_nat_always_uses_the_source():
    """nat=always: a third party's registration is reached at its
    source, as every binding of that socket."""
    with Sipd(nat_conf("always"), accounts=ACCOUNTS) as s:
        callee, registrant = third_party(s)
        try:
            eq(nat_flags(s), [(callee.contact_uri, 1)], "bob's binding")
            inc = call_reaches(s, registrant, callee, "nat=always")
            eq(inc.start.split()[1], callee.contact_uri, "Request-URI")
            alive(s)
        finally:
            closing(callee, registrant)


def test_third_party_registration_not_pinged():
    """The NAT pings follow the stored decision: a third party's binding
    gets none (they went to the registrant's port, which does not answer,
    and the binding was removed); on a nat=always socket it gets them, at
    its source."""
    with Sipd(PING_CONF, accounts=ACCOUNTS) as s:
        callee, registrant = third_party(s)
        try:
            callee.no_request("OPTIONS", 3.0)
            registrant.no_request("OPTIONS", 0.1)
            eq(nat_flags(s), [(callee.contact_uri, 0)], "bob's binding")
        finally:
            closing(callee, registrant)
    with Sipd(nat_conf("always", PING_CONF), accounts=ACCOUNTS) as s:
        callee, registrant = third_party(s)
        try:
            m = registrant.expect_request("OPTIONS", 4.0)
            eq(m.start.split()[1], callee.contact_uri,
               "Request-URI of the ping")
            callee.no_request("OPTIONS", 0.1)
        finally:
            closing(callee, registrant)


def test_nat_bad_value_is_config_error():
    """nat=maybe: sipd -t names the file, the line and the values."""
    s = Sipd(nat_conf("maybe"), accounts=(), start=False)
    try:
        lineno = [i for i, l in enumerate(open(s.conf_path), 1)
                  if "nat=maybe" in l][0]
        r = subprocess.run([SIPD, "-t", "-f", s.conf_path, "-m", MODULES],
                           capture_output=True, text=True, timeout=20)
        check(r.returncode != 0, "sipd -t accepted nat=maybe")
        want = ("%s:%d: listen: nat must be auto, always or never, not"
                " 'maybe'" % (s.conf_path, lineno))
        check(want in r.stderr, "sipd -t: %r, not %r" % (r.stderr, want))
    finally:
        s.close()


def test_phone_whose_ping_went_unanswered_is_not_rung():
    """bob has two phones: one behind a NAT, pinged, and one that is not.
    Once a ping of the NATed phone goes unanswered (its binding is still
    there: three misses remove it), a call to bob rings only the other
    (issue 14: availability)."""
    conf = proxy_conf("registrar_nat_ping_interval 2\n"
                      "registrar_nat_ping_failures 3\n")
    with Sipd(conf, accounts=ACCOUNTS) as s:
        trap = Trap()
        nated = nated_phone(s, trap)
        desk = phone(s, "bob")
        alice = UA(s, "alice", "secret")
        try:
            d = alice.invite("sip:bob@example.com")
            for ua in (nated, desk):
                inc = ua.expect_invite(callid=d.callid)
                inc.reply(486, "Busy Here")
                inc.expect_ack()
            eq(d.final().status, 486, "both phones answered busy")
            m = nated.wait(lambda m: not m.is_response and
                           m.method == "OPTIONS", "a ping", 4.0)
            # unanswered; the ping's wait is 4 s
            time.sleep(4.5)
            eq(len(binding_rows(s)), 2, "both bindings are still there")
            d = alice.invite("sip:bob@example.com")
            inc = desk.expect_invite(callid=d.callid)
            nated.no_request("INVITE", timeout=0.5, callid=d.callid)
            inc.reply(486, "Busy Here")
            eq(d.final().status, 486, "the desk phone alone")
            check("keep-alive went unanswered" in s.log(),
                  "the skip is logged")
            # it answers again (a ping sent from now on): rung again
            nated.backlog = [m for m in nated.backlog
                             if m.is_response or m.method != "OPTIONS"]
            m = nated.wait(lambda m: not m.is_response and
                           m.method == "OPTIONS", "a ping", 6.0)
            nated.reply(m, 200, "OK")
            time.sleep(0.3)
            d = alice.invite("sip:bob@example.com")
            for ua in (nated, desk):
                inc = ua.expect_invite(callid=d.callid)
                inc.reply(486, "Busy Here")
            eq(d.final().status, 486, "both phones again")
            alive(s)
        finally:
            closing(nated, desk, alice)
            trap.close()
