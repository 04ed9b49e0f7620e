"""nodeslib.py: the servers and the PostgreSQL of test/bench/nodes.

The run's throw-away PostgreSQL server (test/pg/pgserver.py) with its
CPU time (the postmaster, the children it reaped and its live
children), a sipd node on a loopback address (SQLite or PostgreSQL,
node_name and node_uri), Kamailio with registrar-pg.cfg, a Cluster that
shows the servers of a case to compare's SIPp runs as one server, the
REGISTER of a phone behind a NAT, the databases and accounts every case
needs (Setup), PostgreSQL's commit capacity with pgbench, and the state
of the machine (load, pressure, the disk's fdatasync time) for the
report. Python 3, standard library only.
"""

import hashlib
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import benchlib as bl                                         # noqa: E402
from benchlib import BenchError                               # noqa: E402

sys.path.insert(0, os.path.join(bl.ROOT, "test", "pg"))
from pgserver import PgServer, pg_bindir                      # noqa: E402
from sipprun import free_udp_port, socket_addresses           # noqa: E402

cmp = bl.load_bench("compare")

BUILD = bl.BUILD
DOMAIN = "example.com"
KAM_CFG = os.path.join(HERE, "kamailio", "registrar-pg.cfg")
KAM_SCHEMA = "/usr/share/kamailio/postgres"
NAT_HOST = "127.0.0.99"        # the callee's Contact: "behind a NAT"
HOSTS = ("127.0.0.1", "127.0.0.2")
PREFIXES = ("a", "b")          # callload's users at node a and node b


def ha1(user, pw):
    return hashlib.md5(("%s:%s:%s" % (user, DOMAIN, pw)).encode()) \
        .hexdigest()


def password(user):
    """callload's password of a user (-P pw): pw-USER."""
    return "pw-" + user


# --- PostgreSQL --------------------------------------------------------------

class Pg:
    """The run's PostgreSQL server, its databases and its CPU time."""

    def __init__(self):
        self.server = PgServer().start()
        self.psql_bin = os.path.join(pg_bindir(), "psql")

    def uri(self, db):
        s = self.server
        return "postgresql://%s:%s@%s:%d/%s" % (s.user, s.password, s.host,
                                                s.port, db)

    def kam_url(self, db):
        s = self.server
        return "postgres://%s:%s@%s:%d/%s" % (s.user, s.password, s.host,
                                              s.port, db)

    def psql(self, sql=None, db="postgres", stdin=None, script=None):
        s = self.server
        cmd = [self.psql_bin, "-XAtq", "-v", "ON_ERROR_STOP=1", "-h",
               s.host, "-p", str(s.port), "-U", s.user, "-d", db]
        if sql is not None:
            cmd += ["-c", sql]
        if script is not None:
            cmd += ["-f", script]
        r = subprocess.run(cmd, input=stdin, capture_output=True,
                           text=True, timeout=300,
                           env=dict(os.environ, PGPASSWORD=s.password))
        if r.returncode:
            raise BenchError("psql %s: %s" % (sql or script,
                                              r.stderr.strip()))
        return r.stdout

    def pids(self):
        """The postmaster and its children (backends, WAL writer,
        checkpointer, ...)."""
        pm = self.server.proc.pid
        out = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                fields = bl._stat_fields(int(d))
            except (OSError, ValueError, IndexError):
                continue
            if int(fields[1]) == pm:
                out.append(int(d))
        return out

    def cpu_ticks(self):
        """utime + stime of the postmaster, of the children it reaped
        (cutime + cstime: backends that ended) and of every live child."""
        pm = self.server.proc.pid
        try:
            f = bl._stat_fields(pm)
            total = sum(int(x) for x in f[11:15])
        except (OSError, ValueError, IndexError):
            return 0
        return total + bl.pids_cpu_ticks(self.pids())

    def stop(self):
        self.server.stop()


# --- the servers -------------------------------------------------------------

def check_loopback(pid, who, sip_port):
    """The SIP sockets of pid (its port, every TCP socket) must be on
    127.0.0.0/8; others (libre's DNS client on the wildcard address) are
    returned as notes."""
    notes = []
    for proto, host, port in socket_addresses(pid):
        if host.startswith("127."):
            continue
        if port == sip_port or proto.startswith("tcp"):
            raise BenchError("%s (pid %d) has a socket outside 127.0.0.0/8:"
                             " %s %s:%d" % (who, pid, proto, host, port))
        notes.append((proto, host, port))
    return notes


class Node(cmp.Server):
    """A sipd node on host: db is an SQLite path or a PostgreSQL URI;
    name: its node_name (PostgreSQL), or None."""

    def __init__(self, label, host, db, node=None, calls=False):
        self.name = label
        super().__init__("registration")
        self.host = host
        self.port = free_udp_port(host)
        self.dbarg = db
        self.conf = os.path.join(self.dir, "sipd.conf")
        sock = "roles=registrar,proxy;auth=off" if calls else \
            "roles=registrar"
        with open(self.conf, "w") as f:
            f.write("# sipd, test/bench/nodes\n"
                    "domain %s\ndb %s\nlog_level info\n"
                    "module location\nmodule auth\n"
                    "listen udp:%s:%d;%s\n"
                    "registrar_max_expires 3600\n"
                    "registrar_nat_ping_interval 0\n"
                    "auth_md5_user_agent callload\n"
                    "flood_exempt 127.0.0.0/8\n"
                    "workers 1\n"
                    "control_socket %s\n" % (
                        DOMAIN, db, host, self.port, sock,
                        os.path.join(self.dir, "sipd.ctl")))
            if node:
                f.write("node_name %s\nnode_uri sip:%s:%d\n" % (
                    node, host, self.port))
        self.cmd = [os.path.join(BUILD, "sipd"), "-f", self.conf, "-m",
                    os.path.join(BUILD, "modules"), "-p",
                    os.path.join(self.dir, "sipd.pid")]

    @property
    def addr(self):
        return (self.host, self.port)

    def start(self, timeout=20):
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.cmd, stdout=self.logf, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, cwd=self.dir, start_new_session=True)
        try:
            bl.options_probe(self.addr, timeout, self.alive)
        except BenchError as e:
            raise BenchError("%s did not start (%s):\n%s" % (
                self.name, e, self.log()[-1500:]))
        for pid in self.pids():
            self.notes += check_loopback(pid, self.name, self.port)

    def sipctl(self, *args, stdin=None):
        r = subprocess.run([os.path.join(BUILD, "sipctl"), "-f",
                            self.conf] + list(args), input=stdin,
                           capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise BenchError("sipctl %s: exit %d: %s" % (
                " ".join(args), r.returncode, r.stderr.strip()))
        return r.stdout


class Kamailio(cmp.Server):
    """Kamailio in the foreground with registrar-pg.cfg."""

    name = "kamailio"

    def __init__(self, label, url, children):
        self.name = label
        super().__init__("registration")
        self.cmd = ["kamailio", "-f", KAM_CFG, "-DD", "-E",
                    "-n", str(children), "-l", "udp:127.0.0.1:%d" % self.port,
                    "-w", self.dir, "-Y", self.dir, "-m", "256",
                    "-A", 'DBURL="%s"' % url]


class Cluster:
    """The servers of a case, seen as one by compare's SIPp runs (the
    interface of compare.Server): the calls enter at the first node, the
    callee registers at the last; the CPU is the sum of every node's.
    Each cpu_ticks() also reads PostgreSQL's, so that the PostgreSQL
    CPU of a SIPp run is the difference of the first and last reading
    (compare's sipp_run reads it before the calls and after them)."""

    def __init__(self, name, servers, pg=None, clear=None):
        self.name = name
        self.servers = servers
        self.pg = pg
        self.clear = clear          # empty the bindings table
        self.dir = servers[0].dir
        self.notes = []
        self.callee = None
        self.pg_ticks = []

    @property
    def addr(self):
        return self.servers[0].addr

    @property
    def port(self):
        return self.servers[0].port

    def prepare(self, import_file, bindings):
        """The accounts are there already (Setup); no binding."""
        if self.clear:
            self.clear()
        # compare's proxy workload: one binding of the callee, at its port
        self.callee = [(u, int(c.rsplit(":", 1)[1])) for u, c in bindings]

    def start(self):
        for s in self.servers:
            s.start()
            self.notes += s.notes
        for user, port in self.callee or []:
            register_nated(self.servers[-1].addr, user, port)

    def pids(self):
        return [p for s in self.servers for p in s.pids()]

    def cpu_ticks(self):
        if self.pg is not None:
            self.pg_ticks.append(self.pg.cpu_ticks())
        return sum(s.cpu_ticks() for s in self.servers)

    def cpu_ns(self):
        return sum(s.cpu_ns() for s in self.servers)

    def memory_kb(self):
        pss = rss = 0
        for s in self.servers:
            p, r = s.memory_kb()
            pss += p
            rss += r
        return pss, rss

    def alive(self):
        return all(s.alive() for s in self.servers)

    def died(self):
        return "; ".join(s.died() for s in self.servers if not s.alive())

    def stop(self, timeout=20):
        status = [s.stop(timeout) for s in self.servers]
        bad = [x for x in status if x != 0]
        return bad[0] if bad else 0

    def log(self):
        return "\n".join("[%s]\n%s" % (s.name, s.log()[-800:])
                         for s in self.servers)

    def cleanup(self):
        for s in self.servers:
            s.cleanup()


def register_nated(addr, user, port, timeout=5.0):
    """REGISTER user's Contact on NAT_HOST from 127.0.0.1:port (the SIPp
    callee's port, still free): a phone behind a NAT, whose binding is
    reached only through the node holding the flow. auth=off: a 200."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", port))
        s.settimeout(0.5)
        msg = ("REGISTER sip:%s SIP/2.0\r\n"
               "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK-nodes%d;rport\r\n"
               "Max-Forwards: 70\r\n"
               "From: <sip:%s@%s>;tag=nodes%d\r\n"
               "To: <sip:%s@%s>\r\n"
               "Call-ID: nodes-%d-%d@%s\r\n"
               "CSeq: 1 REGISTER\r\n"
               "Contact: <sip:%s@%s:%d>\r\n"
               "Expires: 3600\r\n"
               "Content-Length: 0\r\n\r\n" % (
                   DOMAIN, NAT_HOST, port, port, user, DOMAIN, port, user,
                   DOMAIN, os.getpid(), port, NAT_HOST, user, NAT_HOST,
                   port)).encode()
        deadline = time.time() + timeout
        while time.time() < deadline:
            s.sendto(msg, addr)
            try:
                data = s.recv(65535)
            except socket.timeout:
                continue
            code = int(data.split()[1])
            if code >= 200:
                if code != 200:
                    raise BenchError("REGISTER of the callee: %d" % code)
                return
        raise BenchError("REGISTER of the callee: no answer")
    finally:
        s.close()


# --- the cases ---------------------------------------------------------------

class Setup:
    """The run's PostgreSQL databases and the accounts every case needs.

    users: how many registration users each prefix needs (a0.., b0..)."""

    def __init__(self, pg, users, children):
        self.pg = pg
        self.users = users
        self.children = children
        self.tmp = tempfile.mkdtemp(prefix="nodes-bench-")
        self.imports = {}
        for p in PREFIXES:
            path = os.path.join(self.tmp, "%s.import" % p)
            with open(path, "w") as f:
                for i in range(users[p]):
                    u = "%s%d" % (p, i)
                    f.write("%s@%s %s\n" % (u, DOMAIN, password(u)))
            self.imports[p] = path
        self.calls_import = os.path.join(self.tmp, "calls.import")
        with open(self.calls_import, "w") as f:
            f.write("%s@%s pw-caller\n%s@%s pw-bench\n" % (
                cmp.CALLER, DOMAIN, cmp.CALLEE, DOMAIN))
        self.sipd_db = None
        self.kam_db = None
        self.sqlite_db = None

    def sipd_pg(self):
        """Database sipd: schema, accounts a.., b.., caller, bench."""
        if self.sipd_db:
            return self.sipd_db
        self.pg.psql("CREATE DATABASE sipd")
        uri = self.pg.uri("sipd")
        n = Node("sipctl", "127.0.0.1", uri)
        try:
            n.sipctl("db", "init")
            for path in list(self.imports.values()) + [self.calls_import]:
                n.sipctl("user", "import", path)
        finally:
            n.cleanup()
        self.sipd_db = uri
        return uri

    def kamailio_pg(self):
        """Database kamailio: Debian's tables, subscriber rows a0.."""
        if self.kam_db:
            return self.kam_db
        self.pg.psql("CREATE DATABASE kamailio")
        for s in ("standard", "auth_db", "usrloc"):
            self.pg.psql(db="kamailio", script=os.path.join(
                KAM_SCHEMA, s + "-create.sql"))
        rows = "".join("%s%d\t%s\t%s\n" % (
            "a", i, DOMAIN, ha1("a%d" % i, password("a%d" % i)))
            for i in range(self.users["a"]))
        self.pg.psql("COPY subscriber (username, domain, ha1) FROM STDIN",
                     db="kamailio", stdin=rows)
        self.kam_db = self.pg.kam_url("kamailio")
        return self.kam_db

    def sqlite_template(self):
        """An SQLite database with the accounts, copied for each run."""
        if self.sqlite_db:
            return self.sqlite_db
        path = os.path.join(self.tmp, "template.db")
        n = Node("sipctl", "127.0.0.1", path)
        try:
            n.sipctl("db", "init")
            for p in [self.imports["a"], self.calls_import]:
                n.sipctl("user", "import", p)
        finally:
            n.cleanup()
        self.sqlite_db = path
        return path

    def clear_sipd(self):
        self.pg.psql("TRUNCATE bindings", db="sipd")

    def clear_kamailio(self):
        self.pg.psql("TRUNCATE location, location_attrs", db="kamailio")

    def make(self, case, calls=False):
        """The Cluster of a case, fresh (new processes, empty bindings)."""
        if case == "sqlite":
            d = tempfile.mkdtemp(prefix="nodes-sqlite-", dir=self.tmp)
            db = os.path.join(d, "sipd.db")
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(self.sqlite_template() + suffix):
                    shutil.copy(self.sqlite_template() + suffix,
                                db + suffix)
            node = Node("sipd-sqlite", "127.0.0.1", db, calls=calls)
            c = Cluster("sqlite", [node])
            c.count = lambda: sqlite_count(db)
            return c
        if case in ("pg-1", "pg-2"):
            uri = self.sipd_pg()
            nodes = [Node("sipd-%s" % n, h, uri, node=n, calls=calls)
                     for n, h in list(zip(PREFIXES, HOSTS))[
                         :int(case[-1])]]
            c = Cluster(case, nodes, self.pg, clear=self.clear_sipd)
            c.count = lambda: int(self.pg.psql(
                "SELECT count(*) FROM bindings", db="sipd"))
            return c
        if case == "kam-pg":
            url = self.kamailio_pg()
            k = Kamailio("kamailio-pg", url, self.children)
            c = Cluster(case, [k], self.pg, clear=self.clear_kamailio)
            c.count = lambda: int(self.pg.psql(
                "SELECT count(*) FROM location", db="kamailio"))
            return c
        raise ValueError(case)

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def sqlite_count(path):
    con = sqlite3.connect(path, timeout=30)
    try:
        return con.execute("SELECT count(*) FROM bindings").fetchone()[0]
    finally:
        con.close()


# --- PostgreSQL's commit capacity -------------------------------------------

PGBENCH_SQL = """\\set u random(1, 1000000000)
BEGIN;
INSERT INTO bindings (aor, contact, expires, callid, cseq, received,
 transport, socket, created, updated, node) VALUES ('c' || (:u)::text ||
 '@example.com', 'sip:c@127.0.0.1:5060', 2000000000, 'pgbench-' ||
 (:u)::text, 1, '127.0.0.1:5060', 'udp', 'udp:127.0.0.1:5060', 1, 1, 'a');
%s
"""

# the NOTIFY of a binding: in its transaction (a trigger's way), or in a
# statement after its commit (sipd's: lib/db/pg_notify.c)
PGBENCH_NOTIFY = {
    "in": "SELECT pg_notify('sipd', 'bindings c' || (:u)::text);\nCOMMIT;",
    "after": "COMMIT;\nSELECT pg_notify('sipd', 'bindings c' ||"
             " (:u)::text);",
}


def commit_capacity(setup, clients, seconds):
    """{(way, clients): (commits/s, WAL syncs a commit)}: pgbench's
    transactions of one binding INSERT each, from `clients` connections,
    its NOTIFY in the transaction ("in") or after its commit ("after",
    as sipd tells it)."""
    pg = setup.pg
    srv = pg.server
    out = {}
    for table in ("in", "after"):
        path = os.path.join(setup.tmp, "notify-%s.sql" % table)
        with open(path, "w") as f:
            f.write(PGBENCH_SQL % PGBENCH_NOTIFY[table])
        for n in clients:
            pg.psql("TRUNCATE bindings", db="sipd")
            w0 = int(pg.psql("SELECT wal_sync FROM pg_stat_wal"))
            r = subprocess.run(
                [os.path.join(pg_bindir(), "pgbench"), "-n", "-c", str(n),
                 "-j", str(min(n, 2)), "-T", "%g" % seconds, "-f", path,
                 "-h", srv.host, "-p", str(srv.port), "-U", srv.user,
                 "sipd"], capture_output=True, text=True,
                timeout=seconds + 60,
                env=dict(os.environ, PGPASSWORD=srv.password))
            time.sleep(0.5)         # the backends' statistics, flushed
            w1 = int(pg.psql("SELECT wal_sync FROM pg_stat_wal"))
            tps = re.search(r"tps = ([\d.]+)", r.stdout)
            done = re.search(r"actually processed: (\d+)", r.stdout)
            if r.returncode or not tps or not done:
                raise BenchError("pgbench -c %d on %s: %s" % (
                    n, table, (r.stdout + r.stderr).strip()[-400:]))
            out[(table, n)] = (float(tps.group(1)),
                               (w1 - w0) / max(1.0, float(done.group(1))))
    pg.psql("TRUNCATE bindings", db="sipd")
    return out


# --- the machine -------------------------------------------------------------

def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def fsync_us(directory, n=100):
    """(median, p90) us of an 8 kB write and fdatasync() in directory:
    what each commit waits for on this disk."""
    path = os.path.join(directory, "fsync.test")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    times = []
    try:
        block = b"\0" * 8192
        for _ in range(n):
            t = time.perf_counter()
            os.pwrite(fd, block, 0)
            os.fdatasync(fd)
            times.append((time.perf_counter() - t) * 1e6)
    finally:
        os.close(fd)
        os.unlink(path)
    return bl.percentile(times, 50), bl.percentile(times, 90)


def pressure(what):
    """avg10 of /proc/pressure/WHAT's "some" line."""
    try:
        with open("/proc/pressure/" + what) as f:
            return f.readline().split()[1].split("=")[1]
    except (OSError, IndexError):
        return "?"


def machine_state(directory):
    """Load average, CPU and I/O pressure, the disk's fdatasync time."""
    med, p90 = fsync_us(directory)
    return ("load average %s; pressure avg10 cpu %s%% io %s%%; fdatasync"
            " of 8 kB %.0f us median, %.0f us p90" % (
                loadavg(), pressure("cpu"), pressure("io"), med, p90))
