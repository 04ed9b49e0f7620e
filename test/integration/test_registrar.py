"""Registrar: register with digest auth, refresh, remove, expiry, limits."""

import time

from sipdlib import (Sipd, check, eq, param, contact_uri, parse_challenge,
                     sipc, digest_header)


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


def test_wrong_password_and_unknown_user_look_the_same():
    with Sipd() as s:
        answers = []
        for aor, pw in (("alice@example.com", "wrong"),
                        ("nobody@example.com", "whatever")):
            c = s.client()
            r = c.register(aor, pw)
            answers.append(r)
        a, b = answers
        eq(a.status, 401, "wrong password")
        eq(b.status, 401, "unknown user")
        eq(a.reason, b.reason, "reason phrases")
        names = lambda m: [n for n, _ in m.headers]
        eq(names(a), names(b), "header names")
        sa = [parse_challenge(v) for v in a.all("www-authenticate")]
        sb = [parse_challenge(v) for v in b.all("www-authenticate")]
        eq([sorted(x) for x in sa], [sorted(x) for x in sb],
           "challenge parameters")
        eq(s.query("SELECT count(*) FROM bindings"), [(0,)], "bindings")
