"""sipprun.py: run a SIPp scenario of this folder and read what it did.

Shared by the integration tests (test/integration/test_sipp.py and the
others that put load on a server) and the benchmark (test/bench/run), and
meant for any SIP server, not only sipd: the scenarios take the domain
as "-key domain" and the credentials from the injection file written by
users.py.

SIPp is started bound to 127.0.0.1 only: signalling (-i, -bind_local,
a free -p), media (-mi, a free -mp) and control (-ci, a free -cp)
sockets, so that two runs never fight over 5060, 6000 or 8888 and no
socket listens on another address.

    run = SippRun("register_auth.xml", ("127.0.0.1", 5060), workdir,
                  inf="users.csv", calls=200, rate=100,
                  keys={"domain": "example.com", "expires": "3600"},
                  auth_uri="example.com")
    res = run.run(timeout=60)
    res.ok, res.successful, res.failed, res.logged("registered")

auth_uri is SIPp's -auth_uri: the digest uri without its scheme (SIPp
writes "sip:" in front of it). Without it SIPp signs the server's
address instead of the Request-URI, which a server that checks the digest
uri (RFC 3261 22.4, RFC 7616 3.4.6) rejects.

Python 3, standard library only.
"""

import os
import resource
import signal
import socket
import subprocess
import time

SIPP_DIR = os.path.dirname(os.path.abspath(__file__))
SIPP = os.environ.get("SIPP", "sipp")

# SIPp's exit statuses (sipp(1)): 0 every call succeeded, 1 at least one
# failed, 97 exit on an internal command, 99 normal exit without any call
# processed, 255 (-1) fatal error, 254 (-2) fatal error binding a socket.
EXIT_TEXT = {0: "all calls succeeded", 1: "at least one call failed",
             97: "exit on internal command", 99: "no call processed",
             255: "fatal error", 254: "cannot bind a socket"}


def free_udp_port(host="127.0.0.1", pair=False):
    """A free UDP port on host (and port+2 too when pair is set, as the
    media sockets of SIPp use -mp and -mp+2)."""
    import random
    for _ in range(500):
        port = random.randrange(20000, 60000, 2)
        socks = []
        try:
            for p in ((port, port + 1, port + 2) if pair else (port,)):
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    s = socket.socket(socket.AF_INET, kind)
                    socks.append(s)
                    s.bind((host, p))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free UDP port on %s" % host)


class SippResult:
    """What a finished SIPp run did."""

    def __init__(self, run, returncode, stdout, stderr, elapsed, cpu):
        self.run = run
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.elapsed = elapsed      # wall time of the SIPp process, s
        self.cpu = cpu              # SIPp's own CPU time, s (None if unknown)
        self.stats = run.final_stats()

    def counter(self, name, default=None):
        """A cumulative counter of the statistics file, as a number."""
        v = self.stats.get(name + "(C)", self.stats.get(name))
        if v is None:
            return default
        try:
            return int(v)
        except ValueError:
            try:
                return float(v)
            except ValueError:
                return v

    @property
    def successful(self):
        return self.counter("SuccessfulCall", 0)

    @property
    def failed(self):
        return self.counter("FailedCall", 0)

    @property
    def created(self):
        return self.counter("TotalCallCreated", 0)

    @property
    def retransmissions(self):
        return self.counter("Retransmissions", 0)

    @property
    def call_rate(self):
        """The mean call rate SIPp achieved, calls per second."""
        return self.counter("CallRate", 0.0)

    @property
    def ok(self):
        """Every call of the run succeeded, as SIPp's exit status and
        its statistics both say."""
        return (self.returncode == 0 and self.failed == 0 and
                self.successful == self.run.calls)

    def logged(self, prefix=""):
        """The lines the scenario's <log> actions wrote (needs
        trace_logs), stripped, that start with prefix."""
        return self.run.logged(prefix)

    def errors(self, limit=4000):
        """The start of SIPp's error log and stderr, for a message."""
        text = self.stderr or ""
        path = self.run.path("errors.log")
        if os.path.exists(path):
            with open(path, errors="replace") as f:
                text += "\n" + f.read(limit)
        return text[:limit]

    def summary(self):
        return ("sipp exit %s (%s): %s created, %s successful, %s failed,"
                " %s retransmissions, %.1f calls/s, %.2f s" % (
                    self.returncode, EXIT_TEXT.get(self.returncode, "?"),
                    self.created, self.successful, self.failed,
                    self.retransmissions, self.call_rate or 0.0,
                    self.elapsed))


class SippRun:
    """One SIPp process running a scenario against a server."""

    def __init__(self, scenario, server, workdir, inf=None, calls=1,
                 rate=10, keys=None, auth_uri=None, transport="u1",
                 trace_logs=True, trace_msg=False, extra=(), name=None,
                 max_retrans=None, local_port=None):
        self.scenario = scenario if os.path.isabs(scenario) else \
            os.path.join(SIPP_DIR, scenario)
        self.server = server
        self.workdir = workdir
        self.inf = inf
        self.calls = calls
        self.rate = rate
        self.keys = dict(keys or {})
        self.auth_uri = auth_uri
        self.transport = transport
        self.trace_logs = trace_logs
        self.trace_msg = trace_msg
        self.extra = list(extra)
        self.max_retrans = max_retrans
        self.name = name or "sipp-%s-%d" % (
            os.path.splitext(os.path.basename(self.scenario))[0],
            int(time.time() * 1000) % 10000000)
        self.proc = None
        self.started = None
        self.local_port = local_port
        self.port = None            # SIPp's own SIP port, once started

    def path(self, what):
        """A file of this run in workdir: stat.csv, logs.log, ..."""
        return os.path.join(self.workdir, "%s.%s" % (self.name, what))

    def command(self):
        self.port = self.local_port or free_udp_port()
        cmd = [SIPP, "-sf", self.scenario,
               "-i", "127.0.0.1", "-bind_local", "-p", str(self.port),
               "-mi", "127.0.0.1", "-mp", str(free_udp_port(pair=True)),
               "-ci", "127.0.0.1", "-cp", str(free_udp_port()),
               "-t", self.transport,
               "-m", str(self.calls), "-r", str(self.rate), "-rp", "1000",
               "-nostdin",
               "-trace_stat", "-stf", self.path("stat.csv"),
               "-fd", "1",
               "-trace_err", "-error_file", self.path("errors.log")]
        if self.inf:
            cmd += ["-inf", self.inf]
        for k, v in sorted(self.keys.items()):
            cmd += ["-key", k, str(v)]
        if self.auth_uri:
            cmd += ["-auth_uri", self.auth_uri]
        if self.trace_logs:
            cmd += ["-trace_logs", "-log_file", self.path("logs.log")]
        if self.trace_msg:
            cmd += ["-trace_msg", "-message_file", self.path("messages.log")]
        if self.max_retrans is not None:
            cmd += ["-max_non_invite_retrans", str(self.max_retrans)]
        cmd += self.extra
        cmd.append("%s:%d" % tuple(self.server))
        return cmd

    def start(self):
        """Start SIPp in the background."""
        self.cmd = self.command()
        self._out = open(self.path("stdout"), "wb")
        self._err = open(self.path("stderr"), "wb")
        self._ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.started = time.time()
        self.proc = subprocess.Popen(self.cmd, stdout=self._out,
                                     stderr=self._err, stdin=subprocess.DEVNULL,
                                     cwd=self.workdir)
        return self

    def wait(self, timeout=120):
        """Wait for SIPp to end (killed by PID after timeout); returns a
        SippResult."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            rc = self.proc.wait()
        elapsed = time.time() - self.started
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (ru.ru_utime - self._ru.ru_utime +
               ru.ru_stime - self._ru.ru_stime)
        self._out.close()
        self._err.close()
        with open(self.path("stdout"), errors="replace") as f:
            out = f.read()
        with open(self.path("stderr"), errors="replace") as f:
            err = f.read()
        return SippResult(self, rc, out, err, elapsed, cpu)

    def run(self, timeout=120):
        return self.start().wait(timeout)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self, sig=signal.SIGKILL):
        """Stop this SIPp by its PID."""
        if self.alive():
            try:
                os.kill(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def final_stats(self):
        """The last row of the statistics file as {column: text}."""
        try:
            with open(self.path("stat.csv"), errors="replace") as f:
                lines = [l.rstrip("\n") for l in f if l.strip()]
        except OSError:
            return {}
        if len(lines) < 2:
            return {}
        head = lines[0].split(";")
        row = lines[-1].split(";")
        return {h: v for h, v in zip(head, row) if h}

    def logged(self, prefix=""):
        try:
            with open(self.path("logs.log"), errors="replace") as f:
                return [l.strip() for l in f
                        if l.strip() and l.strip().startswith(prefix)]
        except OSError:
            return []


def _hex_addr(text):
    """'0100007F:13C4' of /proc/net/udp -> ('127.0.0.1', 5060)."""
    import ipaddress
    host, port = text.split(":")
    port = int(port, 16)
    raw = bytes.fromhex(host)
    if len(raw) == 4:
        return str(ipaddress.IPv4Address(raw[::-1])), port
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
    return str(ipaddress.IPv6Address(words)), port


def socket_addresses(pid):
    """Local addresses of the UDP and TCP sockets process pid holds, as
    (proto, host, port) with proto udp, tcp, udp6 or tcp6 (from
    /proc/PID/fd and /proc/PID/net)."""
    inodes = set()
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return []
    for fd in fds:
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    out = []
    for proto in ("udp", "tcp", "udp6", "tcp6"):
        try:
            with open("/proc/%d/net/%s" % (pid, proto)) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) > 9 and cols[9] in inodes:
                host, port = _hex_addr(cols[1])
                out.append((proto, host, port))
    return sorted(set(out))


def logged_aors(lines, prefix):
    """AORs of log lines "PREFIX user@domain"."""
    out = []
    for l in lines:
        if l.startswith(prefix + " "):
            out.append(l[len(prefix) + 1:].strip())
    return out
