"""RFC 4475 torture messages: every file of the corpus, over UDP and TCP.

Each message is sent byte for byte as the corpus carries it. sipd runs
with the domains the messages target, a registrar and redirect socket with
digest auth off (so that REGISTERs are really processed and INVITEs and
OPTIONS are really redirected) and a registrar socket with auth on (for
regaut01). The accounts and bindings below make the answers meaningful:
an INVITE for sip:user@example.com that sipd parsed right gets a 302
listing user's binding.

libre answers a UDP request to the source address and the port of the
top Via (5060 when absent) unless the Via has rport, and the corpus Vias
name other hosts, so the UDP sender is bound to a loopback address other
than sipd's (127.0.0.2 or the next free one) on the port of the top Via.

Over TCP libre closes the connection when its parser rejects a message, so
for invalid messages that libre cannot decode a closed connection (or no
answer) is accepted there. After each batch sipd must still run and answer
a fresh OPTIONS.
"""

import os
import re
import socket
import time

from sipdlib import (CORPUS, Sipd, TestFailure, Msg, check, eq, param,
                     contact_uri)


# --- configuration -----------------------------------------------------------

CONF = """\
# RFC 4475 torture tests
domain example.com
domain example.org
domain chair-dnrc.example.com
db {db}
log_level info
module location
module auth
listen udp:127.0.0.1:{port};roles=registrar,redirect;auth=off
listen tcp:127.0.0.1:{port};roles=registrar,redirect;auth=off
listen udp:127.0.0.1:{port2};roles=registrar
listen tcp:127.0.0.1:{port2};roles=registrar
registrar_min_expires 10
"""

ACCOUNTS = (
    ("user@example.com", "pw-user"),
    ("watson@example.com", "pw-watson"),
    ("j.user@example.com", "pw-juser"),
    ("UserB@example.com", "pw-userb"),
    ("null-%00-null@example.com", "pw-null"),
    ("vivekg@chair-dnrc.example.com", "pw-vivek"),
    ("kumiko@example.org", "pw-kumiko"),
)

# bindings added with sipctl before the messages are sent: a redirect of
# these users proves that sipd found the right AOR in the Request-URI
BINDINGS = (
    ("user@example.com", "sip:user@192.0.2.10:5060"),
    ("vivekg@chair-dnrc.example.com", "sip:vivekg@192.0.2.20:5060"),
    ("UserB@example.com", "sip:userb@192.0.2.30:5060"),
    ("kumiko@example.org", "sip:kumiko@192.0.2.40:5060"),
)

REPLY_WAIT = 2.0        # seconds to wait for an answer that must come
SILENCE_WAIT = 1.0      # seconds of silence that count as "no answer"


def start_sipd():
    s = Sipd(CONF, accounts=ACCOUNTS, start=False)
    try:
        for aor, contact in BINDINGS:
            r = s.sipctl("reg", "add", aor, contact)
            check(r.returncode == 0, "sipctl reg add %s %s: %s" % (
                aor, contact, r.stderr))
        s.start()
    except Exception:
        s.close()
        raise
    return s


# --- the corpus ------------------------------------------------------------

def load(name):
    with open(os.path.join(CORPUS, name), "rb") as f:
        return f.read()


def raw_headers(data):
    """(lower-case name, value) of the header lines, folding undone."""
    end = data.find(b"\r\n\r\n")
    head = data if end < 0 else data[:end]
    lines = head.decode("latin-1").split("\r\n")[1:]
    out = []
    for line in lines:
        if line[:1] in (" ", "\t") and out:
            out[-1] = (out[-1][0], out[-1][1] + " " + line.strip())
            continue
        name, sep, value = line.partition(":")
        if not sep:
            continue
        out.append((name.strip().lower(), value.strip()))
    return out


def header_values(data, full, compact=None):
    return [v for n, v in raw_headers(data)
            if n == full or (compact and n == compact)]


def top_via_port(data):
    """The port of the top Via's sent-by, 5060 when it names none."""
    vias = header_values(data, "via", "v")
    if not vias:
        return 5060
    m = re.match(r"SIP\s*/\s*[^/]+/\s*\S+\s+([^;,\s]+)", vias[0])
    if not m:
        return 5060
    hostport = m.group(1)
    if hostport.startswith("["):
        tail = hostport.rsplit("]", 1)[1]
        return int(tail[1:]) if tail.startswith(":") else 5060
    if ":" in hostport:
        return int(hostport.rsplit(":", 1)[1])
    return 5060


def identity(data):
    """What a response to this message echoes: Call-IDs, else CSeqs."""
    ids = [("call-id", v) for v in header_values(data, "call-id", "i")]
    if not ids:
        ids = [("cseq", v) for v in header_values(data, "cseq")]
    return ids


def answers(resp, ids):
    for name, value in ids:
        if value in resp.all(name):
            return True
    return False


def request_line(data):
    return data.split(b"\r\n", 1)[0].decode("latin-1")


# --- transports --------------------------------------------------------------

class UdpSender:
    """UDP sockets on one loopback address other than sipd's, one for each
    Via port a message names, so that libre's replies reach them."""

    PORTS = (5060, 5050, 5070)

    def __init__(self):
        self.socks = {}
        self.host = None
        for last in range(2, 255):
            host = "127.0.0.%d" % last
            socks = {}
            try:
                for port in self.PORTS:
                    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    socks[port] = u
                    u.bind((host, port))
            except OSError:
                for u in socks.values():
                    u.close()
                continue
            self.host = host
            self.socks = socks
            return
        raise TestFailure("no loopback address with ports %s free" %
                          (self.PORTS,))

    def sock(self, port):
        if port not in self.socks:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.bind((self.host, port))
            self.socks[port] = u
        return self.socks[port]

    def close(self):
        for u in self.socks.values():
            u.close()
        self.socks = {}


def udp_collect(sock, ids, wait, until_final=True):
    """Responses matching ids that arrive within wait seconds (stops at
    the first final one when until_final)."""
    got = []
    deadline = time.time() + wait
    while True:
        left = deadline - time.time()
        if left <= 0:
            return got
        sock.settimeout(left)
        try:
            data, _ = sock.recvfrom(65535)
        except socket.timeout:
            return got
        except ConnectionRefusedError:
            continue
        m = Msg(data.decode("utf-8", "replace"))
        if not m.is_response or not answers(m, ids):
            continue
        got.append(m)
        if until_final and m.status >= 200:
            return got


def send_ack(sock, dst, data, resp):
    """ACK a non-2xx final response to an INVITE (stops retransmissions)."""
    via = resp.get("via", "")
    m = re.match(r"SIP\s*/\s*2\.0\s*/\s*(\w+)\s+([^;,\s]+)", via)
    branch = param(via, "branch")
    if not m or not branch:
        return
    ruri = request_line(data).split()[1]
    cseq = resp.get("cseq", "").split()
    lines = ["ACK %s SIP/2.0" % ruri,
             "Via: SIP/2.0/%s %s;branch=%s" % (m.group(1), m.group(2),
                                               branch),
             "Max-Forwards: 70",
             "From: %s" % resp.get("from", ""),
             "To: %s" % resp.get("to", ""),
             "Call-ID: %s" % resp.get("call-id", ""),
             "CSeq: %s ACK" % (cseq[0] if cseq else "1"),
             "Content-Length: 0"]
    sock.sendto(("\r\n".join(lines) + "\r\n\r\n").encode(), dst)


class TcpResult:
    def __init__(self):
        self.responses = []
        self.closed = False


def tcp_exchange(addr, data, ids, wait, until_final=True):
    """Send data on a fresh connection; the responses and whether sipd
    closed the connection."""
    res = TcpResult()
    t = socket.create_connection(addr, timeout=2)
    buf = b""
    try:
        t.sendall(data)
        deadline = time.time() + wait
        while True:
            while True:
                while buf.startswith(b"\r\n"):
                    buf = buf[2:]
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    break
                head = buf[:end].decode("latin-1")
                m = re.search(r"(?im)^(content-length|l)[ \t]*:[ \t]*(\d+)",
                              head)
                total = end + 4 + (int(m.group(2)) if m else 0)
                if len(buf) < total:
                    break
                msg = Msg(buf[:total].decode("utf-8", "replace"))
                buf = buf[total:]
                if msg.is_response and answers(msg, ids):
                    res.responses.append(msg)
            if until_final and any(r.status >= 200 for r in res.responses):
                return res
            left = deadline - time.time()
            if left <= 0:
                return res
            t.settimeout(left)
            try:
                chunk = t.recv(65535)
            except socket.timeout:
                return res
            except ConnectionResetError:
                res.closed = True
                return res
            if not chunk:
                res.closed = True
                return res
            buf += chunk
    finally:
        t.close()


# --- expectations --------------------------------------------------------

SILENT = "silent"          # no response at all
CLOSED = "closed"          # TCP: connection closed by sipd, or no response


class Case:
    """One corpus file and what sipd must do with it.

    udp, tcp: a tuple of acceptable final status codes, SILENT, or for tcp
    also CLOSED (closed or silent accepted besides the codes in tcp_codes).
    check(ctx, resp) returns an error text or None; ctx has s (Sipd) and
    transport."""

    def __init__(self, name, category, udp, tcp=None, check=None,
                 auth_socket=False, tcp_close_ok=False, post=None):
        self.name = name
        self.category = category
        self.udp = udp
        self.tcp = udp if tcp is None else tcp
        self.check = check
        self.auth_socket = auth_socket
        self.tcp_close_ok = tcp_close_ok
        self.post = post


class Ctx:
    def __init__(self, s, transport, sender=None):
        self.s = s
        self.transport = transport
        self.sender = sender


def contacts_of(resp):
    return [contact_uri(c) for c in resp.all("contact")]


def redirect_to(uri):
    def chk(ctx, resp):
        if resp.status != 302:
            return None
        if uri not in contacts_of(resp):
            return "302 does not list %s: %s" % (uri, resp.all("contact"))
        return None
    return chk


def binding_rows(s, aor):
    return s.query("SELECT contact, params FROM bindings WHERE aor = ?"
                   " ORDER BY id", (aor,))


def chk_escnull(ctx, resp):
    want = {"sip:%00@host5.example.com", "sip:%00%00@host5.example.com"}
    got = set(contacts_of(resp))
    if not want <= got:
        return "200 lists %s, want both %s" % (sorted(got), sorted(want))
    rows = {c for c, _ in binding_rows(ctx.s, "null-%00-null@example.com")}
    if not want <= rows:
        return "stored bindings %s, want %s (%%00 must not truncate)" % (
            sorted(rows), sorted(want))
    return None


def chk_dblreq(ctx, resp):
    """The REGISTER is taken: its 200 lists the binding. Over UDP the row
    stays; over TCP its Via (192.0.2.125, not the source) puts it behind
    a NAT, so the binding ends with the connection the test closed."""
    want = "sip:j.user@host.example.com"
    if want not in contacts_of(resp):
        return "the 200 does not list %s: %s" % (want, contacts_of(resp))
    if ctx.transport != "udp":
        return None
    rows = [c for c, _ in binding_rows(ctx.s, "j.user@example.com")]
    if want not in rows:
        return "binding of j.user not stored: %s" % rows
    return None


def post_dblreq(ctx, data):
    """The INVITE after the REGISTER is trailing junk of the datagram:
    nothing may answer it over UDP."""
    if ctx.transport != "udp":
        return None
    ids = [("call-id", "dblreq.0ha0isnda977644900765@192.0.2.15")]
    got = udp_collect(ctx.sender.sock(5060), ids, SILENCE_WAIT, False)
    if got:
        return "the trailing INVITE was answered: %s" % got[0].start
    return None


def chk_bext01(ctx, resp):
    if resp.status != 420:
        return None
    unsup = [u.strip().lower() for u in resp.all("unsupported")]
    want = ["nothingsupportsthis", "nothingsupportsthiseither"]
    if sorted(unsup) != want:
        return "Unsupported lists %s, want exactly %s (the Require tags," \
               " not the Proxy-Require ones)" % (resp.all("unsupported"),
                                                 want)
    return None


def chk_415(ctx, resp):
    if resp.status == 415 and not resp.get("accept"):
        return "415 without Accept"
    return None


def chk_401(ctx, resp):
    if resp.status == 401 and not resp.all("www-authenticate"):
        return "401 without WWW-Authenticate"
    return None


def chk_regescrt(ctx, resp):
    want = "sip:user@example.com?Route=%3Csip:sip.example.com%3E"
    rows = [c for c, _ in binding_rows(ctx.s, "user@example.com")]
    if want not in rows:
        return "stored bindings of user@example.com %s lack %s" % (rows,
                                                                    want)
    if want not in contacts_of(resp):
        return "200 does not list %s: %s" % (want, resp.all("contact"))
    return None


def chk_no_binding(aor, contact_prefix):
    def chk(ctx, resp):
        rows = [c for c, _ in binding_rows(ctx.s, aor)]
        bad = [c for c in rows if c.startswith(contact_prefix)]
        if bad:
            return "a binding was stored from a rejected REGISTER: %s" % bad
        return None
    return chk


REDIRECT_USER = redirect_to("sip:user@192.0.2.10:5060")

CASES = [
    # --- 3.1.1 valid messages
    Case("wsinv.dat", "valid", (302,),
         check=redirect_to("sip:vivekg@192.0.2.20:5060")),
    Case("intmeth.dat", "valid", (501,)),
    Case("esc01.dat", "valid", (404,)),      # example.net is not served
    Case("escnull.dat", "valid", (200,), check=chk_escnull),
    Case("esc02.dat", "valid", (501,)),      # RE%47IST%45R is no REGISTER
    Case("lwsdisp.dat", "valid", (302,), check=REDIRECT_USER),
    # no branch in any Via (RFC 2543 style): libre's TCP parser drops it;
    # test_valid_without_branch_tcp expects the proper answer there
    Case("longreq.dat", "valid", (302,), check=REDIRECT_USER,
         tcp_close_ok=True),
    Case("dblreq.dat", "valid", (200,), check=chk_dblreq, post=post_dblreq),
    # user part "user;par=u%40example.net" is not the account "user"
    Case("semiuri.dat", "valid", (404,)),
    Case("transports.dat", "valid", (302,), check=REDIRECT_USER),
    Case("mpart01.dat", "valid", (302,),
         check=redirect_to("sip:kumiko@192.0.2.40:5060")),
    # --- 3.1.2 invalid messages
    Case("badinv01.dat", "invalid", (400,), tcp_close_ok=True),
    Case("clerr.dat", "invalid", (400,), tcp=SILENT),  # TCP: waits for more
    Case("ncl.dat", "invalid", (400,)),
    Case("scalar02.dat", "invalid", (400,)),
    Case("quotbal.dat", "invalid", (400,)),
    Case("ltgtruri.dat", "invalid", (400,), tcp_close_ok=True),
    Case("lwsruri.dat", "invalid", (400,), tcp_close_ok=True),
    Case("lwsstart.dat", "invalid", (400,), tcp_close_ok=True),
    Case("trws.dat", "invalid", (400,), tcp_close_ok=True),
    Case("escruri.dat", "invalid", (400,)),
    # a Date in EST: 400, or the Date ignored and the INVITE redirected
    Case("baddate.dat", "invalid", (400, 302), check=REDIRECT_USER),
    Case("regbadct.dat", "invalid", (400,),
         check=chk_no_binding("user@example.com", "sip:user@example.com")),
    Case("badaspec.dat", "invalid", (400,)),
    # no empty line after the headers: over TCP the message never ends
    Case("baddn.dat", "invalid", (400,), tcp=(400,), tcp_close_ok=True),
    Case("badvers.dat", "invalid", (505,), tcp_close_ok=True),
    Case("mismatch01.dat", "invalid", (400,)),
    Case("mismatch02.dat", "invalid", (501,)),
    # --- responses: never answered, never forwarded
    Case("unreason.dat", "valid", SILENT),
    Case("noreason.dat", "valid", SILENT),
    Case("scalarlg.dat", "invalid", SILENT),
    Case("bigcode.dat", "invalid", SILENT),
    Case("bcast.dat", "application-layer", SILENT),
    # --- 3.2 and 3.3 transaction and application layer
    Case("badbranch.dat", "transaction-layer", (400, 302),
         check=REDIRECT_USER),
    Case("insuf.dat", "application-layer", (400,)),
    Case("unkscm.dat", "application-layer", (416,)),
    Case("novelsc.dat", "application-layer", (416,)),
    Case("unksm2.dat", "application-layer", (400,), tcp_close_ok=True),
    Case("bext01.dat", "application-layer", (420,), check=chk_bext01),
    Case("invut.dat", "application-layer", (302, 415),
         check=lambda c, r: chk_415(c, r) or REDIRECT_USER(c, r)),
    Case("regaut01.dat", "application-layer", (401,), check=chk_401,
         auth_socket=True),
    Case("multi01.dat", "application-layer", (400,)),
    Case("mcl01.dat", "application-layer", (400,), tcp_close_ok=True),
    # Max-Forwards 0: only a proxy stops it (483); an endpoint processes
    # it as if Max-Forwards were positive, so the redirect server redirects
    Case("zeromf.dat", "application-layer", (302,), check=REDIRECT_USER),
    Case("cparam01.dat", "application-layer", (200,)),
    Case("cparam02.dat", "application-layer", (200,)),
    Case("regescrt.dat", "application-layer", (200,), check=chk_regescrt),
    Case("sdp01.dat", "application-layer", (302, 406, 400),
         check=REDIRECT_USER),
    # --- 3.4 backward compatibility: RFC 2543 INVITE, no branch, no
    # Max-Forwards, no Content-Length (so invalid over TCP, RFC 3261 18.3)
    Case("inv2543.dat", "backward-compat", (302,),
         check=redirect_to("sip:userb@192.0.2.30:5060"),
         tcp=(400,), tcp_close_ok=True),
    # not in RFC 4475; no Via, no SIP-Version: nothing can be answered
    Case("test.dat", "not-in-rfc", SILENT, tcp=SILENT, tcp_close_ok=True),
]

CASE = {c.name: c for c in CASES}

GROUPS = {
    "valid": ["wsinv.dat", "intmeth.dat", "esc01.dat", "escnull.dat",
              "esc02.dat", "lwsdisp.dat", "longreq.dat", "dblreq.dat",
              "semiuri.dat", "transports.dat", "mpart01.dat"],
    # mismatch01 before baddate: they share branch and sent-by, see
    # test_cseq_method_mismatch_after_invite_udp
    "invalid": ["badinv01.dat", "clerr.dat", "ncl.dat", "scalar02.dat",
                "quotbal.dat", "ltgtruri.dat", "lwsruri.dat",
                "lwsstart.dat", "trws.dat", "escruri.dat", "mismatch01.dat",
                "mismatch02.dat", "baddate.dat", "regbadct.dat",
                "badaspec.dat", "baddn.dat", "badvers.dat"],
    "responses": ["unreason.dat", "noreason.dat", "scalarlg.dat",
                  "bigcode.dat", "bcast.dat"],
    "application": ["badbranch.dat", "insuf.dat", "unkscm.dat",
                    "novelsc.dat", "unksm2.dat", "bext01.dat", "invut.dat",
                    "regaut01.dat", "multi01.dat", "mcl01.dat",
                    "zeromf.dat", "cparam01.dat", "cparam02.dat",
                    "regescrt.dat", "sdp01.dat"],
    "compat": ["inv2543.dat", "test.dat"],
}


# --- running a case ----------------------------------------------------------

def generic_check(data, resp):
    """What every answer to a request must carry."""
    if not resp.all("via"):
        return "response without Via"
    if header_values(data, "to", "t") and resp.status > 100:
        to = resp.get("to", "")
        if param(to, "tag") is None:
            return "To of the %d has no tag: %s" % (resp.status, to)
    return None


def describe(got):
    if not got:
        return "no response"
    return ", ".join("%d %s" % (m.status, m.reason) for m in got)


def run_udp(ctx, case):
    """None if sipd did what the case expects over UDP, else the problem."""
    data = load(case.name)
    ids = identity(data)
    dst = ctx.s.addr2 if case.auth_socket else ctx.s.addr
    sock = ctx.sender.sock(top_via_port(data))
    sock.sendto(data, dst)

    if case.udp == SILENT:
        got = udp_collect(sock, ids, SILENCE_WAIT, False)
        if got:
            return "expected no response, got %s" % describe(got)
        return None

    got = udp_collect(sock, ids, REPLY_WAIT)
    finals = [m for m in got if m.status >= 200]
    if not finals:
        return "expected %s, got %s" % (codes(case.udp), describe(got))
    resp = finals[0]
    if request_line(data).startswith("INVITE ") and resp.status >= 300:
        send_ack(sock, dst, data, resp)
    if resp.status not in case.udp:
        return "expected %s, got %d %s" % (codes(case.udp), resp.status,
                                           resp.reason)
    err = generic_check(data, resp)
    if not err and case.check:
        err = case.check(ctx, resp)
    if not err and case.post:
        err = case.post(ctx, data)
    return err


def run_tcp(ctx, case):
    """None if sipd did what the case expects over TCP, else the problem."""
    data = load(case.name)
    ids = identity(data)
    dst = ctx.s.addr2 if case.auth_socket else ctx.s.addr
    expect = case.tcp

    if expect == SILENT:
        res = tcp_exchange(dst, data, ids, SILENCE_WAIT, False)
        if res.responses:
            return "expected no response, got %s" % describe(res.responses)
        return None

    res = tcp_exchange(dst, data, ids, REPLY_WAIT)
    finals = [m for m in res.responses if m.status >= 200]
    if not finals:
        if case.tcp_close_ok:
            return None        # libre's parser refused it: closed/silent
        return "expected %s, got %s%s" % (
            codes(expect), describe(res.responses),
            " (connection closed)" if res.closed else "")
    resp = finals[0]
    if resp.status not in expect:
        return "expected %s, got %d %s" % (codes(expect), resp.status,
                                           resp.reason)
    err = generic_check(data, resp)
    if not err and case.check:
        err = case.check(ctx, resp)
    if not err and case.post:
        err = case.post(ctx, data)
    return err


def codes(expect):
    if expect == SILENT:
        return "no response"
    return " or ".join(str(c) for c in expect)


def assert_healthy(s, what):
    """sipd runs and answers a fresh OPTIONS over UDP and TCP."""
    check(s.alive(), "sipd died after %s:\n%s" % (what, s.log()[-4000:]))
    for tp in ("udp", "tcp"):
        c = s.client(tp)
        try:
            c.request("OPTIONS", "sip:example.com",
                      to="<sip:example.com>")
            r = c.final()
        finally:
            c.close()
        check(r is not None, "no answer to OPTIONS over %s after %s" % (
            tp, what))
        eq(r.status, 200, "OPTIONS over %s after %s" % (tp, what))
    check(s.alive(), "sipd died after %s" % what)


def run_group(group, transport, files=None):
    files = files or GROUPS[group]
    with start_sipd() as s:
        sender = UdpSender() if transport == "udp" else None
        ctx = Ctx(s, transport, sender)
        problems = []
        try:
            for name in files:
                case = CASE[name]
                if transport == "udp":
                    err = run_udp(ctx, case)
                else:
                    err = run_tcp(ctx, case)
                if err:
                    problems.append("%s over %s: %s" % (name,
                                                        transport.upper(),
                                                        err))
                if not s.alive():
                    problems.append("%s over %s: sipd died" % (
                        name, transport.upper()))
                    break
        finally:
            if sender:
                sender.close()
        if s.alive():
            try:
                assert_healthy(s, "the %s messages over %s" % (
                    group, transport.upper()))
            except TestFailure as e:
                problems.append(str(e))
        else:
            problems.append("sipd is not running:\n" + s.log()[-4000:])
        if problems:
            raise TestFailure("%d of %d %s messages over %s mishandled:\n  "
                              % (len(problems), len(files), group,
                                 transport.upper()) +
                              "\n  ".join(problems))


# --- tests -------------------------------------------------------------------

def test_corpus_is_covered():
    """Every file of the corpus is in INDEX.tsv and in a group here."""
    files = sorted(f for f in os.listdir(CORPUS) if f.endswith(".dat"))
    check(len(files) >= 50, "corpus has only %d files" % len(files))
    index = {}
    with open(os.path.join(CORPUS, "INDEX.tsv"), encoding="utf-8") as f:
        next(f)
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) >= 4:
                index[cols[0]] = cols[3]
    grouped = sorted(n for g in GROUPS.values() for n in g)
    eq(sorted(index), files, "files listed in INDEX.tsv")
    eq(grouped, files, "files run by the groups of test_torture")
    eq(sorted(CASE), files, "files with an expectation")
    for c in CASES:
        eq(c.category, index[c.name], "category of %s" % c.name)


def test_valid_udp():
    run_group("valid", "udp")


def test_valid_tcp():
    run_group("valid", "tcp")


def test_valid_without_branch_tcp():
    """longreq.dat is valid (RFC 4475 3.1.1.7) though its Vias carry no
    branch; over TCP it must be answered like over UDP."""
    with start_sipd() as s:
        data = load("longreq.dat")
        res = tcp_exchange(s.addr, data, identity(data), REPLY_WAIT)
        finals = [m for m in res.responses if m.status >= 200]
        check(finals, "longreq.dat over TCP: expected 302, got %s%s" % (
            describe(res.responses),
            " (sipd closed the connection)" if res.closed else ""))
        eq(finals[0].status, 302, "longreq.dat over TCP")
        assert_healthy(s, "longreq.dat over TCP")


def test_invalid_udp():
    run_group("invalid", "udp")


def test_invalid_tcp():
    run_group("invalid", "tcp")


def test_responses_udp():
    run_group("responses", "udp")


def test_responses_tcp():
    run_group("responses", "tcp")


def test_application_udp():
    run_group("application", "udp")


def test_application_tcp():
    run_group("application", "tcp")


def test_compat_udp():
    run_group("compat", "udp")


def test_compat_tcp():
    run_group("compat", "tcp")


def register_params(transport):
    """cparam01, cparam02 and regescrt, one at a time, and what got
    stored after each (RFC 4475 3.3.12 to 3.3.14)."""
    with start_sipd() as s:
        sender = UdpSender() if transport == "udp" else None
        ctx = Ctx(s, transport, sender)
        run = run_udp if transport == "udp" else run_tcp
        try:
            err = run(ctx, CASE["cparam01.dat"])
            check(err is None, "cparam01.dat: %s" % err)
            rows = binding_rows(s, "watson@example.com")
            eq(len(rows), 1, "bindings of watson after cparam01")
            eq(rows[0][0], "sip:+19725552222@gw1.example.net",
               "cparam01: ;unknownparam outside <> is a contact-param,"
               " not part of the stored URI")
            check("unknownparam" in rows[0][1],
                  "cparam01: the contact-param is kept with the binding:"
                  " params %r" % rows[0][1])

            r = s.sipctl("reg", "del", "watson@example.com")
            eq(r.returncode, 0, "sipctl reg del watson: %s" % r.stderr)

            err = run(ctx, CASE["cparam02.dat"])
            check(err is None, "cparam02.dat: %s" % err)
            rows = binding_rows(s, "watson@example.com")
            eq(len(rows), 1, "bindings of watson after cparam02")
            eq(rows[0][0], "sip:+19725552222@gw1.example.net;unknownparam",
               "cparam02: ;unknownparam inside <> is a URI parameter")

            err = run(ctx, CASE["regescrt.dat"])
            check(err is None, "regescrt.dat: %s" % err)

            r = s.sipctl("reg", "list", "--json")
            eq(r.returncode, 0, "sipctl reg list --json: %s" % r.stderr)
            import json
            listed = {(b["aor"], b["contact"]) for b in json.loads(r.stdout)}
            for want in (("watson@example.com",
                          "sip:+19725552222@gw1.example.net;unknownparam"),
                         ("user@example.com", "sip:user@example.com?Route="
                          "%3Csip:sip.example.com%3E")):
                check(want in listed, "sipctl reg list lacks %s: %s" % (
                    want, sorted(listed)))
            for b in json.loads(r.stdout):
                if b["aor"] == "watson@example.com":
                    eq(b["transport"], transport, "transport of watson")
        finally:
            if sender:
                sender.close()
        assert_healthy(s, "the REGISTER messages over %s" % transport)


def test_register_params_udp():
    register_params("udp")


def test_register_params_tcp():
    register_params("tcp")


def test_whole_corpus_burst():
    """Every file at once over UDP and over TCP, no waiting: sipd keeps
    running and still answers."""
    with start_sipd() as s:
        sender = UdpSender()
        conns = []
        try:
            for name in sorted(CASE):
                data = load(name)
                dst = s.addr2 if CASE[name].auth_socket else s.addr
                sender.sock(top_via_port(data)).sendto(data, dst)
                t = socket.create_connection(dst, timeout=2)
                t.sendall(data)
                conns.append(t)
            # every byte of the corpus on one TCP connection as well
            t = socket.create_connection(s.addr, timeout=2)
            t.sendall(b"".join(load(n) for n in sorted(CASE)))
            conns.append(t)
            time.sleep(1.0)
        finally:
            for t in conns:
                t.close()
            sender.close()
        assert_healthy(s, "the whole corpus in a burst")


def test_cseq_method_mismatch_after_invite_udp():
    """baddate.dat (an INVITE) and mismatch01.dat (an OPTIONS whose CSeq
    says INVITE) share branch and sent-by. By RFC 3261 17.2.3 a request
    of another method is another transaction, so mismatch01 must still get
    its own 400, not a retransmission of baddate's answer."""
    with start_sipd() as s:
        sender = UdpSender()
        ctx = Ctx(s, "udp", sender)
        try:
            err = run_udp(ctx, CASE["baddate.dat"])
            check(err is None, "baddate.dat: %s" % err)
            data = load("mismatch01.dat")
            sock = sender.sock(top_via_port(data))
            sock.sendto(data, s.addr)
            got = udp_collect(sock, [("cseq", "1392934 INVITE"),
                                     ("cseq", "8 INVITE")], REPLY_WAIT)
            check(got, "mismatch01.dat after baddate.dat: no response"
                  " (taken for a retransmission of baddate's INVITE"
                  " transaction: same branch and sent-by, CSeq INVITE)")
            r = got[-1]
            check(r.get("call-id") == "mismatch01.dj0234sxdfl3",
                  "mismatch01.dat after baddate.dat was answered with"
                  " baddate's transaction: %d %s, Call-ID %s" % (
                      r.status, r.reason, r.get("call-id")))
            eq(r.status, 400, "mismatch01.dat after baddate.dat")
        finally:
            sender.close()
        assert_healthy(s, "baddate.dat then mismatch01.dat")


def test_rfc2543_transaction_udp():
    """inv2543.dat (RFC 4475 3.4.1) has no branch: its retransmission and
    an RFC 2543 ACK (no branch either) must match its transaction by the
    RFC 2543 rules, so the INVITE gets the same 302 again and the ACK
    stops the retransmissions of the 302."""
    with start_sipd() as s:
        sender = UdpSender()
        try:
            data = load("inv2543.dat")
            ids = identity(data)
            sock = sender.sock(top_via_port(data))
            sock.sendto(data, s.addr)
            got = udp_collect(sock, ids, REPLY_WAIT)
            check(got and got[-1].status == 302,
                  "inv2543.dat: expected 302, got %s" % describe(got))
            first = got[-1]
            tag = param(first.get("to"), "tag")
            check(tag, "302 without To tag")

            sock.sendto(data, s.addr)
            got = udp_collect(sock, ids, REPLY_WAIT)
            check(got and got[-1].status == 302,
                  "retransmitted inv2543.dat: expected 302, got %s" %
                  describe(got))
            eq(param(got[-1].get("to"), "tag"), tag,
               "To tag of the 302 to the retransmission (same transaction)")

            ack = ("ACK sip:UserB@example.com SIP/2.0\r\n"
                   "Via: SIP/2.0/UDP iftgw.example.com\r\n"
                   "From: <sip:+13035551111@ift.client.example.net"
                   ";user=phone>\r\n"
                   "To: sip:+16505552222@ss1.example.net;user=phone"
                   ";tag=%s\r\n"
                   "Call-ID: inv2543.1717@ift.client.example.com\r\n"
                   "CSeq: 56 ACK\r\n"
                   "\r\n" % tag)
            sock.sendto(ack.encode(), s.addr)
            late = udp_collect(sock, ids, 2.5, False)
            check(not late, "the 302 is still retransmitted after the RFC"
                  " 2543 ACK: %s" % describe(late))
        finally:
            sender.close()
        assert_healthy(s, "inv2543.dat and its ACK")


def test_negative_content_length_closes_tcp():
    """ncl.dat over TCP (RFC 4475 3.1.2.3): the framing error cannot be
    recovered from on a stream, so after answering 400 (or without
    answering) sipd closes the connection."""
    with start_sipd() as s:
        data = load("ncl.dat")
        res = tcp_exchange(s.addr, data, identity(data), 3.0, False)
        finals = [m for m in res.responses if m.status >= 200]
        check(all(m.status == 400 for m in finals),
              "ncl.dat over TCP: %s" % describe(res.responses))
        check(res.closed, "ncl.dat over TCP: answered %s but the"
              " connection stays open after the framing error" %
              describe(res.responses))
        assert_healthy(s, "ncl.dat over TCP")
