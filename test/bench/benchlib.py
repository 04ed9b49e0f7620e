"""benchlib.py: helpers shared by the benchmarks of test/bench.

Processes (CPU time and memory from /proc, for one process or for every
process of a session, as Kamailio forks its workers), the loopback check
of a server's sockets, the machine and the versions for a report, SIPp's
response-time files (-trace_rtt), an OPTIONS probe that tells when a
server answers, and load_bench() for a benchmark that uses another's
parts. Python 3, standard library only.
"""

import glob
import importlib.machinery
import importlib.util
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BUILD = os.environ.get("SIPD_BUILD", os.path.join(ROOT, "build"))
SIPP_DIR = os.path.join(ROOT, "test", "sipp")
if SIPP_DIR not in sys.path:
    sys.path.insert(0, SIPP_DIR)

from sipprun import socket_addresses                        # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    pass


def load_bench(name):
    """test/bench/NAME (a script without .py) as a module."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), name)
    loader = importlib.machinery.SourceFileLoader("bench_" + name, path)
    spec = importlib.util.spec_from_loader("bench_" + name, loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


# --- processes ---------------------------------------------------------------

def _stat_fields(pid):
    """Fields 3.. of /proc/PID/stat (fields[0] is field 3, the state)."""
    with open("/proc/%d/stat" % pid) as f:
        stat = f.read()
    return stat[stat.rindex(")") + 2:].split()


def proc_cpu_ticks(pid):
    """utime + stime of a process, in clock ticks (/proc/PID/stat)."""
    fields = _stat_fields(pid)
    # utime is field 14, stime field 15
    return int(fields[11]) + int(fields[12])


def proc_status(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def session_pids(sid):
    """The PIDs of session sid (field 6 of /proc/PID/stat): a server
    started with start_new_session, its workers included."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            fields = _stat_fields(int(d))
        except (OSError, ValueError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[3]) == sid:
            out.append(int(d))
    return sorted(out)


def pids_cpu_ticks(pids):
    """utime + stime summed over pids (those gone count nothing)."""
    total = 0
    for pid in pids:
        try:
            total += proc_cpu_ticks(pid)
        except (OSError, ValueError, IndexError):
            pass
    return total


def pids_memory_kb(pids):
    """(PSS, RSS) summed over pids, in KB, from /proc/PID/smaps_rollup.
    PSS shares every shared page among the processes that map it, so a
    server whose workers share memory is not counted once per worker."""
    pss = rss = 0
    for pid in pids:
        try:
            with open("/proc/%d/smaps_rollup" % pid) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
                    elif line.startswith("Rss:"):
                        rss += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            pass
    return pss, rss


def kill_pid(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def check_loopback(pid, who, sip_port=None):
    """Raise unless the sockets of pid are bound to 127.0.0.1.

    With sip_port (the server), only its SIP sockets (that port, and any
    TCP socket) must be: the others are returned as notes. libre's DNS
    client binds 0.0.0.0 and [::] on ephemeral ports by itself
    (dnsc_alloc); no traffic of the bench goes there."""
    addrs = socket_addresses(pid)
    bad = [a for a in addrs if a[1] != "127.0.0.1"]
    if sip_port is None:
        strict, notes = bad, []
    else:
        strict = [a for a in bad if a[2] == sip_port or
                  a[0].startswith("tcp")]
        notes = [a for a in bad if a not in strict]
    if strict:
        raise BenchError("%s (pid %d) has sockets outside 127.0.0.1: %s"
                         % (who, pid, strict))
    return notes


def options_probe(addr, timeout=10.0, alive=None):
    """Send OPTIONS to addr over UDP until any response comes back (a
    worker of the server is up); raises BenchError after timeout, or as
    soon as alive() says the server is gone."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.settimeout(0.2)
        deadline = time.time() + timeout
        n = 0
        while time.time() < deadline:
            if alive is not None and not alive():
                raise BenchError("the server exited")
            n += 1
            msg = ("OPTIONS sip:%s:%d SIP/2.0\r\n"
                   "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKprobe%d%d"
                   ";rport\r\n"
                   "From: <sip:probe@127.0.0.1>;tag=probe%d\r\n"
                   "To: <sip:%s:%d>\r\n"
                   "Call-ID: probe-%d-%d@127.0.0.1\r\n"
                   "CSeq: %d OPTIONS\r\n"
                   "Max-Forwards: 70\r\n"
                   "Content-Length: 0\r\n\r\n" % (
                       addr[0], addr[1], port, os.getpid(), n, n, addr[0],
                       addr[1], os.getpid(), n, n))
            s.sendto(msg.encode(), addr)
            try:
                data = s.recv(65535)
            except socket.timeout:
                continue
            except ConnectionRefusedError:
                time.sleep(0.1)
                continue
            if data.startswith(b"SIP/2.0 "):
                return int(data.split()[1])
        raise BenchError("no answer to OPTIONS from %s:%d in %.0f s" % (
            addr[0], addr[1], timeout))
    finally:
        s.close()


def stop_sipp(run, grace=5.0):
    """End a SIPp run (sipprun.SippRun) by its PID: SIGUSR1 (SIPp's soft
    exit: no new call), SIGINT (write the statistics and quit), then
    SIGKILL; returns its SippResult."""
    for sig, wait in ((signal.SIGUSR1, grace), (signal.SIGINT, grace),
                      (signal.SIGKILL, 10)):
        if not run.alive():
            break
        run.kill(sig)
        t = time.time() + wait
        while run.alive() and time.time() < t:
            time.sleep(0.05)
    return run.wait(timeout=10)


def wait_listening(run, timeout=5.0):
    """Wait until the UDP socket of a SIPp run is bound (its PID holds
    it); False when it did not start."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not run.alive():
            return False
        if ("udp", "127.0.0.1", run.port) in socket_addresses(run.proc.pid):
            return True
        time.sleep(0.05)
    return False


# --- the report --------------------------------------------------------------

def first_line(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "(%s: %s)" % (cmd[0], e)
    for line in (r.stdout + r.stderr).splitlines():
        if line.strip():
            return line.strip()
    return "(no output)"


def machine():
    """(key, value) pairs: nproc, CPU model, kernel, sipd -v, sipp -v,
    Python."""
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    sipp_v = "?"
    try:
        r = subprocess.run(["sipp", "-v"], capture_output=True, text=True)
        m = re.search(r"SIPp v\S+", r.stdout + r.stderr)
        if m:
            sipp_v = m.group(0).rstrip(".")
    except OSError:
        pass
    return [("nproc", str(os.cpu_count())),
            ("cpu", model),
            ("kernel", "%s %s" % (platform.system(), platform.release())),
            ("sipd", first_line([os.path.join(BUILD, "sipd"), "-v"])),
            ("sipp", sipp_v),
            ("python", platform.python_version())]


# --- SIPp response times -----------------------------------------------------

def rtt_values(workdir, scenario):
    """The response times (ms) SIPp wrote with -trace_rtt into workdir:
    the files SCENARIO_PID_rtt.csv, lines "date_ms;time_ms;rtd_no"."""
    out = []
    for path in glob.glob(os.path.join(workdir, "%s_*_rtt.csv" % scenario)):
        with open(path, errors="replace") as f:
            for line in f:
                cols = line.strip().split(";")
                if len(cols) < 2:
                    continue
                try:
                    out.append(float(cols[1]))
                except ValueError:
                    continue        # the header line
    return out


def percentile(values, p):
    """The p-th percentile (nearest rank) of values, or None."""
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]
