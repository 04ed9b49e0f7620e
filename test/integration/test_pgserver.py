"""The tests' PostgreSQL server (test/pg/pgserver.py): made, reachable
with its password only, on 127.0.0.1 only, fsync and synchronous_commit
on, and gone (process and directory) once stopped; `pgserver.py run`
hands its URI to the command in SIPD_TEST_PG and exits with its status.
"""

import os
import socket
import subprocess
import sys

from sipdlib import ROOT, check, eq

sys.path.insert(0, os.path.join(ROOT, "test", "pg"))
from pgserver import PgServer, pg_bindir                       # noqa: E402

PGSERVER = os.path.join(ROOT, "test", "pg", "pgserver.py")


def psql(uri, sql):
    r = subprocess.run([os.path.join(pg_bindir(), "psql"), "-XAtq", uri,
                        "-c", sql], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True,
                       env=dict(os.environ, PGCONNECT_TIMEOUT="5"))
    return r.returncode, r.stdout.strip()


def test_server():
    pg = PgServer().start()
    try:
        pid, d = pg.proc.pid, pg.dir
        eq(psql(pg.uri, "SHOW synchronous_commit"), (0, "on"))
        eq(psql(pg.uri, "SHOW fsync"), (0, "on"))
        eq(psql(pg.uri, "SHOW listen_addresses"), (0, "127.0.0.1"))
        eq(psql(pg.uri, "SELECT current_user"), (0, "sipd_test"))

        # the password is needed
        bad = pg.uri.replace(pg.password, "wrong")
        rc, out = psql(bad, "SELECT 1")
        check(rc != 0 and "password authentication failed" in out, out)

        # loopback only: not on another local address
        s = socket.socket()
        s.settimeout(2)
        check(s.connect_ex(("127.0.0.2", pg.port)) != 0,
              "listening beyond 127.0.0.1")
        s.close()
    finally:
        pg.stop()

    check(not os.path.exists(d), "directory left: " + d)
    check(not os.path.exists("/proc/%d" % pid), "postgres still runs")


def test_run_command():
    r = subprocess.run([sys.executable, PGSERVER, "run", "--", "sh", "-c",
                        'case "$SIPD_TEST_PG" in postgresql://*) exit 7;;'
                        ' esac; exit 1'])
    eq(r.returncode, 7)
