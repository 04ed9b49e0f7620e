"""The sipd process: options, daemon mode, signals, kill -9 and restart."""

import os
import re
import signal
import socket
import sqlite3
import subprocess
import time

from sipdlib import (Sipd, SIPD, MODULES, ROOT, check, eq,
                     contact_uri)
from test_sipp import (SIPP_CONF, add_users, sipp_load, bindings,
                       reg_list_json)
from sipprun import logged_aors, socket_addresses


def run_sipd(*args, timeout=20, **kw):
    return subprocess.run([SIPD] + list(args), capture_output=True,
                          text=True, timeout=timeout, **kw)


def makefile_version():
    with open(os.path.join(ROOT, "Makefile")) as f:
        m = re.search(r"^VERSION\s*:?=\s*(\S+)", f.read(), re.M)
    return m.group(1)


def pid_running(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def kill_by_pid(pid):
    if pid and pid_running(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def read_pidfile(path):
    with open(path) as f:
        return int(f.read().strip())


# --- options -----------------------------------------------------------------

def test_version():
    r = run_sipd("-v")
    eq(r.returncode, 0, "sipd -v exit status")
    eq(r.stdout.strip(), "sipd %s (libre 1.1.0)" % makefile_version(),
       "sipd -v output")


def test_help_and_bad_option():
    r = run_sipd("-h")
    eq(r.returncode, 0, "sipd -h exit status")
    text = r.stdout + r.stderr
    check(text.startswith("usage: sipd"), "usage line: %r" % text[:200])
    for opt in ("-f FILE", "-m DIR", "-p FILE", "-d", "-t", "-v", "-h"):
        check(re.search(r"(?m)^\s+%s\s" % re.escape(opt), text),
              "usage documents %s: %r" % (opt, text))
    r = run_sipd("-x")
    eq(r.returncode, 2, "exit status of an unknown option")
    check("usage: sipd" in r.stderr, "usage on stderr: %r" % r.stderr)
    r = run_sipd("-v", "extra")
    eq(r.returncode, 0, "-v exits before looking at operands")
    r = run_sipd("-t", "-f", "/nonexistent/sipd.conf", "operand")
    eq(r.returncode, 2, "exit status with a stray operand")


def test_check_config_opens_nothing():
    s = Sipd(accounts=(), start=False)
    try:
        # hold the configured ports: a sipd that binds them would fail
        held = []
        for port in (s.port, s.port2):
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                k = socket.socket(socket.AF_INET, kind)
                k.bind(("127.0.0.1", port))
                held.append(k)
        r = run_sipd("-t", "-f", s.conf_path, "-m", MODULES)
        for k in held:
            k.close()
        eq(r.returncode, 0, "sipd -t exit status (%s)" % r.stderr.strip())
        check("OK" in r.stdout, "sipd -t prints OK: %r" % r.stdout)
        check(s.conf_path in r.stdout, "names the file: %r" % r.stdout)
        eq(sorted(os.listdir(s.dir)), ["sipd.conf"],
           "files after sipd -t (no database, no pid file)")

        # a bad line: the file, the line and the problem
        with open(s.conf_path, "a") as f:
            f.write("registrar_min_expires 0\n")
        nlines = sum(1 for _ in open(s.conf_path))
        r = run_sipd("-t", "-f", s.conf_path, "-m", MODULES)
        check(r.returncode != 0, "sipd -t accepted registrar_min_expires 0")
        check("%s:%d" % (s.conf_path, nlines) in r.stderr,
              "error names %s:%d: %r" % (s.conf_path, nlines, r.stderr))
        eq(sorted(os.listdir(s.dir)), ["sipd.conf"], "files after a bad -t")
    finally:
        s.close()


def preload_env(preload, version):
    """The environment of a sipd with a libre that says it is version
    (ASan wants its runtime first: under SANITIZE=1 it is told not to
    check the order)."""
    env = dict(os.environ, LD_PRELOAD=preload,
               SIPD_TEST_LIBRE_VERSION=version)
    if "ASAN_OPTIONS" in env:
        env["ASAN_OPTIONS"] += ":verify_asan_link_order=0"
    return env


def test_refuses_another_libre_version():
    """The shims of core/libre fit libre 1.1.0 only: another version
    stops sipd at start, with both versions named."""
    s = Sipd(accounts=(), start=False)
    try:
        preload = os.path.join(os.path.dirname(SIPD), "test",
                               "libre-version.so")
        for version in ("1.2.0", "1.1.1"):
            env = preload_env(preload, version)
            r = run_sipd("-t", "-f", s.conf_path, "-m", MODULES, env=env)
            check(r.returncode != 0, "sipd -t started on libre %s" %
                  version)
            check("libre %s is not libre 1.1.0" % version in r.stderr and
                  "refusing to start" in r.stderr,
                  "error names both versions: %r" % r.stderr)
            r = run_sipd("-f", s.conf_path, "-m", MODULES, env=env)
            check(r.returncode != 0, "sipd started on libre %s" % version)
            eq(sorted(os.listdir(s.dir)), ["sipd.conf"],
               "files after the refused start (no database)")

        # the same file starts on the libre it was written for
        env = preload_env(preload, "1.1.0")
        r = run_sipd("-t", "-f", s.conf_path, "-m", MODULES, env=env)
        eq(r.returncode, 0, "sipd -t on libre 1.1.0 (%s)" % r.stderr)
    finally:
        s.close()


# --- daemon mode ---------------------------------------------------------------

def test_daemonize():
    s = Sipd(start=False)
    pid = None
    try:
        errlog = os.path.join(s.dir, "stderr.txt")
        with open(errlog, "w") as err:
            t = time.time()
            r = subprocess.run([SIPD, "-d", "-f", s.conf_path, "-m", MODULES,
                                "-p", s.pidfile], stdout=subprocess.PIPE,
                               stderr=err, text=True, timeout=20,
                               stdin=subprocess.DEVNULL)
        eq(r.returncode, 0, "sipd -d exit status")
        # the start-up lines may reach the terminal (they are written
        # before the daemon detaches); nothing after that may
        with open(errlog) as f:
            at_start = len(f.read())
        check(time.time() - t < 10, "sipd -d returned after %.1fs" %
              (time.time() - t))
        check(os.path.exists(s.pidfile), "pid file %s written" % s.pidfile)
        pid = read_pidfile(s.pidfile)
        check(pid_running(pid), "daemon %d running" % pid)
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv0 = f.read().split(b"\0")[0].decode()
        eq(argv0, SIPD, "the pid file names sipd")
        check(pid != os.getpid(), "a separate process")
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
        fields = stat[stat.rindex(")") + 2:].split()
        eq(int(fields[3]), pid, "the daemon leads its own session (sid)")

        # it serves
        c = s.client()
        resp = c.register("alice@example.com", "secret", expires=300)
        eq(resp.status if resp else None, 200, "REGISTER to the daemon")
        # something it logs (a failed digest at info): not to stderr
        c2 = s.client()
        resp = c2.register("bob@example.com", "wrong")
        eq(resp.status if resp else None, 401, "wrong password")
        for fd in (0, 1, 2):
            eq(os.readlink("/proc/%d/fd/%d" % (pid, fd)), "/dev/null",
               "daemon fd %d" % fd)
        time.sleep(0.2)
        with open(errlog) as f:
            eq(f.read()[at_start:], "", "what the daemon wrote to stderr"
               " once started")
        eq(r.stdout, "", "what sipd -d wrote to stdout")

        os.kill(pid, signal.SIGTERM)
        deadline = time.time() + 5
        while pid_running(pid) and time.time() < deadline:
            time.sleep(0.05)
        check(not pid_running(pid), "daemon still running 5s after TERM")
        check(not os.path.exists(s.pidfile), "pid file removed on exit")
        eq(s.query("SELECT aor FROM bindings"), [("alice@example.com",)],
           "binding kept by the stopped daemon")
    finally:
        kill_by_pid(pid)
        s.close()


def test_daemon_relative_pidfile_removed():
    # "sipd -d -p sipd.pid" started in the directory of the files
    s = Sipd(start=False)
    pid = None
    try:
        r = subprocess.run([SIPD, "-d", "-f", "sipd.conf", "-m", MODULES,
                            "-p", "sipd.pid"], capture_output=True,
                           text=True, timeout=20, cwd=s.dir,
                           stdin=subprocess.DEVNULL)
        eq(r.returncode, 0, "sipd -d exit status (%s)" % r.stderr)
        pid = read_pidfile(s.pidfile)
        check(pid_running(pid), "daemon running")
        r = s.client().register("alice@example.com", "secret")
        eq(r.status if r else None, 200, "REGISTER to the daemon")
        os.kill(pid, signal.SIGTERM)
        deadline = time.time() + 5
        while pid_running(pid) and time.time() < deadline:
            time.sleep(0.05)
        check(not pid_running(pid), "daemon still running after TERM")
        check(not os.path.exists(s.pidfile), "relative pid file %s left"
              " behind after the daemon stopped" % s.pidfile)
    finally:
        kill_by_pid(pid)
        s.close()


def test_daemon_start_failure_reports():
    s = Sipd(start=False)
    k = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        k.bind(("127.0.0.1", s.port))       # the port sipd wants
        t = time.time()
        r = run_sipd("-d", "-f", s.conf_path, "-m", MODULES, "-p",
                     s.pidfile)
        check(r.returncode != 0, "sipd -d with its port taken exited 0")
        check(time.time() - t < 10, "took %.1fs" % (time.time() - t))
        check("127.0.0.1:%d" % s.port in r.stderr,
              "the error names the address: %r" % r.stderr)
        check(re.search(r"(?i)in use", r.stderr),
              "the error says why: %r" % r.stderr)
        check(not os.path.exists(s.pidfile), "no pid file after a failure")
    finally:
        k.close()
        s.close()


# --- signals -------------------------------------------------------------------

def _stop_with(sig):
    with Sipd() as s:
        for aor, pw in (("alice@example.com", "secret"),
                        ("bob@example.com", "secret2")):
            r = s.client().register(aor, pw, expires=600)
            eq(r.status if r else None, 200, "REGISTER " + aor)
        pid = s.proc.pid
        t = time.time()
        s.proc.send_signal(sig)
        try:
            rc = s.proc.wait(2.0)
        except subprocess.TimeoutExpired:
            rc = None
        took = time.time() - t
        eq(rc, 0, "exit status after signal %d" % sig)
        check(took < 2.0, "exit took %.2fs" % took)
        s.proc = None
        s.logf.close()
        check(not pid_running(pid), "process gone")
        check(not os.path.exists(s.pidfile), "pid file removed")
        check("stopped" in s.log(), "log says stopped: %r" % s.log()[-300:])
        con = sqlite3.connect(s.db, timeout=5)
        try:
            eq(con.execute("PRAGMA quick_check").fetchall(), [("ok",)],
               "database check")
            eq(sorted(con.execute("SELECT aor FROM bindings")),
               [("alice@example.com",), ("bob@example.com",)], "bindings")
        finally:
            con.close()
        r = s.sipctl("db", "check")
        eq(r.returncode, 0, "sipctl db check (%s)" % r.stderr.strip())


def test_sigterm_exits_cleanly():
    _stop_with(signal.SIGTERM)


def test_sigint_exits_cleanly():
    _stop_with(signal.SIGINT)


def test_sigterm_under_load_keeps_acknowledged():
    with Sipd(SIPP_CONF) as s:
        n = 3000
        csv, aors = add_users(s, n, prefix="term")
        run = sipp_load(s, csv, calls=n, rate=500, max_retrans=2)
        run.start()
        deadline = time.time() + 30
        while s.query("SELECT count(*) FROM bindings")[0][0] < 300 and \
                time.time() < deadline and run.alive():
            time.sleep(0.05)
        check(run.alive(), "SIPp ended before the TERM")
        t = time.time()
        s.proc.send_signal(signal.SIGTERM)
        try:
            rc = s.proc.wait(2.0)
        except subprocess.TimeoutExpired:
            rc = None
        took = time.time() - t
        s.stop()
        eq(rc, 0, "exit status of TERM under load")
        check(took < 2.0, "TERM under load took %.2fs" % took)
        run.kill(signal.SIGINT)
        res = run.wait(60)
        acked = set(logged_aors(res.logged(), "registered"))
        check(0 < len(acked) < n, "TERM came mid-load: %d of %d" % (
            len(acked), n))
        r = s.sipctl("db", "check")
        eq(r.returncode, 0, "db check after TERM (%s)" % r.stderr)
        bound = set(bindings(s))
        eq(sorted(acked - bound), [], "acknowledged AORs missing after"
           " TERM")
        s.start()
        eq(sorted(acked - set(bindings(s))), [], "missing after restart")


def test_binds_only_listen_addresses():
    with Sipd() as s:
        addrs = socket_addresses(s.proc.pid)
        want = [("tcp", "127.0.0.1", s.port), ("udp", "127.0.0.1", s.port),
                ("udp", "127.0.0.1", s.port2)]
        eq(addrs, sorted(want), "sockets of sipd with listen lines on 127.0.0.1"
           " only")


# --- kill -9 -------------------------------------------------------------------

def test_kill9_keeps_acknowledged_bindings():
    with Sipd(SIPP_CONF) as s:
        n = 50
        csv, aors = add_users(s, n, prefix="k9u")
        c = s.client()
        acked = {}
        for i, aor in enumerate(aors):
            contact = "sip:%s@127.0.0.1:%d" % (aor.split("@")[0],
                                                  40000 + i)
            r = c.register(aor, "pw-" + aor.split("@")[0],
                           contacts=["<%s>" % contact], expires=3600)
            if r is not None and r.status == 200:
                acked[aor] = contact
        eq(len(acked), n, "200s received")
        s.kill9()                      # right after the last 200
        s.start()

        listed = {e["aor"]: e["contact"] for e in reg_list_json(s)}
        eq(listed, acked, "sipctl reg list --json after kill -9 + restart")

        # a REGISTER without Contact returns the binding
        for aor, contact in sorted(acked.items())[::7]:
            r = s.client().register(aor, "pw-" + aor.split("@")[0],
                                    contacts=[])
            eq(r.status if r else None, 200, "query REGISTER of " + aor)
            eq([contact_uri(v) for v in r.all("contact")], [contact],
               "contacts returned for " + aor)


def test_kill9_under_sipp_load_keeps_acknowledged():
    with Sipd(SIPP_CONF) as s:
        n = 3000
        csv, aors = add_users(s, n, prefix="load")
        run = sipp_load(s, csv, calls=n, rate=500, max_retrans=2)
        run.start()
        # kill -9 about half way, while the load runs
        deadline = time.time() + 30
        while s.query("SELECT count(*) FROM bindings")[0][0] < 1 and \
                time.time() < deadline and run.alive():
            time.sleep(0.05)
        time.sleep(2.5)
        check(run.alive(), "SIPp ended before the kill")
        s.kill9()
        time.sleep(0.5)
        run.kill(signal.SIGINT)        # SIPp flushes its logs and ends
        res = run.wait(60)
        acked = set(logged_aors(res.logged(), "registered"))
        check(100 < len(acked) < n,
              "the kill came mid-load: %d of %d acknowledged (%s)" % (
                  len(acked), n, res.summary()))
        check(acked <= set(aors), "acknowledged AORs are ours")

        s.start()
        bound = set(bindings(s))
        lost = sorted(acked - bound)
        eq(lost, [], "acknowledged AORs missing after kill -9 (%d acked,"
           " %d bound)" % (len(acked), len(bound)))
        listed = set(e["aor"] for e in reg_list_json(s))
        eq(sorted(acked - listed), [], "acknowledged AORs missing from"
           " sipctl reg list")
        # and the restarted daemon answers a query with each binding
        for aor in sorted(acked)[::max(1, len(acked) // 20)]:
            user = aor.split("@")[0]
            r = s.client().register(aor, "pw-" + user, contacts=[])
            eq(r.status if r else None, 200, "query REGISTER of " + aor)
            eq([contact_uri(v) for v in r.all("contact")],
               ["sip:%s@127.0.0.1:%d" % (user, run.port)],
               "contacts returned for " + aor)
        r = s.sipctl("db", "check")
        eq(r.returncode, 0, "db check after kill -9 (%s)" % r.stderr)


UNINSTALLED_CONF = """\
domain example.com
db {db}
listen udp:127.0.0.1:{port};roles=registrar,presence,proxy
listen udp:127.0.0.1:{port2};roles=redirect
"""


def test_uninstalled_build_runs_without_module_lines():
    """build/sipd -f CONF, without -m, without module_path and without
    'module' lines: the modules are found beside the binary when the
    compiled-in directory lacks them, and the roles load the location
    and auth modules they need; a REGISTER is challenged (401)."""
    s = Sipd(conf=UNINSTALLED_CONF, accounts=(), start=False)
    proc = None
    try:
        r = run_sipd("-t", "-f", s.conf_path)
        eq(r.returncode, 0, "sipd -t without -m: %s" % r.stderr.strip())
        r = run_sipd("-t", "-f", os.path.join(ROOT, "etc", "sipd.conf"))
        eq(r.returncode, 0, "sipd -t etc/sipd.conf without -m: %s" %
           r.stderr.strip())
        log = open(s.log_path, "wb")
        proc = subprocess.Popen([SIPD, "-f", s.conf_path, "-p", s.pidfile],
                                stdout=log, stderr=subprocess.STDOUT,
                                cwd=s.dir)
        deadline = time.time() + 10
        while "started with" not in s.log() and time.time() < deadline:
            check(proc.poll() is None, "sipd exited:\n" + s.log())
            time.sleep(0.05)
        check("started with" in s.log(), "sipd did not start:\n" + s.log())
        c = s.client()
        try:
            r = c.register("alice@example.com", expires=60)
            check(r is not None, "no answer to REGISTER")
            eq(r.status, 401, "REGISTER to an uninstalled build")
        finally:
            c.close()
    finally:
        if proc:
            proc.kill()
            proc.wait()
        s.close()
