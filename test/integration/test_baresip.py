"""test_baresip: two real baresip user agents call each other through sipd.

alice and bob are two baresip 1.0.0 processes (Debian package
baresip-core, built on libre 1.1.0), headless, each with its own
temporary configuration directory (baresip -f DIR, with the files config
and accounts). They register with their passwords to sipd (registrar and
stateful proxy on 127.0.0.1, UDP), alice calls bob through the proxy, bob
answers by itself (answermode=auto in his account), the call is
established on both sides and RTP flows, alice hangs up and both sides
see the call end. baresip is driven and watched through its ctrl_tcp
module (JSON in netstrings on a TCP socket of 127.0.0.1, the "dial" and
"hangup" commands of the menu module, the UA events back).

What is checked:
  - both REGISTERs got 200 (baresip's REGISTER_OK event or its
    "AOR: {0/UDP/v4} 200 OK" line), and sipctl reg list shows a binding
    of each AOR, at baresip's port, with a User-Agent naming baresip;
  - sipd challenged with MD5 only (libre 1.1.0 cannot answer a SHA-256
    challenge; sipd's auth gives agents whose User-Agent has "baresip"
    the MD5 challenge by default);
  - the INVITE was challenged (407) and alice answered the challenge;
  - CALL_ESTABLISHED on both sides, RTP received on both sides; sipd's
    event log (module eventlog) shows the call confirmed for both AORs
    (alice initiator, bob recipient);
  - after the hangup CALL_CLOSED on both sides, no call listed, and the
    event log shows the call terminated for both AORs.

Loopback only. baresip uses IP literals everywhere (its outbound proxy is
sip:127.0.0.1:PORT), binds SIP and ctrl_tcp to 127.0.0.1 (sip_listen,
net_interface 127.0.0.1, -4), loads no STUN, TURN, ICE or NAT-PMP module,
and its only DNS server is a stub of this test on 127.0.0.1 (dns_server)
that records and refuses every query: nothing can reach the machine's
resolver, and the test fails if baresip asked anything. baresip 1.0.0
binds RTP to the wildcard address whatever the configuration says
(stream.c), and libre's DNS client binds 0.0.0.0 and [::]; the test
checks from /proc that no other socket is outside 127.0.0.1, that both
SDPs carry 127.0.0.1, and, when strace works here, runs baresip under
strace and fails on any send or connect to an address outside loopback.

Audio: baresip-core has no null player; the source is ausine (a sine,
resampled from 48 kHz stereo) and the player an aubridge device that no
source ever joins, which swallows the frames. No sound device is opened.
"""

import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import sipdlib
from sipdlib import Sipd, check, free_port

sys.path.insert(0, sipdlib.SIPP_DIR)
from sipprun import socket_addresses            # noqa: E402

BARESIP = os.environ.get("BARESIP", shutil.which("baresip") or "baresip")
MODULE_PATH = "/usr/lib/baresip/modules"

CONF = """\
# test_baresip: registrar and stateful proxy on one socket
domain example.com
db {db}
log_level debug
module location
module auth
module eventlog
eventlog_file {dir}/events.log
listen udp:127.0.0.1:{port};roles=registrar,proxy
listen tcp:127.0.0.1:{port};roles=registrar,proxy
registrar_min_expires 10
auth_nonce_expiry 60
"""

BARESIP_CONF = """\
# baresip configuration of test_baresip: loopback only, no sound device
poll_method		epoll
sip_listen		127.0.0.1:{sip_port}
call_local_timeout	30
call_max_calls		2
audio_path		/usr/share/baresip
audio_player		aubridge,sink-{name}
audio_alert		aubridge,sink-{name}
audio_source		ausine,440
ausrc_srate		48000
ausrc_channels		2
audio_buffer		20-160
rtp_ports		{rtp_lo}-{rtp_hi}
rtcp_mux		no
jitter_buffer_delay	1-10
rtp_stats		no
dns_server		127.0.0.1:{dns_port}
net_interface		127.0.0.1
module_path		{module_path}
module			g711.so
module			ausine.so
module			aubridge.so
module_tmp		account.so
module_app		menu.so
module_app		ctrl_tcp.so
ctrl_tcp_listen		127.0.0.1:{ctrl_port}
ringback_disabled	yes
menu_bell		no
"""

# baresip's account line: the AOR, then address parameters
ACCOUNT = ('<sip:{user}@example.com;transport=udp>;auth_pass={password};'
           'outbound="sip:127.0.0.1:{port};transport=udp";'
           'answermode={answermode};regint=600;mwi=no;call_transfer=no;'
           'audio_codecs=pcmu,pcma\n')


# --- a DNS server that answers nothing --------------------------------------

class DnsStub:
    """A UDP DNS server on 127.0.0.1 that records every query and answers
    REFUSED: baresip's only name server, so that no query of the test
    ever leaves the machine."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.queries = []
        self.stopped = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @staticmethod
    def _qname(data):
        labels, i = [], 12
        while i < len(data) and data[i]:
            n = data[i]
            labels.append(data[i + 1:i + 1 + n].decode("ascii", "replace"))
            i += 1 + n
        qtype = struct.unpack("!H", data[i + 1:i + 3])[0] \
            if i + 3 <= len(data) else 0
        return ".".join(labels), qtype

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stopped:
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            if len(data) < 12:
                continue
            self.queries.append(self._qname(data) + (peer,))
            # the question back, QR set, RCODE 5 (REFUSED)
            flags = struct.unpack("!H", data[2:4])[0]
            flags = 0x8000 | (flags & 0x7900) | 5
            reply = data[:2] + struct.pack("!H", flags) + data[4:6] + \
                b"\0\0\0\0\0\0" + data[12:]
            try:
                self.sock.sendto(reply, peer)
            except OSError:
                pass

    def close(self):
        self.stopped = True
        self.thread.join(2)
        self.sock.close()


# --- a baresip user agent ----------------------------------------------------

class Baresip:
    """One baresip process with its own configuration directory, driven
    through ctrl_tcp."""

    def __init__(self, name, user, password, sipd_port, dns_port,
                 answermode="manual"):
        self.name = name
        self.aor = "%s@example.com" % user
        self.dir = tempfile.mkdtemp(prefix="baresip-%s-" % name)
        self.sip_port = free_port()
        self.ctrl_port = free_port()
        rtp = free_port() & ~1
        self.rtp_lo, self.rtp_hi = rtp, rtp + 9
        with open(os.path.join(self.dir, "config"), "w") as f:
            f.write(BARESIP_CONF.format(
                sip_port=self.sip_port, name=name, rtp_lo=rtp,
                rtp_hi=rtp + 9, dns_port=dns_port,
                module_path=MODULE_PATH, ctrl_port=self.ctrl_port))
        with open(os.path.join(self.dir, "accounts"), "w") as f:
            f.write(ACCOUNT.format(user=user, password=password,
                                   port=sipd_port, answermode=answermode))
        # contact.so is not loaded, but keep baresip from writing files
        # anywhere else: everything it creates lands in self.dir
        self.log_path = os.path.join(self.dir, "baresip.log")
        self.proc = None
        self.pid = None
        self.strace_path = None
        self.ctrl = None
        self.events = []
        self.responses = []
        self.cond = threading.Condition()
        self.reader = None

    def start(self, timeout=10.0):
        self.logf = open(self.log_path, "wb")
        # -4 IPv4 only, -s SIP trace (in the log), -t quit after 120 s at
        # the latest should the test lose track of it
        cmd = [BARESIP, "-4", "-s", "-f", self.dir, "-t", "120"]
        if strace_works():
            # every address baresip sends to or connects to is checked
            self.strace_path = os.path.join(self.dir, "strace.txt")
            cmd = ["strace", "-f", "-qq", "-e",
                   "trace=sendto,sendmsg,sendmmsg,connect",
                   "-o", self.strace_path] + cmd
        self.proc = subprocess.Popen(
            cmd, stdout=self.logf, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, cwd=self.dir)
        self.pid = self.proc.pid
        deadline = time.time() + timeout
        if self.strace_path:
            # baresip is strace's child: its PID is the one signalled
            while time.time() < deadline and self.pid == self.proc.pid:
                try:
                    with open("/proc/%d/task/%d/children" % (
                            self.proc.pid, self.proc.pid)) as f:
                        kids = f.read().split()
                    if kids:
                        self.pid = int(kids[0])
                        break
                except OSError:
                    pass
                time.sleep(0.02)
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise sipdlib.TestFailure(
                    "baresip %s exited with %d:\n%s" % (
                        self.name, self.proc.returncode, self.log()))
            try:
                self.ctrl = socket.create_connection(
                    ("127.0.0.1", self.ctrl_port), timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise sipdlib.TestFailure("baresip %s: no ctrl_tcp socket:\n%s"
                                      % (self.name, self.log()))
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def destinations(self):
        """Addresses baresip sent to (None without strace)."""
        if not self.strace_path:
            return None
        return strace_destinations(self.strace_path)

    def _read(self):
        buf = b""
        self.ctrl.settimeout(None)
        while True:
            try:
                chunk = self.ctrl.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                with self.cond:
                    self.events.append({"type": "CTRL_CLOSED"})
                    self.cond.notify_all()
                return
            buf += chunk
            while True:
                colon = buf.find(b":")
                if colon < 0:
                    break
                try:
                    n = int(buf[:colon])
                except ValueError:
                    buf = b""
                    break
                if len(buf) < colon + 1 + n + 1:
                    break
                payload = buf[colon + 1:colon + 1 + n]
                buf = buf[colon + 1 + n + 1:]
                try:
                    obj = json.loads(payload.decode("utf-8", "replace"))
                except ValueError:
                    continue
                with self.cond:
                    if obj.get("response"):
                        self.responses.append(obj)
                    else:
                        obj["at"] = time.time()
                        self.events.append(obj)
                    self.cond.notify_all()

    def command(self, command, params="", timeout=5.0):
        """Run a baresip command; its response object."""
        token = sipdlib.rand_token(8)
        data = json.dumps({"command": command, "params": params,
                           "token": token}).encode()
        self.ctrl.sendall(b"%d:%s," % (len(data), data))
        deadline = time.time() + timeout
        with self.cond:
            while True:
                for r in self.responses:
                    if r.get("token") == token:
                        return r
                left = deadline - time.time()
                check(left > 0, "baresip %s: no response to %s" % (
                    self.name, command))
                self.cond.wait(left)

    def wait_event(self, etype, timeout=10.0, after=0):
        """The first event of a type (from index after on), or fail."""
        deadline = time.time() + timeout
        with self.cond:
            while True:
                for ev in self.events[after:]:
                    if ev.get("type") == etype:
                        return ev
                left = deadline - time.time()
                if left <= 0 or not self.alive():
                    raise sipdlib.TestFailure(
                        "baresip %s: no %s within %.0f s; events %s\n"
                        "baresip log tail:\n%s" % (
                            self.name, etype, timeout,
                            [e.get("type") for e in self.events],
                            self.log()[-3000:]))
                self.cond.wait(min(left, 0.2))

    def wait_registered(self, timeout=10.0, server=None):
        """Wait for a 200 to the REGISTER: baresip's REGISTER_OK event,
        or its log line "AOR: {n/UDP/v4} 200 OK ..." (the 200 may come
        before ctrl_tcp accepted the test's connection, and the event is
        then not sent to anyone). Returns the log line."""
        pat = re.compile(r"%s: \{\d+/UDP/v4\} 200 OK[^\n]*" %
                         re.escape(self.aor))
        deadline = time.time() + timeout
        while True:
            m = pat.search(self.log())
            if m:
                return m.group(0)
            if "REGISTER_OK" in self.event_types():
                return "REGISTER_OK"
            if server is not None and not server.alive():
                rc = server.proc.returncode if server.proc else None
                raise sipdlib.TestFailure(
                    "sipd died (%s) while baresip %s registered; sipd log"
                    " tail:\n%s" % (
                        "signal %d" % -rc if rc is not None and rc < 0
                        else "exit %s" % rc, self.name,
                        server.log()[-2000:]))
            if time.time() > deadline or not self.alive():
                raise sipdlib.TestFailure(
                    "baresip %s: not registered within %.0f s; events %s"
                    "\nbaresip log tail:\n%s" % (
                        self.name, timeout, self.event_types(),
                        self.log()[-3000:]))
            time.sleep(0.05)

    def event_types(self):
        with self.cond:
            return [e.get("type") for e in self.events]

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, timeout=5.0):
        """Quit baresip (the quit command, then SIGTERM, then SIGKILL,
        by its PID)."""
        if self.proc is None:
            return
        if self.alive() and self.ctrl:
            try:
                data = json.dumps({"command": "quit"}).encode()
                self.ctrl.sendall(b"%d:%s," % (len(data), data))
            except OSError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if self.proc.poll() is None:
                # baresip first (under strace it is strace's child), then
                # strace itself
                for pid in sorted({self.pid, self.proc.pid},
                                  key=lambda p: p != self.pid):
                    try:
                        os.kill(pid, sig)
                    except ProcessLookupError:
                        pass
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    pass
        if self.ctrl:
            self.ctrl.close()
        self.logf.close()

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


# --- checks ------------------------------------------------------------------

def loopback_only(ua):
    """baresip's sockets, failing on any bound outside 127.0.0.1 but
    these two kinds, which baresip 1.0.0 and libre 1.1.0 bind to the
    wildcard address whatever the configuration says:
      - the DNS client (dnsc_alloc) binds one UDP socket on 0.0.0.0 and
        one on [::]; it only sends to the configured name servers, here
        the stub on 127.0.0.1;
      - RTP and RTCP (stream.c: "we listen on all interfaces"), in the
        rtp_ports range; they send to the address of the peer's SDP,
        127.0.0.1 here (checked from the SIP trace and from strace).
    SIP and ctrl_tcp, and any TCP socket, must be on 127.0.0.1."""
    addrs = socket_addresses(ua.pid)
    bad = []
    for proto, host, port in addrs:
        if host == "127.0.0.1":
            continue
        if (proto, host) in (("udp", "0.0.0.0"), ("udp6", "::")) and \
                port != ua.sip_port:
            continue
        bad.append((proto, host, port))
    check(not bad, "baresip %s has sockets outside 127.0.0.1: %s"
          % (ua.name, bad))
    return addrs


_STRACE_OK = None


def strace_works():
    """strace is installed and may trace here (not in every container)."""
    global _STRACE_OK
    if _STRACE_OK is None:
        _STRACE_OK = False
        if shutil.which("strace"):
            try:
                r = subprocess.run(["strace", "-f", "-o", os.devnull,
                                    "true"], capture_output=True,
                                   timeout=10)
                _STRACE_OK = r.returncode == 0
            except (OSError, subprocess.TimeoutExpired):
                pass
    return _STRACE_OK


ADDR_RE = re.compile(r'inet_addr\("([^"]+)"\)|'
                     r'inet_pton\(AF_INET6,\s*"([^"]+)"')


def strace_destinations(path):
    """The addresses baresip sent to or connected to, from the strace
    file (sendto, sendmsg, sendmmsg, connect)."""
    out = set()
    try:
        with open(path, errors="replace") as f:
            for line in f:
                if not re.search(r"\b(sendto|sendmsg|sendmmsg|connect)\(",
                                 line):
                    continue
                for m in ADDR_RE.finditer(line):
                    out.add(m.group(1) or m.group(2))
    except OSError:
        pass
    return out


def not_loopback(addr):
    import ipaddress
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return True
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_loopback


TRACE_RE = re.compile(r"^(UDP|TCP) (\S+) -> (\S+)\n(.*?\r\n\r\n)",
                      re.M | re.S)


def sip_trace(ua):
    """The SIP messages of baresip's trace (-s) as (source, destination,
    Msg), in order."""
    out = []
    for m in TRACE_RE.finditer(ua.log()):
        text = m.group(4)
        out.append((m.group(2), m.group(3), sipdlib.Msg(text)))
    return out


def events_of(srv):
    try:
        with open(os.path.join(srv.dir, "events.log")) as f:
            return [json.loads(l) for l in f if l.strip()]
    except OSError:
        return []


def call_states(events, aor):
    """The call states of the event log for an AOR, in order."""
    return [e["state"] for e in events
            if e.get("event") == "call" and e.get("aor") == aor]


def wait_call_states(srv, aors, want, timeout=10.0):
    """Wait until the event log shows the states in want, in that order,
    for every AOR."""
    deadline = time.time() + timeout
    while True:
        evs = events_of(srv)
        missing = []
        for aor in aors:
            got = call_states(evs, aor)
            i = 0
            for s in got:
                if i < len(want) and s == want[i]:
                    i += 1
            if i < len(want):
                missing.append((aor, got))
        if not missing:
            return evs
        if time.time() > deadline:
            raise sipdlib.TestFailure(
                "sipd event log: expected call states %s for %s, got %s;"
                "\nevents.log:\n%s" % (want, aors, missing,
                                       "\n".join(json.dumps(e)
                                                 for e in evs)))
        time.sleep(0.1)


# --- the test ----------------------------------------------------------------

def test_call():
    """alice calls bob through the stateful proxy; bob answers by itself;
    alice hangs up."""
    if not shutil.which(BARESIP):
        raise sipdlib.TestFailure("baresip is missing (Debian package"
                                  " baresip-core; make test installs it)")
    dns = DnsStub()
    srv = Sipd(CONF, accounts=(("alice@example.com", "secret-a"),
                               ("bob@example.com", "secret-b")))
    alice = Baresip("alice", "alice", "secret-a", srv.port, dns.port)
    bob = Baresip("bob", "bob", "secret-b", srv.port, dns.port,
                  answermode="auto")
    try:
        for ua in (alice, bob):
            ua.start()
        for ua in (alice, bob):
            ua.wait_registered(10, server=srv)

        # both bindings, with baresip's User-Agent
        r = srv.sipctl("reg", "list", "--json")
        check(r.returncode == 0, "sipctl reg list: %s" % r.stderr)
        regs = json.loads(r.stdout)
        if isinstance(regs, dict):
            regs = regs.get("bindings", regs)
        for aor, ua in (("alice@example.com", alice),
                        ("bob@example.com", bob)):
            mine = [b for b in regs if b.get("aor") == aor]
            check(mine, "sipctl reg list has no binding of %s: %s"
                  % (aor, r.stdout))
            agent = mine[0].get("user_agent") or ""
            check("baresip" in agent.lower(),
                  "binding of %s: user agent %r has no baresip"
                  % (aor, agent))
            check(":%d" % ua.sip_port in mine[0].get("contact", ""),
                  "binding of %s: contact %r is not baresip's port %d"
                  % (aor, mine[0].get("contact"), ua.sip_port))

        # the REGISTER challenges were MD5 only
        trace = alice.log()
        check("WWW-Authenticate" in trace,
              "alice's SIP trace shows no 401 challenge")
        check("SHA-256" not in trace,
              "sipd offered baresip a SHA-256 challenge:\n" + trace[-3000:])

        for ua in (alice, bob):
            loopback_only(ua)

        # the call
        n_alice, n_bob = len(alice.events), len(bob.events)
        resp = alice.command("dial", "sip:bob@example.com")
        check(resp.get("ok"), "alice: dial failed: %s" % resp)
        ev_b = bob.wait_event("CALL_ESTABLISHED", 15, after=n_bob)
        ev_a = alice.wait_event("CALL_ESTABLISHED", 15, after=n_alice)
        check("alice@example.com" in ev_b.get("peeruri", ""),
              "bob's call is not from alice: %s" % ev_b)
        check("bob@example.com" in ev_a.get("peeruri", ""),
              "alice's call is not to bob: %s" % ev_a)
        for ua in (alice, bob):
            data = ua.command("listcalls").get("data", "")
            check("Active calls (1)" in data and "ESTABLISHED" in data,
                  "baresip %s: listcalls: %r" % (ua.name, data))

        # the INVITE was challenged and answered; the dialog is
        # record-routed through sipd, so the BYE will pass it too
        sent = [(d, m) for src, d, m in sip_trace(alice)
                if not m.is_response and m.method == "INVITE"]
        got = [m for src, d, m in sip_trace(alice)
               if m.is_response and m.get("cseq", "").endswith("INVITE")]
        check([m for m in got if m.status == 407],
              "sipd did not challenge alice's INVITE (407)")
        check(any(m.get("proxy-authorization") for d, m in sent),
              "alice's INVITE carried no Proxy-Authorization")
        ok = [m for m in got if m.status == 200]
        check(ok, "alice's trace has no 200 to the INVITE")
        # sipd's URI, with its flow token as the user part
        sipd_rr = re.compile(r"<sip:(f[0-9a-f]+@)?127\.0\.0\.1:%d;lr>" %
                             srv.port)
        check(any(sipd_rr.search(v) for v in ok[0].all("record-route")),
              "the 200 has no Record-Route of sipd: %s" % ok[0].raw)
        wait_call_states(srv, ("alice@example.com", "bob@example.com"),
                         ["confirmed"])

        # media flows (loopback RTP both ways) a moment; then alice hangs
        # up
        deadline = time.time() + 5
        for ua in (alice, bob):
            while "incoming rtp for 'audio' established" not in ua.log():
                check(time.time() < deadline,
                      "baresip %s received no RTP" % ua.name)
                time.sleep(0.05)
        time.sleep(0.5)
        for ua in (alice, bob):
            loopback_only(ua)
        resp = alice.command("hangup")
        check(resp.get("ok"), "alice: hangup failed: %s" % resp)
        alice.wait_event("CALL_CLOSED", 10, after=n_alice)
        bob.wait_event("CALL_CLOSED", 10, after=n_bob)
        for ua in (alice, bob):
            data = ua.command("listcalls").get("data", "")
            check("Active calls (0)" in data,
                  "baresip %s: a call is left: %r" % (ua.name, data))
        byes = [(d, m) for src, d, m in sip_trace(alice)
                if not m.is_response and m.method == "BYE"]
        check(byes and byes[0][0] == "127.0.0.1:%d" % srv.port,
              "alice's BYE did not go to sipd: %s" % byes)
        check(any(m.method == "BYE" for src, d, m in sip_trace(bob)
                  if not m.is_response and
                  src == "127.0.0.1:%d" % srv.port),
              "bob got no BYE from sipd")
        evs = wait_call_states(srv, ("alice@example.com",
                                     "bob@example.com"),
                               ["confirmed", "terminated"])
        for aor, direction in (("alice@example.com", "initiator"),
                               ("bob@example.com", "recipient")):
            conf = [e for e in evs if e.get("aor") == aor and
                    e.get("state") == "confirmed"]
            check(conf[0].get("direction") == direction,
                  "event of %s: direction %r, expected %r" % (
                      aor, conf[0].get("direction"), direction))

        check(srv.alive(), "sipd died:\n" + srv.log()[-3000:])

        # nothing leaves loopback: SDP, and (with strace) every send
        for ua in (alice, bob):
            conns = set(re.findall(r"c=IN IP[46] (\S+)", ua.log()))
            check(conns and all(not not_loopback(a) for a in conns),
                  "baresip %s: SDP connection addresses %s" % (ua.name,
                                                               conns))
            dests = ua.destinations()
            if dests is not None:
                check(dests, "strace of baresip %s recorded no send"
                      % ua.name)
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


if __name__ == "__main__":
    test_call()
    print("ok")
