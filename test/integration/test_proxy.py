"""Stateful proxy role (RFC 3261 16): calls between registered phones.

Calls go through the "proxy" role between SIPp user agents (the
scenarios test/sipp/proxy_*.xml) and scripted Python user agents (class
UA below), which see every byte sipd sends and check it: Record-Route,
Route, Via branches, Max-Forwards, Reason, the choice of the response,
CANCEL, Timer C, the routing policy (483, 482, 420, 407, 403, 404, 480)
and the call events of the event log.

The helpers at the top (PROXY_CONF, UA, Dialog, the SIPp and event log
helpers) are shared with test_stateless.py, test_nat.py and
test_routes.py.
"""

import json
import os
import re
import socket
import sys
import time

from sipdlib import (Sipd, Msg, SIPP_DIR, TestFailure, check, eq, param,
                     contact_uri, parse_challenge, digest_header,
                     rand_token, free_port, sipc)

sys.path.insert(0, SIPP_DIR)
from sipprun import SippRun, free_udp_port, socket_addresses  # noqa: E402

DOMAIN = "example.com"

# The proxy test configuration: registrar and proxy on UDP and TCP of one
# address, MD5 challenges for SIPp.
PROXY_CONF = """\
# proxy integration test configuration
domain example.com
db {db}
log_level debug
module location
module auth
listen udp:127.0.0.1:{port};roles=registrar,proxy
listen tcp:127.0.0.1:{port};roles=registrar,proxy
registrar_min_expires 10
auth_nonce_expiry 60
auth_md5_user_agent SIPp
"""

# ... and with the event log in the test folder
EVENTLOG = "module eventlog\neventlog_file {dir}/events.log\n"
EVENTLOG_CONF = PROXY_CONF + EVENTLOG

ACCOUNTS = (("alice@example.com", "secret"), ("bob@example.com", "secret2"),
            ("carol@example.com", "secret3"))

SDP = ("v=0\r\n"
       "o=- 1 1 IN IP4 127.0.0.1\r\n"
       "s=-\r\n"
       "c=IN IP4 127.0.0.1\r\n"
       "t=0 0\r\n"
       "m=audio %d RTP/AVP 0\r\n"
       "a=%s\r\n")


def sdp(port=40000, mode="sendrecv"):
    return SDP % (port, mode)


def proxy_conf(extra="", roles="registrar,proxy", base=PROXY_CONF):
    """PROXY_CONF with other roles and more lines."""
    return base.replace("roles=registrar,proxy", "roles=" + roles) + extra


def new_branch():
    return "z9hG4bK" + rand_token(14)


def uri_of(value):
    """The URI of a name-addr or addr-spec header value."""
    return contact_uri(value)


def tag_of(value):
    return param(value.split(">", 1)[-1] if ">" in value else value, "tag")


# --- a scripted user agent -------------------------------------------------

class UA:
    """A SIP user agent on one UDP or TCP socket, driven step by step.

    Every message received is kept in .received. A retransmitted request
    is answered again with the last response sent for it and not
    delivered twice; a retransmitted response is not delivered twice
    either. Messages that a wait does not ask for stay in a backlog for
    the next wait."""

    def __init__(self, s, user, password=None, transport="udp",
                 domain=DOMAIN, port=0, server=None, host="127.0.0.1",
                 contact_host=None, contact_port=None, via_host=None,
                 via_port=None):
        from sipdlib import Client
        self.s = s
        self.user = user
        self.password = password
        self.domain = domain
        self.aor = "%s@%s" % (user, domain)
        self.transport = transport
        self.server = server or s.addr
        self.cl = Client(self.server, transport, host=host, port=port)
        self.sock = self.cl.sock
        self.local = self.cl.local
        self.contact_host = contact_host or self.local[0]
        self.contact_port = contact_port or self.local[1]
        # behind a NAT, a phone writes its private address here
        self.via_host = via_host or self.local[0]
        self.via_port = via_port or self.local[1]
        self.rport = True           # ;rport in its Via (RFC 3581)
        self.backlog = []
        self.received = []          # every Msg, with .src
        self.answers = {}           # request key -> last response bytes
        self.seen = set()
        self.sent = []              # every message text sent

    # -- addresses ----------------------------------------------------------

    @property
    def uri(self):
        return "sip:%s" % self.aor

    @property
    def contact_uri(self):
        return "sip:%s@%s:%d%s" % (
            self.user, self.contact_host, self.contact_port,
            ";transport=tcp" if self.transport == "tcp" else "")

    @property
    def contact(self):
        return "<%s>" % self.contact_uri

    def via(self, branch):
        return "SIP/2.0/%s %s:%d;branch=%s%s" % (
            self.transport.upper(), self.via_host, self.via_port, branch,
            ";rport" if self.rport else "")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # -- the wire -----------------------------------------------------------

    def send(self, text, dst=None):
        self.sent.append(text)
        data = text.encode() if isinstance(text, str) else text
        if self.transport == "udp":
            self.sock.sendto(data, dst or self.server)
        else:
            self.sock.sendall(data)

    def _read(self, timeout):
        """One message off the socket: (Msg, src) or (None, None)."""
        if timeout <= 0:
            timeout = 0.001
        if self.transport == "tcp":
            m = self.cl.recv(timeout)
            return m, self.server
        self.sock.settimeout(timeout)
        try:
            data, src = self.sock.recvfrom(65535)
        except (socket.timeout, BlockingIOError, ConnectionRefusedError):
            return None, None
        return Msg(data.decode("utf-8", "replace")), src

    @staticmethod
    def key(m):
        via = m.get("via", "")
        cseq = m.get("cseq", "")
        if m.is_response:
            return ("r", param(via, "branch"), cseq, m.status,
                    tag_of(m.get("to", "")))
        return ("q", param(via, "branch"), cseq, m.method)

    def _next(self, timeout):
        """The next new message (retransmissions absorbed)."""
        deadline = time.time() + timeout
        while True:
            m, src = self._read(deadline - time.time())
            if m is None:
                return None
            m.src = src
            self.received.append(m)
            k = self.key(m)
            if k in self.seen:
                if not m.is_response and k in self.answers:
                    self.send(self.answers[k], src)
                if time.time() >= deadline:
                    return None
                continue
            self.seen.add(k)
            return m

    def wait(self, pred, what, timeout=3.0, fail=True):
        """The first message (backlog first) for which pred is true."""
        for i, m in enumerate(self.backlog):
            if pred(m):
                del self.backlog[i]
                return m
        deadline = time.time() + timeout
        while True:
            m = self._next(max(0.0, deadline - time.time()))
            if m is None:
                if fail:
                    dead = ""
                    if self.s is not None and not self.s.alive():
                        dead = "\nsipd is dead (exit status %s):\n%s" % (
                            self.s.proc and self.s.proc.returncode,
                            self.s.log()[-1500:])
                    raise TestFailure("%s: %s got no %s within %.1f s;"
                                      " it got: %s%s" % (
                                          self.aor, self.local, what,
                                          timeout, self.describe(), dead))
                return None
            if pred(m):
                return m
            self.backlog.append(m)

    def describe(self):
        return ", ".join(m.start for m in self.received[-12:]) or "nothing"

    def expect_request(self, method, timeout=3.0, callid=None):
        return self.wait(lambda m: not m.is_response and m.method == method
                         and (callid is None or
                              m.get("call-id") == callid),
                         "%s request" % method, timeout)

    def no_request(self, method, timeout=1.0, callid=None):
        m = self.wait(lambda m: not m.is_response and m.method == method
                      and (callid is None or m.get("call-id") == callid),
                      method, timeout, fail=False)
        check(m is None, "%s got an unexpected %s:\n%s" % (
            self.aor, method, m.raw if m else ""))

    def quiet(self, timeout=1.0):
        """Nothing new arrives within timeout (the backlog aside)."""
        m = self._next(timeout)
        check(m is None, "%s got an unexpected message:\n%s" % (
            self.aor, m.raw if m else ""))

    def expect_response(self, callid, cseq_method=None, final=False,
                        timeout=3.0, status=None):
        def pred(m):
            if not m.is_response or m.get("call-id") != callid:
                return False
            if cseq_method and m.get("cseq", "").split()[-1] != \
                    cseq_method:
                return False
            if final and m.status < 200:
                return False
            if status is not None and m.status != status:
                return False
            return True
        return self.wait(pred, "%s response%s" % (
            cseq_method or "a", " (final)" if final else ""), timeout)

    # -- requests and responses ---------------------------------------------

    def build_request(self, method, ruri, frm, to, callid, cseq,
                      branch=None, routes=(), headers=(), body="",
                      max_forwards=70, contact=True, cseq_method=None):
        branch = branch or new_branch()
        lines = ["%s %s SIP/2.0" % (method, ruri),
                 "Via: %s" % self.via(branch),
                 "Max-Forwards: %d" % max_forwards]
        lines += ["Route: %s" % r for r in routes]
        lines += ["From: %s" % frm, "To: %s" % to,
                  "Call-ID: %s" % callid,
                  "CSeq: %d %s" % (cseq, cseq_method or method)]
        if contact and method not in ("ACK", "CANCEL", "BYE"):
            lines.append("Contact: %s" % self.contact)
        lines.append("User-Agent: sipd-test")
        lines += list(headers)
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append("Content-Length: %d" % len(body.encode()))
        return "\r\n".join(lines) + "\r\n\r\n" + body, branch

    def reply(self, req, code, reason, headers=(), body="", to_tag=None,
              record_route=None):
        """Answer a request; the To tag is added for code > 100."""
        to = req.get("to")
        if code > 100 and not tag_of(to):
            to = "%s;tag=%s" % (to, to_tag or rand_token(8))
        lines = ["SIP/2.0 %d %s" % (code, reason)]
        lines += ["Via: %s" % v for v in req.all("via")]
        if record_route is None:
            record_route = (req.method in ("INVITE", "SUBSCRIBE") and
                            100 < code < 300)
        if record_route:
            lines += ["Record-Route: %s" % v
                      for v in req.all("record-route")]
        lines += ["From: %s" % req.get("from"), "To: %s" % to,
                  "Call-ID: %s" % req.get("call-id"),
                  "CSeq: %s" % req.get("cseq")]
        if req.method in ("INVITE", "SUBSCRIBE") and 100 < code < 300:
            lines.append("Contact: %s" % self.contact)
        lines += list(headers)
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append("Content-Length: %d" % len(body.encode()))
        text = "\r\n".join(lines) + "\r\n\r\n" + body
        self.answers[self.key(req)] = text.encode()
        self.send(text, getattr(req, "src", None))
        return Msg(text)

    # -- registration -------------------------------------------------------

    def register(self, expires=300, q=None, contact=None, extra=()):
        """REGISTER this UA's contact with digest auth; returns the 200."""
        callid = rand_token(16) + "@reg"
        ftag = rand_token(8)
        c = contact or self.contact
        if q is not None:
            c += ";q=%s" % q
        hdrs = ["Contact: %s" % c, "Expires: %d" % expires] + list(extra)
        ruri = "sip:" + self.domain
        frm = "<%s>;tag=%s" % (self.uri, ftag)
        for cseq in (1, 2):
            text, _ = self.build_request("REGISTER", ruri, frm,
                                         "<%s>" % self.uri, callid, cseq,
                                         headers=hdrs, contact=False)
            self.send(text)
            r = self.expect_response(callid, "REGISTER", final=True)
            if r.status != 401:
                break
            chall = parse_challenge(r.all("www-authenticate")[0])
            hdrs = hdrs[:2] + list(extra) + [
                "Authorization: " + digest_header(
                    chall, "REGISTER", ruri, self.user, self.password)]
        eq(r.status, 200, "%s: REGISTER (%s)" % (self.aor, r.start))
        return r

    # -- calls --------------------------------------------------------------

    def invite(self, ruri, to=None, body=None, auth=None, headers=(),
               frm=None, max_forwards=70, expect_407=None):
        """Send an INVITE; with a password (and a From of a served
        domain) the 407 is answered: ACK, then the INVITE again with
        Proxy-Authorization. Returns the Dialog of the call."""
        d = Dialog(self, uac=True)
        d.remote_uri = uri_of(to) if to else ruri
        d.to = to or "<%s>" % ruri
        d.frm = frm or "<%s>;tag=%s" % (self.uri, d.local_tag)
        d.local_tag = tag_of(d.frm)
        d.ruri = ruri
        d.body = sdp() if body is None else body
        d.headers = list(headers)
        d.max_forwards = max_forwards
        auth = self.password is not None if auth is None else auth
        d.send_invite()
        if auth:
            r = self.expect_response(d.callid, "INVITE", final=True)
            d.challenge = r
            if expect_407 is not False:
                eq(r.status, 407, "%s: first answer to INVITE %s" % (
                    self.aor, ruri))
            if r.status == 407:
                d.ack_failure(r)
                chall = parse_challenge(r.all("proxy-authenticate")[0])
                cred = digest_header(chall, "INVITE", ruri, self.user,
                                     self.password)
                d.headers = list(headers) + [
                    "Proxy-Authorization: " + cred]
                d.cseq += 1
                d.send_invite()
        return d

    def expect_invite(self, timeout=3.0, callid=None):
        """The next INVITE: returns a UAS Dialog (not yet answered)."""
        req = self.expect_request("INVITE", timeout, callid)
        return Dialog.from_request(self, req)


class Dialog:
    """One call of a UA: the INVITE transaction and the dialog after it."""

    def __init__(self, ua, uac):
        self.ua = ua
        self.uac = uac
        self.callid = rand_token(16) + "@test"
        self.local_tag = rand_token(8)
        self.remote_tag = None
        self.cseq = 1
        self.local_cseq = None
        self.route_set = []
        self.remote_target = None
        self.provisionals = []
        self.responses = []
        self.invite_req = None      # UAS: the INVITE received
        self.invite_text = None     # UAC: the last INVITE sent
        self.branch = None
        self.challenge = None
        self.final_resp = None

    @classmethod
    def from_request(cls, ua, req):
        d = cls(ua, uac=False)
        d.invite_req = req
        d.callid = req.get("call-id")
        d.remote_tag = tag_of(req.get("from"))
        d.route_set = req.all("record-route")
        d.remote_target = uri_of(req.get("contact", "<>"))
        d.frm = req.get("to")          # our side, tag added on reply
        d.to = req.get("from")
        d.cseq = int(req.get("cseq").split()[0])
        d.local_cseq = 100
        d.branch = param(req.get("via"), "branch")
        return d

    # -- UAC ----------------------------------------------------------------

    def send_invite(self):
        text, self.branch = self.ua.build_request(
            "INVITE", self.ruri, self.frm, self.to, self.callid, self.cseq,
            headers=self.headers, body=self.body,
            max_forwards=self.max_forwards)
        self.invite_text = text
        self.ua.send(text)

    def ack_failure(self, resp):
        """ACK of a non-2xx final response: same branch, hop by hop."""
        text, _ = self.ua.build_request(
            "ACK", self.ruri, self.frm, resp.get("to"), self.callid,
            self.cseq, branch=self.branch)
        self.ua.send(text)
        return text

    def response(self, timeout=3.0, final=False, status=None):
        r = self.ua.expect_response(self.callid, "INVITE", final, timeout,
                                    status)
        self.responses.append(r)
        if r.status < 200:
            self.provisionals.append(r)
        return r

    def final(self, timeout=5.0, ack=True):
        """The final response to the INVITE (provisionals recorded); a
        2xx sets up the dialog, a non-2xx is ACKed."""
        while True:
            r = self.response(timeout)
            if r.status >= 200:
                break
        self.final_resp = r
        if r.status < 300:
            self.remote_tag = tag_of(r.get("to"))
            self.to = r.get("to")
            self.route_set = list(reversed(r.all("record-route")))
            self.remote_target = uri_of(r.get("contact", "<>"))
            if ack:
                self.ack()
        elif ack:
            self.ack_failure(r)
        return r

    def ack(self):
        text, _ = self.ua.build_request(
            "ACK", self.remote_target, self.frm, self.to, self.callid,
            self.cseq, routes=self.route_set)
        self.ua.send(text)
        self.ack_text = text
        return text

    def cancel(self, headers=(), wait=True):
        """CANCEL the INVITE (same branch, Request-URI and CSeq number);
        returns the response to the CANCEL (None if wait is false)."""
        routes = Msg(self.invite_text).all("route")
        text, _ = self.ua.build_request(
            "CANCEL", self.ruri, self.frm, self.to.split(";tag=")[0],
            self.callid, self.cseq, branch=self.branch, routes=routes,
            headers=headers)
        self.ua.send(text)
        self.cancel_text = text
        if not wait:
            return None
        return self.ua.expect_response(self.callid, "CANCEL", final=True)

    # -- both sides, in the dialog ------------------------------------------

    def next_cseq(self):
        if self.uac:
            self.cseq += 1
            return self.cseq
        self.local_cseq += 1
        return self.local_cseq

    def local_from(self):
        if self.uac:
            return self.frm
        return self.frm if tag_of(self.frm) else "%s;tag=%s" % (
            self.frm, self.local_tag)

    def request(self, method, headers=(), body="", wait=True,
                routes=None, ruri=None, max_forwards=70):
        """An in-dialog request by the route set; its final response
        (None if wait is false)."""
        cseq = self.next_cseq()
        text, branch = self.ua.build_request(
            method, ruri or self.remote_target, self.local_from(),
            self.to, self.callid, cseq,
            routes=self.route_set if routes is None else routes,
            headers=headers, body=body, max_forwards=max_forwards)
        self.ua.send(text)
        self.last_request = text
        if method == "INVITE" and self.uac:
            self.invite_text = text
            self.branch = branch
        if not wait:
            return None
        return self.ua.expect_response(self.callid, method, final=True,
                                       timeout=5.0)

    def bye(self):
        return self.request("BYE")

    def reinvite(self, body):
        """A re-INVITE (hold: a=sendonly), ACKed; returns its final."""
        r = self.request("INVITE", body=body)
        if r.status < 300:
            text, _ = self.ua.build_request(
                "ACK", self.remote_target, self.local_from(), self.to,
                self.callid, self.cseq if self.uac else self.local_cseq,
                routes=self.route_set)
            self.ua.send(text)
        return r

    # -- UAS ----------------------------------------------------------------

    def reply(self, code, reason, body="", headers=()):
        r = self.ua.reply(self.invite_req, code, reason, headers=headers,
                          body=body, to_tag=self.local_tag)
        if code > 100:
            self.frm = r.get("to")
        return r

    def answer(self, ring=True, body=None):
        """180 then 200 (with SDP); the ACK is not awaited."""
        if ring:
            self.reply(180, "Ringing")
        return self.reply(200, "OK", body=sdp(41000) if body is None
                          else body)

    def expect(self, method, timeout=3.0):
        return self.ua.expect_request(method, timeout, self.callid)

    def expect_ack(self, timeout=3.0):
        return self.expect("ACK", timeout)

    def expect_and_reply(self, method, code=200, reason="OK", body="",
                         timeout=3.0):
        req = self.expect(method, timeout)
        self.ua.reply(req, code, reason, body=body)
        return req


# --- SIPp ------------------------------------------------------------------

def wait_bound(run, transport="u1", timeout=5.0):
    """Wait until a SIPp server listens on its port."""
    proto = "udp" if transport.startswith("u") else "tcp"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not run.alive():
            raise TestFailure("SIPp exited at start:\n%s" % (
                open(run.path("stderr"), errors="replace").read()
                if os.path.exists(run.path("stderr")) else "?"))
        if (proto, "127.0.0.1", run.port) in socket_addresses(run.proc.pid):
            time.sleep(0.1)
            return
        time.sleep(0.05)
    raise TestFailure("SIPp does not listen on %s %d" % (proto, run.port))


def sipp_run(s, scenario, transport="u1", keys=None, port=None, calls=1,
             extra=(), auth_uri=None, name=None):
    """A SippRun of a scenario against s with the message trace on."""
    k = {"domain": DOMAIN}
    k.update(keys or {})
    return SippRun(scenario, s.addr, s.dir, calls=calls, rate=1,
                   keys=k, auth_uri=auth_uri, transport=transport,
                   trace_msg=True, extra=list(extra), local_port=port,
                   name=name)


def sipp_messages(run, direction=None):
    """The SIP messages of a SIPp message trace, as Msg objects with
    .direction "sent" or "received"."""
    try:
        with open(run.path("messages.log"), errors="replace") as f:
            text = f.read()
    except OSError:
        return []
    out = []
    for block in re.split(r"\n-{20,}[^\n]*\n", "\n" + text):
        m = re.match(r"\s*(\w+) message (sent|received)[^\n]*\n\s*\n(.*)",
                     block, re.S)
        if not m:
            continue
        body = m.group(3).strip("\n")
        body = body.replace("\r\n", "\n").replace("\n", "\r\n")
        if "\r\n\r\n" not in body:
            body += "\r\n\r\n"
        msg = Msg(body)
        msg.direction = m.group(2)
        if direction is None or msg.direction == direction:
            out.append(msg)
    return out


def sipp_received(run, start):
    """Messages SIPp received whose start line begins with start."""
    return [m for m in sipp_messages(run, "received")
            if m.start.startswith(start)]


def sipp_ok(res, what):
    check(res.ok, "%s: %s\n%s\n%s" % (what, res.summary(), res.errors(),
                                      res.stdout[-1500:]))


def register_at(s, user, password, port, transport="udp"):
    """Register user@example.com with digest auth from 127.0.0.1:port,
    then free the port (for a SIPp UAS to take it)."""
    ua = UA(s, user, password, transport=transport, port=port)
    try:
        ua.register()
    finally:
        ua.close()


# --- event log -------------------------------------------------------------

def events(s):
    path = os.path.join(s.dir, "events.log")
    try:
        with open(path) as f:
            lines = [l for l in f if l.strip()]
    except OSError:
        return []
    out = []
    for l in lines:
        try:
            out.append(json.loads(l))
        except ValueError:
            raise TestFailure("event log line is not JSON: %r" % l)
    return out


def call_events(s, call_id=None, aor=None):
    return [e for e in events(s) if e.get("event") == "call" and
            (call_id is None or e.get("call_id") == call_id) and
            (aor is None or e.get("aor") == aor)]


def wait_events(s, pred, what, timeout=3.0):
    deadline = time.time() + timeout
    while True:
        ev = [e for e in events(s) if pred(e)]
        if ev or time.time() >= deadline:
            check(ev, "%s: not in the event log:\n%s" % (
                what, "\n".join(json.dumps(e) for e in events(s)[-20:])))
            return ev
        time.sleep(0.05)


def states(s, call_id, aor):
    return [e["state"] for e in call_events(s, call_id, aor)]


def alive(s):
    check(s.alive(), "sipd died:\n" + s.log()[-3000:])


def untoken(uri):
    """A URI of sipd without its flow token (the user part f...@ of its
    Record-Route, checked by flow_token_in_record_route)."""
    return re.sub(r"^sip:f[0-9a-f]+@", "sip:", uri)


def rr_uris(msg):
    return [untoken(uri_of(v)) for v in msg.all("record-route")]


def sipd_rr(s, transport):
    """sipd's Record-Route URI for a socket of the test address."""
    return "sip:127.0.0.1:%d%s;lr" % (
        s.port, ";transport=tcp" if transport == "tcp" else "")


def sipp_call(s, caller_tp="u1", callee_tp="u1", uac="proxy_uac.xml",
              uas="proxy_uas.xml", callee="bob", callee_pw="secret2"):
    """A SIPp UAS for bob (registered with digest auth from its UDP port,
    or over TCP added with sipctl reg add) and a SIPp UAC for alice that
    calls it through sipd. Returns the two SippRuns, after both ended
    successfully."""
    port = free_udp_port()
    if callee_tp.startswith("u"):
        register_at(s, callee, callee_pw, port)
    else:
        r = s.sipctl("reg", "add", "%s@%s" % (callee, DOMAIN),
                     "sip:%s@127.0.0.1:%d;transport=tcp" % (callee, port),
                     "--expires", "300")
        eq(r.returncode, 0, "sipctl reg add: %s" % r.stderr)
    server = sipp_run(s, uas, callee_tp,
                      keys={"callee": callee, "caller": "alice"},
                      port=port, name="uas")
    server.start()
    try:
        wait_bound(server, callee_tp)
        client = sipp_run(s, uac, caller_tp,
                          keys={"caller": "alice", "callee": callee},
                          extra=["-au", "alice", "-ap", "secret"],
                          auth_uri="%s@%s" % (callee, DOMAIN), name="uac")
        cres = client.run(timeout=40)
        sres = server.wait(timeout=20)
    finally:
        server.kill()
    sipp_ok(cres, "SIPp caller (%s)" % uac)
    sipp_ok(sres, "SIPp callee (%s)" % uas)
    alive(s)
    return client, server


def want_record_route(s, caller_tp, callee_tp):
    """sipd's Record-Route values: one, or two when the transport
    changes (the callee's side first)."""
    tp = {"u1": "udp", "t1": "tcp"}
    caller_tp, callee_tp = tp.get(caller_tp, caller_tp), \
        tp.get(callee_tp, callee_tp)
    want = [sipd_rr(s, callee_tp)]
    if caller_tp != callee_tp:
        want.append(sipd_rr(s, caller_tp))
    return want


def check_sipp_call(s, client, server, caller_tp, callee_tp,
                    callee_hangs_up=False):
    """What each side of a SIPp call saw of sipd."""
    want_rr = want_record_route(s, caller_tp, callee_tp)

    inv = sipp_received(server, "INVITE ")
    check(inv, "the callee received no INVITE")
    inv = inv[0]
    eq(rr_uris(inv), want_rr, "Record-Route of the INVITE at the callee")
    eq(inv.get("max-forwards"), "69", "Max-Forwards after sipd")
    vias = inv.all("via")
    eq(len(vias), 2, "Vias of the INVITE at the callee: %s" % vias)
    check(vias[0].upper().startswith("SIP/2.0/%s 127.0.0.1:%d;" % (
        "TCP" if callee_tp.startswith("t") else "UDP", s.port)),
        "sipd's Via: %s" % vias[0])
    check(param(vias[0], "branch").startswith("z9hG4bK"),
          "sipd's branch has the magic cookie: %s" % vias[0])
    check(inv.get("proxy-authorization") is None,
          "sipd forwarded the caller's credentials for its own realm")

    ok = [m for m in sipp_received(client, "SIP/2.0 200")
          if m.get("cseq", "").endswith("INVITE")]
    eq(len(ok) >= 1, True, "200 for the INVITE at the caller")
    eq(rr_uris(ok[0]), want_rr, "Record-Route of the 200 at the caller")
    eq(len(ok[0].all("via")), 1, "Vias of the 200 at the caller")
    check([m for m in sipp_received(client, "SIP/2.0 100")
           if m.get("cseq") == "2 INVITE"],
          "no 100 Trying from sipd for the INVITE with credentials")

    if callee_hangs_up:
        # the callee's BYE follows the route set as recorded
        sent = [m for m in sipp_messages(server, "sent")
                if m.method == "BYE"]
        check(sent, "the callee sent no BYE")
        eq([untoken(uri_of(v)) for v in sent[0].all("route")], want_rr,
           "Route of the callee's BYE")
        got = sipp_received(client, "BYE ")
        check(got, "the caller got no BYE")
        eq(got[0].all("route"), [], "Route left in the BYE at the caller")
        check(got[0].start.split()[1].startswith(
            "sip:alice@127.0.0.1:%d" % client.port),
            "Request-URI of the BYE at the caller: %s" % got[0].start)
        eq(len(got[0].all("via")), 2, "Vias of the BYE at the caller")
        eq(got[0].get("max-forwards"), "69", "Max-Forwards of the BYE")

    # the caller's ACK and BYE follow the route set, reversed
    for method in ("ACK",) if callee_hangs_up else ("ACK", "BYE"):
        sent = [m for m in sipp_messages(client, "sent")
                if m.method == method and
                m.get("cseq", "").split()[0] != "1"]
        check(sent, "the caller sent no %s" % method)
        eq([untoken(uri_of(v)) for v in sent[-1].all("route")],
           list(reversed(want_rr)), "Route of the caller's %s" % method)
        got = sipp_received(server, method + " ")
        check(got, "the callee got no %s" % method)
        eq(got[0].all("route"), [], "Route left in the %s at the callee"
           " (sipd pops its own)" % method)
        check(uri_of("<%s>" % got[0].start.split()[1]).startswith(
            "sip:bob@127.0.0.1:%d" % server.port),
            "Request-URI of the %s: %s" % (method, got[0].start))
        eq(len(got[0].all("via")), 2, "Vias of the %s at the callee" %
           method)


# --- 1. basic calls with SIPp ------------------------------------------------

def test_sipp_call_udp():
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        client, server = sipp_call(s, "u1", "u1")
        check_sipp_call(s, client, server, "udp", "udp")


def test_sipp_call_tcp():
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        client, server = sipp_call(s, "t1", "t1")
        check_sipp_call(s, client, server, "t1", "t1")


def test_sipp_call_udp_to_tcp():
    """Two Record-Route values, each facing one side."""
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        client, server = sipp_call(s, "u1", "t1")
        check_sipp_call(s, client, server, "u1", "t1")


def test_sipp_call_tcp_to_udp():
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        client, server = sipp_call(s, "t1", "u1")
        check_sipp_call(s, client, server, "t1", "u1")


def test_sipp_bye_from_callee():
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        client, server = sipp_call(s, "u1", "u1", uac="proxy_uac_wait_bye.xml",
                                   uas="proxy_uas_bye.xml")
        check_sipp_call(s, client, server, "u1", "u1", callee_hangs_up=True)


def test_sipp_bye_from_tcp_callee_to_udp_caller():
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        client, server = sipp_call(s, "u1", "t1", uac="proxy_uac_wait_bye.xml",
                                   uas="proxy_uas_bye.xml")
        check_sipp_call(s, client, server, "u1", "t1", callee_hangs_up=True)


def test_sipp_reinvite_hold():
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        client, server = sipp_call(s, "u1", "u1", uac="proxy_uac_hold.xml",
                                   uas="proxy_uas_hold.xml")
        check_sipp_call(s, client, server, "u1", "u1")
        invs = sipp_received(server, "INVITE ")
        eq(len(invs), 2, "INVITEs at the callee (the call and the hold)")
        hold = invs[1]
        check("a=sendonly" in hold.body, "the hold SDP passed: %r" %
              hold.body)
        eq(hold.all("route"), [], "Route left in the re-INVITE")
        eq(hold.all("record-route"), [], "Record-Route in the re-INVITE")
        check(hold.start.split()[1].startswith(
            "sip:bob@127.0.0.1:%d" % server.port),
            "Request-URI of the re-INVITE: %s" % hold.start)
        oks = [m for m in sipp_received(client, "SIP/2.0 200")
               if m.get("cseq") == "3 INVITE"]
        check(oks and "a=recvonly" in oks[0].body,
              "the caller got the 200 of the re-INVITE with a=recvonly")
        acks = sipp_received(server, "ACK ")
        eq([a.get("cseq") for a in acks], ["2 ACK", "3 ACK"],
           "ACKs at the callee")


# --- calls with scripted user agents ----------------------------------------

def phone(s, user="bob", password=None, transport="udp", q=None, **kw):
    """A registered phone (a UA whose REGISTER got its 200)."""
    pw = password or dict((a.split("@")[0], p) for a, p in ACCOUNTS)[user]
    ua = UA(s, user, pw, transport=transport, **kw)
    ua.register(q=q)
    return ua


def caller(s, user="alice", transport="udp", **kw):
    pw = dict((a.split("@")[0], p) for a, p in ACCOUNTS)[user]
    return UA(s, user, pw, transport=transport, **kw)


def closing(*uas):
    for ua in uas:
        ua.close()


def test_call_udp_headers():
    """A call between two local users: what sipd changes and keeps."""
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        bob = phone(s, "bob")
        alice = caller(s)
        try:
            d = alice.invite("sip:bob@example.com")
            trying = d.response()
            eq(trying.status, 100, "sipd's first answer to the INVITE")
            eq(trying.get("call-id"), d.callid, "Call-ID of the 100")
            eq(trying.get("cseq"), "2 INVITE", "CSeq of the 100")

            inc = bob.expect_invite()
            inv = inc.invite_req
            sent = Msg(d.invite_text)
            eq(inv.start, "INVITE %s SIP/2.0" % bob.contact_uri,
               "Request-URI: the registered contact")
            eq(inv.get("max-forwards"), "69", "Max-Forwards")
            vias = inv.all("via")
            eq(len(vias), 2, "Vias at the callee")
            check(vias[0].startswith("SIP/2.0/UDP 127.0.0.1:%d;" % s.port),
                  "sipd's Via: %s" % vias[0])
            check(param(vias[0], "branch").startswith("z9hG4bK"),
                  "branch of sipd's Via: %s" % vias[0])
            eq(param(vias[1], "branch"), d.branch, "the caller's Via kept")
            eq(rr_uris(inv), [sipd_rr(s, "udp")], "Record-Route")
            check(inv.get("proxy-authorization") is None,
                  "sipd passed on the credentials meant for it")
            for h in ("from", "to", "call-id", "cseq", "contact",
                      "content-type"):
                eq(inv.get(h), sent.get(h), "%s kept" % h)
            eq(inv.body, sent.body, "the SDP body kept")
            eq(inv.src, s.addr, "the INVITE came from sipd's socket")

            inc.reply(180, "Ringing")
            ring = d.response()
            eq(ring.status, 180, "the 180 relayed")
            eq(len(ring.all("via")), 1, "Vias of the relayed 180")
            eq(tag_of(ring.get("to")), inc.local_tag, "To tag of the 180")

            inc.reply(200, "OK", body=sdp(41000))
            ok = d.final()
            eq(ok.status, 200, "the 200 relayed")
            eq(rr_uris(ok), [sipd_rr(s, "udp")], "Record-Route of the 200")
            eq(ok.body, sdp(41000), "the SDP answer kept")
            eq(["<%s>" % untoken(uri_of(v)) for v in d.route_set],
               ["<%s>" % sipd_rr(s, "udp")], "route set")

            ack = inc.expect_ack()
            eq(ack.start, "ACK %s SIP/2.0" % bob.contact_uri,
               "Request-URI of the ACK")
            eq(ack.all("route"), [], "Route left in the ACK")
            eq(ack.get("max-forwards"), "69", "Max-Forwards of the ACK")
            eq(len(ack.all("via")), 2, "Vias of the ACK")

            d.request("BYE", wait=False)
            bye = inc.expect_and_reply("BYE")
            eq(bye.all("route"), [], "Route left in the BYE")
            eq(bye.get("max-forwards"), "69", "Max-Forwards of the BYE")
            r = alice.expect_response(d.callid, "BYE", final=True)
            eq(r.status, 200, "the BYE's 200 relayed")
            eq([m.get("cseq") for m in bob.received if m.method == "ACK"],
               ["2 ACK"], "ACKs at the callee (the ACK of sipd's 407 is"
               " sipd's)")
            alive(s)
        finally:
            closing(alice, bob)


def test_ack_of_sipds_own_reply_not_forwarded():
    """The ACK of a final response that sipd gave itself (420, 483, 407,
    403) ends at sipd: it is not forwarded to the user the INVITE was
    for."""
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        bob = phone(s, "bob")
        ext = stranger(s)
        alice = caller(s)
        try:
            r, _, _ = send_simple(ext, "INVITE", "sip:bob@example.com",
                                  headers=["Proxy-Require: x-foo"],
                                  body=sdp())
            eq(r.status, 420, "Proxy-Require")
            r, _, _ = send_simple(ext, "INVITE", "sip:bob@example.com",
                                  max_forwards=0, body=sdp())
            eq(r.status, 483, "Max-Forwards 0")
            d = alice.invite("sip:bob@example.com",
                             frm="<sip:carol@example.com>;tag=notme")
            eq(d.final().status, 403, "From another user")
            bob.no_request("ACK", 1.0)
            eq([m.start for m in bob.received if not m.is_response], [],
               "requests at bob")
            alive(s)
        finally:
            closing(bob, ext, alice)


def test_call_from_callee_side_requests():
    """In-dialog requests of the callee (re-INVITE, INFO, BYE) follow
    the route set to the caller's Contact."""
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        bob = phone(s, "bob")
        alice = caller(s)
        try:
            d = alice.invite("sip:bob@example.com")
            inc = bob.expect_invite()
            inc.answer()
            eq(d.final().status, 200, "the call is answered")
            inc.expect_ack()

            # the callee puts the caller on hold
            inc.request("INVITE", body=sdp(41000, "sendonly"), wait=False)
            re_inv = alice.expect_request("INVITE", callid=d.callid)
            eq(re_inv.start, "INVITE %s SIP/2.0" % alice.contact_uri,
               "Request-URI of the callee's re-INVITE")
            eq(re_inv.all("route"), [], "Route left")
            check("a=sendonly" in re_inv.body, "hold SDP")
            alice.reply(re_inv, 200, "OK", body=sdp(40000, "recvonly"))
            r = bob.expect_response(d.callid, "INVITE", final=True)
            eq(r.status, 200, "200 of the re-INVITE at the callee")
            ack, _ = bob.build_request(
                "ACK", inc.remote_target, inc.local_from(), inc.to,
                d.callid, inc.local_cseq, routes=inc.route_set)
            bob.send(ack)
            got = alice.expect_request("ACK", callid=d.callid)
            eq(got.get("cseq"), "%d ACK" % inc.local_cseq, "ACK CSeq")

            inc.request("INFO", headers=["Content-Type: text/plain"],
                        body="", wait=False)
            alice_req = alice.expect_request("INFO", callid=d.callid)
            alice.reply(alice_req, 200, "OK")
            eq(bob.expect_response(d.callid, "INFO", final=True).status,
               200, "INFO answered through sipd")

            inc.request("BYE", wait=False)
            bye = alice.expect_request("BYE", callid=d.callid)
            eq(bye.get("max-forwards"), "69", "Max-Forwards of the BYE")
            alice.reply(bye, 200, "OK")
            eq(bob.expect_response(d.callid, "BYE", final=True).status, 200,
               "BYE answered")
            alive(s)
        finally:
            closing(alice, bob)


# --- 2. forking --------------------------------------------------------------

REASON_ELSEWHERE = 'SIP;cause=200;text="Call completed elsewhere"'


def test_fork_parallel_one_answers_other_cancelled():
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        bob1 = phone(s, "bob")
        bob2 = phone(s, "bob")
        alice = caller(s)
        try:
            eq(len(s.query("SELECT id FROM bindings WHERE aor = ?",
                           ("bob@example.com",))), 2, "bob's bindings")
            d = alice.invite("sip:bob@example.com")
            inc1 = bob1.expect_invite()
            inc2 = bob2.expect_invite()
            b1 = param(inc1.invite_req.get("via"), "branch")
            b2 = param(inc2.invite_req.get("via"), "branch")
            check(b1 != b2, "the two branches have one Via branch: %s" % b1)
            inc1.reply(180, "Ringing")
            inc2.reply(180, "Ringing")
            inc1.reply(200, "OK", body=sdp(41000))
            ok = d.final()
            eq(ok.status, 200, "the caller's final response")
            eq(tag_of(ok.get("to")), inc1.local_tag, "the 200 is bob1's")
            inc1.expect_ack()

            cancel = bob2.expect_request("CANCEL")
            eq(cancel.get("reason"), REASON_ELSEWHERE,
               "Reason of the CANCEL to the other branch")
            eq(param(cancel.get("via"), "branch"), b2,
               "the CANCEL's branch is the INVITE's")
            eq(cancel.start.split()[1], inc2.invite_req.start.split()[1],
               "the CANCEL's Request-URI is the INVITE's")
            eq(cancel.get("cseq"), "%d CANCEL" % inc2.cseq, "CSeq")
            eq(cancel.get("call-id"), d.callid, "Call-ID")
            eq(cancel.get("from"), inc2.invite_req.get("from"), "From")
            eq(cancel.get("to"), inc2.invite_req.get("to"), "To (no tag)")
            eq(len(cancel.all("via")), 1, "Vias of the CANCEL: sipd's own")
            bob2.reply(cancel, 200, "OK")
            inc2.reply(487, "Request Terminated")
            ack = inc2.expect_ack()
            eq(param(ack.get("via"), "branch"), b2,
               "the 487's ACK has the INVITE's branch")
            eq(tag_of(ack.get("to")), inc2.local_tag, "To tag of the ACK")

            # the caller saw neither the 487 nor a second final response
            alice.quiet(1.0)
            d.request("BYE", wait=False)
            inc1.expect_and_reply("BYE")
            eq(alice.expect_response(d.callid, "BYE", final=True).status,
               200, "BYE")
            alive(s)
        finally:
            closing(alice, bob1, bob2)


def test_fork_both_answer_both_200s_relayed():
    """RFC 3261 16.7 step 5: every 2xx goes upstream, even after the
    first; the caller ACKs and hangs up the second one."""
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        bob1 = phone(s, "bob")
        bob2 = phone(s, "bob")
        alice = caller(s)
        try:
            d = alice.invite("sip:bob@example.com")
            inc1 = bob1.expect_invite()
            inc2 = bob2.expect_invite()
            inc1.reply(200, "OK", body=sdp(41000))
            inc2.reply(200, "OK", body=sdp(42000))
            ok1 = d.response(final=True)
            ok2 = d.response(final=True)
            eq(sorted([tag_of(ok1.get("to")), tag_of(ok2.get("to"))]),
               sorted([inc1.local_tag, inc2.local_tag]),
               "the caller got both 200s")
            alive(s)
        finally:
            closing(alice, bob1, bob2)


def test_fork_sequential_by_q():
    """Higher q first; the lower q only after it failed."""
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        hi = phone(s, "bob", q="1.0")
        lo = phone(s, "bob", q="0.5")
        alice = caller(s)
        try:
            d = alice.invite("sip:bob@example.com")
            inc = hi.expect_invite()
            inc.reply(180, "Ringing")
            lo.no_request("INVITE", 1.0)
            inc.reply(486, "Busy Here")
            inc.expect_ack()
            inc2 = lo.expect_invite()
            eq(inc2.callid, d.callid, "the same call to the lower q")
            inc2.reply(200, "OK", body=sdp(42000))
            ok = d.final()
            eq(ok.status, 200, "the caller gets the lower q's 200, not 486")
            eq(tag_of(ok.get("to")), inc2.local_tag, "To tag")
            inc2.expect_ack()
            alive(s)
        finally:
            closing(alice, hi, lo)


def test_fork_sequential_503_then_480():
    """Both q groups fail: the lowest class wins (16.7 step 6), 480 of
    the second over 503 of the first."""
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        hi = phone(s, "bob", q="0.9")
        lo = phone(s, "bob", q="0.1")
        alice = caller(s)
        try:
            d = alice.invite("sip:bob@example.com")
            inc = hi.expect_invite()
            lo.no_request("INVITE", 0.5)
            inc.reply(503, "Service Unavailable")
            inc.expect_ack()
            inc2 = lo.expect_invite()
            inc2.reply(480, "Temporarily Unavailable")
            inc2.expect_ack()
            r = d.final()
            eq(r.status, 480, "best of 503 and 480")
            eq(tag_of(r.get("to")), inc2.local_tag, "the 480 is lo's")
            alive(s)
        finally:
            closing(alice, hi, lo)


def test_2xx_retransmission_relayed():
    """The INVITE client transaction ends at the first 2xx; the callee's
    retransmissions of it (no ACK yet) still reach the caller, and so do
    those of another fork's 2xx."""
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        bob = phone(s, "bob")
        alice = caller(s)
        try:
            d = alice.invite("sip:bob@example.com")
            inc = bob.expect_invite()
            inc.reply(200, "OK", body=sdp(41000))
            eq(d.response(final=True).status, 200, "the 200")
            again = bob.answers[UA.key(inc.invite_req)]
            bob.send(again, inc.invite_req.src)
            time.sleep(0.5)
            alice.wait(lambda m: False, "", 0.3, fail=False)
            oks = [m for m in alice.received if m.is_response and
                   m.status == 200 and m.get("call-id") == d.callid]
            eq(len(oks), 2, "200s at the caller (the retransmission"
               " relayed)")
            alive(s)
        finally:
            closing(alice, bob)


# --- 3. CANCEL from the caller -----------------------------------------------

def test_cancel_before_answer():
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        bob1 = phone(s, "bob")
        bob2 = phone(s, "bob")
        alice = caller(s)
        try:
            d = alice.invite("sip:bob@example.com")
            incs = [bob1.expect_invite(), bob2.expect_invite()]
            for inc in incs:
                inc.reply(180, "Ringing")
            eq(d.response().status, 100, "100 Trying")
            eq(d.response().status, 180, "180 relayed")
            r = d.cancel()
            eq(r.status, 200, "the caller's CANCEL answered")
            for ua, inc in zip((bob1, bob2), incs):
                c = ua.expect_request("CANCEL")
                eq(param(c.get("via"), "branch"),
                   param(inc.invite_req.get("via"), "branch"),
                   "CANCEL branch at %s" % (ua.local,))
                ua.reply(c, 200, "OK")
                inc.reply(487, "Request Terminated")
                inc.expect_ack()
            fin = d.final()
            eq(fin.status, 487, "the caller's final response")
            alive(s)
        finally:
            closing(alice, bob1, bob2)


def test_cancel_after_100_trying_only():
    """RFC 3261 9.1 and 16.10: a branch that answered 100 Trying has a
    provisional response; the CANCEL goes to it at once."""
    with Sipd(proxy_conf("proxy_timer_c 10\n"), accounts=ACCOUNTS) as s:
        bob = phone(s, "bob")
        alice = caller(s)
        try:
            d = alice.invite("sip:bob@example.com")
            inc = bob.expect_invite()
            inc.reply(100, "Trying")
            time.sleep(0.3)
            started = time.time()
            eq(d.cancel().status, 200, "the caller's CANCEL answered")
            c = bob.wait(lambda m: m.method == "CANCEL", "CANCEL",
                         timeout=3.0, fail=False)
            check(c is not None, "no CANCEL reached the callee within 3 s"
                  " of the caller's (it had answered 100 Trying)")
            bob.reply(c, 200, "OK")
            inc.reply(487, "Request Terminated")
            fin = d.final()
            eq(fin.status, 487, "the caller's final response")
            check(time.time() - started < 3, "487 took %.1f s" % (
                time.time() - started))
        finally:
            closing(alice, bob)


# --- 4. busy, 6xx, challenges, 503 -------------------------------------------

def test_busy_486_passed_back():
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        bob = phone(s, "bob")
        alice = caller(s)
        try:
            d = alice.invite("sip:bob@example.com")
            inc = bob.expect_invite()
            inc.reply(486, "Busy Here", headers=["Retry-After: 60"])
            ack = inc.expect_ack()
            eq(param(ack.get("via"), "branch"),
               param(inc.invite_req.get("via"), "branch"),
               "sipd ACKs the 486 on the INVITE's branch")
            eq(ack.start.split()[1], inc.invite_req.start.split()[1],
               "Request-URI of the ACK")
            r = d.final()
            eq((r.status, r.reason), (486, "Busy Here"), "the caller's 486")
            eq(r.get("retry-after"), "60", "Retry-After kept")
            eq(tag_of(r.get("to")), inc.local_tag, "the callee's To tag")
            eq(len(r.all("via")), 1, "Vias of the 486")
            alice.quiet(0.8)
            alive(s)
        finally:
            closing(alice, bob)


def test_6xx_cancels_other_branches():
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        bob1 = phone(s, "bob")
        bob2 = phone(s, "bob")
        alice = caller(s)
        try:
            d = alice.invite("sip:bob@example.com")
            inc1 = bob1.expect_invite()
            inc2 = bob2.expect_invite()
            inc2.reply(180, "Ringing")
            inc1.reply(603, "Decline")
            inc1.expect_ack()
            c = bob2.expect_request("CANCEL")
            bob2.reply(c, 200, "OK")
            inc2.reply(487, "Request Terminated")
            inc2.expect_ack()
            r = d.final()
            eq((r.status, r.reason), (603, "Decline"), "the caller gets 603")
            alive(s)
        finally:
            closing(alice, bob1, bob2)


def test_challenges_of_branches_aggregated():
    """RFC 3261 16.7 step 7: a 401/407 upstream carries the challenges
    of every branch."""
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        bob1 = phone(s, "bob")
        bob2 = phone(s, "bob")
        alice = caller(s)
        try:
            d = alice.invite("sip:bob@example.com")
            inc1 = bob1.expect_invite()
            inc2 = bob2.expect_invite()
            inc1.reply(401, "Unauthorized", headers=[
                'WWW-Authenticate: Digest realm="phone1", nonce="n1",'
                ' algorithm=MD5, qop="auth"'])
            inc1.expect_ack()
            inc2.reply(407, "Proxy Authentication Required", headers=[
                'Proxy-Authenticate: Digest realm="phone2", nonce="n2",'
                ' algorithm=MD5, qop="auth"'])
            inc2.expect_ack()
            r = d.final()
            check(r.status in (401, 407), "the caller got %s" % r.start)
            realms = [parse_challenge(v).get("realm") for v in
                      r.all("www-authenticate") +
                      r.all("proxy-authenticate")]
            eq(sorted(realms), ["phone1", "phone2"],
               "challenges of both branches")
            alive(s)
        finally:
            closing(alice, bob1, bob2)


def test_all_503_becomes_500():
    """RFC 3261 16.7 step 6: a 503 is not passed on."""
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        bob1 = phone(s, "bob")
        bob2 = phone(s, "bob")
        alice = caller(s)
        try:
            d = alice.invite("sip:bob@example.com")
            for ua in (bob1, bob2):
                inc = ua.expect_invite()
                inc.reply(503, "Service Unavailable",
                          headers=["Retry-After: 30"])
                inc.expect_ack()
            r = d.final()
            eq(r.status, 500, "the caller's final response")
            alive(s)
        finally:
            closing(alice, bob1, bob2)


# --- 5. no answer ------------------------------------------------------------

def test_timer_c_cancels_ringing_branch():
    """proxy_timer_c 10: a phone that rings and never answers gets
    sipd's CANCEL after 10 s; the caller gets 487 (or 408)."""
    with Sipd(proxy_conf("proxy_timer_c 10\n"), accounts=ACCOUNTS) as s:
        bob = phone(s, "bob")
        alice = caller(s)
        try:
            d = alice.invite("sip:bob@example.com")
            inc = bob.expect_invite()
            inc.reply(180, "Ringing")
            started = time.time()
            c = bob.expect_request("CANCEL", timeout=14)
            took = time.time() - started
            check(9.0 <= took <= 12.5, "CANCEL after %.1f s, not 10" % took)
            eq(param(c.get("via"), "branch"),
               param(inc.invite_req.get("via"), "branch"), "CANCEL branch")
            bob.reply(c, 200, "OK")
            inc.reply(487, "Request Terminated")
            inc.expect_ack()
            r = d.final()
            check(r.status in (487, 408), "the caller got %s" % r.start)
            alive(s)
        finally:
            closing(alice, bob)


def test_silent_target_408():
    """A binding that never answers at all (no 100, nothing): with Timer
    C at 10 s the caller gets 408 (16.8: as if the branch got 408)."""
    with Sipd(proxy_conf("proxy_timer_c 10\n"), accounts=ACCOUNTS) as s:
        bob = phone(s, "bob")
        alice = caller(s)
        try:
            started = time.time()
            d = alice.invite("sip:bob@example.com")
            bob.expect_invite()
            r = d.final(timeout=40)
            took = time.time() - started
            check(r.status in (408, 480), "the caller got %s" % r.start)
            check(took < 34, "the final response took %.1f s" % took)
            alive(s)
        finally:
            closing(alice, bob)


# --- 6. routing policy -----------------------------------------------------

def stranger(s, user="mallory", domain="evil.test", **kw):
    """A UA of a domain sipd does not serve (no password)."""
    return UA(s, user, None, domain=domain, **kw)


def send_simple(ua, method, ruri, headers=(), max_forwards=70, frm=None,
                body="", to=None):
    """A request outside a dialog; returns (its final response, Call-ID,
    the text sent)."""
    callid = rand_token(16) + "@t"
    text, _ = ua.build_request(
        method, ruri, frm or "<%s>;tag=%s" % (ua.uri, rand_token(6)),
        to or "<%s>" % ruri, callid, 1, headers=headers,
        max_forwards=max_forwards, body=body)
    ua.send(text)
    r = ua.expect_response(callid, method, final=True)
    if method == "INVITE":
        ack, _ = ua.build_request("ACK", ruri, Msg(text).get("from"),
                                  r.get("to"), callid, 1,
                                  branch=param(Msg(text).get("via"),
                                               "branch"))
        ua.send(ack)
    return r, callid, text


def test_max_forwards_zero_483_options_to_sipd_200():
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        bob = phone(s, "bob")
        ext = stranger(s)
        try:
            for method in ("INVITE", "OPTIONS", "MESSAGE"):
                r, _, _ = send_simple(ext, method, "sip:bob@example.com",
                                      max_forwards=0)
                eq(r.status, 483, "%s to bob with Max-Forwards 0" % method)
            bob.no_request("INVITE", 0.3)
            # OPTIONS to sipd itself: answered, whatever Max-Forwards says
            for ruri in ("sip:example.com", "sip:127.0.0.1:%d" % s.port):
                r, _, _ = send_simple(ext, "OPTIONS", ruri, max_forwards=0)
                eq(r.status, 200, "OPTIONS %s with Max-Forwards 0" % ruri)
                check(r.get("allow"), "Allow in the 200 to OPTIONS")
            # Max-Forwards 1 is forwarded with 0
            text, _ = ext.build_request(
                "MESSAGE", "sip:bob@example.com",
                "<%s>;tag=x1" % ext.uri, "<sip:bob@example.com>",
                "mf1@t", 1, max_forwards=1)
            ext.send(text)
            m = bob.expect_request("MESSAGE")
            eq(m.get("max-forwards"), "0", "Max-Forwards after sipd")
            bob.reply(m, 200, "OK")
            eq(ext.expect_response("mf1@t", final=True).status, 200,
               "MESSAGE with Max-Forwards 1 delivered")
            alive(s)
        finally:
            closing(bob, ext)


def joaat(data):
    """libre's hash_joaat (Jenkins one-at-a-time), 32 bits."""
    h = 0
    for b in data.encode():
        h = (h + b) & 0xffffffff
        h = (h + (h << 10)) & 0xffffffff
        h ^= h >> 6
    h = (h + (h << 3)) & 0xffffffff
    h ^= h >> 11
    h = (h + (h << 15)) & 0xffffffff
    return h


def loop_hash(ruri, callid, ftag, ttag, cseq):
    """sipd's "lh" Via parameter (fwd_loop_hash in core/fwd.c)."""
    m = 0xffffffff
    h = joaat(ruri)
    h ^= (joaat(callid) * 31) & m
    h ^= (joaat(ftag) * 17) & m
    h ^= (joaat(ttag) * 13) & m
    h ^= (cseq * 2654435761) & m
    return h


def test_loop_by_static_route_to_itself_482():
    conf = proxy_conf("route loop.test>127.0.0.1:{port}\n")
    with Sipd(conf, accounts=ACCOUNTS) as s:
        alice = caller(s)
        try:
            d = alice.invite("sip:someone@loop.test")
            r = d.final()
            eq(r.status, 482, "a request that comes back unchanged")
            alive(s)
        finally:
            closing(alice)


def test_loop_by_via_hash_482_and_spiral_forwarded():
    """A request that carries sipd's own Via with the loop hash of the
    same request is a loop (482); with another Request-URI it is a
    spiral, and is forwarded."""
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        bob = phone(s, "bob")
        ext = stranger(s)
        try:
            ruri = "sip:bob@example.com"
            for name, target, want in (("loop", ruri, 482),
                                       ("spiral", "sip:carl@elsewhere.test",
                                        None)):
                callid = "%s-%s@t" % (name, rand_token(6))
                ftag = rand_token(6)
                lh = loop_hash(target, callid, ftag, "", 1)
                ours = ("Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s;"
                        "lh=%08x;si=1" % (s.port, rand_token(8), lh))
                text, _ = ext.build_request(
                    "INVITE", ruri, "<%s>;tag=%s" % (ext.uri, ftag),
                    "<%s>" % ruri, callid, 1, body=sdp())
                head, rest = text.split("\r\n", 2)[0:2], \
                    text.split("\r\n", 2)[2]
                text = "\r\n".join(head) + "\r\n" + ours + "\r\n" + rest
                ext.send(text)
                if want:
                    r = ext.expect_response(callid, "INVITE", final=True)
                    eq(r.status, want, "INVITE with sipd's Via (%s)" % name)
                    bob.no_request("INVITE", 0.3)
                else:
                    inc = bob.expect_invite(callid=callid)
                    eq(len(inc.invite_req.all("via")), 3,
                       "Vias of the spiral")
                    inc.reply(486, "Busy Here")
                    eq(ext.expect_response(callid, "INVITE",
                                           final=True).status, 486,
                       "the spiral's answer")
            alive(s)
        finally:
            closing(bob, ext)


def test_proxy_require_420_require_passed():
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        bob = phone(s, "bob")
        ext = stranger(s)
        try:
            r, _, _ = send_simple(ext, "INVITE", "sip:bob@example.com",
                                  headers=["Proxy-Require: x-frobnicate"],
                                  body=sdp())
            eq(r.status, 420, "unknown Proxy-Require option")
            eq(r.get("unsupported"), "x-frobnicate", "Unsupported")
            bob.no_request("INVITE", 0.3)

            # Require is for the UAS: a proxy passes it on
            text, _ = ext.build_request(
                "MESSAGE", "sip:bob@example.com", "<%s>;tag=rq" % ext.uri,
                "<sip:bob@example.com>", "rq@t", 1,
                headers=["Require: x-frobnicate"])
            ext.send(text)
            m = bob.expect_request("MESSAGE")
            eq(m.get("require"), "x-frobnicate", "Require forwarded")
            bob.reply(m, 420, "Bad Extension",
                      headers=["Unsupported: x-frobnicate"])
            r = ext.expect_response("rq@t", final=True)
            eq(r.status, 420, "the UAS's 420 relayed")
            alive(s)
        finally:
            closing(bob, ext)


def sipc_bg(*args):
    import subprocess
    from sipdlib import SIPC
    return subprocess.Popen([SIPC] + list(args), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_407_answered_by_sipc():
    """libre's client (sipc) answers sipd's 407 and its MESSAGE reaches
    bob; sipd consumed the credentials."""
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        bob = phone(s, "bob")
        try:
            p = sipc_bg("-u", "alice", "-p", "secret", "-F",
                        "sip:alice@example.com", "request", "MESSAGE",
                        "127.0.0.1:%d" % s.port, "sip:bob@example.com")
            try:
                m = bob.expect_request("MESSAGE", timeout=5)
                check(m.get("proxy-authorization") is None,
                      "credentials for sipd forwarded to bob")
                eq(m.get("cseq").split()[0], "2",
                   "CSeq of the authenticated MESSAGE")
                bob.reply(m, 200, "OK")
                out, err = p.communicate(timeout=10)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            eq(p.returncode, 0, "sipc exit status (%s %s)" % (out, err))
            check(out.startswith("SIP/2.0 200"), "sipc got: %s" % out)
            alive(s)
        finally:
            closing(bob)


def test_from_other_user_403():
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        bob = phone(s, "bob")
        alice = caller(s)
        try:
            # alice's credentials, bob's From
            d = alice.invite("sip:bob@example.com",
                             frm="<sip:bob@example.com>;tag=fake1")
            r = d.final()
            eq(r.status, 403, "From another local user than the"
               " authenticated one")
            bob.no_request("INVITE", 0.3)
            # the same with libre's client
            rc, msg = sipc("-u", "alice", "-p", "secret", "-F",
                           "sip:carol@example.com", "request", "MESSAGE",
                           "127.0.0.1:%d" % s.port, "sip:bob@example.com")
            check(msg is not None, "sipc got no answer")
            eq(msg.status, 403, "sipc MESSAGE as carol with alice's"
               " credentials")
            alive(s)
        finally:
            closing(alice, bob)


def test_from_user_case_sensitive_host_not():
    """The From user is the authenticated user compared case-sensitively
    (RFC 3261 19.1.4), the host case-insensitively: alice's credentials
    with From Alice or ALICE get 403; From alice@EXAMPLE.COM calls."""
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        bob = phone(s, "bob")
        alice = caller(s)
        try:
            for user in ("Alice", "ALICE"):
                d = alice.invite("sip:bob@example.com",
                                 frm="<sip:%s@example.com>;tag=%s" %
                                 (user, rand_token(8)))
                r = d.final()
                eq(r.status, 403, "INVITE from %s with alice's"
                   " credentials" % user)
            bob.no_request("INVITE", 0.3)
            d = alice.invite("sip:bob@example.com",
                             frm="<sip:alice@EXAMPLE.COM>;tag=%s" %
                             rand_token(8))
            inc = bob.expect_invite()
            inc.reply(486, "Busy Here")
            r = d.final()
            eq(r.status, 486, "INVITE from alice@EXAMPLE.COM")
            alive(s)
        finally:
            closing(alice, bob)


def test_open_relay_refused_403():
    """Strangers get nothing relayed to other domains or hosts: by
    Request-URI, by a pre-loaded Route, or by a local From without
    credentials (challenged)."""
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        trap = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        trap.bind(("127.0.0.1", 0))
        trap_port = trap.getsockname()[1]
        ext = stranger(s)
        try:
            for ruri in ("sip:victim@other.test",
                         "sip:victim@127.0.0.1:%d" % trap_port):
                r, _, _ = send_simple(ext, "INVITE", ruri, body=sdp())
                eq(r.status, 403, "stranger to %s" % ruri)
                eq(r.reason, "Relaying Denied", "reason of the 403")
            r, _, _ = send_simple(
                ext, "INVITE", "sip:bob@example.com", body=sdp(),
                headers=["Route: <sip:127.0.0.1:%d;lr>" % trap_port])
            eq(r.status, 403, "stranger with a pre-loaded Route elsewhere")
            # a local From without credentials is challenged, not relayed
            r, _, _ = send_simple(ext, "INVITE", "sip:victim@other.test",
                                  frm="<sip:alice@example.com>;tag=x",
                                  body=sdp())
            eq(r.status, 407, "local From without credentials")
            trap.settimeout(0.5)
            try:
                data = trap.recv(65535)
                raise TestFailure("sipd relayed to the trap:\n%s" %
                                  data.decode(errors="replace"))
            except socket.timeout:
                pass
            alive(s)
        finally:
            trap.close()
            closing(ext)


def test_unknown_user_404_no_binding_480():
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        alice = caller(s)
        ext = stranger(s)
        try:
            d = alice.invite("sip:nobody@example.com")
            eq(d.final().status, 404, "unknown local user")
            d = alice.invite("sip:carol@example.com")
            eq(d.final().status, 480, "a user without a binding")
            r, _, _ = send_simple(ext, "INVITE", "sip:nobody@example.com",
                                  body=sdp())
            eq(r.status, 404, "unknown local user, from outside")
            r, _, _ = send_simple(ext, "MESSAGE", "sip:carol@example.com")
            eq(r.status, 480, "no binding, from outside")
            alive(s)
        finally:
            closing(alice, ext)


def test_call_from_outside_accepted_without_auth():
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        bob = phone(s, "bob")
        ext = stranger(s, "pat", "outside.test")
        try:
            d = ext.invite("sip:bob@example.com", auth=False)
            eq(d.response().status, 100, "100 Trying, no challenge")
            inc = bob.expect_invite()
            eq(inc.invite_req.get("from"), d.frm, "From kept")
            inc.answer()
            eq(d.final().status, 200, "the call from outside is answered")
            inc.expect_ack()
            d.request("BYE", wait=False)
            inc.expect_and_reply("BYE")
            eq(ext.expect_response(d.callid, "BYE", final=True).status,
               200, "BYE")
            alive(s)
        finally:
            closing(bob, ext)


# --- 10. call and binding events ---------------------------------------------

def reg_add(s, ua, q=None):
    """Bind ua's contact with sipctl (no REGISTER, no binding event)."""
    args = ["reg", "add", ua.aor, ua.contact_uri, "--expires", "300"]
    if q is not None:
        args += ["--q", str(q)]
    r = s.sipctl(*args)
    eq(r.returncode, 0, "sipctl reg add: %s" % r.stderr)


def test_call_events_answered_and_hung_up():
    with Sipd(EVENTLOG_CONF, accounts=ACCOUNTS) as s:
        bob = UA(s, "bob", "secret2")
        reg_add(s, bob)
        alice = caller(s)
        try:
            d = alice.invite("sip:bob@example.com")
            inc = bob.expect_invite()
            inc.answer()
            eq(d.final().status, 200, "answered")
            inc.expect_ack()
            d.request("BYE", wait=False)
            inc.expect_and_reply("BYE")
            alice.expect_response(d.callid, "BYE", final=True)
            want = ["trying", "early", "confirmed", "terminated"]
            wait_events(s, lambda e: e.get("call_id") == d.callid and
                        e.get("state") == "terminated" and
                        e.get("aor") == "bob@example.com", "bob terminated")
            for aor, direction, peer, local, ltag, rtag in (
                    ("alice@example.com", "initiator", "sip:bob@example.com",
                     "sip:alice@example.com", d.local_tag, inc.local_tag),
                    ("bob@example.com", "recipient", "sip:alice@example.com",
                     "sip:bob@example.com", inc.local_tag, d.local_tag)):
                evs = call_events(s, d.callid, aor)
                eq([e["state"] for e in evs], want, "states of %s" % aor)
                for e in evs:
                    eq(e["direction"], direction, "direction of %s" % aor)
                    eq(e["peer"], peer, "peer of %s" % aor)
                    eq(e["local_uri"], local, "local_uri of %s" % aor)
                conf = [e for e in evs if e["state"] == "confirmed"][0]
                eq((conf["local_tag"], conf["remote_tag"]), (ltag, rtag),
                   "tags of %s when confirmed" % aor)
                eq(conf["code"], 200, "code when confirmed")
            eq(call_events(s, aor="carol@example.com"), [],
               "events of a party not in the call")
            alive(s)
        finally:
            closing(alice, bob)


def test_call_events_rejected():
    with Sipd(EVENTLOG_CONF, accounts=ACCOUNTS) as s:
        bob = UA(s, "bob", "secret2")
        reg_add(s, bob)
        alice = caller(s)
        try:
            d = alice.invite("sip:bob@example.com")
            inc = bob.expect_invite()
            inc.reply(180, "Ringing")
            inc.reply(486, "Busy Here")
            inc.expect_ack()
            eq(d.final().status, 486, "rejected")
            wait_events(s, lambda e: e.get("call_id") == d.callid and
                        e.get("state") == "terminated", "terminated")
            time.sleep(0.2)
            for aor, direction in (("alice@example.com", "initiator"),
                                   ("bob@example.com", "recipient")):
                evs = call_events(s, d.callid, aor)
                eq([e["state"] for e in evs],
                   ["trying", "early", "terminated"], "states of %s" % aor)
                eq(evs[-1]["code"], 486, "code of %s's end" % aor)
                eq(set(e["direction"] for e in evs), {direction},
                   "direction of %s" % aor)
            alive(s)
        finally:
            closing(alice, bob)


def test_call_events_cancelled_by_caller():
    with Sipd(EVENTLOG_CONF, accounts=ACCOUNTS) as s:
        bob = UA(s, "bob", "secret2")
        reg_add(s, bob)
        alice = caller(s)
        try:
            d = alice.invite("sip:bob@example.com")
            inc = bob.expect_invite()
            inc.reply(180, "Ringing")
            d.response()
            d.cancel()
            c = bob.expect_request("CANCEL")
            bob.reply(c, 200, "OK")
            inc.reply(487, "Request Terminated")
            eq(d.final().status, 487, "cancelled")
            ev = wait_events(s, lambda e: e.get("call_id") == d.callid and
                             e.get("state") == "terminated" and
                             e.get("aor") == "bob@example.com",
                             "bob terminated")
            eq(ev[-1]["code"], 487, "code of the end")
            eq(states(s, d.callid, "alice@example.com")[-1], "terminated",
               "alice's last state")
            alive(s)
        finally:
            closing(alice, bob)


def test_binding_events():
    """binding-added, -refreshed and -removed in the event log (and sipd
    survives them)."""
    with Sipd(EVENTLOG_CONF, accounts=ACCOUNTS) as s:
        bob = UA(s, "bob", "secret2")
        try:
            bob.register(expires=300)
            alive(s)
            bob.register(expires=600)
            bob.register(expires=0)
            wait_events(s, lambda e: e.get("event") == "binding-removed",
                        "binding-removed")
            evs = [e for e in events(s) if e["event"].startswith("binding")]
            eq([e["event"] for e in evs],
               ["binding-added", "binding-refreshed", "binding-removed"],
               "binding events")
            for e in evs:
                eq((e["aor"], e["contact"]), ("bob@example.com",
                                              bob.contact_uri),
                   "aor and contact of %s" % e["event"])
            alive(s)
        finally:
            closing(bob)


# --- more of RFC 3261 16 -----------------------------------------------------

def test_max_forwards_absent_added_as_70():
    """16.6 step 3: a request without Max-Forwards is forwarded with
    Max-Forwards 70 (the proxy adds one; it decrements only one it got)."""
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        bob = phone(s, "bob")
        ext = stranger(s)
        try:
            text, _ = ext.build_request("MESSAGE", "sip:bob@example.com",
                                        "<%s>;tag=nomf" % ext.uri,
                                        "<sip:bob@example.com>", "nomf@t", 1)
            text = re.sub(r"Max-Forwards: 70\r\n", "", text)
            ext.send(text)
            m = bob.expect_request("MESSAGE")
            bob.reply(m, 200, "OK")
            eq(m.get("max-forwards"), "70", "Max-Forwards added by sipd")
        finally:
            closing(bob, ext)


def test_strict_router_request():
    """16.4: a request from a strict router names sipd in the
    Request-URI and the real target in the last Route: sipd puts that
    value back in the Request-URI."""
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        bob = phone(s, "bob")
        ext = stranger(s)
        try:
            callid = "strict@t"
            text, _ = ext.build_request(
                "BYE", "sip:127.0.0.1:%d" % s.port,
                "<%s>;tag=st1" % ext.uri, "<sip:bob@example.com>;tag=st2",
                callid, 5, routes=["<%s>" % bob.contact_uri])
            ext.send(text)
            m = bob.expect_request("BYE")
            eq(m.start, "BYE %s SIP/2.0" % bob.contact_uri,
               "the Request-URI taken from the last Route")
            eq(m.all("route"), [], "the last Route removed")
            bob.reply(m, 200, "OK")
            eq(ext.expect_response(callid, "BYE", final=True).status, 200,
               "BYE answered")
            alive(s)
        finally:
            closing(bob, ext)


def test_path_of_registration_honoured():
    """A binding registered through an edge proxy (Path, RFC 3327) is
    reached through it: sent to the Path's address with the Path as
    Route."""
    with Sipd(PROXY_CONF, accounts=ACCOUNTS) as s:
        edge = UA(s, "edge", None, domain="edge.test")
        bob = UA(s, "bob", "secret2")
        alice = caller(s)
        path = "<sip:127.0.0.1:%d;lr>" % edge.local[1]
        try:
            bob.register(extra=["Path: " + path, "Supported: path"])
            d = alice.invite("sip:bob@example.com")
            inv = edge.expect_request("INVITE")
            eq(inv.start.split()[1], bob.contact_uri, "Request-URI")
            eq(inv.all("route"), [path], "the Path as Route")
            bob.no_request("INVITE", 0.3)
            edge.reply(inv, 486, "Busy Here")
            eq(d.final().status, 486, "answer through the edge")
            alive(s)
        finally:
            closing(alice, bob, edge)


AUTH_OFF = "listen udp:127.0.0.1:{port2};roles=proxy;auth=off\n"


def test_auth_off_socket_trusts_everyone():
    """A socket with auth=off: local callers need no credentials,
    requests elsewhere are relayed, and in-dialog requests without a
    Route go by their Request-URI."""
    with Sipd(PROXY_CONF + AUTH_OFF, accounts=ACCOUNTS) as s:
        bob = phone(s, "bob")
        other = UA(s, "carl", None, domain="127.0.0.1")
        alice = UA(s, "alice", None, server=s.addr2)
        ext = UA(s, "mallory", None, domain="evil.test", server=s.addr2)
        try:
            d = alice.invite("sip:bob@example.com", auth=False)
            eq(d.response().status, 100, "no challenge on auth=off")
            inc = bob.expect_invite()
            eq(rr_uris(inc.invite_req),
               ["sip:127.0.0.1:%d;lr" % s.port,
                "sip:127.0.0.1:%d;lr" % s.port2],
               "two Record-Route values: the request changed socket")
            inc.reply(486, "Busy Here")
            eq(d.final().status, 486, "answered")

            target = "sip:carl@127.0.0.1:%d" % other.local[1]
            r = ext.invite(target, auth=False)
            inv = other.expect_request("INVITE")
            other.reply(inv, 404, "Not Found")
            eq(r.final().status, 404, "relayed for a stranger on auth=off")

            text, _ = ext.build_request(
                "BYE", target, "<%s>;tag=a1" % ext.uri,
                "<%s>;tag=b1" % target, "indlg@t", 3)
            ext.send(text)
            bye = other.expect_request("BYE")
            other.reply(bye, 200, "OK")
            eq(ext.expect_response("indlg@t", final=True).status, 200,
               "in-dialog BYE without Route, by Request-URI")
            alive(s)
        finally:
            closing(bob, other, alice, ext)


def test_timer_c_setting_checked():
    """proxy_timer_c takes 10 to 3600 seconds; sipd refuses others."""
    for value in ("9", "3601", "abc"):
        s = Sipd(proxy_conf("proxy_timer_c %s\n" % value), accounts=ACCOUNTS,
                 start=False)
        try:
            try:
                s.start(timeout=3)
                started = True
            except TestFailure:
                started = False
            check(not started, "sipd started with proxy_timer_c %s" % value)
            check("proxy_timer_c" in s.log(), "the error does not name the"
                  " key:\n%s" % s.log()[-500:])
        finally:
            s.close()


def extension_method_reaches_bob(roles):
    """A method sipd does not know (NEWMETHOD), to a user of a served
    domain on a proxy socket, goes to the user's contacts (RFC 3261 16:
    a proxy forwards methods it does not know), and the answer back;
    an unknown method to the server itself still gets 501 from a socket
    with no proxy role."""
    with Sipd(proxy_conf(roles=roles), accounts=ACCOUNTS) as s:
        bob = phone(s, "bob")
        ext = stranger(s)
        try:
            text, _ = ext.build_request(
                "NEWMETHOD", "sip:bob@example.com",
                "<%s>;tag=nm1" % ext.uri, "<sip:bob@example.com>",
                "newmethod@t", 1)
            ext.send(text)
            m = bob.expect_request("NEWMETHOD")
            eq(m.start.split()[0], "NEWMETHOD", "the method forwarded")
            eq(m.get("max-forwards"), "69", "Max-Forwards after sipd")
            bob.reply(m, 200, "OK")
            r = ext.expect_response("newmethod@t", final=True)
            eq(r.status, 200, "bob's answer to NEWMETHOD through %s" % roles)
            alive(s)
        finally:
            closing(bob, ext)


def test_extension_method_forwarded_stateful():
    extension_method_reaches_bob("registrar,proxy")


def test_extension_method_forwarded_stateless():
    extension_method_reaches_bob("registrar,stateless-proxy")
