"""TLS and WebSocket transports: listen lines tls:, ws: and wss:.

  listen tls:IP:PORT;roles=...;cert=FILE;key=FILE[;ca=FILE;verify=on]
  listen ws:IP:PORT;roles=...
  listen wss:IP:PORT;roles=...;cert=FILE;key=FILE

Each test makes a self-signed certificate (RSA, for 127.0.0.1) with the
openssl command in the folder of its sipd. TLS phones are Python's ssl
module on test_proxy.UA; WebSocket phones (RFC 7118) are a client
written here on a socket (ssl for wss) that does the handshake and the
framing itself, with a Via and Contact host of ".invalid" as browsers
write them. They check the certificate checks of "sipd -t", the TLS
versions and ciphers sipd accepts, client certificates (verify=on),
registration and calls over TLS, WS
and WSS bridged to UDP phones in both directions (through the phone's
own connection), sipd's own TLS client (a static route), the 101 with
the "sip" subprotocol, a WebSocket held open past libre's 32 s, the
binding of a closed WebSocket removed, and presence NOTIFYs over a
WebSocket. The last test runs test/ws/client.js, a WebSocket SIP phone
on Node.js and the npm package "ws" (installed by "npm ci" into
test/ws/node_modules when missing), against a UDP phone.
"""

import base64
import hashlib
import json
import os
import re
import select
import shutil
import socket
import ssl
import struct
import subprocess
import time
import warnings

from sipdlib import (Sipd, Msg, MODULES, ROOT, TestFailure, check, eq,
                     param, rand_token, free_port, wait_for)
from test_proxy import (ACCOUNTS, UA, Dialog, caller, phone, closing,
                        alive, rr_uris, uri_of, sdp)
from test_presence import PUA, Sub, pidf, publish_ok
from test_sipp import reg_list_json
from test_daemon import run_sipd

DOMAIN = "example.com"
PASSWORDS = dict((a.split("@")[0], p) for a, p in ACCOUNTS)
WS_DIR = os.path.join(ROOT, "test", "ws")

# registrar and proxy (ROLES) on every transport; {tls}, {ws} and {wss}
# are ports of their own (the TCP port of udp/tcp is taken); CERT is the
# certificate and key made in the folder of the test
TLSWS_CONF = """\
# TLS and WebSocket integration test configuration
domain example.com
db {db}
log_level debug
module location
module auth
listen udp:127.0.0.1:{port};roles=ROLES
listen tcp:127.0.0.1:{port};roles=ROLES
listen tls:127.0.0.1:{tls};roles=ROLES;CERT
listen ws:127.0.0.1:{ws};roles=ROLES
listen wss:127.0.0.1:{wss};roles=ROLES;CERT
registrar_min_expires 10
auth_nonce_expiry 60
"""


# --- certificates ------------------------------------------------------------

def openssl(*args):
    r = subprocess.run(["openssl"] + list(args), capture_output=True,
                       text=True, timeout=60)
    eq(r.returncode, 0, "openssl %s: %s" % (" ".join(args), r.stderr))


def make_cert(folder, name="cert", key="key", cn="127.0.0.1"):
    """A self-signed RSA certificate for 127.0.0.1 and its key."""
    cert_path = os.path.join(folder, name + ".pem")
    key_path = os.path.join(folder, key + ".pem")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes",
            "-keyout", key_path, "-out", cert_path, "-days", "2",
            "-subj", "/CN=" + cn,
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost")
    return cert_path, key_path


def make_signed(folder, name, ca=None, days="2", ca_ext=False):
    """An EC key and certificate (CN name): signed by ca (a pair made
    here), or self-signed; days may be negative (an expired one)."""
    cert_path = os.path.join(folder, name + ".pem")
    key_path = os.path.join(folder, name + "-key.pem")
    csr = os.path.join(folder, name + ".csr")
    openssl("req", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key_path,
            "-out", csr, "-subj", "/CN=" + name)
    args = ["x509", "-req", "-in", csr, "-out", cert_path, "-days", days]
    if ca:
        args += ["-CA", ca[0], "-CAkey", ca[1], "-set_serial",
                 str(int.from_bytes(os.urandom(6), "big"))]
    else:
        args += ["-signkey", key_path]
    if ca_ext:
        ext = os.path.join(folder, name + ".ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=critical,CA:TRUE\n"
                    "keyUsage=critical,keyCertSign,cRLSign\n")
        args += ["-extfile", ext]
    openssl(*args)
    return cert_path, key_path


def client_context(cafile=None, minv=None, maxv=None, ciphers=None):
    """A TLS client context: the certificate checked against cafile (and
    the name 127.0.0.1), or not checked at all without it."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile:
        ctx.load_verify_locations(cafile)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        # TLS 1.0 and 1.1 are deprecated: here they are what is tested
        warnings.simplefilter("ignore", DeprecationWarning)
        if minv:
            ctx.minimum_version = minv
        if maxv:
            ctx.maximum_version = maxv
    if ciphers:
        ctx.set_ciphers(ciphers)
    return ctx


def tls_connect(addr, ctx, timeout=5.0):
    """A TLS connection to addr (the handshake done)."""
    raw = socket.create_connection(addr, timeout=timeout)
    try:
        return ctx.wrap_socket(raw, server_hostname=addr[0])
    except Exception:
        raw.close()
        raise


# --- sipd with every transport -----------------------------------------------

class TlsWsSipd(Sipd):
    """Sipd on TLSWS_CONF: .tls_addr, .ws_addr, .wss_addr and the
    certificate .cert (its key .key) in its folder."""

    def __init__(self, conf=TLSWS_CONF, roles="registrar,proxy",
                 accounts=ACCOUNTS, extra="", prepare=None):
        # the kernel may hand Sipd the same free port again: draw anew
        for attempt in range(5):
            ports = set()
            while len(ports) < 3:
                ports.add(free_port())
            self.tls_port, self.ws_port, self.wss_port = sorted(ports)
            text = conf.replace("ROLES", roles).replace(
                "CERT", "cert={dir}/cert.pem;key={dir}/key.pem") + extra
            for name, port in (("tls", self.tls_port),
                               ("ws", self.ws_port),
                               ("wss", self.wss_port)):
                text = text.replace("{%s}" % name, str(port))
            Sipd.__init__(self, text, accounts=accounts, start=False)
            if self.port not in ports and self.port2 not in ports:
                break
            self.close()
        try:
            check(self.port not in ports, "port clash")
            self.cert, self.key = make_cert(self.dir)
            if prepare:
                prepare(self)
            self.start()
        except Exception:
            self.close()
            raise

    @property
    def tls_addr(self):
        return ("127.0.0.1", self.tls_port)

    @property
    def ws_addr(self):
        return ("127.0.0.1", self.ws_port)

    @property
    def wss_addr(self):
        return ("127.0.0.1", self.wss_port)


def sipd_rr(s, tp):
    """sipd's Record-Route URI (without flow token) of a transport."""
    port = {"udp": s.port, "tcp": s.port, "tls": s.tls_port,
            "ws": s.ws_port, "wss": s.wss_port}[tp]
    return "sip:127.0.0.1:%d%s;lr" % (
        port, "" if tp == "udp" else ";transport=" + tp)


def bindings(s, aor):
    """(contact, transport, source) of the bindings of aor."""
    return [(b["contact"], b.get("transport"), b.get("source"))
            for b in reg_list_json(s, aor)]


# --- a TLS phone -------------------------------------------------------------

class TlsUA(UA):
    """A UA over one TLS connection to sipd. Its Contact is
    sip:user@127.0.0.1:PORT;transport=tls (PORT its own), or
    sips:user@127.0.0.1:PORT when sips is set."""

    def __init__(self, s, user, password=None, ctx=None, sips=False,
                 server=None):
        if password is None:
            password = PASSWORDS.get(user)
        UA.__init__(self, s, user, password, transport="tcp",
                    server=server or s.tls_addr)
        ctx = ctx or client_context(s.cert)
        self.cl.sock = self.sock = ctx.wrap_socket(
            self.sock, server_hostname="127.0.0.1")
        self.cl.transport = self.transport = "tls"
        self.sips = sips

    @property
    def contact_uri(self):
        if self.sips:
            return "sips:%s@%s:%d" % (self.user, self.contact_host,
                                      self.contact_port)
        return "sip:%s@%s:%d;transport=tls" % (
            self.user, self.contact_host, self.contact_port)

    def _read(self, timeout):
        return self.cl.recv(max(timeout, 0.001)), self.server


def tls_phone(s, user, **kw):
    ua = TlsUA(s, user, **kw)
    ua.register()
    return ua


# --- a WebSocket client (RFC 6455) -------------------------------------------

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BIN, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


def ws_frame(opcode, payload=b"", mask=True):
    """One final frame; a client masks what it sends."""
    n = len(payload)
    b1 = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, b1 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, b1 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, b1 | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class WsConn:
    """A WebSocket connection: the opening handshake (its response in
    .status and .headers, lower-case names), then messages. Pings are
    answered with pongs and counted in .pings."""

    def __init__(self, addr, secure=False, protocol="sip", ctx=None,
                 sock=None, path="/"):
        self.sock = sock or socket.create_connection(addr, timeout=5.0)
        if secure:
            self.sock = (ctx or client_context()).wrap_socket(
                self.sock, server_hostname=addr[0])
        self.buf = b""
        self.closed = False
        self.close_frame = None
        self.pings = 0
        self.key = base64.b64encode(os.urandom(16)).decode()
        lines = ["GET %s HTTP/1.1" % path,
                 "Host: %s:%d" % addr,
                 "Upgrade: websocket",
                 "Connection: Upgrade",
                 "Sec-WebSocket-Key: " + self.key,
                 "Sec-WebSocket-Version: 13",
                 "Origin: http://127.0.0.1"]
        if protocol:
            lines.append("Sec-WebSocket-Protocol: " + protocol)
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.status, self.headers = self._response()

    def _response(self):
        deadline = time.time() + 5.0
        while b"\r\n\r\n" not in self.buf:
            left = deadline - time.time()
            check(left > 0, "no answer to the WebSocket handshake: %r" %
                  self.buf)
            self.sock.settimeout(left)
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        check(lines[0].startswith("HTTP/1.1 "), "not an HTTP answer to"
              " the WebSocket handshake: %r" % head)
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        self.head = head.decode("latin-1")
        return status, headers

    def accept_ok(self):
        """Sec-WebSocket-Accept is the hash of our key (RFC 6455 4.2.2)"""
        want = base64.b64encode(hashlib.sha1(
            (self.key + WS_GUID).encode()).digest()).decode()
        return self.headers.get("sec-websocket-accept") == want

    def send(self, data, opcode=OP_TEXT):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(ws_frame(opcode, data))

    def _fill(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.time()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except (socket.timeout, ssl.SSLWantReadError):
                return False
            except (ConnectionResetError, ssl.SSLEOFError, OSError):
                chunk = b""
            if not chunk:
                self.closed = True
                return False
            self.buf += chunk
        return True

    def _frame(self, deadline):
        """(fin, opcode, payload) or None (timeout or closed)."""
        if not self._fill(2, deadline):
            return None
        b0, b1 = self.buf[0], self.buf[1]
        n, off = b1 & 0x7f, 2
        if n == 126:
            if not self._fill(4, deadline):
                return None
            n, off = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            if not self._fill(10, deadline):
                return None
            n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
        mask = None
        if b1 & 0x80:
            if not self._fill(off + 4, deadline):
                return None
            mask, off = self.buf[off:off + 4], off + 4
        if not self._fill(off + n, deadline):
            return None
        payload, self.buf = self.buf[off:off + n], self.buf[off + n:]
        if mask:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.server_masked = mask is not None
        return bool(b0 & 0x80), b0 & 0x0f, payload

    def recv(self, timeout=2.0):
        """The next text or binary message (bytes), or None."""
        deadline = time.time() + timeout
        parts = []
        while True:
            f = self._frame(deadline)
            if f is None:
                return None
            fin, op, payload = f
            if op == OP_PING:
                self.pings += 1
                self.sock.sendall(ws_frame(OP_PONG, payload))
                continue
            if op == OP_PONG:
                continue
            if op == OP_CLOSE:
                self.close_frame = payload
                if not self.closed:
                    try:
                        self.sock.sendall(ws_frame(OP_CLOSE, payload[:2]))
                    except OSError:
                        pass
                self.closed = True
                return None
            parts.append(payload)
            if fin:
                return b"".join(parts)

    def close(self, clean=True):
        if clean and not self.closed:
            try:
                self.sock.sendall(ws_frame(OP_CLOSE,
                                           struct.pack("!H", 1000)))
            except OSError:
                pass
        self.closed = True
        self.sock.close()


class WsUA(UA):
    """A UA over a WebSocket to sipd, as a browser phone: Via
    SIP/2.0/WS (or WSS) HOST.invalid, Contact
    sip:user@HOST.invalid;transport=ws (RFC 7118 5.2 and 8)."""

    def __init__(self, s, user, password=None, secure=False, ctx=None,
                 server=None, **kw):
        if password is None:
            password = PASSWORDS.get(user)
        server = server or (s.wss_addr if secure else s.ws_addr)
        UA.__init__(self, s, user, password, transport="tcp",
                    server=server, **kw)
        self.ws = WsConn(server, secure=secure, sock=self.sock,
                         ctx=ctx or (client_context(s.cert) if secure
                                     else None))
        eq(self.ws.status, 101, "WebSocket handshake:\n" + self.ws.head)
        self.cl.sock = self.sock = self.ws.sock
        self.transport = "wss" if secure else "ws"
        self.ws_host = rand_token(12).lower() + ".invalid"

    @property
    def contact_uri(self):
        return "sip:%s@%s;transport=ws" % (self.user, self.ws_host)

    def via(self, branch):
        return "SIP/2.0/%s %s;branch=%s" % (self.transport.upper(),
                                            self.ws_host, branch)

    def send(self, text, dst=None):
        self.sent.append(text)
        self.ws.send(text)

    def _read(self, timeout):
        data = self.ws.recv(max(timeout, 0.001))
        if data is None:
            return None, None
        return Msg(data.decode("utf-8", "replace")), self.server

    def close(self, clean=False):
        self.ws.close(clean)


def ws_phone(s, user, **kw):
    ua = WsUA(s, user, **kw)
    ua.register()
    return ua


# --- calls -------------------------------------------------------------------

def call(a, b, callee_uri, what, rr=None, bye_from_callee=False):
    """a calls b through sipd: INVITE (407 answered), 180, 200, ACK,
    BYE and its 200. rr: the Record-Route URIs the callee must see.
    Returns (the caller's Dialog, the callee's)."""
    d = a.invite(callee_uri)
    inc = b.expect_invite(timeout=5.0)
    inv = inc.invite_req
    if rr is not None:
        eq(rr_uris(inv), rr, "%s: Record-Route of the INVITE at the"
           " callee" % what)
    eq(inv.get("max-forwards"), "69", "%s: Max-Forwards" % what)
    check(inv.body and "m=audio" in inv.body, "%s: no SDP in the"
          " INVITE" % what)
    inc.reply(180, "Ringing")
    r = d.response(timeout=5.0)
    while r.status == 100:
        r = d.response(timeout=5.0)
    eq(r.status, 180, "%s: 180 at the caller" % what)
    inc.reply(200, "OK", body=sdp(41000))
    r = d.final(timeout=5.0)
    eq(r.status, 200, "%s: 200 at the caller" % what)
    if rr is not None:
        eq(rr_uris(r), rr, "%s: Record-Route of the 200 at the caller"
           % what)
    inc.expect_ack(timeout=5.0)
    if bye_from_callee:
        inc.request("BYE", wait=False)
        d.expect_and_reply("BYE", timeout=5.0)
        eq(b.expect_response(d.callid, "BYE", final=True,
                             timeout=5.0).status, 200,
           "%s: the callee's BYE" % what)
    else:
        d.request("BYE", wait=False)
        inc.expect_and_reply("BYE", timeout=5.0)
        eq(a.expect_response(d.callid, "BYE", final=True,
                             timeout=5.0).status, 200,
           "%s: the caller's BYE" % what)
    return d, inc


# --- 1. TLS ------------------------------------------------------------------

def check_conf_fails(s, listen, what):
    """sipd -t of a configuration with one more listen line (the last
    line) fails, naming the file, the line and what is wrong."""
    base = "domain example.com\ndb %s\nmodule location\nmodule auth\n" % (
        s.db)
    text = base + "listen " + listen + "\n"
    path = os.path.join(s.dir, "check.conf")
    with open(path, "w") as f:
        f.write(text)
    lineno = text.count("\n")
    r = run_sipd("-t", "-f", path, "-m", MODULES)
    check(r.returncode != 0, "sipd -t accepted 'listen %s'" % listen)
    where = "%s:%d" % (path, lineno)
    check(where in r.stderr, "the error for %r does not name %s: %r" % (
        listen, where, r.stderr))
    for w in what if isinstance(what, tuple) else (what,):
        check(w in r.stderr, "the error for %r does not say %r: %r" % (
            listen, w, r.stderr))


def test_tls_certificate_checked_at_start():
    """sipd -t refuses a missing or unreadable certificate (no file, not
    PEM, a folder), an expired one, a key that does not match it (tls
    and wss), a missing key, verify=on without ca=, a missing or
    garbage ca file, ca and verify on wss and TLS parameters on udp,
    tcp or ws lines, naming the file and line; it accepts the right
    pair, on tls and on wss."""
    s = Sipd(accounts=(), start=False)
    try:
        cert, key = make_cert(s.dir)
        _, other_key = make_cert(s.dir, "other", "other-key")
        missing = os.path.join(s.dir, "missing.pem")
        garbage = os.path.join(s.dir, "garbage.pem")
        with open(garbage, "w") as f:
            f.write("not a certificate\n")
        tls = "tls:127.0.0.1:%d;roles=registrar" % free_port()

        check_conf_fails(s, "%s;cert=%s;key=%s" % (tls, missing, key),
                         ("cannot read certificate", missing))
        check_conf_fails(s, "%s;cert=%s;key=%s" % (tls, garbage, key),
                         (garbage, "not a PEM certificate"))
        check_conf_fails(s, "%s;cert=%s;key=%s" % (tls, s.dir, key),
                         (s.dir, "not a PEM certificate"))
        check_conf_fails(s, "%s;cert=%s;key=%s" % (tls, cert, other_key),
                         ("does not match", other_key, cert))
        check_conf_fails(s, "%s;cert=%s;key=%s" % (tls, cert, missing),
                         ("cannot read key", missing))
        check_conf_fails(s, "%s;cert=%s" % (tls, cert),
                         ("no PEM private key", cert))
        check_conf_fails(s, tls, "needs cert=")
        check_conf_fails(s, "%s;cert=%s;key=%s;verify=on" % (tls, cert, key),
                         "verify=on needs ca=FILE")
        check_conf_fails(s, "%s;cert=%s;key=%s;ca=%s" % (tls, cert, key,
                                                        missing),
                         ("cannot read ca", missing))
        check_conf_fails(s, "%s;cert=%s;key=%s;ca=%s;verify=on" % (
            tls, cert, key, garbage), (garbage, "not a PEM certificate"))
        expired, expired_key = make_signed(s.dir, "expired", days="-1")
        check_conf_fails(s, "%s;cert=%s;key=%s" % (tls, expired,
                                                  expired_key),
                         ("the certificate %s has expired" % expired))
        check_conf_fails(s, "wss:127.0.0.1:%d;roles=registrar;cert=%s;"
                         "key=%s" % (free_port(), cert, other_key),
                         "does not match")
        check_conf_fails(s, "wss:127.0.0.1:%d;roles=registrar;cert=%s;"
                         "key=%s;ca=%s;verify=on" % (free_port(), cert,
                                                     key, cert),
                         "ca and verify are for tls only")
        for tp in ("udp", "tcp", "ws"):
            check_conf_fails(s, "%s:127.0.0.1:%d;roles=registrar;cert=%s;"
                             "key=%s" % (tp, free_port(), cert, key),
                             "for tls and wss only")
        if os.geteuid() != 0:
            # root reads every file: only others can test permissions
            os.chmod(key, 0)
            check_conf_fails(s, "%s;cert=%s;key=%s" % (tls, cert, key),
                             ("cannot read key", key))
            os.chmod(key, 0o600)

        path = os.path.join(s.dir, "good.conf")
        with open(path, "w") as f:
            f.write("domain example.com\ndb %s\nmodule location\n"
                    "module auth\nlisten %s;cert=%s;key=%s\n"
                    "listen wss:127.0.0.1:%d;roles=registrar;cert=%s;"
                    "key=%s\n" % (s.db, tls, cert, key, free_port(),
                                  cert, key))
        r = run_sipd("-t", "-f", path, "-m", MODULES)
        eq(r.returncode, 0, "sipd -t with a good certificate: %s" %
           r.stderr.strip())
    finally:
        s.close()


def test_tls_register_digest_and_reg_list():
    """REGISTER over TLS (the certificate checked by the client against
    the test certificate and the name 127.0.0.1): 401, then 200 with
    SHA-256 digest; sipctl reg list shows transport tls and the
    connection's address."""
    with TlsWsSipd() as s:
        alice = TlsUA(s, "alice")
        try:
            check(alice.sock.version() in ("TLSv1.2", "TLSv1.3"),
                  "TLS version %s" % alice.sock.version())
            cipher = alice.sock.cipher()[0]
            r = alice.register()
            eq(r.get("contact").split(";expires")[0],
               "<%s>" % alice.contact_uri, "Contact of the 200")
            check(r.all("via")[0].startswith("SIP/2.0/TLS "),
                  "Via of the 200: %s" % r.get("via"))
            eq(bindings(s, "alice@example.com"),
               [(alice.contact_uri, "tls",
                 "127.0.0.1:%d" % alice.local[1])],
               "alice's binding (reg list --json)")
            out = s.sipctl("reg", "list")
            eq(out.returncode, 0, "sipctl reg list")
            row = [l for l in out.stdout.splitlines()
                   if l.startswith("alice@example.com")]
            check(row and " tls " in row[0], "reg list does not show"
                  " transport tls:\n%s" % out.stdout)
            alive(s)
        finally:
            closing(alice)
    check(cipher, "no cipher")


def handshake(addr, **kw):
    """(TLS version, cipher) of a handshake, or the error text."""
    try:
        t = tls_connect(addr, client_context(**kw))
    except (ssl.SSLError, OSError) as e:
        return "refused: %s" % e
    try:
        return t.version(), t.cipher()[0]
    finally:
        t.close()


def test_tls_versions_and_ciphers():
    """TLS 1.0 and 1.1 are refused (the client offers them at security
    level 0, and sipd answers with a protocol_version alert); 1.2 and
    1.3 are accepted, with AEAD ciphers only: a client that offers
    nothing but ECDHE-RSA-AES128-SHA (CBC, SHA-1) or AES128-SHA256 is
    refused under TLS 1.2. The same for the wss listener."""
    V = ssl.TLSVersion
    with TlsWsSipd() as s:
        for addr in (s.tls_addr, s.wss_addr):
            for v, name in ((V.TLSv1, "TLS 1.0"), (V.TLSv1_1, "TLS 1.1")):
                got = handshake(addr, minv=v, maxv=v,
                                ciphers="DEFAULT:@SECLEVEL=0")
                check(isinstance(got, str) and "PROTOCOL_VERSION" in got,
                      "%s to %s: %s" % (name, addr, got))
            got = handshake(addr, minv=V.TLSv1_2, maxv=V.TLSv1_2)
            check(not isinstance(got, str) and got[0] == "TLSv1.2",
                  "TLS 1.2 to %s: %s" % (addr, got))
            check("GCM" in got[1] or "CHACHA20" in got[1],
                  "TLS 1.2 cipher: %s" % got[1])
            got = handshake(addr, minv=V.TLSv1_3, maxv=V.TLSv1_3)
            check(not isinstance(got, str) and got[0] == "TLSv1.3",
                  "TLS 1.3 to %s: %s" % (addr, got))
            for cipher in ("ECDHE-RSA-AES128-SHA", "AES128-SHA256",
                           "ECDHE-RSA-AES128-SHA256"):
                got = handshake(addr, minv=V.TLSv1_2, maxv=V.TLSv1_2,
                                ciphers=cipher)
                check(isinstance(got, str) and "HANDSHAKE_FAILURE" in got,
                      "%s only, TLS 1.2, to %s: %s" % (cipher, addr, got))
            # the same key exchange with an AEAD cipher goes through
            got = handshake(addr, minv=V.TLSv1_2, maxv=V.TLSv1_2,
                            ciphers="ECDHE-RSA-AES128-GCM-SHA256")
            eq(got, ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256"),
               "ECDHE-RSA-AES128-GCM-SHA256 only, TLS 1.2, to %s" % (
                   addr,))
        alive(s)


def refused_client(addr, ctx):
    """The error of a TLS client that sipd refuses: at the handshake
    (TLS 1.2) or at the first read after it (TLS 1.3, where the server
    checks the client's certificate after its own Finished). None if
    sipd answered an OPTIONS."""
    try:
        t = tls_connect(addr, ctx)
    except (ssl.SSLError, OSError) as e:
        return str(e)
    try:
        t.sendall(("OPTIONS sip:127.0.0.1 SIP/2.0\r\n"
                   "Via: SIP/2.0/TLS 127.0.0.1:1;branch=z9hG4bK%s\r\n"
                   "Max-Forwards: 70\r\nFrom: <sip:x@example.com>;tag=1"
                   "\r\nTo: <sip:127.0.0.1>\r\nCall-ID: %s\r\n"
                   "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n" % (
                       rand_token(10), rand_token(10))).encode())
        data = t.recv(4096)
        if not data:
            return "closed"
        return None
    except (ssl.SSLError, OSError) as e:
        return str(e)
    finally:
        t.close()


def test_tls_verify_requires_client_certificate():
    """listen tls:...;ca=CA;verify=on: a client without a certificate
    is refused (TLS 1.2: handshake failure; TLS 1.3: certificate
    required), and so is one whose certificate another CA signed
    (unknown CA); a phone with a certificate of CA registers (401, 200)
    and is called over its connection. The tls listener without
    verify=on still takes clients without certificates."""
    V = ssl.TLSVersion
    vport = free_port()

    def prepare(s):
        s.ca = make_signed(s.dir, "test-ca", ca_ext=True)
        s.client = make_signed(s.dir, "alice", ca=s.ca)
        s.stranger = make_signed(s.dir, "stranger")

    extra = ("listen tls:127.0.0.1:%d;roles=registrar,proxy;"
             "cert={dir}/cert.pem;key={dir}/key.pem;ca={dir}/test-ca.pem;"
             "verify=on\n" % vport)
    with TlsWsSipd(extra=extra, prepare=prepare) as s:
        vaddr = ("127.0.0.1", vport)
        for v, want in ((V.TLSv1_2, "HANDSHAKE_FAILURE"),
                        (V.TLSv1_3, "CERTIFICATE_REQUIRED")):
            got = refused_client(vaddr, client_context(s.cert, minv=v,
                                                       maxv=v))
            check(got and want in got, "no client certificate, %s: %s" %
                  (v.name, got))
        ctx = client_context(s.cert)
        ctx.load_cert_chain(*s.stranger)
        got = refused_client(vaddr, ctx)
        check(got and "UNKNOWN_CA" in got, "a certificate of another"
              " CA: %s" % got)
        eq(refused_client(s.tls_addr, client_context(s.cert)), None,
           "no client certificate on the listener without verify=on")

        ctx = client_context(s.cert)
        ctx.load_cert_chain(*s.client)
        alice = TlsUA(s, "alice", ctx=ctx, server=vaddr)
        bob = caller(s, "bob")
        try:
            eq(alice.register().status, 200, "REGISTER with a client"
               " certificate")
            eq(bindings(s, "alice@example.com")[0][1], "tls",
               "alice's binding")
            call(bob, alice, "sip:alice@example.com", "UDP to TLS with"
                 " a client certificate",
                 rr=["sip:127.0.0.1:%d;transport=tls;lr" % vport,
                     sipd_rr(s, "udp")])
            alive(s)
        finally:
            closing(alice, bob)


def test_tls_phone_called_from_udp_over_its_connection():
    """alice registers over TLS with Contact
    sip:alice@127.0.0.1:PORT;transport=tls; bob (UDP) calls her: the
    INVITE arrives over the same TLS connection, with sipd's two
    Record-Route values (TLS side first); 180, 200, ACK, and the BYE
    from bob and then, in a second call, from alice, all bridged."""
    with TlsWsSipd() as s:
        alice = tls_phone(s, "alice")
        bob = caller(s, "bob")
        try:
            rr = [sipd_rr(s, "tls"), sipd_rr(s, "udp")]
            d, inc = call(bob, alice, "sip:alice@example.com",
                          "UDP to TLS", rr=rr)
            inv = inc.invite_req
            eq(inv.start.split()[1], alice.contact_uri, "Request-URI")
            check(inv.all("via")[0].startswith(
                "SIP/2.0/TLS 127.0.0.1:%d;" % s.tls_port),
                "sipd's Via: %s" % inv.get("via"))
            call(bob, alice, "sip:alice@example.com", "UDP to TLS,"
                 " the callee hangs up", rr=rr, bye_from_callee=True)
            alive(s)
        finally:
            closing(alice, bob)


def test_tls_sips_contact_called_from_udp():
    """The same with a sips: Contact (sips:alice@127.0.0.1:PORT)."""
    with TlsWsSipd() as s:
        alice = tls_phone(s, "alice", sips=True)
        bob = caller(s, "bob")
        try:
            eq(bindings(s, "alice@example.com")[0][:2],
               (alice.contact_uri, "tls"), "the sips binding")
            d, inc = call(bob, alice, "sip:alice@example.com",
                          "UDP to TLS (sips Contact)",
                          rr=[sipd_rr(s, "tls"), sipd_rr(s, "udp")])
            eq(inc.invite_req.start.split()[1], alice.contact_uri,
               "Request-URI")
            alive(s)
        finally:
            closing(alice, bob)


def test_tls_caller_to_udp_callee():
    """alice over TLS calls bob on UDP: the INVITE leaves sipd over
    UDP with two Record-Route values (UDP side first), the 200 comes
    back over alice's connection; ACK and BYE follow the route set."""
    with TlsWsSipd() as s:
        bob = phone(s, "bob")
        alice = tls_phone(s, "alice")
        try:
            d, inc = call(alice, bob, "sip:bob@example.com",
                          "TLS to UDP",
                          rr=[sipd_rr(s, "udp"), sipd_rr(s, "tls")])
            eq(inc.invite_req.src, s.addr, "the INVITE came from sipd's"
               " UDP socket")
            call(alice, bob, "sip:bob@example.com", "TLS to UDP, the"
                 " callee hangs up", bye_from_callee=True)
            alive(s)
        finally:
            closing(alice, bob)


class TlsServer:
    """A TLS UAS's listening socket on 127.0.0.1 (the certificate given
    when sipd has made it)."""

    def __init__(self):
        self.port = free_port()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(4)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)

    def accept(self, timeout=5.0):
        """The next connection, its handshake done: (TLS socket, peer)"""
        r, _, _ = select.select([self.sock], [], [], timeout)
        check(r, "sipd opened no connection to the TLS server port %d"
              " within %.1f s" % (self.port, timeout))
        conn, peer = self.sock.accept()
        conn.settimeout(5.0)
        return self.ctx.wrap_socket(conn, server_side=True), peer

    def close(self):
        self.sock.close()


def test_tls_static_route_to_tls_server():
    """sipd's TLS client side: 'route far.test>127.0.0.1:P;transport=tls;
    ca=CERT' sends alice's INVITE for carl@far.test over a TLS connection
    sipd opens (TLS 1.2 or 1.3) to a Python TLS UAS, whose self-signed
    certificate the ca= file trusts; the call completes."""
    srv = TlsServer()
    try:
        with TlsWsSipd(extra="route far.test>127.0.0.1:%d;transport=tls;"
                       "ca={dir}/cert.pem\n" % srv.port) as s:
            srv.ctx.load_cert_chain(s.cert, s.key)
            alice = caller(s, "alice")
            carl = None
            try:
                d = alice.invite("sip:carl@far.test")
                conn, peer = srv.accept()
                check(conn.version() in ("TLSv1.2", "TLSv1.3"),
                      "TLS version of sipd's client: %s" % conn.version())
                carl = TlsUAS(s, conn, peer)
                inc = carl.expect_invite(timeout=5.0)
                inv = inc.invite_req
                eq(inv.start, "INVITE sip:carl@far.test SIP/2.0",
                   "Request-URI")
                check(inv.all("via")[0].startswith(
                    "SIP/2.0/TLS 127.0.0.1:%d;" % s.tls_port),
                    "sipd's Via: %s" % inv.get("via"))
                check(inv.get("proxy-authorization") is None,
                      "sipd passed on the credentials meant for it")
                inc.reply(180, "Ringing")
                inc.reply(200, "OK", body=sdp(41000))
                eq(d.final(timeout=5.0).status, 200, "answered over TLS")
                inc.expect_ack(timeout=5.0)
                d.request("BYE", wait=False)
                inc.expect_and_reply("BYE", timeout=5.0)
                eq(alice.expect_response(d.callid, "BYE", final=True,
                                         timeout=5.0).status, 200,
                   "BYE over TLS")
                alive(s)
            finally:
                closing(alice)
                if carl:
                    carl.close()
    finally:
        srv.close()


class TlsUAS(UA):
    """A UA on a TLS connection sipd opened (server side)."""

    def __init__(self, s, conn, peer):
        UA.__init__(self, s, "carl", None, domain="far.test",
                    server=peer)
        UA.close(self)
        self.transport = "tls"
        self.cl.transport = "tls"
        self.cl.sock = self.sock = conn
        self.cl.buf = b""
        self.local = self.cl.local = conn.getsockname()
        self.contact_host, self.contact_port = self.local
        self.via_host, self.via_port = self.local

    @property
    def contact_uri(self):
        return "sip:carl@%s:%d;transport=tls" % self.local

    def _read(self, timeout):
        return self.cl.recv(max(timeout, 0.001)), self.server


# --- 2. WebSocket ------------------------------------------------------------

def test_ws_handshake_answers_sip_subprotocol():
    """RFC 7118 4: the 101 names the sip subprotocol (with the right
    Sec-WebSocket-Accept); a handshake without it, or with another
    subprotocol only, is refused and the connection is no WebSocket.
    The same over wss."""
    with TlsWsSipd() as s:
        for addr, secure in ((s.ws_addr, False), (s.wss_addr, True)):
            what = "wss" if secure else "ws"
            ctx = client_context(s.cert) if secure else None
            ws = WsConn(addr, secure=secure, ctx=ctx)
            try:
                eq(ws.status, 101, "%s handshake with sip:\n%s" % (
                    what, ws.head))
                eq(ws.headers.get("sec-websocket-protocol"), "sip",
                   "%s: Sec-WebSocket-Protocol of the 101:\n%s" % (
                       what, ws.head))
                eq(ws.headers.get("upgrade", "").lower(), "websocket",
                   "%s: Upgrade of the 101" % what)
                check(ws.accept_ok(), "%s: Sec-WebSocket-Accept of the"
                      " 101:\n%s" % (what, ws.head))
                # and it is a SIP WebSocket: OPTIONS to sipd, answered
                ws.send("OPTIONS sip:127.0.0.1 SIP/2.0\r\n"
                        "Via: SIP/2.0/%s abc.invalid;branch=z9hG4bK%s\r\n"
                        "Max-Forwards: 70\r\n"
                        "From: <sip:x@example.com>;tag=1\r\n"
                        "To: <sip:127.0.0.1>\r\nCall-ID: %s\r\n"
                        "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n" % (
                            what.upper(), rand_token(10), rand_token(10)))
                data = ws.recv(3.0)
                check(data and data.startswith(b"SIP/2.0 200"),
                      "%s: answer to OPTIONS: %r" % (what, data))
            finally:
                ws.close()
            for proto in (None, "chat"):
                ws = WsConn(addr, secure=secure, ctx=ctx, protocol=proto)
                try:
                    check(ws.status >= 400, "%s handshake with %s was"
                          " answered:\n%s" % (what, proto or "no"
                                              " subprotocol", ws.head))
                    check("sec-websocket-accept" not in ws.headers,
                          "%s: a refusal with Sec-WebSocket-Accept" % what)
                finally:
                    ws.close(clean=False)
        alive(s)


def ws_options(what, callid=None):
    """An OPTIONS to sipd as a WebSocket client writes it."""
    return ("OPTIONS sip:127.0.0.1 SIP/2.0\r\n"
            "Via: SIP/2.0/%s abc.invalid;branch=z9hG4bK%s\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:x@example.com>;tag=1\r\n"
            "To: <sip:127.0.0.1>\r\nCall-ID: %s\r\n"
            "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n" % (
                what.upper(), rand_token(10), callid or rand_token(10)))


def test_ws_and_tls_bad_input():
    """An HTTP GET without Upgrade on the ws port gets an HTTP error and
    no WebSocket; a WebSocket message that is not SIP is dropped and the
    connection stays usable (an OPTIONS after it gets 200); a SIP
    message over max_message_size gets 513 on the WebSocket; a client
    frame without a mask gets a close frame with 1002 (RFC 6455 5.1);
    plain text on the tls port and junk on the wss port get the
    connection closed. sipd lives on."""
    with TlsWsSipd() as s:
        c = socket.create_connection(s.ws_addr, timeout=5.0)
        try:
            c.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            head = c.recv(4096)
            m = re.match(rb"HTTP/1.1 (\d+) ", head)
            check(m and int(m.group(1)) >= 400, "a GET without Upgrade:"
                  " %r" % head)
        finally:
            c.close()

        ws = WsConn(s.ws_addr)
        try:
            eq(ws.status, 101, "handshake")
            ws.send("hello, this is not SIP\r\n\r\n")
            ws.send(os.urandom(300), opcode=OP_BIN)
            eq(ws.recv(0.5), None, "an answer to a message that is not"
               " SIP")
            check(not ws.closed, "the WebSocket closed after a message"
                  " that is not SIP")
            ws.send(ws_options("ws"))
            data = ws.recv(3.0)
            check(data and data.startswith(b"SIP/2.0 200 "), "OPTIONS"
                  " after the junk: %r" % data)
            big = ws_options("ws").replace(
                "Content-Length", "X-Pad: %s\r\nContent-Length" %
                ("a" * 70000))
            ws.send(big)
            data = ws.recv(3.0)
            check(data and data.startswith(b"SIP/2.0 513 "), "a 70 kB"
                  " message: %r" % (data or b"")[:100])
        finally:
            ws.close()

        ws = WsConn(s.ws_addr)
        try:
            ws.sock.sendall(ws_frame(OP_TEXT, ws_options("ws").encode(),
                                     mask=False))
            eq(ws.recv(3.0), None, "an answer to an unmasked frame")
            check(ws.closed and ws.close_frame and
                  struct.unpack("!H", ws.close_frame[:2])[0] == 1002,
                  "close frame after an unmasked frame: %r" % (
                      ws.close_frame,))
        finally:
            ws.close(clean=False)

        for addr, junk in ((s.tls_addr, ws_options("tls").encode()),
                           (s.wss_addr, os.urandom(2000))):
            c = socket.create_connection(addr, timeout=5.0)
            try:
                c.sendall(junk)
                try:
                    data = c.recv(4096)
                except OSError:
                    data = b""
                check(not data.startswith(b"SIP/") and
                      not data.startswith(b"HTTP/"), "an answer in"
                      " clear text on %s: %r" % (addr, data[:100]))
                closed = not data
                c.settimeout(5.0)
                try:
                    while not closed:
                        closed = not c.recv(4096)
                except socket.timeout:
                    pass
                except OSError:
                    closed = True
                check(closed, "the connection to %s left open after"
                      " junk" % (addr,))
            finally:
                c.close()
        alive(s)


def test_ws_register_call_udp_phone_both_ways():
    """alice registers over ws (Contact sip:alice@X.invalid;transport=ws)
    with digest auth; reg list shows transport ws and her connection.
    She calls bob on UDP (two Record-Route values, UDP side first), and
    bob calls her: the INVITE arrives as a WebSocket message on her
    connection, with the ws side first in the Record-Route. Both calls
    complete (200, ACK, BYE, 200)."""
    with TlsWsSipd() as s:
        bob = phone(s, "bob")
        alice = ws_phone(s, "alice")
        try:
            eq(bindings(s, "alice@example.com"),
               [(alice.contact_uri, "ws", "127.0.0.1:%d" % alice.local[1])],
               "alice's binding (reg list --json)")
            call(alice, bob, "sip:bob@example.com", "WS to UDP",
                 rr=[sipd_rr(s, "udp"), sipd_rr(s, "ws")])
            d, inc = call(bob, alice, "sip:alice@example.com",
                          "UDP to WS",
                          rr=[sipd_rr(s, "ws"), sipd_rr(s, "udp")])
            inv = inc.invite_req
            eq(inv.start.split()[1], alice.contact_uri,
               "Request-URI of the INVITE over the WebSocket")
            check(inv.all("via")[0].startswith(
                "SIP/2.0/WS 127.0.0.1:%d;" % s.ws_port),
                "sipd's Via: %s" % inv.get("via"))
            call(bob, alice, "sip:alice@example.com", "UDP to WS, the"
                 " callee hangs up", bye_from_callee=True)
            alive(s)
        finally:
            closing(alice, bob)


def test_ws_open_after_35s_idle():
    """libre 1.1.0 closes a WebSocket 32 s after its handshake; sipd
    keeps a registered one open: after 35 s without SIP traffic (libre's
    pings answered) it is open and bob's call reaches alice over it.
    The one slow test of this file (35 s)."""
    with TlsWsSipd() as s:
        alice = ws_phone(s, "alice")
        bob = caller(s, "bob")
        try:
            started = time.time()
            while time.time() - started < 35:
                data = alice.ws.recv(1.0)
                check(not alice.ws.closed, "sipd closed the WebSocket"
                      " %.1f s after the REGISTER (close frame %r)" % (
                          time.time() - started, alice.ws.close_frame))
                check(data is None, "a SIP message while idle: %r" % data)
            check(alice.ws.pings >= 1, "no WebSocket ping from sipd in"
                  " 35 s")
            eq(bindings(s, "alice@example.com")[0][0], alice.contact_uri,
               "alice's binding after 35 s")
            call(bob, alice, "sip:alice@example.com", "UDP to WS after"
                 " 35 s", rr=[sipd_rr(s, "ws"), sipd_rr(s, "udp")])
            alive(s)
        finally:
            closing(alice, bob)


def test_ws_close_removes_binding():
    """A browser accepts no connection: when alice's WebSocket closes
    (a close frame, then the TCP connection; and for carol the TCP
    connection alone) their bindings go at once; bob's UDP binding
    stays and a call to alice gets 480."""
    with TlsWsSipd() as s:
        alice = ws_phone(s, "alice")
        carol = ws_phone(s, "carol")
        bob = phone(s, "bob")
        try:
            eq(len(bindings(s, "alice@example.com")), 1, "alice's binding")
            alice.close(clean=True)
            carol.close(clean=False)
            wait_for(lambda: not bindings(s, "alice@example.com") and
                       not bindings(s, "carol@example.com"),
                       lambda: "the bindings of the closed WebSockets"
                       " removed: %s" % reg_list_json(s))
            out = s.sipctl("reg", "list")
            eq(out.returncode, 0, "sipctl reg list")
            check("alice@example.com" not in out.stdout and
                  "carol@example.com" not in out.stdout,
                  "reg list after the close:\n" + out.stdout)
            check("bob@example.com" in out.stdout, "bob's binding gone:\n"
                  + out.stdout)
            d = bob.invite("sip:alice@example.com")
            eq(d.final().status, 480, "a call to alice after her"
               " WebSocket closed")
            alive(s)
        finally:
            closing(alice, carol, bob)


def test_wss_register_and_call():
    """wss with the test certificate (checked by the client): REGISTER
    with digest auth, reg list shows transport wss; bob (UDP) calls
    alice over her wss connection."""
    with TlsWsSipd() as s:
        alice = ws_phone(s, "alice", secure=True)
        bob = phone(s, "bob")
        try:
            check(alice.sock.version() in ("TLSv1.2", "TLSv1.3"),
                  "TLS version %s" % alice.sock.version())
            eq(bindings(s, "alice@example.com"),
               [(alice.contact_uri, "wss",
                 "127.0.0.1:%d" % alice.local[1])],
               "alice's binding (reg list --json)")
            out = s.sipctl("reg", "list")
            row = [l for l in out.stdout.splitlines()
                   if l.startswith("alice@example.com")]
            check(row and " wss " in row[0], "reg list does not show"
                  " transport wss:\n%s" % out.stdout)
            d, inc = call(bob, alice, "sip:alice@example.com",
                          "UDP to WSS",
                          rr=[sipd_rr(s, "wss"), sipd_rr(s, "udp")])
            check(inc.invite_req.all("via")[0].startswith(
                "SIP/2.0/WSS 127.0.0.1:%d;" % s.wss_port),
                "sipd's Via: %s" % inc.invite_req.get("via"))
            call(alice, bob, "sip:bob@example.com", "WSS to UDP",
                 rr=[sipd_rr(s, "udp"), sipd_rr(s, "wss")])
            alive(s)
        finally:
            closing(alice, bob)


class WsPUA(WsUA, PUA):
    """A presence user agent on a WebSocket (NOTIFYs answered 200)."""

    def __init__(self, s, user, **kw):
        WsUA.__init__(self, s, user, **kw)
        self.notify_code = 200
        self.chall = None
        self.nc = 0
        self.challenged = []


def test_ws_presence_subscribe_notify():
    """roles registrar,presence,proxy: alice on a WebSocket subscribes
    to bob's presence (401 answered); the 200 and the first NOTIFY
    (closed: bob has no binding) come over her WebSocket, addressed to
    her .invalid Contact; bob (UDP) publishes open and the next NOTIFY
    arrives over the WebSocket too."""
    with TlsWsSipd(roles="registrar,presence,proxy") as s:
        alice = WsPUA(s, "alice")
        bob = PUA(s, "bob")
        try:
            sub = Sub(alice, "bob@example.com")
            r = sub.subscribe(expires=600)
            eq(r.status, 200, "SUBSCRIBE over ws: %s" % r.start)
            check(alice.challenged, "the SUBSCRIBE was not challenged")
            n = sub.notify(what="first NOTIFY over ws")
            eq(n.state, "active", "Subscription-State")
            eq(n.msg.start.split()[1], alice.contact_uri,
               "Request-URI of the NOTIFY: the WebSocket Contact")
            check(n.msg.all("via")[0].startswith(
                "SIP/2.0/WS 127.0.0.1:%d;" % s.ws_port),
                "sipd's Via of the NOTIFY: %s" % n.msg.get("via"))
            eq(n.pidf().basics(), {"closed"}, "bob without binding")
            publish_ok(bob, pidf("bob@example.com",
                                 (("bob-desk", "open", "In"),)),
                       expires=600)
            n = sub.notify(what="NOTIFY after bob's PUBLISH")
            eq(n.pidf().tuples, {"bob-desk": "open"}, "bob's tuple")
            alive(s)
        finally:
            closing(alice, bob)


# --- 3. a WebSocket phone on Node.js (test/ws/client.js, npm "ws") -----------

def ws_client_ready():
    """node, and the pinned "ws" package in test/ws/node_modules (npm ci
    when it is missing or another version): fails, never skips."""
    node = shutil.which("node")
    check(node, "node is not installed (Debian package nodejs: run"
          " tools/install-deps build test)")
    with open(os.path.join(WS_DIR, "package.json")) as f:
        want = json.load(f)["dependencies"]["ws"]
    installed = os.path.join(WS_DIR, "node_modules", "ws", "package.json")
    try:
        with open(installed) as f:
            have = json.load(f).get("version")
    except (OSError, ValueError):
        have = None
    if have != want:
        npm = shutil.which("npm")
        check(npm, "npm is not installed (Debian package npm: run"
              " tools/install-deps build test)")
        try:
            r = subprocess.run([npm, "ci", "--prefix", WS_DIR,
                                "--no-audit", "--no-fund"],
                               capture_output=True, text=True, timeout=150)
        except subprocess.TimeoutExpired:
            raise TestFailure("npm ci --prefix test/ws did not finish"
                              " within 150 s: is the npm registry"
                              " reachable?")
        check(r.returncode == 0, "npm ci --prefix test/ws failed (exit"
              " %d): is the npm registry reachable?\n%s%s" % (
                  r.returncode, r.stdout[-1000:], r.stderr[-2000:]))
        check(os.path.isfile(installed), "npm ci did not install ws"
              " into test/ws/node_modules")
    return node


def run_ws_client(s, node, bob, url, reg_alg, inv_alg, ca=None,
                  imitate=None):
    """client.js registers alice at url and calls bob (a UDP UA that
    answers: 180, 200, the ACK and the BYE); returns (the client's JSON
    lines, its exit status, bob's incoming Dialog)."""
    cmd = [node, os.path.join(WS_DIR, "client.js"), "--url", url,
           "--user", "alice", "--password", PASSWORDS["alice"],
           "--domain", DOMAIN, "--call", "sip:bob@example.com",
           "--register-alg", reg_alg, "--invite-alg", inv_alg,
           "--timeout", "10"]
    if ca:
        cmd += ["--ca", ca]
    if imitate:
        cmd += ["--imitate", imitate]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 15.0
        req = None
        while req is None:
            req = bob.wait(lambda m: not m.is_response and
                           m.method == "INVITE", "INVITE", timeout=0.5,
                           fail=False)
            if req is None and (proc.poll() is not None or
                                time.time() > deadline):
                running = proc.poll() is None
                if running:
                    proc.kill()
                out, err = proc.communicate(timeout=20)
                raise TestFailure("bob got no INVITE from client.js"
                                  " within 15 s (%s):\n%s%s" % (
                                      "killed" if running else
                                      "exit %s" % proc.returncode,
                                      out, err))
        inc = Dialog.from_request(bob, req)
        inc.reply(180, "Ringing")
        inc.reply(200, "OK", body=sdp(41000))
        inc.expect_ack(timeout=10.0)
        inc.expect_and_reply("BYE", timeout=10.0)
        stdout, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    lines = []
    for line in stdout.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            raise TestFailure("client.js printed a line that is not"
                              " JSON: %r\nstderr: %s" % (line, stderr))
    check(lines, "client.js printed nothing; stderr:\n" + stderr)
    return lines, proc.returncode, inc, stderr


def test_node_ws_client_registers_and_calls_udp_phone():
    """test/ws/client.js (Node.js, npm "ws" pinned in package-lock.json)
    connects with the sip subprotocol, registers with digest auth (a
    SHA-256 challenge, then MD5 for the INVITE's 407) and calls bob, a
    UDP phone, through the proxy: 100, 180, 200, ACK, BYE 200. bob sees
    the INVITE come from sipd's UDP socket with its Record-Route for
    both transports. Again over wss (the certificate checked by Node),
    MD5 for the REGISTER and SHA-256 for the INVITE. And over ws as
    JsSIP and SIP.js (their User-Agent; the first challenge only, which
    must be MD5, as those libraries give up on any other): sipd
    challenges them with MD5 only."""
    node = ws_client_ready()
    with TlsWsSipd() as s:
        bob = phone(s, "bob")
        try:
            for url, reg_alg, inv_alg, tp, imitate in (
                    ("ws://127.0.0.1:%d" % s.ws_port, "SHA-256", "MD5",
                     "ws", None),
                    ("wss://127.0.0.1:%d" % s.wss_port, "MD5", "SHA-256",
                     "wss", None),
                    ("ws://127.0.0.1:%d" % s.ws_port, "MD5", "MD5", "ws",
                     "jssip"),
                    ("ws://127.0.0.1:%d" % s.ws_port, "MD5", "MD5", "ws",
                     "sipjs")):
                lines, rc, inc, stderr = run_ws_client(
                    s, node, bob, url, reg_alg, inv_alg,
                    ca=s.cert if tp == "wss" else None, imitate=imitate)
                what = "client.js over %s%s" % (
                    tp, " as " + imitate if imitate else "")
                done = lines[-1]
                text = "\n".join(json.dumps(l) for l in lines)
                eq(done.get("step"), "done", "%s: last line\n%s" % (
                    what, text))
                check(done.get("ok") and rc == 0, "%s failed (exit %s):"
                      "\n%s\n%s" % (what, rc, text, stderr))
                eq(lines[0], {"step": "connected", "protocol": "sip"},
                   "%s: the subprotocol" % what)
                regs = [l for l in lines if l["step"] == "register"]
                eq([r["status"] for r in regs[:2]], [401, 200],
                   "%s: REGISTER answers" % what)
                eq(regs[0]["algorithms"],
                   ["MD5"] if imitate else ["SHA-256", "MD5"],
                   "%s: challenges" % what)
                eq(regs[1]["algorithm"], reg_alg, "%s: REGISTER"
                   " algorithm" % what)
                check(done["registered"], "%s: not registered" % what)
                invs = [l["status"] for l in lines if l["step"] == "invite"]
                eq(invs[0], 407, "%s: first answer to the INVITE" % what)
                for code in (100, 180, 200):
                    check(code in invs[1:], "%s: no %d for the INVITE"
                          " (%s)" % (what, code, invs))
                eq(done["call"]["challenged"], inv_alg, "%s: INVITE"
                   " algorithm" % what)
                check(done["answered"], "%s: not answered" % what)
                eq(done["bye"], 200, "%s: answer to the BYE" % what)
                eq([untoken_rr(u) for u in done["call"]["recordRoute"]],
                   ["<%s>" % sipd_rr(s, tp), "<%s>" % sipd_rr(s, "udp")],
                   "%s: route set of the caller" % what)
                check(done.get("unregistered"), "%s: unregister" % what)

                inv = inc.invite_req
                eq(inv.src, s.addr, "%s: bob got the INVITE from sipd's"
                   " UDP socket" % what)
                check(inv.all("via")[0].startswith(
                    "SIP/2.0/UDP 127.0.0.1:%d;" % s.port),
                    "%s: sipd's Via at bob: %s" % (what, inv.get("via")))
                eq(param(inv.all("via")[1], "received"), "127.0.0.1",
                   "%s: the client's Via at bob" % what)
                check(inv.all("via")[1].startswith(
                    "SIP/2.0/%s " % tp.upper()) and
                    ".invalid;" in inv.all("via")[1],
                    "%s: the client's Via: %s" % (what, inv.all("via")[1]))
                eq(rr_uris(inv), [sipd_rr(s, "udp"), sipd_rr(s, tp)],
                   "%s: Record-Route at bob" % what)
                check("m=audio 40000" in inv.body, "%s: the client's SDP"
                      " at bob:\n%s" % (what, inv.raw))
                eq(uri_of(inv.get("from")), "sip:alice@example.com",
                   "%s: From at bob" % what)
                wait_for(lambda: not bindings(s, "alice@example.com"),
                           "%s: alice unregistered" % what)
            alive(s)
        finally:
            closing(bob)


def untoken_rr(value):
    """A Record-Route value without sipd's flow token."""
    return re.sub(r"<sip:f[0-9a-f]+@", "<sip:", value)
