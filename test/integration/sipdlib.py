"""sipdlib: helpers of the integration tests.

Start the real sipd on loopback with a temporary configuration and
database, talk SIP to it over UDP and TCP (with digest auth, MD5 or
SHA-256), run sipctl, the libre test client (build/test/sipc) and SIPp,
and stop every process by PID.
"""

import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import string
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BUILD = os.environ.get("SIPD_BUILD", os.path.join(ROOT, "build"))
SIPD = os.path.join(BUILD, "sipd")
SIPCTL = os.path.join(BUILD, "sipctl")
SIPC = os.path.join(BUILD, "test", "sipc")
MODULES = os.path.join(BUILD, "modules")
CORPUS = os.path.join(ROOT, "test", "corpora", "rfc4475")
SIPP_DIR = os.path.join(ROOT, "test", "sipp")

# make test VALGRIND=1: sipd runs under valgrind, every wait is longer
VALGRIND = os.environ.get("SIPD_VALGRIND") == "1"
SCALE = float(os.environ.get("SIPD_TIMEOUT_SCALE", "10" if VALGRIND else "1"))


def timing(test):
    """Mark a test that measures rates or times to the second (a load, a
    flood, a ban that ends): it means nothing with sipd under valgrind,
    so run.py skips it there and says so."""
    test.timing = True
    return test


def status(s, *extra):
    """sipctl status --json of a running sipd, parsed."""
    r = s.sipctl("status", "--json", *extra)
    eq(r.returncode, 0, "sipctl status --json (%s)" % r.stderr.strip())
    try:
        return json.loads(r.stdout)
    except ValueError:
        raise AssertionError("status --json is not JSON:\n" + r.stdout)


def bans(s):
    """sipctl ban list --json of a running sipd: {address: ban}."""
    r = s.sipctl("ban", "list", "--json")
    eq(r.returncode, 0, "sipctl ban list --json (%s)" % r.stderr)
    return {b["address"]: b for b in json.loads(r.stdout)}


def valgrind_cmd():
    """The valgrind command line sipd runs under, or [] without it."""
    if not VALGRIND:
        return []
    reports = os.environ.get("SIPD_REPORTS", tempfile.gettempdir())
    return ["valgrind", "--quiet", "--leak-check=full",
            "--errors-for-leak-kinds=definite", "--error-exitcode=99",
            "--suppressions=" + os.path.join(ROOT, "test", "valgrind.supp"),
            "--log-file=" + os.path.join(reports, "valgrind.%p")]


class TestFailure(Exception):
    pass


def check(cond, what):
    """Fail the test with a message unless cond holds."""
    if not cond:
        raise TestFailure(what)


def eq(got, want, what=""):
    if got != want:
        raise TestFailure("%s: expected %r, got %r" % (what, want, got))


def wait_for(pred, what, timeout=5.0, interval=0.05):
    """Poll pred until it holds and return its value; what names it in
    the failure (or is a function that does)."""
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.time() >= deadline:
            raise TestFailure("%s: not within %.1f s" % (
                what() if callable(what) else what, timeout))
        time.sleep(interval)


def rand_token(n=10):
    return "".join(random.choice(string.ascii_letters + string.digits)
                   for _ in range(n))


def free_port(host="127.0.0.1"):
    """A port free for both UDP and TCP on host, below the kernel's
    ephemeral range (32768 and up on Linux), where the clients of other
    processes get their ports: free now, it stays free."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(200):
        port = random.randint(20000, 32767)
        u = socket.socket(fam, socket.SOCK_DGRAM)
        t = socket.socket(fam, socket.SOCK_STREAM)
        try:
            u.bind((host, port))
            t.bind((host, port))
            return port
        except OSError:
            continue
        finally:
            u.close()
            t.close()
    raise TestFailure("no free port")


# --- SIP messages ----------------------------------------------------------

COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id",
           "m": "contact", "l": "content-length", "c": "content-type",
           "k": "supported", "o": "event", "u": "allow-events"}


class Msg:
    """A parsed SIP message (request or response)."""

    def __init__(self, text):
        self.raw = text
        head, _, self.body = text.partition("\r\n\r\n")
        lines = head.split("\r\n")
        self.start = lines[0]
        self.headers = []          # (lower-case name, value)
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and self.headers:
                n, v = self.headers[-1]
                self.headers[-1] = (n, v + " " + line.strip())
                continue
            name, _, value = line.partition(":")
            name = name.strip().lower()
            name = COMPACT.get(name, name)
            self.headers.append((name, value.strip()))
        parts = self.start.split(" ", 2)
        self.is_response = parts[0].startswith("SIP/")
        self.status = int(parts[1]) if self.is_response else 0
        self.reason = parts[2] if self.is_response and len(parts) > 2 else ""
        self.method = "" if self.is_response else parts[0]

    def all(self, name):
        """Every value of a header (comma lists split for Contact etc.)."""
        name = name.lower()
        out = []
        for n, v in self.headers:
            if n != name:
                continue
            if name in ("contact", "via", "allow", "supported", "path",
                        "unsupported", "record-route", "route"):
                out.extend(split_commas(v))
            else:
                out.append(v)
        return out

    def get(self, name, default=None):
        vals = self.all(name)
        return vals[0] if vals else default

    def __repr__(self):
        return "<Msg %s>" % self.start


def split_commas(value):
    out, cur, quoted, angle = [], "", False, False
    for ch in value:
        if ch == '"':
            quoted = not quoted
        elif ch == "<" and not quoted:
            angle = True
        elif ch == ">" and not quoted:
            angle = False
        if ch == "," and not quoted and not angle:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def param(value, name):
    """The value of ;name=value in a header value (None if absent)."""
    for p in value.split(";")[1:]:
        k, _, v = p.partition("=")
        if k.strip().lower() == name.lower():
            return v.strip().strip('"')
    return None


def contact_uri(value):
    m = re.search(r"<([^>]*)>", value)
    return m.group(1) if m else value.split(";")[0].strip()


# --- digest ----------------------------------------------------------------

def hexhash(alg, text):
    h = hashlib.sha256() if alg.upper() == "SHA-256" else hashlib.md5()
    h.update(text.encode())
    return h.hexdigest()


def parse_challenge(value):
    out = {}
    for m in re.finditer(r'(\w+)=("([^"]*)"|[^,\s]+)', value):
        out[m.group(1).lower()] = m.group(3) if m.group(3) is not None \
            else m.group(2)
    return out


def digest_header(chall, method, uri, user, password, nc=1, cnonce=None,
                  realm=None):
    alg = chall.get("algorithm", "MD5")
    realm = realm or chall["realm"]
    cnonce = cnonce or rand_token(12)
    ncs = "%08x" % nc
    ha1 = hexhash(alg, "%s:%s:%s" % (user, realm, password))
    ha2 = hexhash(alg, "%s:%s" % (method, uri))
    resp = hexhash(alg, "%s:%s:%s:%s:auth:%s" % (ha1, chall["nonce"], ncs,
                                                   cnonce, ha2))
    return ('Digest username="%s", realm="%s", nonce="%s", uri="%s", '
            'response="%s", algorithm=%s, qop=auth, nc=%s, cnonce="%s"'
            % (user, realm, chall["nonce"], uri, resp, alg, ncs, cnonce))


# --- a raw SIP client --------------------------------------------------------

class Client:
    """A SIP client over UDP or TCP that writes every byte itself."""

    def __init__(self, server, transport="udp", host="127.0.0.1", port=0):
        self.server = server
        self.transport = transport
        fam = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
        if transport == "udp":
            self.sock = socket.socket(fam, socket.SOCK_DGRAM)
            self.sock.bind((host if fam == socket.AF_INET else "::1", port))
        else:
            self.sock = socket.socket(fam, socket.SOCK_STREAM)
            self.sock.connect(server)
            self.buf = b""
        self.local = self.sock.getsockname()
        self.callid = rand_token(16) + "@test"
        self.cseq = 1
        self.ftag = rand_token(8)

    def close(self):
        self.sock.close()

    def via(self, branch=None):
        branch = branch or "z9hG4bK" + rand_token(12)
        host = self.local[0]
        if ":" in host:
            host = "[%s]" % host
        return "SIP/2.0/%s %s:%d;branch=%s;rport" % (
            self.transport.upper(), host, self.local[1], branch)

    def send_raw(self, data):
        if isinstance(data, str):
            data = data.encode()
        if self.transport == "udp":
            self.sock.sendto(data, self.server)
        else:
            self.sock.sendall(data)

    def recv(self, timeout=2.0):
        """The next message, or None on timeout."""
        timeout *= SCALE
        self.sock.settimeout(timeout)
        try:
            if self.transport == "udp":
                data, _ = self.sock.recvfrom(65535)
                return Msg(data.decode("utf-8", "replace"))
            deadline = time.time() + timeout
            while True:
                m = self._tcp_message()
                if m:
                    return m
                left = deadline - time.time()
                if left <= 0:
                    return None
                self.sock.settimeout(left)
                chunk = self.sock.recv(65535)
                if not chunk:
                    return None
                self.buf += chunk
        except (socket.timeout, ConnectionResetError):
            return None

    def _tcp_message(self):
        while self.buf.startswith(b"\r\n"):
            self.buf = self.buf[2:]
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = self.buf[:end].decode("utf-8", "replace")
        m = re.search(r"(?im)^(content-length|l)\s*:\s*(\d+)", head)
        clen = int(m.group(2)) if m else 0
        total = end + 4 + clen
        if len(self.buf) < total:
            return None
        data, self.buf = self.buf[:total], self.buf[total:]
        return Msg(data.decode("utf-8", "replace"))

    def request(self, method, ruri, headers=(), body="", to=None,
                frm=None, cseq=None, callid=None, branch=None,
                max_forwards=70):
        to = to or "<%s>" % ruri
        frm = frm or "<sip:tester@example.com>;tag=%s" % self.ftag
        if cseq is None:
            cseq = self.cseq
            self.cseq += 1
        lines = ["%s %s SIP/2.0" % (method, ruri),
                 "Via: %s" % self.via(branch),
                 "Max-Forwards: %d" % max_forwards,
                 "From: %s" % frm,
                 "To: %s" % to,
                 "Call-ID: %s" % (callid or self.callid),
                 "CSeq: %d %s" % (cseq, method)]
        lines.extend(headers)
        lines.append("Content-Length: %d" % len(body.encode()))
        text = "\r\n".join(lines) + "\r\n\r\n" + body
        self.send_raw(text)
        return text

    def final(self, timeout=3.0):
        """Skip provisional responses; the final one or None."""
        deadline = time.time() + timeout * SCALE
        while True:
            m = self.recv(max(0.05, deadline - time.time()) / SCALE)
            if m is None:
                return None
            if m.is_response and m.status >= 200:
                return m
            if time.time() >= deadline:
                return None

    def register(self, aor, password=None, contacts=None, expires=None,
                 alg="SHA-256", user=None, extra=(), cseq=None,
                 realm=None):
        """REGISTER, answering a challenge when a password is given.

        Returns the final response (a 401 if no password)."""
        domain = aor.split("@", 1)[1]
        ruri = "sip:" + domain
        hdrs = list(extra)
        if contacts is None:
            host = self.local[0]
            contacts = ["<sip:%s@%s:%d%s>" % (
                aor.split("@")[0], host, self.local[1],
                ";transport=tcp" if self.transport == "tcp" else "")]
        hdrs += ["Contact: %s" % c for c in contacts]
        if expires is not None:
            hdrs.append("Expires: %d" % expires)
        to = "<sip:%s>" % aor
        frm = "<sip:%s>;tag=%s" % (aor, self.ftag)
        self.request("REGISTER", ruri, hdrs, to=to, frm=frm, cseq=cseq)
        resp = self.final()
        if resp is None or resp.status != 401 or password is None:
            return resp
        chall = None
        for v in resp.all("www-authenticate"):
            c = parse_challenge(v)
            if c.get("algorithm", "MD5").upper() == alg.upper():
                chall = c
        check(chall is not None, "no %s challenge in %s" % (alg, resp.raw))
        auth = digest_header(chall, "REGISTER", ruri, user or
                             aor.split("@")[0], password, realm=realm)
        self.request("REGISTER", ruri, hdrs + ["Authorization: " + auth],
                     to=to, frm=frm)
        return self.final()


# --- the daemon ------------------------------------------------------------

class Sipd:
    """sipd on loopback with a temporary configuration and database.

    conf is the configuration text; {port}, {port2}, {db} and {dir} are
    filled in, and a control_socket line in the directory is added when
    the text has none. accounts are created with sipctl before start."""

    def __init__(self, conf=None, accounts=(("alice@example.com", "secret"),
                                            ("bob@example.com", "secret2")),
                 start=True):
        self.dir = tempfile.mkdtemp(prefix="sipd-it-")
        self.port = free_port()
        self.port2 = free_port()
        while self.port2 == self.port:     # both free: the same draw
            self.port2 = free_port()
        self.db = os.path.join(self.dir, "sipd.db")
        self.conf_path = os.path.join(self.dir, "sipd.conf")
        self.log_path = os.path.join(self.dir, "sipd.log")
        self.pidfile = os.path.join(self.dir, "sipd.pid")
        self.ctl_path = os.path.join(self.dir, "sipd.ctl")
        self.proc = None
        if conf is None:
            conf = DEFAULT_CONF
        self.write_conf(conf)
        if accounts:
            r = self.sipctl("db", "init")
            check(r.returncode == 0, "sipctl db init: %s" % r.stderr)
            for aor, pw in accounts:
                r = self.sipctl("user", "add", aor, pw)
                check(r.returncode == 0, "sipctl user add: %s" % r.stderr)
        if start:
            self.start()

    def write_conf(self, conf):
        text = conf.format(port=self.port, port2=self.port2, db=self.db,
                           dir=self.dir)
        # the tests' phones all send from 127.0.0.1, faster than phones
        # do: the flood tests set their own limits and use 127.0.0.2+
        if "flood_" not in text:
            text += "flood_exempt 127.0.0.1\n"
        if "control_socket" not in text:
            text += "control_socket %s\n" % self.ctl_path
        with open(self.conf_path, "w") as f:
            f.write(text)

    @property
    def addr(self):
        return ("127.0.0.1", self.port)

    @property
    def addr2(self):
        return ("127.0.0.1", self.port2)

    def start(self, timeout=5.0):
        before = len(self.log())
        timeout *= SCALE
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            valgrind_cmd() +
            [SIPD, "-f", self.conf_path, "-m", MODULES, "-p", self.pidfile],
            stdout=self.logf, stderr=subprocess.STDOUT, cwd=self.dir)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise TestFailure("sipd exited with %d:\n%s" % (
                    self.proc.returncode, self.log()))
            if "started with" in self.log()[before:]:
                return
            time.sleep(0.02)
        raise TestFailure("sipd did not start:\n" + self.log())

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        if not self.proc:
            return None
        timeout *= SCALE
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        self.proc = None
        self.logf.close()
        return rc

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def restart(self):
        self.stop()
        self.start()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def sipctl(self, *args, stdin=None):
        return subprocess.run([SIPCTL, "-f", self.conf_path] + list(args),
                              capture_output=True, text=True, input=stdin,
                              cwd=self.dir, timeout=60)

    def query(self, sql, args=()):
        """Rows from the database, read by another connection."""
        con = sqlite3.connect(self.db, timeout=10)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def client(self, transport="udp", port=None):
        return Client(self.addr if port is None else ("127.0.0.1", port),
                      transport)

    def close(self):
        self.stop(signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def start_refused(s, what):
    """Start s (made with start=False) expecting sipd to refuse its
    configuration; returns what sipd said."""
    try:
        s.start()
    except TestFailure as e:
        return str(e)
    raise TestFailure("sipd started with %s" % what)


DEFAULT_CONF = """\
# integration test configuration
domain example.com
db {db}
log_level debug
module location
module auth
listen udp:127.0.0.1:{port};roles=registrar
listen tcp:127.0.0.1:{port};roles=registrar
listen udp:127.0.0.1:{port2};roles=redirect
registrar_min_expires 10
auth_nonce_expiry 30
"""


def sipc(*args, timeout=30):
    """Run the libre test client; returns (exit status, Msg or None)."""
    r = subprocess.run([SIPC] + list(args), capture_output=True, text=True,
                       timeout=timeout)
    out = r.stdout.strip()
    msg = Msg(out.replace("\n", "\r\n") + "\r\n\r\n") if out else None
    return r.returncode, msg


def sipp(scenario, server, *args, timeout=120):
    """Run SIPp with a scenario of test/sipp; returns CompletedProcess."""
    path = scenario if os.path.isabs(scenario) else \
        os.path.join(SIPP_DIR, scenario)
    cmd = ["sipp", "-sf", path, "-i", "127.0.0.1",
           "%s:%d" % server] + list(args)
    return subprocess.run(cmd, capture_output=True, text=True,
                          timeout=timeout)
