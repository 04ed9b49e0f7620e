#!/usr/bin/env python3
"""A throw-away PostgreSQL server for the tests.

  pgserver.py run [--] CMD ARGS...   start a server, run CMD with
                                     SIPD_TEST_PG set to its URI, stop it;
                                     exits with CMD's status
  pgserver.py time                   print how long initdb and the start
                                     took, then stop

From Python: `with PgServer() as pg: pg.uri ...`.

The server is initdb'd into a fresh temporary directory with a test user
(sipd_test, a random password, scram-sha-256 for every login), listens on
127.0.0.1 only at a free port and on a unix socket in that directory,
runs with fsync and synchronous_commit on (what sipd relies on), and is
stopped by its PID (SIGINT: fast shutdown; SIGKILL if it lingers), the
directory removed.

initdb and postgres refuse to run as root: as root they run as the user
'postgres' that Debian's postgresql package creates (setuid in the child,
no runuser in between, so the PID is the postmaster's); as anyone else,
as that user.
"""

import os
import pwd
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

PG_USER = "sipd_test"
RUN_AS = "postgres"


def pg_bindir():
    """The directory of initdb and postgres: $PG_BINDIR, else the newest
    of Debian's /usr/lib/postgresql/N/bin, else $PATH."""
    d = os.environ.get("PG_BINDIR")
    if d:
        return d
    base = "/usr/lib/postgresql"
    if os.path.isdir(base):
        vers = sorted((v for v in os.listdir(base) if v.isdigit()),
                      key=int, reverse=True)
        for v in vers:
            b = os.path.join(base, v, "bin")
            if os.path.exists(os.path.join(b, "initdb")):
                return b
    w = shutil.which("initdb")
    if w:
        return os.path.dirname(w)
    raise RuntimeError("pgserver: no initdb (Debian package postgresql)")


def free_port(host="127.0.0.1"):
    """A TCP port free on host, below the ephemeral range."""
    for _ in range(200):
        port = random.randint(20000, 32767)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((host, port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("pgserver: no free port")


class PgServer:
    def __init__(self, host="127.0.0.1", dbname="postgres"):
        self.host = host
        self.dbname = dbname
        self.port = None
        self.dir = None
        self.proc = None
        self.password = secrets.token_hex(16)
        self.user = PG_USER
        self.initdb_s = None
        self.start_s = None

    # the child runs as RUN_AS when we are root
    def _as(self):
        if os.geteuid() != 0:
            return {}
        pw = pwd.getpwnam(RUN_AS)
        return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}

    @property
    def uri(self):
        return "postgresql://%s:%s@%s:%d/%s" % (
            self.user, self.password, self.host, self.port, self.dbname)

    def start(self, timeout=30):
        bindir = pg_bindir()
        self.dir = tempfile.mkdtemp(prefix="sipd-pg-")
        data = os.path.join(self.dir, "data")
        pwfile = os.path.join(self.dir, "pw")
        with open(pwfile, "w") as f:
            f.write(self.password + "\n")
        os.chmod(pwfile, 0o600)
        if os.geteuid() == 0:
            pw = pwd.getpwnam(RUN_AS)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        t0 = time.monotonic()
        r = subprocess.run(
            [os.path.join(bindir, "initdb"), "-D", data, "-U", self.user,
             "--pwfile", pwfile, "--auth", "scram-sha-256",
             "--encoding", "UTF8", "--locale", "C", "--no-instructions"],
            cwd=self.dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, **self._as())
        os.unlink(pwfile)
        if r.returncode:
            self.stop()
            raise RuntimeError("pgserver: initdb failed:\n" + r.stdout)
        self.initdb_s = time.monotonic() - t0

        t0 = time.monotonic()
        for _ in range(5):
            self.port = free_port(self.host)
            self._postgres(data)
            if self._wait_ready(data, timeout):
                self.start_s = time.monotonic() - t0
                return self
            # lost the port to another process: try another
            self._kill()
        text = open(self.log, errors="replace").read()
        self.stop()
        raise RuntimeError("pgserver: postgres did not start:\n" + text)

    def _postgres(self, data):
        self.log = os.path.join(self.dir, "postgres.log")
        logf = open(self.log, "ab")
        if os.geteuid() == 0:
            os.chown(self.log, pwd.getpwnam(RUN_AS).pw_uid, -1)
        self.proc = subprocess.Popen(
            [os.path.join(pg_bindir(), "postgres"), "-D", data,
             "-c", "listen_addresses=" + self.host,
             "-c", "port=%d" % self.port,
             "-c", "unix_socket_directories=" + self.dir,
             "-c", "fsync=on", "-c", "synchronous_commit=on",
             "-c", "max_connections=50",
             "-c", "shared_buffers=16MB"],
            cwd=self.dir, stdout=logf, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, **self._as())
        logf.close()

    def halt(self):
        """Stop the server (by its PID), keeping its data and port."""
        self._kill()

    def resume(self, timeout=30):
        """Start the halted server again on the same port and data."""
        data = os.path.join(self.dir, "data")
        self._postgres(data)
        if not self._wait_ready(data, timeout):
            raise RuntimeError("pgserver: postgres did not start again")

    def _wait_ready(self, data, timeout):
        pidfile = os.path.join(data, "postmaster.pid")
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                return False
            try:
                with open(pidfile) as f:
                    lines = f.read().split("\n")
                # line 8 is the postmaster's status (PostgreSQL 10 and up)
                if len(lines) > 7 and lines[7].strip() == "ready":
                    return True
            except OSError:
                pass
            time.sleep(0.02)
        return False

    def _kill(self):
        if not self.proc or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGINT)  # fast shutdown
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        self._kill()
        self.proc = None
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main(argv):
    if argv[:1] == ["time"]:
        with PgServer() as pg:
            print("initdb %.2f s, start %.2f s" % (pg.initdb_s, pg.start_s))
        return 0
    if argv[:1] != ["run"] or len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    cmd = argv[1:]
    if cmd[0] == "--":
        cmd = cmd[1:]
    try:
        pg = PgServer().start()
    except (RuntimeError, OSError, KeyError) as e:
        print(str(e), file=sys.stderr)
        return 1
    try:
        env = dict(os.environ, SIPD_TEST_PG=pg.uri)
        return subprocess.call(cmd, env=env)
    finally:
        pg.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
