"""The certificate check of the TLS servers sipd calls through a route.

  route PATTERN>HOST[:PORT];transport=tls[;ca=FILE][;tls_name=NAME]
               [;verify=on|off]

The servers are Python TLS servers on 127.0.0.1 (test_tls_ws.TlsServer)
with certificates the openssl command makes in the test's folder: a
private CA and servers it signs (for 127.0.0.1 and localhost, or for
another name), and a self-signed one. Without network the system's CA
store can only be tested so: a self-signed certificate is refused by
default. A refused server fails the request as any transport error (the
stateful proxy answers 500 when no branch could be sent) and the log
names the route, its line, the address and OpenSSL's reason; ca= trusts
a private CA, tls_name= sets the name, verify=off checks nothing with a
warning at start, sipd -t refuses bad parameters naming the file and
line, a reload reads the CA file again, and the stateless proxy checks
as the stateful one.
"""

import os
import shutil
import ssl

from sipdlib import MODULES, Sipd, check, eq, wait_for
from test_proxy import caller, closing, alive
from test_daemon import run_sipd
from test_tls_ws import (TlsWsSipd, TlsServer, TlsUAS, make_cert,
                         make_signed, openssl)


def make_server_cert(folder, name, ca, san):
    """A certificate for a TLS server (names san, e.g. 'IP:127.0.0.1'),
    signed by ca (a pair made by make_signed with ca_ext)."""
    cert = os.path.join(folder, name + ".pem")
    key = os.path.join(folder, name + "-key.pem")
    csr = os.path.join(folder, name + ".csr")
    ext = os.path.join(folder, name + ".ext")
    openssl("req", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
            "-out", csr, "-subj", "/CN=" + name)
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectAltName=%s\n" % san)
    openssl("x509", "-req", "-in", csr, "-out", cert, "-days", "2",
            "-CA", ca[0], "-CAkey", ca[1], "-set_serial",
            str(int.from_bytes(os.urandom(6), "big")), "-extfile", ext)
    return cert, key


def certs(s):
    """In the folder of s: a CA (ca.pem) and another (other-ca.pem), a
    server for 127.0.0.1 and localhost (server.pem) and one for
    other.test (named.pem) signed by the first, a self-signed one
    (self.pem)."""
    s.ca = make_signed(s.dir, "ca", ca_ext=True)
    s.other_ca = make_signed(s.dir, "other-ca", ca_ext=True)
    s.server = make_server_cert(s.dir, "server", s.ca,
                                "IP:127.0.0.1,DNS:localhost")
    s.named = make_server_cert(s.dir, "named", s.ca, "DNS:other.test")
    s.self_signed = make_cert(s.dir, "self", "self-key")


def tls_sipd(routes, prepare=certs, roles="registrar,proxy"):
    """sipd with a tls listener and route lines ({dir} the folder of its
    certificates, made by certs() before it starts)"""
    return TlsWsSipd(roles=roles, extra="".join(
        "route %s\n" % r for r in routes), prepare=prepare)


def route_line(s, route):
    """The number of the line 'route ROUTE...' in the configuration."""
    with open(s.conf_path) as f:
        for n, line in enumerate(f, 1):
            if line.startswith("route " + route):
                return n
    raise AssertionError("no route %s in %s" % (route, s.conf_path))


def refused(s, srv, domain, reason, answer=500):
    """alice's INVITE for carl@domain: sipd refuses the certificate of
    srv (the handshake fails), alice gets 500 as when a request cannot
    be sent (answer None: no answer, the stateless proxy), the log names
    the route, its line, the address and the reason."""
    alice = caller(s, "alice")
    try:
        d = alice.invite("sip:carl@%s" % domain)
        try:
            conn, _ = srv.accept()
            conn.close()
            raise AssertionError("the handshake with sipd succeeded: its"
                                 " certificate was not refused")
        except ssl.SSLError:
            pass
        if answer:
            eq(d.final(timeout=5.0).status, answer, "the caller's answer"
               " when sipd refuses the server of %s (as when a request"
               " cannot be sent)" % domain)
        route = "%s>127.0.0.1:%d" % (domain, srv.port)
        want = "tls: route %s (%s:%d): the certificate of 127.0.0.1:%d" \
            " refused: %s" % (route, s.conf_path, route_line(s, route),
                              srv.port, reason)
        wait_for(lambda: want in s.log(), "the log line '%s'" % want)
    finally:
        closing(alice)


def accepted(s, srv, domain):
    """alice's INVITE for carl@domain reaches the server of srv over the
    TLS connection sipd opens; its 486 comes back to alice."""
    alice = caller(s, "alice")
    carl = None
    try:
        d = alice.invite("sip:carl@%s" % domain)
        conn, peer = srv.accept()
        carl = TlsUAS(s, conn, peer)
        inc = carl.expect_invite(timeout=5.0)
        eq(inc.invite_req.start, "INVITE sip:carl@%s SIP/2.0" % domain,
           "Request-URI")
        inc.reply(486, "Busy Here")
        eq(d.final(timeout=5.0).status, 486, "the server's answer, over"
           " the TLS connection to it (%s)" % domain)
        inc.expect_ack(timeout=5.0)
    finally:
        closing(alice)
        if carl:
            carl.close()


def test_self_signed_refused():
    """A route over TLS to a server with a self-signed certificate: by
    default sipd checks it against the system's CAs, refuses it, and the
    caller gets 500; the log says 'self-signed certificate'."""
    srv = TlsServer()
    try:
        with tls_sipd(["far.test>127.0.0.1:%d;transport=tls" %
                       srv.port]) as s:
            srv.ctx.load_cert_chain(*s.self_signed)
            refused(s, srv, "far.test", "self-signed certificate")
            alive(s)
    finally:
        srv.close()


def test_private_ca_trusted_by_ca():
    """ca=FILE trusts the CA of the file instead of the system's: a
    server it signed (for 127.0.0.1) is accepted, the call goes through;
    a self-signed server on a route with the same ca= is refused."""
    good, bad = TlsServer(), TlsServer()
    try:
        with tls_sipd(["far.test>127.0.0.1:%d;transport=tls;"
                       "ca={dir}/ca.pem" % good.port,
                       "bad.test>127.0.0.1:%d;transport=tls;"
                       "ca={dir}/ca.pem" % bad.port]) as s:
            good.ctx.load_cert_chain(*s.server)
            bad.ctx.load_cert_chain(*s.self_signed)
            accepted(s, good, "far.test")
            refused(s, bad, "bad.test", "self-signed certificate")
            accepted(s, good, "far.test")
            alive(s)
    finally:
        good.close()
        bad.close()


def test_other_name_refused_unless_tls_name():
    """A server whose certificate (signed by the route's CA) is for
    other.test: refused on a route to 127.0.0.1 ('IP address
    mismatch'), and on a route with tls_name=wrong.test ('hostname
    mismatch'); accepted with tls_name=other.test."""
    plain, wrong, named = TlsServer(), TlsServer(), TlsServer()
    try:
        with tls_sipd(["far.test>127.0.0.1:%d;transport=tls;"
                       "ca={dir}/ca.pem" % plain.port,
                       "wrong.test>127.0.0.1:%d;transport=tls;"
                       "ca={dir}/ca.pem;tls_name=wrong.test" % wrong.port,
                       "near.test>127.0.0.1:%d;transport=tls;"
                       "tls_name=other.test;ca={dir}/ca.pem" %
                       named.port]) as s:
            for srv in (plain, wrong, named):
                srv.ctx.load_cert_chain(*s.named)
            refused(s, plain, "far.test", "IP address mismatch")
            refused(s, wrong, "wrong.test", "hostname mismatch")
            accepted(s, named, "near.test")
            alive(s)
    finally:
        for srv in (plain, wrong, named):
            srv.close()


def test_verify_off_warned_and_unchecked():
    """verify=off: sipd warns at start, naming the file, the line and
    the route (not its credentials), and calls a self-signed server."""
    srv = TlsServer()
    try:
        route = "far.test>127.0.0.1:%d" % srv.port
        with tls_sipd([route + ";transport=tls;verify=off;user=trunk;"
                       "password=TrunkSecret"]) as s:
            srv.ctx.load_cert_chain(*s.self_signed)
            want = "%s:%d: route %s: verify=off: the certificate of the" \
                " server is not checked" % (s.conf_path,
                                            route_line(s, route), route)
            check(want in s.log(), "no warning '%s' at start:\n%s" % (
                want, s.log()[-1500:]))
            check("TrunkSecret" not in s.log(), "the password is logged")
            accepted(s, srv, "far.test")
            alive(s)
    finally:
        srv.close()


def test_stateless_proxy_checks_too():
    """The stateless proxy's routes over TLS are checked the same way: a
    self-signed server is refused (the log names the route), a server
    the route's ca= trusts gets the INVITE and its 486 comes back."""
    bad, good = TlsServer(), TlsServer()
    try:
        with tls_sipd(["bad.test>127.0.0.1:%d;transport=tls" % bad.port,
                       "far.test>127.0.0.1:%d;transport=tls;"
                       "ca={dir}/ca.pem" % good.port],
                      roles="registrar,stateless-proxy") as s:
            bad.ctx.load_cert_chain(*s.self_signed)
            good.ctx.load_cert_chain(*s.server)
            refused(s, bad, "bad.test", "self-signed certificate",
                    answer=None)
            accepted(s, good, "far.test")
            alive(s)
    finally:
        bad.close()
        good.close()


def check_route_fails(s, route, what):
    """sipd -t with one more route line (the last line) fails, naming
    the file, the line and what is wrong."""
    text = ("domain example.com\ndb %s\nmodule location\nmodule auth\n"
            "listen udp:127.0.0.1:%d;roles=registrar,proxy\n"
            "route %s\n" % (s.db, s.port, route))
    path = os.path.join(s.dir, "check.conf")
    with open(path, "w") as f:
        f.write(text)
    r = run_sipd("-t", "-f", path, "-m", MODULES)
    check(r.returncode != 0, "sipd -t accepted 'route %s'" % route)
    where = "%s:%d: route: " % (path, text.count("\n"))
    for w in (where,) + what:
        check(w in r.stderr, "the error for %r does not say %r: %r" % (
            route, w, r.stderr))


def test_route_tls_parameters_checked():
    """sipd -t refuses a missing ca file, a file without a certificate,
    verify=maybe, an empty tls_name, ca with verify=off, and ca, verify
    or tls_name on a route that is not over TLS, naming the file and the
    line; it accepts the good ones and warns of verify=off."""
    s = Sipd(accounts=(), start=False)
    try:
        certs(s)
        garbage = os.path.join(s.dir, "garbage.pem")
        with open(garbage, "w") as f:
            f.write("not a certificate\n")
        tls = "far.test>127.0.0.1:5061;transport=tls"
        check_route_fails(s, tls + ";ca=/missing",
                          ("cannot read ca /missing",))
        check_route_fails(s, tls + ";ca=" + garbage,
                          ("no PEM certificate in ca " + garbage,))
        check_route_fails(s, tls + ";verify=maybe",
                          ("verify must be on or off, not 'maybe'",))
        check_route_fails(s, tls + ";tls_name=", ("tls_name needs",))
        check_route_fails(s, tls + ";ca=%s;verify=off" % s.ca[0],
                          ("ca has no use with verify=off",))
        for p in ("ca=" + s.ca[0], "verify=off", "tls_name=a.test"):
            check_route_fails(s, "far.test>127.0.0.1:5060;transport=tcp;"
                              + p, ("for transport=tls only",))
            check_route_fails(s, "far.test>127.0.0.1:5060;" + p,
                              ("for transport=tls only",))

        path = os.path.join(s.dir, "good.conf")
        with open(path, "w") as f:
            f.write("domain example.com\ndb %s\nmodule location\n"
                    "module auth\n"
                    "listen udp:127.0.0.1:%d;roles=registrar,proxy\n"
                    "route a.test>127.0.0.1:5061;transport=tls\n"
                    "route b.test>127.0.0.1:5061;transport=tls;ca=%s;"
                    "tls_name=b.test;verify=on\n"
                    "route c.test>127.0.0.1:5061;transport=tls;"
                    "verify=off\n" % (s.db, s.port, s.ca[0]))
        r = run_sipd("-t", "-f", path, "-m", MODULES)
        eq(r.returncode, 0, "sipd -t with good TLS routes: %s" %
           r.stderr.strip())
        check("%s:8: route c.test>127.0.0.1:5061: verify=off" % path
              in r.stderr, "sipd -t does not warn of verify=off: %r" %
              r.stderr)
    finally:
        s.close()


def test_reload_reads_ca_file_again():
    """The route's ca file holds another CA: the server is refused
    ('unable to get local issuer certificate'). The right CA written
    into the file and sipctl reload: the next call goes through."""
    def prepare(s):
        certs(s)
        shutil.copy(s.other_ca[0], os.path.join(s.dir, "trusted.pem"))

    srv = TlsServer()
    try:
        with tls_sipd(["far.test>127.0.0.1:%d;transport=tls;"
                       "ca={dir}/trusted.pem" % srv.port],
                      prepare=prepare) as s:
            srv.ctx.load_cert_chain(*s.server)
            refused(s, srv, "far.test",
                    "unable to get local issuer certificate")
            shutil.copy(s.ca[0], os.path.join(s.dir, "trusted.pem"))
            r = s.sipctl("reload")
            eq(r.returncode, 0, "sipctl reload: %s%s" % (r.stdout,
                                                         r.stderr))
            accepted(s, srv, "far.test")
            alive(s)
    finally:
        srv.close()
