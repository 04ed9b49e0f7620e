"""Redirect role (RFC 3261 8.3, 21.3): 302 with every contact, 404, 480.

The default test configuration has a redirect-only UDP socket on port2
(no digest auth there) beside the registrar socket on port.
"""

import os
import re
import sqlite3
import time

from sipdlib import (ROOT, DEFAULT_CONF, Sipd, Client, check, eq, param,
                     contact_uri, sipc, start_refused, status)


def register_alice(s):
    """Two bindings for alice through the registrar socket, with auth,
    and a third with sipctl; returns their URIs best q first."""
    c = s.client()
    try:
        r = c.register("alice@example.com", "secret", expires=300, contacts=[
            "<sip:alice@127.0.0.1:5071>;q=0.5",
            "<sip:alice@127.0.0.1:5072;transport=udp>;q=0.9"])
        check(r is not None, "no answer to alice's REGISTER")
        eq(r.status, 200, "alice's REGISTER")
    finally:
        c.close()
    r = s.sipctl("reg", "add", "alice@example.com", "sip:alice@192.0.2.7",
                 "--q", "0.1", "--expires", "600")
    eq(r.returncode, 0, "sipctl reg add: %s" % r.stderr)
    return ["sip:alice@127.0.0.1:5072;transport=udp",
            "sip:alice@127.0.0.1:5071", "sip:alice@192.0.2.7"]


def q_of(contact):
    q = param(contact, "q")
    return None if q is None else float(q)


def check_302(r, want, what, max_expires=600):
    """r is a 302 listing exactly the URIs of want, in that order, each
    with a q and an expires parameter."""
    check(r is not None, "%s: no answer" % what)
    eq(r.status, 302, "%s: status" % what)
    eq(r.reason, "Moved Temporarily", "%s: reason phrase" % what)
    contacts = r.all("contact")
    eq([contact_uri(c) for c in contacts], want,
       "%s: contacts, best q first" % what)
    qs = []
    for c in contacts:
        check(q_of(c) is not None, "%s: no q in %s" % (what, c))
        exp = param(c, "expires")
        check(exp is not None and exp.isdigit() and
              0 < int(exp) <= max_expires,
              "%s: bad expires in %s" % (what, c))
        qs.append(q_of(c))
    eq(qs, sorted(qs, reverse=True), "%s: q order" % what)
    check(param(r.get("to", ""), "tag"), "%s: To has no tag" % what)


def test_302_lists_every_contact_by_q():
    with Sipd() as s:
        want = register_alice(s)
        c = s.client(port=s.port2)
        try:
            c.request("INVITE", "sip:alice@example.com")
            r = c.final()
            check_302(r, want, "INVITE sip:alice@example.com")
            eq([q_of(x) for x in r.all("contact")], [0.9, 0.5, 0.1],
               "q values")
            exps = [int(param(x, "expires")) for x in r.all("contact")]
            check(250 <= exps[0] <= 300 and 250 <= exps[1] <= 300 and
                  550 <= exps[2] <= 600, "expires left: %s" % exps)
            check(r.get("contact").startswith("<"),
                  "Contact URIs in <>: %s" % r.get("contact"))
        finally:
            c.close()


def test_302_ack_absorbed_and_retransmission():
    with Sipd() as s:
        want = register_alice(s)
        c = s.client(port=s.port2)
        try:
            branch = "z9hG4bK" + "rt%d" % int(time.time() * 1000)
            text = c.request("INVITE", "sip:alice@example.com", cseq=7,
                             branch=branch)
            r = c.final()
            check_302(r, want, "INVITE")
            tag = param(r.get("to"), "tag")

            # no ACK yet: the transaction retransmits the 302 (Timer G)
            again = c.recv(1.5)
            check(again is not None and again.status == 302,
                  "302 not retransmitted before the ACK: %r" % again)
            eq(param(again.get("to"), "tag"), tag, "To tag of the"
               " retransmitted 302")

            # a retransmitted INVITE gets the same 302 from the transaction
            c.send_raw(text)
            r2 = c.final()
            check(r2 is not None, "no answer to the INVITE retransmission")
            eq(r2.status, 302, "INVITE retransmission")
            eq(param(r2.get("to"), "tag"), tag,
               "To tag: the same transaction answers")
            eq([contact_uri(x) for x in r2.all("contact")], want,
               "contacts of the repeated 302")

            # the ACK is absorbed: no answer, and no more 302s
            c.request("ACK", "sip:alice@example.com", cseq=7, branch=branch,
                      to=r.get("to"))
            late = c.recv(2.0)
            check(late is None, "something came after the ACK: %r" % late)
            check(s.alive(), "sipd died")
        finally:
            c.close()


def test_480_404_and_domain_not_served():
    with Sipd() as s:
        c = s.client(port=s.port2)
        try:
            c.request("INVITE", "sip:bob@example.com")
            r = c.final()
            check(r is not None, "no answer for bob")
            eq(r.status, 480, "bob has an account but no binding")
            eq(r.reason, "Temporarily Unavailable", "480 reason")
            eq(r.all("contact"), [], "480 lists no contact")

            c.request("INVITE", "sip:nobody@example.com")
            r = c.final()
            check(r is not None, "no answer for an unknown user")
            eq(r.status, 404, "unknown user")
            eq(r.all("contact"), [], "404 lists no contact")

            c.request("INVITE", "sip:alice@example.net")
            r = c.final()
            check(r is not None, "no answer for a domain not served")
            eq(r.status, 404, "domain not served")

            for m in ("OPTIONS", "MESSAGE"):
                c.request(m, "sip:bob@example.com")
                r = c.final()
                check(r is not None, "no answer to %s for bob" % m)
                eq(r.status, 480, "%s for bob" % m)
        finally:
            c.close()


def test_options_and_message_redirected():
    with Sipd() as s:
        want = register_alice(s)
        c = s.client(port=s.port2)
        try:
            for m in ("OPTIONS", "MESSAGE"):
                body = "hello" if m == "MESSAGE" else ""
                hdrs = ["Content-Type: text/plain"] if body else []
                c.request(m, "sip:alice@example.com", hdrs, body=body)
                r = c.final()
                check_302(r, want, "%s sip:alice@example.com" % m)
        finally:
            c.close()


def test_expired_binding_not_listed():
    with Sipd() as s:
        r = s.sipctl("reg", "add", "bob@example.com", "sip:bob@192.0.2.8",
                     "--expires", "1")
        eq(r.returncode, 0, "sipctl reg add: %s" % r.stderr)
        r = s.sipctl("reg", "add", "bob@example.com", "sip:bob@192.0.2.9",
                     "--expires", "120")
        eq(r.returncode, 0, "sipctl reg add: %s" % r.stderr)
        time.sleep(2.1)
        c = s.client(port=s.port2)
        try:
            c.request("INVITE", "sip:bob@example.com")
            r = c.final()
            check_302(r, ["sip:bob@192.0.2.9"], "INVITE bob", 120)
        finally:
            c.close()


def test_request_uri_forms():
    """RFC 3261 19.1.4: host case, escapes of unreserved characters, a
    port and URI parameters do not change whose contacts are returned;
    the user part is case-sensitive."""
    with Sipd() as s:
        want = register_alice(s)
        c = s.client(port=s.port2)
        try:
            for ruri in ("sip:alice@EXAMPLE.COM", "sip:%61lice@example.com",
                         "sip:alice@example.com;transport=udp",
                         "sip:alice@example.com:5060;user=ip"):
                c.request("INVITE", ruri)
                r = c.final()
                check_302(r, want, "INVITE %s" % ruri)
            c.request("INVITE", "sip:Alice@example.com")
            r = c.final()
            check(r is not None, "no answer for sip:Alice@example.com")
            eq(r.status, 404, "the user part is case-sensitive")
        finally:
            c.close()


def test_redirect_libre_client():
    with Sipd() as s:
        want = register_alice(s)
        rc, r = sipc("request", "INVITE", "127.0.0.1:%d" % s.port2,
                     "sip:alice@example.com")
        eq(rc, 3, "sipc exit status for a 3xx")
        check_302(r, want, "INVITE through libre's client")
        rc, r = sipc("request", "INVITE", "127.0.0.1:%d" % s.port2,
                     "sip:nobody@example.com")
        check(r is not None, "sipc printed no response")
        eq(r.status, 404, "unknown user through libre's client")
        check(s.alive(), "sipd died")


TCP_CONF = """\
domain example.com
db {db}
log_level debug
module location
module auth
listen udp:127.0.0.1:{port};roles=registrar
listen udp:127.0.0.1:{port2};roles=redirect
listen tcp:127.0.0.1:{port2};roles=redirect
"""


def test_redirect_over_tcp():
    with Sipd(TCP_CONF) as s:
        want = register_alice(s)
        c = s.client("tcp", port=s.port2)
        try:
            c.request("INVITE", "sip:alice@example.com")
            r = c.final()
            check_302(r, want, "INVITE over TCP")
            c.request("INVITE", "sip:bob@example.com")
            r = c.final()
            check(r is not None, "no answer for bob over TCP")
            eq(r.status, 480, "bob over TCP")
        finally:
            c.close()
        rc, r = sipc("-t", "tcp", "request", "INVITE",
                     "127.0.0.1:%d" % s.port2, "sip:alice@example.com")
        eq(rc, 3, "sipc over TCP exit status")
        check_302(r, want, "INVITE through libre's client over TCP")


def test_redirect_socket_has_no_auth():
    """A caller from a served domain is redirected without a challenge on
    a redirect-only socket (auth off by default there)."""
    with Sipd() as s:
        want = register_alice(s)
        c = s.client(port=s.port2)
        try:
            c.request("INVITE", "sip:alice@example.com",
                      frm="<sip:bob@example.com>;tag=%s" % c.ftag)
            r = c.final()
            check_302(r, want, "INVITE from bob@example.com")
        finally:
            c.close()


# the redirect socket with digest auth on
AUTH_CONF = DEFAULT_CONF.replace("roles=redirect\n",
                                 "roles=redirect;auth=on\n")


def test_from_user_case_sensitive_host_not():
    """With auth=on a caller of a served domain is the authenticated
    user, compared case-sensitively (RFC 3261 19.1.4), the host
    case-insensitively: alice's credentials with From Alice or ALICE get
    403; From alice@EXAMPLE.COM gets the 302."""
    check(AUTH_CONF != DEFAULT_CONF, "no redirect socket to turn auth on")
    with Sipd(AUTH_CONF) as s:
        want = register_alice(s)
        server = "127.0.0.1:%d" % s.port2
        for frm in ("sip:Alice@example.com", "sip:ALICE@example.com"):
            rc, r = sipc("-u", "alice", "-p", "secret", "-F", frm,
                         "request", "INVITE", server,
                         "sip:alice@example.com")
            check(r is not None, "sipc got no answer (From %s)" % frm)
            eq(r.status, 403, "INVITE from %s with alice's credentials"
               % frm)
        rc, r = sipc("-u", "alice", "-p", "secret", "-F",
                     "sip:alice@EXAMPLE.COM", "request", "INVITE", server,
                     "sip:alice@example.com")
        check_302(r, want, "INVITE from alice@EXAMPLE.COM")
        check(s.alive(), "sipd died")


def lab_conf():
    """etc/sipd-redirect.conf with temporary ports and database."""
    with open(os.path.join(ROOT, "etc", "sipd-redirect.conf")) as f:
        text = f.read()
    text = text.replace("{", "{{").replace("}", "}}")
    dbs = re.findall(r"(?m)^db\s+(\S+)", text)
    eq(len(dbs), 1, "db lines in sipd-redirect.conf")
    text = re.sub(r"(?m)^db\s+\S+", "db {db}", text)
    ports = set(re.findall(r"127\.0\.0\.1:(\d+)", text))
    check(ports, "no 127.0.0.1 address in sipd-redirect.conf")
    for i, p in enumerate(sorted(ports)):
        text = text.replace("127.0.0.1:%s" % p,
                            "127.0.0.1:{%s}" % ("port", "port2")[i % 2])
    domains = re.findall(r"(?m)^domain\s+(\S+)", text)
    check(domains, "no domain in sipd-redirect.conf")
    listens = re.findall(r"(?m)^listen\s+(\S+)", text)
    return text, domains[0], listens


def test_lab_config_redirect():
    text, domain, listens = lab_conf()
    check(listens and all("roles=redirect" in l and "registrar" not in l
                          for l in listens),
          "sipd-redirect.conf: only redirect sockets expected: %s" % listens)
    with Sipd(text, accounts=(), start=False) as s:
        port = int(re.search(r":(\d+);", open(s.conf_path).read()
                             .split("\nlisten ")[1]).group(1))
        s.start()
        aor = "carol@" + domain
        r = s.sipctl("user", "add", aor, "labpass")
        eq(r.returncode, 0, "sipctl user add: %s" % r.stderr)
        r = s.sipctl("reg", "add", aor, "sip:carol@127.0.0.1:5999")
        eq(r.returncode, 0, "sipctl reg add: %s" % r.stderr)
        r = s.sipctl("reg", "list", aor)
        check("sip:carol@127.0.0.1:5999" in r.stdout,
              "sipctl reg list: %s" % r.stdout)

        transports = sorted({l.split(":", 1)[0] for l in listens})
        for tp in transports:
            c = Client(("127.0.0.1", port), tp)
            try:
                c.request("INVITE", "sip:%s" % aor)
                r = c.final()
                check_302(r, ["sip:carol@127.0.0.1:5999"],
                          "lab INVITE over %s" % tp, 3600)
                c.request("INVITE", "sip:nobody@%s" % domain)
                r = c.final()
                check(r is not None, "lab: no answer for unknown user")
                eq(r.status, 404, "lab: unknown user over %s" % tp)
            finally:
                c.close()

        rc, r = sipc("request", "INVITE", "127.0.0.1:%d" % port,
                     "sip:%s" % aor)
        eq(rc, 3, "sipc exit status")
        check_302(r, ["sip:carol@127.0.0.1:5999"], "lab INVITE with sipc",
                  3600)
        check(s.alive(), "sipd died")


# --- the lookup cache ------------------------------------------------------

def invite_302(s, aor, want, what, max_expires=600):
    c = s.client(port=s.port2)
    try:
        c.request("INVITE", "sip:" + aor)
        r = c.final()
        if want:
            check_302(r, want, what, max_expires)
        else:
            check(r is not None, "%s: no answer" % what)
            eq(r.status, 480, "%s: status" % what)
    finally:
        c.close()


def cache_hits(s):
    return status(s)["location_cache_hits"]


def test_cache_sees_every_commit():
    """Lookups are answered from memory while the database is unchanged;
    a change by sipctl, by another SQLite connection or by a REGISTER is
    in the very next answer."""
    with Sipd() as s:
        want = register_alice(s)
        aor = "alice@example.com"
        invite_302(s, aor, want, "first INVITE")
        hits = cache_hits(s)
        invite_302(s, aor, want, "second INVITE")
        invite_302(s, aor, want, "third INVITE")
        check(cache_hits(s) >= hits + 2, "location_cache_hits %d after"
              " two more lookups of an unchanged database (%d before)" % (
                  cache_hits(s), hits))

        r = s.sipctl("reg", "add", aor, "sip:alice@192.0.2.44", "--q",
                     "0.3", "--expires", "600")
        eq(r.returncode, 0, "sipctl reg add: %s" % r.stderr)
        want = want[:2] + ["sip:alice@192.0.2.44"] + want[2:]
        invite_302(s, aor, want, "INVITE after sipctl reg add")

        db = sqlite3.connect(s.db, timeout=10, isolation_level=None)
        try:
            db.execute("DELETE FROM bindings WHERE contact = ?",
                       ("sip:alice@192.0.2.7",))
        finally:
            db.close()
        want.remove("sip:alice@192.0.2.7")
        invite_302(s, aor, want, "INVITE after a DELETE by another"
                   " connection")

        c = s.client()
        try:
            r = c.register(aor, "secret", expires=0, contacts=[
                "<sip:alice@127.0.0.1:5071>"])
            eq(r and r.status, 200, "REGISTER removing a contact")
        finally:
            c.close()
        want.remove("sip:alice@127.0.0.1:5071")
        invite_302(s, aor, want, "INVITE after a REGISTER with expires 0")

        r = s.sipctl("reg", "del", aor)
        eq(r.returncode, 0, "sipctl reg del: %s" % r.stderr)
        invite_302(s, aor, [], "INVITE after sipctl reg del")


def test_cache_sees_commits_after_a_quiet_while():
    """Past a second without any write to the database, a lookup asks
    SQLite nothing (the kernel's word that no file of the database was
    written suffices); a commit of another connection then is still in
    the very next answer, each time."""
    with Sipd() as s:
        want = register_alice(s)
        aor = "alice@example.com"
        invite_302(s, aor, want, "first INVITE")
        for contact in ("sip:alice@192.0.2.7", "sip:alice@127.0.0.1:5071"):
            time.sleep(1.3)
            hits = cache_hits(s)
            invite_302(s, aor, want, "INVITE after a quiet while")
            check(cache_hits(s) > hits, "no cache hit after a quiet while")
            time.sleep(1.3)
            db = sqlite3.connect(s.db, timeout=10, isolation_level=None)
            try:
                db.execute("DELETE FROM bindings WHERE contact = ?",
                           (contact,))
            finally:
                db.close()
            want.remove(contact)
            invite_302(s, aor, want, "INVITE right after a DELETE by"
                       " another connection, %s" % contact)


def test_cache_drops_expired_binding():
    """A binding that expires while its lookup is cached is not listed
    after its expiry, with nothing written in between (the expired row
    is removed only a minute later)."""
    with Sipd(DEFAULT_CONF + "location_expire_interval 60000\n") as s:
        aor = "bob@example.com"
        # q orders them (with equal q the later second would go first)
        for uri, exp, q in (("sip:bob@192.0.2.8", "2", "0.9"),
                            ("sip:bob@192.0.2.9", "120", "0.5")):
            r = s.sipctl("reg", "add", aor, uri, "--expires", exp,
                         "--q", q)
            eq(r.returncode, 0, "sipctl reg add: %s" % r.stderr)
        both = ["sip:bob@192.0.2.8", "sip:bob@192.0.2.9"]
        invite_302(s, aor, both, "INVITE while both are bound", 120)
        invite_302(s, aor, both, "INVITE again (cached)", 120)
        time.sleep(2.2)
        invite_302(s, aor, ["sip:bob@192.0.2.9"], "INVITE after the"
                   " first expired", 120)


def test_cache_size_0_reads_every_time():
    """location_cache_size 0: every lookup reads SQLite, nothing is
    counted as a hit; a bad value stops sipd at start with the key named."""
    with Sipd(DEFAULT_CONF + "location_cache_size 0\n") as s:
        want = register_alice(s)
        for i in range(3):
            invite_302(s, "alice@example.com", want, "INVITE %d" % i)
        eq(cache_hits(s), 0, "location_cache_hits with the cache off")
    for val in ("-1", "lots", "1000001"):
        with Sipd(DEFAULT_CONF + "location_cache_size %s\n" % val,
                  start=False) as s:
            out = start_refused(s, "location_cache_size %s" % val)
            check("location_cache_size" in out and "sipd.conf:" in out,
                  "file and key named for %s:\n%s" % (val, out))
