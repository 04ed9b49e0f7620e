"""Live control: sipctl status, ban list/del and reload through the control
socket, SIGHUP, and the Prometheus metrics endpoint.

The figures are checked against what the phones did; a reload must apply
the live keys without losing a binding, refuse a broken file (sipd keeps
running on the old one) and name the keys that need a restart.
"""

import json
import os
import re
import signal
import socket
import stat
import subprocess
import time
import urllib.error
import urllib.request

import sipdlib
from sipdlib import (Client, Sipd, SIPD, SIPCTL, MODULES, DEFAULT_CONF,
                     check, eq, free_port, status)
from test_registrar import Phone, ok, contacts_of
from test_daemon import pid_running, kill_by_pid, read_pidfile
import test_proxy


ALICE = "alice@example.com"
BOB = "bob@example.com"

PROXY_CONF = """\
domain example.com
db {db}
log_level info
module location
module auth
listen udp:127.0.0.1:{port};roles=registrar
listen udp:127.0.0.1:{port2};roles=proxy;auth=off
registrar_min_expires 10
"""


def total(d):
    return sum(d.values())


def wait_log(s, text, after=0, timeout=5.0):
    """Wait until the log has text after position after."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text in s.log()[after:]:
            return
        time.sleep(0.02)
    raise AssertionError("%r not in the log:\n%s" % (text, s.log()[after:]))


def register_from(s, host, aor=ALICE, password="secret", expires=300):
    p = Phone(s, aor=aor, password=password, host=host)
    ok(p.reg(expires=expires), "REGISTER %s from %s" % (aor, host))
    return p


def org_register(c):
    """An unauthenticated REGISTER for example.org: the status code."""
    c.request("REGISTER", "sip:example.org",
              ["Contact: <sip:bob@127.0.0.1:9>"],
              to="<sip:bob@example.org>", frm="<sip:bob@example.org>;tag=1")
    r = c.final()
    return r.status if r else None


def message_to(s, user, port):
    """A MESSAGE through the auth=off proxy socket; the client."""
    c = s.client(port=port)
    c.request("MESSAGE", "sip:%s@example.com" % user,
              ["Content-Type: text/plain"], body="hello")
    return c


# --- status ------------------------------------------------------------------

def test_status_figures():
    with Sipd() as s:
        before = status(s)
        eq(before["registrations"], 0, "registrations at start")
        eq(before["subscriptions"], None, "no module provides"
           " subscriptions")
        eq(total(before["requests_received"]), 0, "requests at start")
        eq(total(before["responses_received"]), 0, "responses at start"
           " (the start-up probe is not counted)")
        eq([x["name"] for x in before["sockets"]],
           ["udp:127.0.0.1:%d" % s.port, "tcp:127.0.0.1:%d" % s.port,
            "udp:127.0.0.1:%d" % s.port2], "sockets")
        eq(before["sockets"][0]["roles"], ["registrar"], "roles")
        eq(before["sockets"][2]["auth"], False, "redirect socket auth")
        eq(before["pid"], s.proc.pid, "pid")
        eq(before["config"], s.conf_path, "config file")

        register_from(s, "127.0.0.1")
        register_from(s, "127.0.0.1", aor=BOB, password="secret2")
        # one more binding of alice from another port
        register_from(s, "127.0.0.1")

        after = status(s)
        eq(after["registrations"], 3, "registrations")
        eq(after["registrations"], len(s.query("SELECT id FROM bindings")),
           "registrations match the database")
        eq(after["requests_received"]["REGISTER"], 6,
           "REGISTERs received (3 challenged, 3 with credentials)")
        eq(after["responses_sent"]["4xx"], 3, "401s sent")
        eq(after["responses_sent"]["2xx"], 3, "200s sent")
        check(after["uptime_seconds"] >= 0, "uptime")
        eq(after["auth_failures"], 0, "no failures")

        # another request: in and out grow
        c = s.client()
        c.request("OPTIONS", "sip:example.com")
        eq(c.final().status, 200, "OPTIONS")
        last = status(s)
        eq(last["requests_received"]["OPTIONS"], 1, "OPTIONS counted")
        eq(total(last["responses_sent"]), total(after["responses_sent"])
           + 1, "responses sent grew")

        r = s.sipctl("status")
        eq(r.returncode, 0, "sipctl status (%s)" % r.stderr)
        for want in ("sipd ", "uptime", "registrations        3",
                     "subscriptions        -",
                     "sockets              udp:127.0.0.1:%d registrar"
                     % s.port,
                     "udp:127.0.0.1:%d redirect (auth off)" % s.port2,
                     "requests received    7 (OPTIONS 1, REGISTER 6)"):
            check(want in r.stdout, "%r in status:\n%s" % (want, r.stdout))


def test_status_counts_a_call():
    with Sipd(test_proxy.PROXY_CONF, accounts=test_proxy.ACCOUNTS) as s:
        bob = test_proxy.phone(s, "bob")
        alice = test_proxy.caller(s)
        try:
            d = alice.invite("sip:bob@example.com")
            eq(d.response().status, 100, "100 Trying")
            inc = bob.expect_invite()
            st = status(s)
            eq((st["transactions"], st["calls"]), (1, 0), "ringing")

            inc.reply(200, "OK", body=test_proxy.sdp(41000))
            eq(d.final().status, 200, "the 200 relayed")
            inc.expect_ack()
            eq(status(s)["calls"], 1, "calls once answered")

            d.request("BYE", wait=False)
            inc.expect_and_reply("BYE")
            eq(alice.expect_response(d.callid, "BYE", final=True).status,
               200, "BYE answered")
            st = status(s)
            eq(st["calls"], 0, "calls after the BYE")
            eq(st["requests_received"]["INVITE"], 2, "INVITEs (407, then"
               " with credentials)")
            eq(st["requests_sent"]["INVITE"], 1, "INVITE forwarded")
            eq(st["requests_received"]["BYE"], 1, "BYE received")
            eq(st["requests_sent"]["BYE"], 1, "BYE forwarded")
        finally:
            test_proxy.closing(alice, bob)


def test_control_socket_mode_and_cleanup():
    conf = DEFAULT_CONF + "control_socket {dir}/run/sub/sipd.ctl\n"
    with Sipd(conf=conf) as s:
        path = os.path.join(s.dir, "run", "sub", "sipd.ctl")
        st = os.stat(path)
        check(stat.S_ISSOCK(st.st_mode), "%s is a socket" % path)
        eq(oct(st.st_mode & 0o777), oct(0o600), "socket mode")
        eq(oct(os.stat(os.path.dirname(path)).st_mode & 0o777), oct(0o750),
           "directory created with mode")
        r = s.sipctl("status")
        eq(r.returncode, 0, "status through the configured socket")
        eq(s.stop(), 0, "sipd stopped")
        check(not os.path.exists(path), "socket removed at exit")


def test_second_sipd_refused_stale_removed():
    with Sipd() as s:
        other = Sipd(start=False)
        try:
            # other ports, the same control socket
            conf = DEFAULT_CONF + "control_socket %s\n" % s.ctl_path
            other.write_conf(conf)
            r = subprocess.run([SIPD, "-f", other.conf_path, "-m", MODULES],
                               capture_output=True, text=True, timeout=10)
            eq(r.returncode, 2, "second sipd exit status (%s)" % r.stderr)
            lines = open(other.conf_path).read().splitlines()
            n = 1 + [i for i, l in enumerate(lines)
                     if l.startswith("control_socket")][-1]
            check("%s:%d: control_socket: another sipd is listening on %s"
                  % (other.conf_path, n, s.ctl_path) in r.stderr,
                  "the refusal names the file, line and socket: %r"
                  % r.stderr)
            check(os.path.exists(s.ctl_path), "the first one's socket is"
                  " still there")
            eq(status(s)["pid"], s.proc.pid, "the first one answers")
        finally:
            other.close()

        # a socket file nobody listens on is stale: removed at start
        s.kill9()
        check(os.path.exists(s.ctl_path), "kill -9 leaves the socket")
        before = len(s.log())
        s.start()
        check("removing the stale socket %s" % s.ctl_path in
              s.log()[before:], "stale socket log:\n" + s.log()[before:])
        eq(status(s)["pid"], s.proc.pid, "the new one answers")


def test_idle_and_long_control_clients():
    with Sipd() as s:
        # a client that sends nothing is dropped after 3 seconds
        idle = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        idle.connect(s.ctl_path)
        t0 = time.time()
        busy = []
        for _ in range(7):
            b = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            b.connect(s.ctl_path)
            busy.append(b)
        time.sleep(0.2)
        # 8 at once at most: the ninth is refused
        extra = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        extra.connect(s.ctl_path)
        extra.settimeout(2)
        check(extra.recv(100).startswith(b"error\nbusy"),
              "the ninth client is refused")
        extra.close()

        # a line longer than 1 KB is an error
        long = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        time.sleep(0.1)
        idle.settimeout(5)
        eq(idle.recv(100), b"", "the idle client is closed")
        check(2.5 < time.time() - t0 < 4.5,
              "closed after %.1fs" % (time.time() - t0))
        for b in busy:
            b.close()
        long.connect(s.ctl_path)
        long.sendall(b"status " + b"x" * 2000 + b"\n")
        long.settimeout(3)
        got = long.recv(200)
        check(got.startswith(b"error\nthe line is longer than 1024"),
              "long line: %r" % got)
        long.close()

        # the protocol by hand: one line in, ok and the reply out
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(s.ctl_path)
        c.sendall(b"status --json\n")
        c.settimeout(3)
        data = b""
        while True:
            chunk = c.recv(4096)
            if not chunk:
                break
            data += chunk
        c.close()
        head, _, body = data.decode().partition("\n")
        eq(head, "ok", "first line")
        eq(json.loads(body)["pid"], s.proc.pid, "status over the socket")
        check(s.alive(), "sipd alive")


def test_sipctl_errors():
    with Sipd(start=False) as s:
        r = s.sipctl("status")
        eq(r.returncode, 3, "status without sipd")
        eq(r.stderr.strip(), "sipctl: sipd is not running (no control"
           " socket at %s)" % s.ctl_path, "message without sipd")
        r = s.sipctl("reload")
        eq(r.returncode, 3, "reload without sipd")

        s.start()
        for args in (("status", "--xml"), ("ban",), ("ban", "list", "x"),
                     ("ban", "del"), ("reload", "now")):
            r = s.sipctl(*args)
            eq(r.returncode, 2, "sipctl %s" % " ".join(args))
            check("usage" in r.stderr, "usage: %r" % r.stderr)

        # --control without any configuration file
        r = subprocess.run([SIPCTL, "-f", "/nonexistent.conf", "--control",
                            s.ctl_path, "status", "--json"],
                           capture_output=True, text=True, timeout=10)
        eq(r.returncode, 0, "--control (%s)" % r.stderr)
        eq(json.loads(r.stdout)["pid"], s.proc.pid, "--control status")
        r = subprocess.run([SIPCTL, "-c", os.path.join(s.dir, "nope.ctl"),
                            "status"], capture_output=True, text=True,
                           timeout=10)
        eq(r.returncode, 3, "-c to a missing socket")

        # another user may not talk to it
        def as_nobody():
            os.setgid(65534)
            os.setuid(65534)
        if os.getuid() == 0:
            r = subprocess.run([SIPCTL, "--control", s.ctl_path, "status"],
                               capture_output=True, text=True, timeout=10,
                               preexec_fn=as_nobody)
            eq(r.returncode, 3, "status as nobody (%s)" % r.stderr)
            check("permission denied on %s" % s.ctl_path in r.stderr,
                  "permission message: %r" % r.stderr)

        # control_socket off: sipd has none, sipctl says so
        s.stop()
        s.write_conf(DEFAULT_CONF + "control_socket off\n")
        s.start()
        check(not os.path.exists(s.ctl_path), "no socket when off")
        r = s.sipctl("status")
        eq(r.returncode, 3, "status with control_socket off")
        check("control socket is off" in r.stderr, r.stderr)


# --- bans --------------------------------------------------------------------

def test_ban_list_and_del():
    conf = DEFAULT_CONF + ("auth_fail_limit 3\nauth_throttle 0\n"
                           "auth_ban_time 600\n")
    with Sipd(conf=conf) as s:
        r = s.sipctl("ban", "list")
        eq((r.returncode, r.stdout), (0, "no source address is banned\n"),
           "no ban at start")
        eq(s.sipctl("ban", "list", "--json").stdout, "[\n]\n", "[] at"
           " start")

        p = Phone(s, password="wrong", host="127.0.0.3")
        p.challenge()
        for i in range(2):
            eq(p.reg(expires=120).status, 401, "failure %d" % (i + 1))
        banned_at = time.time()
        p.reg(expires=120, timeout=0.5)          # the third bans
        check(p.reg(expires=120, password="secret", timeout=1.0) is None,
              "a banned source got an answer")

        r = s.sipctl("ban", "list", "--json")
        eq(r.returncode, 0, "ban list --json (%s)" % r.stderr)
        bans = json.loads(r.stdout)
        eq([b["address"] for b in bans], ["127.0.0.3"], "banned addresses")
        left = 600 - (time.time() - banned_at)
        check(left - 2 <= bans[0]["remaining"] <= 600, "remaining %r,"
              " expected about %d" % (bans[0]["remaining"], left))
        check(banned_at - 2 <= bans[0]["since"] <= time.time() + 1,
              "since %r, banned at %d" % (bans[0]["since"], banned_at))
        eq(bans[0]["reason"], "repeated digest auth failures", "reason")
        r = s.sipctl("ban", "list")
        check(re.search(r"(?m)^127\.0\.0\.3 +\d+ .*repeated digest auth",
                        r.stdout), "ban list:\n" + r.stdout)
        st = status(s)
        eq((st["bans_active"], st["bans"]), (1, 1), "bans in status")
        check(st["auth_failures"] >= 3, "auth failures %r" %
              st["auth_failures"])
        check(st["banned_drops"] >= 1, "banned drops")

        # lifted: the next request is answered again
        r = s.sipctl("ban", "del", "127.0.0.3")
        eq(r.returncode, 0, "ban del (%s)" % r.stderr)
        eq(r.stdout.strip(), "lifted the ban of 127.0.0.3", "ban del output")
        ok(p.reg(expires=120, password="secret"), "REGISTER after ban del")
        eq(status(s)["bans_active"], 0, "no active ban")

        r = s.sipctl("ban", "del", "127.0.0.3")
        eq(r.returncode, 1, "ban del of an address not banned")
        check("127.0.0.3 is not banned" in r.stderr, r.stderr)
        r = s.sipctl("ban", "del", "not-an-address")
        eq(r.returncode, 1, "ban del of a name")
        check("is not an IP address" in r.stderr, r.stderr)

        # ban del all
        q = Phone(s, password="wrong", host="127.0.0.4")
        q.challenge()
        for i in range(3):
            q.reg(expires=120, timeout=0.5)
        eq(len(json.loads(s.sipctl("ban", "list", "--json").stdout)), 1,
           "a second ban")
        r = s.sipctl("ban", "del", "all")
        eq((r.returncode, r.stdout.strip()), (0, "lifted 1 ban"),
           "ban del all")
        eq(q.challenge().status, 401, "answered after ban del all")
        check("ban of 127.0.0.3 lifted" in s.log(), "lift logged")


def test_guard_module_line_changes_nothing():
    """Every sipd loads the guard, before the other modules; "module guard"
    lines (two here) load it once: one ban, its figures once."""
    conf = DEFAULT_CONF.replace("module auth\n", "module auth\n"
                                "module guard\nmodule guard\n")
    with Sipd(conf=conf) as s:
        eq(s.log().count("loaded module guard"), 1, "guard loaded once")
        eq(scanner_options(s, "127.0.0.3"), None, "scanner dropped")
        eq(list(sipdlib.bans(s)), ["127.0.0.3"], "scanner banned")
        st = status(s)
        eq((st["scanner_drops"], st["bans"], st["bans_active"]), (1, 1, 1),
           "scanner_drops, bans, bans_active")
        text = s.sipctl("status").stdout
        eq(len(re.findall(r"(?m)^bans active +1$", text)), 1,
           "bans active once:\n" + text)

    with Sipd() as s:
        log = s.log()
        check(log.find("loaded module guard") <
              log.find("loaded module location") and
              "loaded module guard" in log, "the guard first:\n" + log)


# --- reload ------------------------------------------------------------------

def test_reload_applies_live_keys():
    with Sipd(conf=PROXY_CONF) as s:
        alice = register_from(s, "127.0.0.1")
        r = ok(alice.reg(expires=3600), "refresh")
        eq(contacts_of(r)[alice.contact][0], 3600,
           "expires before the reload")
        target = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        target.bind(("127.0.0.1", 0))
        tport = target.getsockname()[1]
        target.settimeout(2)

        # before: example.org is not served
        eq(org_register(s.client()), 404, "example.org before the reload")

        s.write_conf(PROXY_CONF.replace("log_level info", "log_level debug")
                     + "domain example.org\n"
                     "route partner.example>127.0.0.1:%d\n"
                     "registrar_max_expires 120\n" % tport)
        mark = len(s.log())
        r = s.sipctl("reload")
        eq(r.returncode, 0, "sipctl reload (%s)" % r.stderr)
        eq(r.stdout.strip(), "reloaded %s" % s.conf_path, "reload output")
        wait_log(s, "reloaded %s" % s.conf_path, mark)

        # the binding survived, and the proxy still reaches it
        eq([e["aor"] for e in json.loads(
            s.sipctl("reg", "list", "--json").stdout)], [ALICE],
           "bindings after the reload")
        c = message_to(s, "alice", s.port2)
        got = alice.c.recv(3)
        check(got is not None and got.method == "MESSAGE",
              "alice's phone got the MESSAGE after the reload: %r" % got)
        c.close()

        # domain, route, registrar limit and log level apply
        eq(org_register(s.client()), 401, "example.org served after"
           " reload")
        c = s.client(port=s.port2)
        c.request("OPTIONS", "sip:carol@partner.example")
        data, _ = target.recvfrom(65535)
        check(data.startswith(b"OPTIONS sip:carol@partner.example"),
              "routed by the new route: %r" % data[:60])
        c.close()
        r = ok(alice.reg(expires=3600), "refresh after the reload")
        eq(contacts_of(r)[alice.contact][0], 120,
           "registrar_max_expires after the reload")
        check("sipd: debug: " in s.log()[mark:], "debug lines after the"
              " reload")
        st = status(s)
        eq((st["reloads"], st["restart_needed"], st["registrations"]),
           (1, [], 1), "reloads, nothing pending, the binding")
        target.close()


PRESENCE_CONF = """\
domain example.com
db {db}
log_level info
module location
module auth
listen udp:127.0.0.1:{port};roles=registrar,presence,proxy
"""


def subscribe_expires(s, expires):
    """A SUBSCRIBE to alice's presence from a watcher of another domain
    (not challenged): the final response."""
    c = Client(s.addr, host="127.0.0.1")
    c.request("SUBSCRIBE", "sip:alice@example.com",
              ["Event: presence", "Expires: %d" % expires,
               "Contact: <sip:w@%s:%d>" % c.local],
              frm="<sip:w@example.org>;tag=%s" % c.ftag,
              to="<sip:alice@example.com>")
    r = c.final()
    c.close()
    return r


def scanner_options(s, host):
    """An OPTIONS with SIPVicious' User-Agent from host: the answer or
    None."""
    c = Client(s.addr, host=host)
    c.request("OPTIONS", "sip:100@example.com",
              ["User-Agent: friendly-scanner"])
    r = c.recv(1.0)
    c.close()
    return r


def test_reload_applies_defences_and_presence_keys():
    with Sipd(conf=PRESENCE_CONF) as s:
        r = subscribe_expires(s, 100)
        check(r is not None and r.status == 200, "SUBSCRIBE of 100 s"
              " before the reload: %r" % r)
        eq(scanner_options(s, "127.0.0.3"), None, "scanner dropped")
        eq(status(s)["scanner_drops"], 1, "scanner_drops")

        s.write_conf(PRESENCE_CONF + "presence_min_expires 300\n"
                     "scanner_user_agent none\n"
                     "max_headers 16\n")
        eq(s.sipctl("reload").returncode, 0, "reload")

        r = subscribe_expires(s, 100)
        check(r is not None and r.status == 423 and
              r.get("Min-Expires") == "300", "presence_min_expires"
              " after the reload: %r" % r)
        r = scanner_options(s, "127.0.0.4")
        check(r is not None and r.is_response, "scanner_user_agent none"
              " after the reload: answered, %r" % r)

        c = s.client()
        c.request("OPTIONS", "sip:example.com",
                  ["X-Filler-%d: x" % i for i in range(20)])
        r = c.final()
        check(r is not None and r.status == 400, "max_headers 16 after"
              " the reload: %r" % r)
        c.close()
        st = status(s)
        eq((st["scanner_drops"], st["over_limits"], st["subscriptions"]),
           (1, 1, 1), "scanner_drops, over_limits, subscriptions")

        # back to the defaults: a removed line is its default again
        s.write_conf(PRESENCE_CONF)
        eq(s.sipctl("reload").returncode, 0, "reload to the defaults")
        eq(scanner_options(s, "127.0.0.5"), None, "scanner dropped again")
        r = subscribe_expires(s, 100)
        check(r is not None and r.status == 200, "SUBSCRIBE of 100 s"
              " with the default limit: %r" % r)


def test_reload_reopens_event_log():
    conf = DEFAULT_CONF + "module eventlog\neventlog_file {dir}/%s\n"
    with Sipd(conf=conf % "a.log") as s:
        a = os.path.join(s.dir, "a.log")
        b = os.path.join(s.dir, "b.log")
        register_from(s, "127.0.0.1")
        check(ALICE in open(a).read(), "alice's event in a.log")

        # another file
        s.write_conf(conf % "b.log")
        eq(s.sipctl("reload").returncode, 0, "reload")
        register_from(s, "127.0.0.1", aor=BOB, password="secret2")
        check(BOB not in open(a).read(), "bob's event not in a.log")
        check(BOB in open(b).read(), "bob's event in b.log")

        # rotated: the next event opens the file again
        os.rename(b, b + ".1")
        eq(s.sipctl("reload").returncode, 0, "reload after rotation")
        register_from(s, "127.0.0.1")
        check(ALICE in open(b).read(), "a new b.log after the rotation")
        check(ALICE not in open(b + ".1").read(), "nothing more in b.log.1")


def test_reload_broken_config_refused():
    with Sipd() as s:
        register_from(s, "127.0.0.1")
        good = open(s.conf_path).read()
        with open(s.conf_path, "a") as f:
            f.write("domain example.org\n"
                    "registrar_min_expires 0\n"
                    "registar_max_expires 60\n")
        n = len(good.splitlines())
        mark = len(s.log())
        r = s.sipctl("reload")
        eq(r.returncode, 1, "reload of a broken file")
        check("sipd refused the reload" in r.stderr, r.stderr)
        for want in ("%s:%d: registrar_min_expires: '0' is not a number"
                     % (s.conf_path, n + 2),
                     "%s:%d: unknown key 'registar_max_expires'"
                     % (s.conf_path, n + 3)):
            check(want in r.stderr, "%r in:\n%s" % (want, r.stderr))
            check(want in s.log()[mark:], "%r in the log" % want)
        check(s.alive(), "sipd still runs")

        # the old configuration is in use: example.org not served
        eq(org_register(s.client()), 404, "example.org not served")
        st = status(s)
        eq((st["reloads"], st["registrations"]), (0, 1), "status after")
        register_from(s, "127.0.0.1", aor=BOB, password="secret2")

        # an unreadable file too
        os.rename(s.conf_path, s.conf_path + ".away")
        r = subprocess.run([SIPCTL, "--control", s.ctl_path, "reload"],
                           capture_output=True, text=True, timeout=10)
        eq(r.returncode, 1, "reload of a missing file")
        check("cannot open" in r.stderr, r.stderr)
        os.rename(s.conf_path + ".away", s.conf_path)
        check(s.alive(), "sipd still runs")


def test_reload_names_restart_keys():
    with Sipd() as s:
        register_from(s, "127.0.0.1")
        new_port = free_port()
        s.write_conf(DEFAULT_CONF.replace(
            "listen udp:127.0.0.1:{port2};roles=redirect",
            "listen udp:127.0.0.1:%d;roles=redirect" % new_port)
            + "control_socket %s\nfd_limit 4096\n" % s.ctl_path)
        mark = len(s.log())
        r = s.sipctl("reload")
        eq(r.returncode, 0, "reload (%s)" % r.stderr)
        check("listen changed: it needs a restart, not applied" in
              r.stdout, r.stdout)
        check("fd_limit changed" in r.stdout, r.stdout)
        check("%s: listen changed: it needs a restart, not applied" %
              s.conf_path in s.log()[mark:], s.log()[mark:])
        eq(status(s)["restart_needed"], ["listen", "fd_limit"],
           "restart_needed")
        check("restart needed       listen fd_limit" in
              s.sipctl("status").stdout, "status text")
        # the old socket still serves, the new one does not exist
        c = s.client(port=s.port2)
        c.request("OPTIONS", "sip:example.com")
        eq(c.final().status, 200, "old redirect socket")
        c = s.client(port=new_port)
        c.request("OPTIONS", "sip:example.com")
        eq(c.final(1.0), None, "no socket on the new port yet")
        eq(status(s)["registrations"], 1, "binding kept")


def test_sighup_reloads():
    with Sipd() as s:
        register_from(s, "127.0.0.1")
        with open(s.conf_path, "a") as f:
            f.write("domain example.org\n")
        mark = len(s.log())
        s.proc.send_signal(signal.SIGHUP)
        wait_log(s, "reloaded %s" % s.conf_path, mark)
        check("caught SIGHUP" in s.log()[mark:], "SIGHUP logged")
        eq(org_register(s.client()), 401, "example.org served after"
           " SIGHUP")

        # a broken file: logged, sipd keeps running on the old one
        with open(s.conf_path, "a") as f:
            f.write("no_such_key 1\n")
        n = len(open(s.conf_path).read().splitlines())
        mark = len(s.log())
        s.proc.send_signal(signal.SIGHUP)
        wait_log(s, "the configuration in use stays", mark)
        check("%s:%d: unknown key 'no_such_key'" % (s.conf_path, n) in
              s.log()[mark:], s.log()[mark:])
        check(s.alive(), "sipd alive after a bad SIGHUP")
        st = status(s)
        eq((st["reloads"], st["registrations"]), (1, 1), "status")


def test_reload_daemon_relative_paths():
    """A daemon runs in /: the file and its relative paths still work."""
    s = Sipd(start=False)
    pid = None
    try:
        s.write_conf(DEFAULT_CONF.replace("db {db}", "db sipd.db")
                     + "control_socket sipd.ctl\n")
        r = subprocess.run([SIPD, "-d", "-f", "sipd.conf", "-m", MODULES,
                            "-p", s.pidfile], capture_output=True,
                           text=True, timeout=20, cwd=s.dir,
                           stdin=subprocess.DEVNULL)
        eq(r.returncode, 0, "sipd -d (%s)" % r.stderr)
        pid = read_pidfile(s.pidfile)
        with open(s.conf_path, "a") as f:
            f.write("domain example.org\n")
        r = subprocess.run([SIPCTL, "-f", "sipd.conf", "reload"],
                           capture_output=True, text=True, timeout=10,
                           cwd=s.dir)
        eq(r.returncode, 0, "reload of a daemon (%s)" % r.stderr)
        eq(r.stdout.strip(), "reloaded %s" % s.conf_path, "absolute path")
        os.kill(pid, signal.SIGTERM)
        deadline = time.time() + 5
        while pid_running(pid) and time.time() < deadline:
            time.sleep(0.05)
        check(not os.path.exists(s.ctl_path), "socket removed by the"
              " daemon")
    finally:
        kill_by_pid(pid)
        s.close()


# --- metrics -----------------------------------------------------------------

METRIC = re.compile(r'^(sipd_[a-z_]+)(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})?'
                    r' (\d+)$')


def parse_metrics(text):
    """{(name, labels): value}, checking the exposition format."""
    series, helps, types = {}, set(), {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helps.add(line.split()[2])
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            check(kind in ("counter", "gauge"), line)
            check(kind != "counter" or name.endswith("_total"),
                  "counter %s ends in _total" % name)
            types[name] = kind
        else:
            m = METRIC.match(line)
            check(m is not None, "not a sample line: %r" % line)
            check(m.group(1) in types and m.group(1) in helps,
                  "HELP and TYPE before %s" % m.group(1))
            series[(m.group(1), m.group(2) or "")] = int(m.group(4))
    return series


def test_metrics_endpoint():
    port = free_port()
    conf = DEFAULT_CONF + "metrics_listen 127.0.0.1:%d\n" % port
    with Sipd(conf=conf) as s:
        register_from(s, "127.0.0.1")
        register_from(s, "127.0.0.1", aor=BOB, password="secret2")
        url = "http://127.0.0.1:%d" % port
        with urllib.request.urlopen(url + "/metrics", timeout=5) as r:
            eq(r.status, 200, "GET /metrics")
            eq(r.headers["Content-Type"],
               "text/plain; version=0.0.4; charset=utf-8", "content type")
            series = parse_metrics(r.read().decode())
        st = status(s)
        eq(series[("sipd_registrations", "")], 2, "registration gauge")
        eq(series[("sipd_registrations", "")], st["registrations"],
           "the same figure as status")
        eq(series[("sipd_requests_received_total", '{method="REGISTER"}')],
           4, "REGISTERs")
        eq(series[("sipd_responses_sent_total", '{class="2xx"}')], 2,
           "2xx sent")
        check(("sipd_subscriptions", "") not in series, "no subscriptions"
              " series without a module")
        eq(series[('sipd_socket_info', '{socket="udp:127.0.0.1:%d",'
                   'roles="registrar",auth="on"}' % s.port)], 1, "socket")
        eq(series[("sipd_bans_active", "")], 0, "bans")

        for path, code in (("/", 404), ("/metrics/x", 404)):
            try:
                urllib.request.urlopen(url + path, timeout=5)
                raise AssertionError("%s answered 200" % path)
            except urllib.error.HTTPError as e:
                eq(e.code, code, "GET %s" % path)
        try:
            urllib.request.urlopen(urllib.request.Request(
                url + "/metrics", data=b"x", method="POST"), timeout=5)
            raise AssertionError("POST answered 200")
        except urllib.error.HTTPError as e:
            eq(e.code, 405, "POST /metrics")


def test_metrics_loopback_only():
    s = Sipd(start=False)
    try:
        for addr, allow, rc in (("0.0.0.0:9100", "", 2),
                                ("192.0.2.1:9100", "", 2),
                                ("127.0.0.1", "", 2),
                                ("[::1]:9100", "", 0),
                                ("0.0.0.0:9100", "on", 0)):
            text = DEFAULT_CONF + "metrics_listen %s\n" % addr
            if allow:
                text += "metrics_allow_remote %s\n" % allow
            s.write_conf(text)
            r = subprocess.run([SIPD, "-t", "-f", s.conf_path, "-m",
                                MODULES], capture_output=True, text=True,
                               timeout=10)
            eq(r.returncode, rc, "sipd -t with metrics_listen %s %s (%s)"
               % (addr, allow, r.stderr))
            if rc and addr != "127.0.0.1":
                check("metrics_listen: %s is not a loopback address"
                      % addr.split(":")[0] in r.stderr, r.stderr)
            elif rc:
                check("is not IP:PORT" in r.stderr, r.stderr)
        # and a running sipd refuses to start too
        s.write_conf(DEFAULT_CONF + "metrics_listen 0.0.0.0:9100\n")
        r = subprocess.run([SIPD, "-f", s.conf_path, "-m", MODULES],
                           capture_output=True, text=True, timeout=10)
        eq(r.returncode, 2, "sipd with a remote metrics address")
        check(not os.path.exists(s.ctl_path), "no control socket left")
    finally:
        s.close()
