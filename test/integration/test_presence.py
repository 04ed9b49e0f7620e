"""Presence role (issue 4): SUBSCRIBE/NOTIFY (RFC 6665), PUBLISH (RFC
3903), the presence (RFC 3856/3863), dialog (RFC 4235), reg (RFC 3680)
and presence.winfo (RFC 3857/3858) packages, authorization, policy,
limits, rate limiting and the sipctl views.

Every watcher and publisher is a scripted user agent (class PUA below,
built on test_proxy.UA) that writes each byte itself and answers the
NOTIFYs sipd sends (200 by default, or whatever a test asks for). The
documents in the NOTIFY bodies are parsed with xml.etree; the state sipd
keeps is read with sipctl (sub list --json, pub list, presence show) and
from the database.

The helpers at the top (PRES_CONF, PUA, Sub, pidf(), parse_pidf() and
the others) are shared with test_presence_restart.py and
test_baresip_presence.py.
"""

import json
import os
import re
import sys
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from sipdlib import (Sipd, Msg, TestFailure, check, eq, param,  # noqa
                     parse_challenge, digest_header, rand_token,
                     free_port, start_refused, wait_for)
from test_proxy import (UA, DOMAIN, sdp, tag_of, uri_of,  # noqa: E402
                        new_branch, closing, alive, wait_events)

# registrar, presence and proxy on UDP and TCP of one address: presence
# before proxy, so that SUBSCRIBE and PUBLISH for local users reach it
PRES_CONF = """\
# presence integration test configuration
domain example.com
db {db}
log_level debug
module location
module auth
module eventlog
eventlog_file {dir}/events.log
listen udp:127.0.0.1:{port};roles=registrar,presence,proxy
listen tcp:127.0.0.1:{port};roles=registrar,presence,proxy
listen udp:127.0.0.1:{port2};roles=registrar,presence,proxy;auth=off
registrar_min_expires 1
location_expire_interval 200
auth_nonce_expiry 300
"""

ACCOUNTS = (("alice@example.com", "secret"), ("bob@example.com", "secret2"),
            ("carol@example.com", "secret3"), ("dave@example.com", "secret4"))
PASSWORDS = dict((a.split("@")[0], p) for a, p in ACCOUNTS)

NS_PIDF = "urn:ietf:params:xml:ns:pidf"
NS_DM = "urn:ietf:params:xml:ns:pidf:data-model"
NS_RPID = "urn:ietf:params:xml:ns:pidf:rpid"
NS_DLG = "urn:ietf:params:xml:ns:dialog-info"
NS_REG = "urn:ietf:params:xml:ns:reginfo"
NS_WINFO = "urn:ietf:params:xml:ns:watcherinfo"

CTYPES = {"presence": "application/pidf+xml",
          "dialog": "application/dialog-info+xml",
          "reg": "application/reginfo+xml",
          "presence.winfo": "application/watcherinfo+xml"}


def pres_conf(extra="", base=PRES_CONF):
    """PRES_CONF and more lines (key value pairs)."""
    return base + extra


# --- documents ---------------------------------------------------------------

def pidf(entity, tuples=(("t1", "open", None),), activities=(),
         person_id="p1", note=None):
    """A PIDF document: tuples are (id, basic, note); activities are RPID
    activity names of a person element."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<presence xmlns="%s" xmlns:dm="%s" xmlns:rpid="%s"'
           ' entity="sip:%s">' % (NS_PIDF, NS_DM, NS_RPID, entity)]
    for tid, basic, tnote in tuples:
        out.append('  <tuple id="%s"><status><basic>%s</basic></status>'
                   % (tid, basic))
        if tnote:
            out.append('    <note>%s</note>' % tnote)
        out.append('  </tuple>')
    if activities:
        out.append('  <dm:person id="%s"><rpid:activities>%s'
                   '</rpid:activities></dm:person>' % (
                       person_id, "".join("<rpid:%s/>" % a
                                          for a in activities)))
    if note:
        out.append('  <note>%s</note>' % note)
    out.append('</presence>')
    return "\n".join(out) + "\n"


def xml_of(body, what="body"):
    try:
        return ET.fromstring(body.encode())
    except ET.ParseError as e:
        raise TestFailure("%s is not well-formed XML (%s):\n%s" % (
            what, e, body))


class Pidf:
    """A parsed PIDF document: entity, tuples {id: basic}, tuple notes,
    RPID activities of every person element, the raw text."""

    def __init__(self, body):
        self.raw = body
        root = xml_of(body, "PIDF")
        eq(root.tag, "{%s}presence" % NS_PIDF, "root element of the PIDF")
        self.entity = root.get("entity")
        self.tuples = {}
        self.notes = {}
        self.tuple_ids = [t.get("id") for t in
                          root.findall("{%s}tuple" % NS_PIDF)]
        self.person_ids = [p.get("id") for p in
                           root.findall("{%s}person" % NS_DM)]
        for t in root.findall("{%s}tuple" % NS_PIDF):
            basic = t.find("{%s}status/{%s}basic" % (NS_PIDF, NS_PIDF))
            self.tuples[t.get("id")] = basic.text.strip() \
                if basic is not None and basic.text else None
            n = t.find("{%s}note" % NS_PIDF)
            if n is not None:
                self.notes[t.get("id")] = n.text
        self.activities = set()
        self.persons = root.findall("{%s}person" % NS_DM)
        for p in self.persons:
            for acts in p.findall("{%s}activities" % NS_RPID):
                for a in acts:
                    self.activities.add(a.tag.split("}")[-1])

    def basics(self):
        return set(self.tuples.values())

    def __repr__(self):
        return "<Pidf %s tuples=%s activities=%s>" % (
            self.entity, self.tuples, sorted(self.activities))


def parse_dialoginfo(body):
    """(root attributes, [dict per dialog: id, call-id, direction,
    state, local-tag, remote-tag, local, remote])"""
    root = xml_of(body, "dialog-info")
    eq(root.tag, "{%s}dialog-info" % NS_DLG, "root of dialog-info")
    out = []
    for d in root.findall("{%s}dialog" % NS_DLG):
        st = d.find("{%s}state" % NS_DLG)
        loc = d.find("{%s}local/{%s}identity" % (NS_DLG, NS_DLG))
        rem = d.find("{%s}remote/{%s}identity" % (NS_DLG, NS_DLG))
        item = dict(d.attrib)
        item["state"] = st.text.strip() if st is not None else None
        item["local"] = loc.text if loc is not None else None
        item["remote"] = rem.text if rem is not None else None
        out.append(item)
    return dict(root.attrib), out


def parse_reginfo(body):
    """(root attributes, [registration dicts with a "contacts" list of
    dicts: id, state, event, expires, uri])"""
    root = xml_of(body, "reginfo")
    eq(root.tag, "{%s}reginfo" % NS_REG, "root of reginfo")
    regs = []
    for r in root.findall("{%s}registration" % NS_REG):
        item = dict(r.attrib)
        item["contacts"] = []
        for c in r.findall("{%s}contact" % NS_REG):
            ci = dict(c.attrib)
            u = c.find("{%s}uri" % NS_REG)
            ci["uri"] = u.text if u is not None else None
            item["contacts"].append(ci)
        regs.append(item)
    return dict(root.attrib), regs


def parse_winfo(body):
    """(root attributes, {watcher URI: (status, event)}, list attrs)"""
    root = xml_of(body, "watcherinfo")
    eq(root.tag, "{%s}watcherinfo" % NS_WINFO, "root of watcherinfo")
    out, lists = {}, []
    for wl in root.findall("{%s}watcher-list" % NS_WINFO):
        lists.append(dict(wl.attrib))
        for w in wl.findall("{%s}watcher" % NS_WINFO):
            out[(w.text or "").strip()] = (w.get("status"), w.get("event"))
    return dict(root.attrib), out, lists


# --- a presence user agent ---------------------------------------------------

class Notify:
    """A NOTIFY received: the Msg, its Subscription-State (state, reason,
    expires), Event, CSeq number and body."""

    def __init__(self, msg):
        self.msg = msg
        ss = msg.get("subscription-state", "")
        self.sub_state = ss
        self.state = ss.split(";")[0].strip().lower()
        self.reason = param(ss, "reason")
        exp = param(ss, "expires")
        self.expires = int(exp) if exp is not None else None
        self.event = msg.get("event", "")
        self.cseq = int(msg.get("cseq", "0 NOTIFY").split()[0])
        self.body = msg.body
        self.ctype = (msg.get("content-type") or "").split(";")[0].strip()

    def pidf(self):
        check(self.body, "NOTIFY without a PIDF body:\n%s" % self.msg.raw)
        eq(self.ctype, "application/pidf+xml", "Content-Type of NOTIFY")
        return Pidf(self.body)

    def __repr__(self):
        return "<Notify %s %s cseq=%d %d bytes>" % (
            self.event, self.sub_state, self.cseq, len(self.body))


class PUA(UA):
    """A user agent that subscribes and publishes. Every NOTIFY is
    answered at once with notify_code (200 unless a test changes it;
    None: the test answers itself), and kept in the backlog for the
    waits."""

    def __init__(self, s, user, password=None, domain=DOMAIN,
                 transport="udp", server=None, **kw):
        if password is None:
            password = PASSWORDS.get(user)
        UA.__init__(self, s, user, password, transport=transport,
                    domain=domain, server=server, **kw)
        self.notify_code = 200
        self.chall = None
        self.nc = 0
        self.challenged = []        # 401s received

    def _next(self, timeout):
        m = UA._next(self, timeout)
        if m is not None and not m.is_response and m.method == "NOTIFY" \
                and self.notify_code:
            reason = {200: "OK", 481: "Subscription Does Not Exist",
                      500: "Server Internal Error",
                      503: "Service Unavailable",
                      408: "Request Timeout"}.get(self.notify_code, "X")
            self.reply(m, self.notify_code, reason)
        return m

    def build(self, method, ruri, frm, to, callid, cseq, headers=(),
              body="", ctype=None, routes=(), contact=True, branch=None):
        branch = branch or new_branch()
        lines = ["%s %s SIP/2.0" % (method, ruri),
                 "Via: %s" % self.via(branch),
                 "Max-Forwards: 70"]
        lines += ["Route: %s" % r for r in routes]
        lines += ["From: %s" % frm, "To: %s" % to,
                  "Call-ID: %s" % callid, "CSeq: %d %s" % (cseq, method)]
        if contact:
            lines.append("Contact: %s" % self.contact)
        lines.append("User-Agent: sipd-presence-test")
        lines += list(headers)
        if body:
            lines.append("Content-Type: %s" % (ctype or
                                               "application/pidf+xml"))
        lines.append("Content-Length: %d" % len(body.encode()))
        return "\r\n".join(lines) + "\r\n\r\n" + body

    def auth_header(self, method, ruri):
        self.nc += 1
        return "Authorization: " + digest_header(
            self.chall, method, ruri, self.user, self.password, nc=self.nc)

    def transaction(self, method, ruri, frm, to, callid, cseq, headers=(),
                    body="", ctype=None, routes=(), auth=True,
                    contact=True, timeout=5.0):
        """Send a request and return (final response, last CSeq): a 401
        is answered once with credentials when auth is set and the UA
        has a password. Credentials of an earlier challenge are sent at
        once (nonce count incremented)."""
        hdrs = list(headers)
        first = hdrs
        if auth and self.password and self.chall:
            first = hdrs + [self.auth_header(method, ruri)]
        text = self.build(method, ruri, frm, to, callid, cseq, first, body,
                          ctype, routes, contact)
        self.send(text)
        self.last_sent = text
        r = self.expect_response(callid, method, final=True,
                                 timeout=timeout)
        if r.status == 401:
            self.challenged.append(r)
        if r.status == 407 and auth and self.password:
            # a request the proxy role forwards: Proxy-Authorization
            chall = parse_challenge(r.all("proxy-authenticate")[0])
            cseq += 1
            cred = "Proxy-Authorization: " + digest_header(
                chall, method, ruri, self.user, self.password)
            text = self.build(method, ruri, frm, to, callid, cseq,
                              hdrs + [cred], body, ctype, routes, contact)
            self.send(text)
            self.last_sent = text
            r = self.expect_response(callid, method, final=True,
                                     timeout=timeout)
        if r.status == 401 and auth and self.password:
            chall = None
            for v in r.all("www-authenticate"):
                c = parse_challenge(v)
                if chall is None or c.get("algorithm", "MD5").upper() == \
                        "MD5":
                    chall = c
            check(chall, "401 without WWW-Authenticate:\n%s" % r.raw)
            self.chall, self.nc = chall, 0
            cseq += 1
            text = self.build(method, ruri, frm, to, callid, cseq,
                              hdrs + [self.auth_header(method, ruri)],
                              body, ctype, routes, contact)
            self.send(text)
            self.last_sent = text
            r = self.expect_response(callid, method, final=True,
                                     timeout=timeout)
        return r, cseq

    # -- PUBLISH ------------------------------------------------------------

    def publish(self, body=None, etag=None, expires=None, target=None,
                ctype="application/pidf+xml", event="presence", auth=True,
                headers=()):
        """A PUBLISH for target (this UA's AOR by default); returns the
        final response."""
        target = target or self.aor
        ruri = "sip:" + target
        hdrs = ["Event: %s" % event] if event else []
        if etag:
            hdrs.append("SIP-If-Match: %s" % etag)
        if expires is not None:
            hdrs.append("Expires: %d" % expires)
        hdrs += list(headers)
        callid = rand_token(16) + "@pub"
        frm = "<%s>;tag=%s" % (self.uri, rand_token(8))
        r, _ = self.transaction("PUBLISH", ruri, frm, "<%s>" % ruri,
                                callid, 1, hdrs, body or "", ctype,
                                auth=auth, contact=False)
        return r

    def subscription(self, presentity, event="presence"):
        return Sub(self, presentity, event)

    def notifies(self, callid):
        return [Notify(m) for m in self.received
                if not m.is_response and m.method == "NOTIFY" and
                m.get("call-id") == callid]


class Sub:
    """One subscription of a PUA, the subscriber's side of the dialog."""

    def __init__(self, ua, presentity, event="presence"):
        self.ua = ua
        self.presentity = presentity
        self.event = event
        self.callid = rand_token(16) + "@sub"
        self.ftag = rand_token(8)
        self.cseq = 0
        self.remote_tag = None
        self.route_set = []
        self.target = None
        self.ruri = "sip:" + presentity
        self.responses = []
        self.got = []               # Notify objects, in arrival order

    @property
    def frm(self):
        return "<%s>;tag=%s" % (self.ua.uri, self.ftag)

    @property
    def to(self):
        t = "<sip:%s>" % self.presentity
        return t + (";tag=%s" % self.remote_tag if self.remote_tag else "")

    def subscribe(self, expires=None, headers=(), auth=True, frm=None,
                  accept=True):
        """The initial SUBSCRIBE (401 answered); its final response. A
        2xx sets up the dialog."""
        hdrs = ["Event: %s" % self.event] if self.event else []
        if accept and self.event in CTYPES:
            hdrs.append("Accept: %s" % CTYPES[self.event])
        if expires is not None:
            hdrs.append("Expires: %d" % expires)
        hdrs += list(headers)
        self.cseq += 1
        r, self.cseq = self.ua.transaction(
            "SUBSCRIBE", self.ruri, frm or self.frm, self.to, self.callid,
            self.cseq, hdrs, auth=auth)
        self.responses.append(r)
        if 200 <= r.status < 300:
            self.remote_tag = tag_of(r.get("to"))
            self.route_set = list(reversed(r.all("record-route")))
            self.target = uri_of(r.get("contact", "<>"))
        return r

    def refresh(self, expires=None, headers=(), cseq=None, auth=True):
        """A SUBSCRIBE in the dialog (to the remote target, by the route
        set); its final response."""
        hdrs = ["Event: %s" % self.event]
        if expires is not None:
            hdrs.append("Expires: %d" % expires)
        hdrs += list(headers)
        self.cseq = cseq if cseq is not None else self.cseq + 1
        r, self.cseq = self.ua.transaction(
            "SUBSCRIBE", self.target or self.ruri, self.frm, self.to,
            self.callid, self.cseq, hdrs, routes=self.route_set,
            auth=auth)
        self.responses.append(r)
        return r

    def unsubscribe(self):
        return self.refresh(expires=0)

    def notify(self, timeout=3.0, pred=None, what="NOTIFY"):
        """The next NOTIFY of this subscription (pred: one that matches,
        the others before it are kept in .got and skipped)."""
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            m = self.ua.wait(lambda m: not m.is_response and
                             m.method == "NOTIFY" and
                             m.get("call-id") == self.callid,
                             "%s of %s (%s)" % (what, self.presentity,
                                                self.event),
                             max(0.0, left), fail=False)
            if m is None:
                raise TestFailure("%s: no %s for %s (%s) within %.1f s;"
                                  " NOTIFYs so far: %s; received: %s%s" % (
                                      self.ua.aor, what, self.presentity,
                                      self.event, timeout, self.got,
                                      self.ua.describe(),
                                      sipd_state(self.ua.s)))
            n = Notify(m)
            self.check_dialog(n)
            self.got.append(n)
            if pred is None or pred(n):
                return n

    def no_notify(self, timeout=1.0):
        m = self.ua.wait(lambda m: not m.is_response and
                         m.method == "NOTIFY" and
                         m.get("call-id") == self.callid, "NOTIFY",
                         timeout, fail=False)
        check(m is None, "%s: unexpected NOTIFY for %s:\n%s" % (
            self.ua.aor, self.presentity, m.raw if m else ""))

    def notify_count(self, timeout):
        """Collect NOTIFYs for timeout seconds; the list."""
        out = []
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            if left <= 0:
                return out
            m = self.ua.wait(lambda m: not m.is_response and
                             m.method == "NOTIFY" and
                             m.get("call-id") == self.callid, "NOTIFY",
                             left, fail=False)
            if m is None:
                return out
            n = Notify(m)
            self.check_dialog(n)
            self.got.append(n)
            out.append(n)

    def check_dialog(self, n):
        """What every NOTIFY of the dialog must carry (RFC 6665 4.2.2)."""
        m = n.msg
        eq(m.get("call-id"), self.callid, "Call-ID of the NOTIFY")
        eq(tag_of(m.get("to")), self.ftag, "To tag of the NOTIFY")
        eq(uri_of(m.get("to")), self.ua.uri, "To URI of the NOTIFY")
        if self.remote_tag:
            eq(tag_of(m.get("from")), self.remote_tag,
               "From tag of the NOTIFY (the To tag of the 200)")
        eq(n.event.split(";")[0].strip(), self.event, "Event of the NOTIFY")
        check(m.get("contact"), "NOTIFY without Contact:\n" + m.raw)
        check(n.state in ("active", "pending", "terminated"),
              "Subscription-State %r" % n.sub_state)
        if self.got:
            check(n.cseq > self.got[-1].cseq,
                  "CSeq of the NOTIFYs must grow: %d after %d" % (
                      n.cseq, self.got[-1].cseq))


def sipd_state(s):
    if s is None:
        return ""
    if not s.alive():
        return "\nsipd is dead:\n" + s.log()[-2000:]
    return ""


def sub_list(s, aor=None):
    """sipctl sub list --json"""
    args = ["sub", "list"] + ([aor] if aor else []) + ["--json"]
    r = s.sipctl(*args)
    eq(r.returncode, 0, "sipctl sub list: %s" % r.stderr)
    try:
        return json.loads(r.stdout)
    except ValueError:
        raise TestFailure("sipctl sub list --json is not JSON:\n%s"
                          % r.stdout)


def sctl(s, *args):
    r = s.sipctl(*args)
    eq(r.returncode, 0, "sipctl %s: %s%s" % (" ".join(args), r.stderr,
                                             r.stdout))
    return r.stdout


def presence_sub(ua, presentity, event="presence", expires=None,
                 state="active"):
    """Subscribe (with auth), check the 200 (also for a pending one: RFC
    6665 deprecates 202), and return (Sub, the first NOTIFY)."""
    sub = ua.subscription(presentity, event)
    r = sub.subscribe(expires=expires)
    eq(r.status, 200, "SUBSCRIBE %s (%s) by %s: %s" % (
        presentity, event, ua.aor, r.start))
    n = sub.notify(what="first NOTIFY")
    eq(n.state, state, "Subscription-State of the first NOTIFY")
    return sub, n


def publish_ok(ua, body, **kw):
    r = ua.publish(body, **kw)
    eq(r.status, 200, "PUBLISH by %s: %s" % (ua.aor, r.start))
    etag = r.get("sip-etag")
    check(etag, "200 to PUBLISH without SIP-ETag:\n" + r.raw)
    return r, etag


# --- PUBLISH then SUBSCRIBE --------------------------------------------------

def test_publish_then_subscribe_sees_pidf():
    """bob publishes away with a note; alice subscribes and the first
    NOTIFY carries bob's tuple and activity, with the headers of RFC
    6665 and 3856."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        bob = PUA(s, "bob")
        alice = PUA(s, "alice")
        try:
            r, etag = publish_ok(bob, pidf("bob@example.com",
                                           (("bob-desk", "open", "Lunch"),),
                                           activities=("away",)),
                                 expires=600)
            eq(r.get("expires"), "600", "Expires of the PUBLISH 200")
            check(bob.challenged, "PUBLISH was not challenged (401)")

            sub = alice.subscription("bob@example.com")
            r = sub.subscribe(expires=600)
            eq(r.status, 200, "SUBSCRIBE")
            check(alice.challenged, "SUBSCRIBE was not challenged (401)")
            eq(r.get("expires"), "600", "Expires of the 200")
            check(sub.remote_tag, "200 to SUBSCRIBE without To tag")
            check(r.get("contact"), "200 to SUBSCRIBE without Contact")
            check("presence" in (r.get("allow-events") or ""),
                  "Allow-Events of the 200: %r" % r.get("allow-events"))

            n = sub.notify()
            eq(n.state, "active", "Subscription-State")
            check(n.expires is not None and 590 <= n.expires <= 600,
                  "expires of Subscription-State: %r" % n.sub_state)
            eq(n.event, "presence", "Event")
            eq(n.msg.start.split()[1], alice.contact_uri,
               "Request-URI of the NOTIFY: the subscriber's Contact")
            eq(n.msg.src, s.addr, "the NOTIFY came from sipd's socket")
            p = n.pidf()
            eq(p.entity, "sip:bob@example.com", "entity")
            eq(p.tuples, {"bob-desk": "open"}, "tuples")
            eq(p.notes.get("bob-desk"), "Lunch", "note of the tuple")
            eq(p.activities, {"away"}, "activities")
            alive(s)
        finally:
            closing(alice, bob)


def pub_rows(s, aor):
    return s.query("SELECT etag, expires - strftime('%s','now'), body"
                   " FROM publications WHERE presentity = ? ORDER BY id",
                   (aor,))


def test_publish_refresh_modify_remove_by_etag():
    """RFC 3903: a refresh (SIP-If-Match, no body) keeps the document and
    changes nothing watchers see, a modify replaces it and is notified, a
    remove (Expires: 0) ends it; each answer has a new SIP-ETag, and the
    old tags are no longer valid (412)."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        bob = PUA(s, "bob")
        alice = PUA(s, "alice")
        try:
            _, e1 = publish_ok(bob, pidf("bob@example.com",
                                         (("dev1", "open", "first"),)),
                               expires=100)
            rows = pub_rows(s, "bob@example.com")
            eq(len(rows), 1, "publications after the first PUBLISH")
            eq(rows[0][0], e1, "ETag stored")

            sub, n = presence_sub(alice, "bob@example.com")
            eq(n.pidf().notes, {"dev1": "first"}, "the published note")

            # refresh: no body, new tag, longer expiry, no NOTIFY
            r, e2 = publish_ok(bob, None, etag=e1, expires=900)
            check(e2 != e1, "a refresh must give a new SIP-ETag (RFC 3903"
                  " 6): got %s again" % e2)
            eq(r.get("expires"), "900", "Expires of the refresh")
            rows = pub_rows(s, "bob@example.com")
            eq([x[0] for x in rows], [e2], "ETag after the refresh")
            check(rows[0][1] > 800, "expiry after the refresh: %s" %
                  rows[0][1])
            check("first" in rows[0][2], "the body is kept on refresh")
            sub.no_notify(1.5)

            # the old tag is gone
            r = bob.publish(None, etag=e1, expires=900)
            eq(r.status, 412, "refresh with the replaced ETag")

            # modify: new body, new tag, NOTIFY with it
            _, e3 = publish_ok(bob, pidf("bob@example.com",
                                         (("dev1", "closed", "second"),)),
                               etag=e2, expires=900)
            check(e3 not in (e1, e2), "a modify gives a new SIP-ETag")
            n = sub.notify(what="NOTIFY after the modify")
            p = n.pidf()
            eq(p.tuples, {"dev1": "closed"}, "tuples after the modify")
            eq(p.notes, {"dev1": "second"}, "note after the modify")
            eq(len(pub_rows(s, "bob@example.com")), 1,
               "a modify replaces the publication")

            # remove: Expires 0
            r = bob.publish(None, etag=e3, expires=0)
            eq(r.status, 200, "remove")
            eq(r.get("expires"), "0", "Expires of the 200 to a remove")
            eq(pub_rows(s, "bob@example.com"), [], "publications after"
               " the remove")
            n = sub.notify(what="NOTIFY after the remove")
            p = n.pidf()
            check("dev1" not in p.tuples, "the removed tuple is gone: %s"
                  % p.raw)
            # nothing published, no binding: the registration tuple
            eq(p.basics(), {"closed"}, "composed state after the remove")

            # the removed tag is unknown, and so is an invented one
            r = bob.publish(None, etag=e3, expires=60)
            eq(r.status, 412, "refresh of a removed publication")
            r = bob.publish(pidf("bob@example.com"), etag="nosuchtag",
                            expires=60)
            eq(r.status, 412, "modify with an unknown ETag")
            eq(pub_rows(s, "bob@example.com"), [], "a 412 creates nothing")
            alive(s)
        finally:
            closing(alice, bob)


def test_publish_etag_of_other_presentity_412():
    """An entity tag names one publication of one presentity: carol
    cannot refresh bob's with it (412, bob's stays)."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        bob = PUA(s, "bob")
        carol = PUA(s, "carol")
        try:
            _, e1 = publish_ok(bob, pidf("bob@example.com"), expires=100)
            r = carol.publish(pidf("carol@example.com"), etag=e1,
                              expires=100)
            eq(r.status, 412, "carol's PUBLISH with bob's ETag")
            eq([x[0] for x in pub_rows(s, "bob@example.com")], [e1],
               "bob's publication untouched")
            eq(pub_rows(s, "carol@example.com"), [], "nothing for carol")
        finally:
            closing(bob, carol)


def test_same_tuple_id_in_two_publications_newest_wins():
    """Two publications of one presentity that carry the same tuple id
    (one device that lost its entity tag and published anew, as
    baresip 1.0.0 does when its first PUBLISH races its REGISTER): the
    composed PIDF must stay valid (tuple and person ids unique, RFC 3863
    4.1.2 and RFC 4479) and show the newer publication's state, not the
    stale one first."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        bob = PUA(s, "bob")
        alice = PUA(s, "alice")
        try:
            publish_ok(bob, pidf("bob@example.com",
                                 (("t4109", "open", "old"),),
                                 activities=("away",),
                                 person_id="p4159"), expires=600)
            time.sleep(1.1)
            publish_ok(bob, pidf("bob@example.com",
                                 (("t4109", "closed", "new"),),
                                 activities=("busy",),
                                 person_id="p4159"), expires=600)
            eq(len(pub_rows(s, "bob@example.com")), 2, "two publications")
            sub, n = presence_sub(alice, "bob@example.com")
            p = n.pidf()
            eq(sorted(p.tuple_ids), sorted(set(p.tuple_ids)),
               "tuple ids of the composed PIDF must be unique:\n%s" %
               p.raw)
            eq(sorted(p.person_ids), sorted(set(p.person_ids)),
               "person ids of the composed PIDF must be unique:\n%s" %
               p.raw)
            eq(p.tuples, {"t4109": "closed"}, "the newest publication"
               " of tuple t4109 wins")
            eq(p.notes, {"t4109": "new"}, "note")
        finally:
            closing(alice, bob)


def test_publication_expires_and_is_notified():
    """A publication that is not refreshed ends at its expiry; watchers
    get the composed state without it."""
    conf = pres_conf("presence_min_expires 2\n")
    with Sipd(conf, accounts=ACCOUNTS) as s:
        bob = PUA(s, "bob")
        alice = PUA(s, "alice")
        try:
            _, etag = publish_ok(bob, pidf("bob@example.com",
                                           (("short", "open", None),),
                                           activities=("busy",)), expires=2)
            sub, n = presence_sub(alice, "bob@example.com")
            eq(n.pidf().tuples, {"short": "open"}, "published tuple")
            n = sub.notify(timeout=5, what="NOTIFY after the expiry")
            p = n.pidf()
            check("short" not in p.tuples and not p.activities,
                  "expired publication still notified: %s" % p.raw)
            eq(p.basics(), {"closed"}, "state after the expiry")
            eq(pub_rows(s, "bob@example.com"), [], "expired row removed")
            r = bob.publish(None, etag=etag, expires=60)
            eq(r.status, 412, "refresh after the expiry")
        finally:
            closing(alice, bob)


def test_two_devices_compose_one_document():
    """Two publishers (a desk phone and a softphone) of one presentity:
    both tuples in one PIDF, the person element kept; removing one
    leaves the other."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        desk = PUA(s, "bob")
        soft = PUA(s, "bob")
        alice = PUA(s, "alice")
        try:
            _, e1 = publish_ok(desk, pidf("bob@example.com",
                                          (("desk", "open", "desk"),)),
                               expires=300)
            _, e2 = publish_ok(soft, pidf("bob@example.com",
                                          (("soft", "closed", "soft"),),
                                          activities=("meeting",),
                                          person_id="bob-person"),
                               expires=300)
            check(e1 != e2, "two publications, two ETags")
            out = sctl(s, "pub", "list", "bob@example.com")
            check(e1 in out and e2 in out, "sipctl pub list shows both:"
                  "\n%s" % out)

            sub, n = presence_sub(alice, "bob@example.com")
            p = n.pidf()
            eq(p.tuples, {"desk": "open", "soft": "closed"},
               "tuples of both devices")
            eq(p.notes, {"desk": "desk", "soft": "soft"}, "notes")
            eq(p.activities, {"meeting"}, "the person's activity kept")
            eq(p.entity, "sip:bob@example.com", "entity")

            # sipctl presence show: the composed state and its sources
            out = sctl(s, "presence", "show", "bob@example.com")
            check("publications=2" in out, "presence show sources:\n" +
                  out)
            check('id="desk"' in out and 'id="soft"' in out,
                  "presence show has both tuples:\n" + out)

            r = soft.publish(None, etag=e2, expires=0)
            eq(r.status, 200, "the softphone removes its publication")
            n = sub.notify(what="NOTIFY after one device left")
            p = n.pidf()
            eq(p.tuples, {"desk": "open"}, "the desk phone's tuple alone")
            eq(p.activities, set(), "the removed person is gone")
        finally:
            closing(alice, desk, soft)


# --- registrations -----------------------------------------------------------

def test_registration_flips_presence_open_and_closed():
    """Nothing published: bob is closed without a binding, open while
    one exists (REGISTER), closed again when it expires, and open again
    and closed by an unregister."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        bob = PUA(s, "bob")
        alice = PUA(s, "alice")
        try:
            sub, n = presence_sub(alice, "bob@example.com")
            eq(n.pidf().basics(), {"closed"}, "no binding: closed")

            bob.register(expires=2)
            n = sub.notify(what="NOTIFY after REGISTER")
            p = n.pidf()
            eq(p.basics(), {"open"}, "registered: open (%s)" % p.raw)
            eq(len(p.tuples), 1, "one tuple for the registration")

            n = sub.notify(timeout=5, what="NOTIFY after the expiry")
            eq(n.pidf().basics(), {"closed"}, "binding expired: closed")
            eq(s.query("SELECT count(*) FROM bindings")[0][0], 0,
               "bindings left")

            time.sleep(1.1)
            bob.register(expires=300)
            n = sub.notify(what="NOTIFY after the second REGISTER")
            eq(n.pidf().basics(), {"open"}, "registered again")
            time.sleep(1.1)
            bob.register(expires=0)
            n = sub.notify(what="NOTIFY after the unregister")
            eq(n.pidf().basics(), {"closed"}, "unregistered")
            out = sctl(s, "presence", "show", "bob@example.com")
            check("bindings=0" in out and "publications=0" in out,
                  "sipctl presence show sources:\n" + out)
        finally:
            closing(alice, bob)


def test_publication_overrides_registration_tuple():
    """While bob publishes, his published tuples are the state (no extra
    registration tuple); after the remove, the registration decides."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        bob = PUA(s, "bob")
        alice = PUA(s, "alice")
        try:
            bob.register(expires=300)
            sub, n = presence_sub(alice, "bob@example.com")
            eq(n.pidf().basics(), {"open"}, "registered")
            _, etag = publish_ok(bob, pidf("bob@example.com",
                                           (("pc", "closed", "gone"),)),
                                 expires=300)
            p = sub.notify(what="NOTIFY after PUBLISH").pidf()
            eq(p.tuples, {"pc": "closed"}, "the published tuple only")
            publish_ok(bob, None, etag=etag, expires=0)
            p = sub.notify(what="NOTIFY after the remove").pidf()
            eq(p.basics(), {"open"}, "back to the registration")
        finally:
            closing(alice, bob)


def reg_of(n):
    eq(n.ctype, "application/reginfo+xml", "Content-Type of reg NOTIFY")
    attrs, regs = parse_reginfo(n.body)
    eq(len(regs), 1, "registrations in reginfo:\n%s" % n.body)
    return attrs, regs[0]


def test_reg_events_register_refresh_unregister():
    """RFC 3680: the reg package of bob through a registration, a
    refresh and an unregister: registration and contact states and
    events, versions that grow, state full."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        bob = PUA(s, "bob")
        alice = PUA(s, "alice")
        try:
            sub, n = presence_sub(alice, "bob@example.com", "reg")
            attrs, reg = reg_of(n)
            eq(attrs.get("state"), "full", "reginfo state")
            v0 = int(attrs["version"])
            eq(reg.get("aor"), "sip:bob@example.com", "aor")
            eq(reg.get("state"), "init", "registration state before any"
               " binding")
            eq(reg["contacts"], [], "contacts before any binding")

            bob.register(expires=300)
            attrs, reg = reg_of(sub.notify(what="NOTIFY after REGISTER"))
            eq(int(attrs["version"]), v0 + 1, "version")
            eq(reg["state"], "active", "registration state")
            eq(len(reg["contacts"]), 1, "contacts")
            c = reg["contacts"][0]
            eq((c["state"], c["event"]), ("active", "registered"),
               "contact state and event")
            eq(c["uri"], bob.contact_uri, "contact URI")
            check(280 <= int(c["expires"]) <= 300, "contact expires %s"
                  % c["expires"])
            cid = c["id"]

            time.sleep(1.2)
            bob.register(expires=600)
            attrs, reg = reg_of(sub.notify(what="NOTIFY after refresh"))
            eq(int(attrs["version"]), v0 + 2, "version")
            c = reg["contacts"][0]
            eq((c["state"], c["event"]), ("active", "refreshed"),
               "contact after a refresh")
            eq(c["id"], cid, "contact id is stable")
            check(int(c["expires"]) > 500, "expires after the refresh")

            time.sleep(1.2)
            bob.register(expires=0)
            attrs, reg = reg_of(sub.notify(what="NOTIFY after unregister"))
            eq(int(attrs["version"]), v0 + 3, "version")
            eq(reg["state"], "terminated", "registration state")
            eq(len(reg["contacts"]), 1, "the contact that went")
            c = reg["contacts"][0]
            eq((c["state"], c["event"], c["uri"]),
               ("terminated", "unregistered", bob.contact_uri),
               "contact after the unregister")
        finally:
            closing(alice, bob)


def test_reg_event_expired():
    """A binding that expires is reported terminated with event
    expired."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        bob = PUA(s, "bob")
        alice = PUA(s, "alice")
        try:
            bob.register(expires=2)
            sub, n = presence_sub(alice, "bob@example.com", "reg")
            attrs, reg = reg_of(n)
            eq(reg["state"], "active", "registered")
            n = sub.notify(timeout=5, what="NOTIFY after the expiry")
            attrs, reg = reg_of(n)
            eq(reg["state"], "terminated", "registration state")
            eq([(c["state"], c["event"]) for c in reg["contacts"]],
               [("terminated", "expired")], "contact after the expiry")
        finally:
            closing(alice, bob)


def test_reg_unregister_reported_with_long_notify_interval():
    """presence_notify_interval 2500: alice sees bob's binding active;
    bob unregisters right after that NOTIFY, so the next one waits for
    the interval. It must still say that the contact went (state
    terminated, event unregistered) and that the registration is
    terminated, not that it is back in state init (RFC 3680 5.1: init is
    the state before any contact; a registration whose contacts all
    went is terminated; 5.2: a contact's removal is reported with its
    event)."""
    conf = pres_conf("presence_notify_interval 2500\n")
    with Sipd(conf, accounts=ACCOUNTS) as s:
        bob = PUA(s, "bob")
        alice = PUA(s, "alice")
        try:
            sub, n = presence_sub(alice, "bob@example.com", "reg")
            eq(reg_of(n)[1]["state"], "init", "before any binding")
            bob.register(expires=300)
            n = sub.notify(timeout=4, what="reg NOTIFY, active")
            eq(reg_of(n)[1]["state"], "active", "bob registered")
            bob.register(expires=0)
            n = sub.notify(timeout=4, what="reg NOTIFY after the"
                           " unregister")
            reg = reg_of(n)[1]
            eq(reg["state"], "terminated", "registration state after the"
               " unregister")
            eq([(c["state"], c["event"], c["uri"])
                for c in reg["contacts"]],
               [("terminated", "unregistered", bob.contact_uri)],
               "contacts after the unregister")
        finally:
            closing(alice, bob)


def test_reg_event_unregister_all_reports_every_contact():
    """Two contacts removed at once (Contact: *): the reginfo NOTIFY must
    report both as terminated (RFC 3680 5.2: a contact leaving the
    registration is reported with its event)."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        bob = PUA(s, "bob")
        alice = PUA(s, "alice")
        try:
            c1 = "<sip:bob@127.0.0.1:%d;line=1>" % bob.local[1]
            c2 = "<sip:bob@127.0.0.1:%d;line=2>" % bob.local[1]
            bob.register(expires=300, contact=c1)
            bob.register(expires=300, contact=c2)
            sub, n = presence_sub(alice, "bob@example.com", "reg")
            attrs, reg = reg_of(n)
            eq(len(reg["contacts"]), 2, "two contacts")
            time.sleep(1.1)
            bob.register(expires=0, contact="*")
            ns = [reg_of(x)[1] for x in sub.notify_count(2.5)]
            check(ns, "no NOTIFY after the unregister of all")
            gone = set()
            for reg in ns:
                for c in reg["contacts"]:
                    if c["state"] == "terminated":
                        gone.add(c["uri"])
            eq(gone, {uri_of(c1), uri_of(c2)},
               "contacts reported terminated")
            eq(ns[-1]["state"], "terminated", "registration state")
        finally:
            closing(alice, bob)


# --- calls: on-the-phone and the dialog package ------------------------------

def dialogs_of(n):
    eq(n.ctype, "application/dialog-info+xml", "Content-Type of dialog"
       " NOTIFY")
    attrs, dlgs = parse_dialoginfo(n.body)
    eq(attrs.get("state"), "full", "dialog-info state")
    eq(attrs.get("entity"), "sip:bob@example.com", "dialog-info entity")
    return int(attrs["version"]), dlgs


def call_bob(s, alice, bob):
    """alice calls bob through the proxy; bob answers. Returns (caller
    Dialog, callee Dialog)."""
    d = alice.invite("sip:bob@example.com")
    inc = bob.expect_invite()
    inc.reply(180, "Ringing")
    inc.reply(200, "OK", body=sdp(41000))
    eq(d.final().status, 200, "the call is answered")
    inc.expect_ack()
    return d, inc


def hang_up(alice, bob, d):
    d.request("BYE", wait=False)
    bob.expect_request("BYE", callid=d.callid)
    bye = [m for m in bob.received if m.method == "BYE" and
           m.get("call-id") == d.callid][-1]
    bob.reply(bye, 200, "OK")
    eq(alice.expect_response(d.callid, "BYE", final=True).status, 200,
       "BYE")


def test_call_makes_callee_on_the_phone_and_dialog_confirmed():
    """alice calls bob through the proxy (bob a scripted phone that
    answers); carol watches bob's presence and dialog packages: the call
    turns bob on-the-phone and his dialog confirmed (recipient, with the
    call's Call-ID and tags); after the BYE the dialog is terminated,
    then gone, and on-the-phone is gone."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        bob = PUA(s, "bob")
        alice = PUA(s, "alice")
        carol = PUA(s, "carol")
        try:
            bob.register(expires=300)
            psub, n = presence_sub(carol, "bob@example.com")
            p = n.pidf()
            eq(p.basics(), {"open"}, "bob registered: open")
            eq(p.activities, set(), "no activity before the call")
            dsub, n = presence_sub(carol, "bob@example.com", "dialog")
            v0, dlgs = dialogs_of(n)
            eq(dlgs, [], "no dialog before the call")
            time.sleep(1.1)       # past the rate limit of both

            d, inc = call_bob(s, alice, bob)
            wait_events(s, lambda e: e.get("call_id") == d.callid and
                        e.get("state") == "confirmed" and
                        e.get("aor") == "bob@example.com",
                        "bob confirmed")

            n = dsub.notify(timeout=4, what="dialog NOTIFY, confirmed",
                            pred=lambda n: any(
                                x["state"] == "confirmed" for x in
                                dialogs_of(n)[1]))
            v, dlgs = dialogs_of(n)
            check(v > v0, "dialog-info version grows")
            eq(len(dlgs), 1, "one dialog of bob")
            x = dlgs[0]
            eq(x.get("call-id"), d.callid, "call-id of the dialog")
            eq(x.get("direction"), "recipient", "bob is the recipient")
            eq(x.get("local-tag"), inc.local_tag, "local-tag: bob's tag")
            eq(x.get("remote-tag"), d.local_tag, "remote-tag: alice's")
            eq(x["remote"], "sip:alice@example.com", "remote identity")
            eq(x["local"], "sip:bob@example.com", "local identity")

            n = psub.notify(timeout=4, what="presence NOTIFY on the phone",
                            pred=lambda n: "on-the-phone" in
                            n.pidf().activities)
            p = n.pidf()
            eq(p.basics(), {"open"}, "still open during the call")
            out = sctl(s, "presence", "show", "bob@example.com")
            check("on-the-phone=yes" in out, "presence show during the"
                  " call:\n" + out)

            time.sleep(1.2)       # the rate limit again
            hang_up(alice, bob, d)

            n = dsub.notify(timeout=4, what="dialog NOTIFY, terminated")
            v2, dlgs = dialogs_of(n)
            check(v2 > v, "version grows")
            eq([(x.get("call-id"), x["state"]) for x in dlgs],
               [(d.callid, "terminated")], "the dialog terminated")

            n = psub.notify(timeout=4, what="presence NOTIFY after BYE",
                            pred=lambda n: "on-the-phone" not in
                            n.pidf().activities)
            eq(n.pidf().basics(), {"open"}, "open after the call")

            # a refresh gets the current state: soon no dialog any more
            # (the ended call may be listed terminated a moment longer)
            deadline = time.time() + 6
            while True:
                time.sleep(1.1)
                eq(dsub.refresh(expires=600).status, 200,
                   "dialog refresh")
                v3, dlgs = dialogs_of(dsub.notify(what="NOTIFY of"
                                                  " refresh"))
                check(v3 > v2, "version grows")
                v2 = v3
                check(all(x["state"] == "terminated" for x in dlgs),
                      "after the BYE a dialog is listed %s" % dlgs)
                if not dlgs or time.time() > deadline:
                    break
            eq(dlgs, [], "no dialog a while after the call was reported"
               " ended")
            eq(psub.refresh(expires=600).status, 200, "presence refresh")
            p = psub.notify(what="NOTIFY of the refresh").pidf()
            eq(p.activities, set(), "not on the phone any more")
            out = sctl(s, "presence", "show", "bob@example.com")
            check("on-the-phone=no" in out, "presence show after the"
                  " call:\n" + out)
            alive(s)
        finally:
            closing(alice, bob, carol)


def test_dialog_terminated_reported_when_rate_limited():
    """A short call (answered and hung up within the rate limit
    interval): the busy lamp must still go through confirmed ... and
    end with the dialog terminated (or absent); the last dialog NOTIFY
    must not show it confirmed. And the watcher must see that the call
    ended: a NOTIFY after the BYE whose document has the dialog
    terminated (RFC 4235 3.7.1: a dialog that ends is reported in state
    terminated)."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        bob = PUA(s, "bob")
        alice = PUA(s, "alice")
        carol = PUA(s, "carol")
        try:
            bob.register(expires=300)
            dsub, n = presence_sub(carol, "bob@example.com", "dialog")
            time.sleep(1.1)
            d, inc = call_bob(s, alice, bob)
            time.sleep(0.3)
            hang_up(alice, bob, d)
            ns = dsub.notify_count(3.5)
            states = [[x["state"] for x in dialogs_of(n)[1]] for n in ns]
            check(ns, "no dialog NOTIFY for the call")
            check(states[-1] in ([], ["terminated"]),
                  "the last dialog NOTIFY shows the call still up: %s"
                  % states)
            check(["terminated"] in states,
                  "the call's end was never reported (dialog state"
                  " terminated): dialog states per NOTIFY %s" % states)
        finally:
            closing(alice, bob, carol)


# --- authorization and policy ------------------------------------------------

def stranger(s, user="mallory", domain="evil.test", port2=False):
    """A watcher of a domain sipd does not serve (no password)."""
    ua = PUA(s, user, password="", domain=domain,
             server=s.addr2 if port2 else None)
    ua.password = None
    return ua


def test_local_watcher_must_authenticate_401():
    """A SUBSCRIBE from a served domain is challenged with 401 (the
    presence server is the UAS, RFC 3261 22.1); wrong credentials are
    refused; the right ones make the subscription."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        alice = PUA(s, "alice")
        try:
            sub = alice.subscription("bob@example.com")
            r = sub.subscribe(auth=False)
            eq(r.status, 401, "SUBSCRIBE without credentials")
            check(r.all("www-authenticate"), "401 without"
                  " WWW-Authenticate:\n" + r.raw)
            for v in r.all("www-authenticate"):
                eq(parse_challenge(v).get("realm"), "example.com",
                   "realm of the challenge")
            eq(sub_list(s), [], "no subscription after a 401")
            alice.no_request("NOTIFY", 0.5)

            alice.password = "wrong"
            sub = alice.subscription("bob@example.com")
            r = sub.subscribe()
            check(r.status in (401, 403), "SUBSCRIBE with a wrong"
                  " password: %s" % r.start)
            eq(sub_list(s), [], "no subscription with a wrong password")

            alice.password = "secret"
            alice.chall = None
            sub, n = presence_sub(alice, "bob@example.com")
            subs = sub_list(s)
            eq([(x["watcher"], x["presentity"], x["event"], x["state"])
                for x in subs],
               [("alice@example.com", "bob@example.com", "presence",
                 "active")], "sipctl sub list")
            check(590 < subs[0]["expires"] <= 3600 and
                  subs[0]["call_id"] == sub.callid and
                  subs[0]["contact"] == alice.contact_uri,
                  "sipctl sub list --json row: %s" % subs[0])
            out = sctl(s, "sub", "list", "bob@example.com")
            check(re.search(r"bob@example\.com\s+alice@example\.com\s+"
                            r"presence\s+active\s+\d+\s+" +
                            re.escape(alice.contact_uri), out),
                  "sipctl sub list (text):\n" + out)
        finally:
            closing(alice)


def test_watcher_from_other_user_403():
    """alice's credentials with carol's From: 403, nothing stored."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        alice = PUA(s, "alice")
        try:
            sub = alice.subscription("bob@example.com")
            r = sub.subscribe(frm="<sip:carol@example.com>;tag=%s" %
                              sub.ftag)
            eq(r.status, 403, "SUBSCRIBE as carol with alice's"
               " credentials")
            eq(sub_list(s), [], "no subscription")
        finally:
            closing(alice)


def test_watcher_user_case_sensitive_host_not():
    """The From user is the authenticated user compared case-sensitively
    (RFC 3261 19.1.4), the host case-insensitively: alice's credentials
    with From Alice or ALICE get 403; From alice@EXAMPLE.COM is alice."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        alice = PUA(s, "alice")
        try:
            for user in ("Alice", "ALICE"):
                sub = alice.subscription("bob@example.com")
                r = sub.subscribe(frm="<sip:%s@example.com>;tag=%s" %
                                  (user, sub.ftag))
                eq(r.status, 403, "SUBSCRIBE as %s with alice's"
                   " credentials" % user)
            eq(sub_list(s), [], "no subscription")
            sub = alice.subscription("bob@example.com")
            r = sub.subscribe(frm="<sip:alice@EXAMPLE.COM>;tag=%s" %
                              sub.ftag)
            eq(r.status, 200, "SUBSCRIBE from alice@EXAMPLE.COM")
            eq([(x["watcher"], x["presentity"]) for x in sub_list(s)],
               [("alice@example.com", "bob@example.com")],
               "the subscription of alice")
        finally:
            closing(alice)


def test_auth_off_socket_needs_no_credentials():
    """On a socket with auth=off the local watcher is not challenged."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        alice = PUA(s, "alice", server=s.addr2)
        try:
            sub, n = presence_sub(alice, "bob@example.com")
            eq(alice.challenged, [], "challenges on an auth=off socket")
            eq(n.msg.src, s.addr2, "NOTIFY from the auth=off socket")
        finally:
            closing(alice)


def test_publish_for_someone_else_403():
    """Only a presentity's own user may publish for it: alice
    (authenticated) publishing bob's presence gets 403; without
    credentials 401; nothing is stored."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        alice = PUA(s, "alice")
        try:
            r = alice.publish(pidf("bob@example.com"), target=
                              "bob@example.com", auth=False)
            eq(r.status, 401, "PUBLISH without credentials")
            r = alice.publish(pidf("bob@example.com"),
                              target="bob@example.com")
            eq(r.status, 403, "alice publishes for bob")
            eq(pub_rows(s, "bob@example.com"), [], "nothing published")
            r = alice.publish(pidf("nobody@example.com"),
                              target="nobody@example.com")
            check(r.status in (403, 404), "PUBLISH for a user that does"
                  " not exist: %s" % r.start)
        finally:
            closing(alice)


def test_publish_user_case_sensitive_host_not():
    """The Request-URI's user of a PUBLISH is the authenticated user
    compared case-sensitively (RFC 3261 19.1.4), the host
    case-insensitively: alice publishing for Alice or ALICE gets 403;
    for alice@EXAMPLE.COM she publishes her own presence."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        alice = PUA(s, "alice")
        try:
            for user in ("Alice", "ALICE"):
                target = "%s@example.com" % user
                r = alice.publish(pidf(target), target=target)
                eq(r.status, 403, "alice publishes for %s" % target)
                eq(pub_rows(s, target), [], "nothing published for %s"
                   % target)
            eq(pub_rows(s, "alice@example.com"), [], "nothing published")
            r = alice.publish(pidf("alice@example.com"),
                              target="alice@EXAMPLE.COM")
            eq(r.status, 200, "alice publishes for alice@EXAMPLE.COM")
            eq(len(pub_rows(s, "alice@example.com")), 1,
               "alice's publication")
        finally:
            closing(alice)


def test_same_domain_policy_outsider_pending_then_allowed():
    """presence_policy same-domain (the default): a watcher of another
    domain is pending: 200, a NOTIFY with Subscription-State pending and
    no body; winfo shows it pending; after sipctl presence allow and a
    refresh it is active and gets bob's PIDF."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        bob = PUA(s, "bob")
        ext = stranger(s)
        try:
            publish_ok(bob, pidf("bob@example.com",
                                 (("b", "open", "here"),)), expires=300)
            wsub, n = presence_sub(bob, "bob@example.com",
                                   "presence.winfo")
            eq(parse_winfo(n.body)[1], {}, "no watcher yet")

            sub = ext.subscription("bob@example.com")
            r = sub.subscribe(expires=600)
            eq(r.status, 200, "SUBSCRIBE of an outsider")
            eq(ext.challenged, [], "an outsider is not challenged")
            n = sub.notify(what="NOTIFY of the pending subscription")
            eq(n.state, "pending", "Subscription-State")
            check(n.expires is not None, "expires in Subscription-State")
            eq(n.body, "", "a pending NOTIFY has no body")
            eq(n.msg.get("content-type"), None, "Content-Type without"
               " body")

            n = wsub.notify(what="winfo NOTIFY for the pending watcher")
            _, w, lists = parse_winfo(n.body)
            eq(lists[0].get("resource"), "sip:bob@example.com",
               "winfo resource")
            eq(lists[0].get("package"), "presence", "winfo package")
            eq(w, {"sip:mallory@evil.test": ("pending", "subscribe")},
               "watchers")
            subs = sub_list(s, "bob@example.com")
            eq(sorted((x["watcher"], x["event"], x["state"])
                      for x in subs),
               [("bob@example.com", "presence.winfo", "active"),
                ("mallory@evil.test", "presence", "pending")],
               "sipctl sub list")

            out = sctl(s, "presence", "allow", "bob@example.com",
                       "mallory@evil.test")
            out = sctl(s, "presence", "rules", "bob@example.com")
            check("mallory@evil.test" in out and "allow" in out,
                  "sipctl presence rules:\n" + out)

            time.sleep(1.1)
            r = sub.refresh(expires=600)
            eq(r.status, 200, "refresh after the allow rule: 200 (the"
               " subscription is active now)")
            n = sub.notify(what="NOTIFY after the refresh")
            eq(n.state, "active", "Subscription-State after the allow"
               " rule and a refresh")
            eq(n.pidf().tuples, {"b": "open"}, "bob's state")
            n = wsub.notify(what="winfo NOTIFY after approval")
            eq(parse_winfo(n.body)[1],
               {"sip:mallory@evil.test": ("active", "approved")},
               "watchers after the approval")
        finally:
            closing(bob, ext)


def test_list_policy_watcher_without_rule_pending_then_allowed():
    """presence_policy list: even a local watcher without an allow rule
    is pending (200, pending NOTIFY without body); allowed by sipctl and
    refreshed, it is active."""
    with Sipd(pres_conf("presence_policy list\n"), accounts=ACCOUNTS) as s:
        alice = PUA(s, "alice")
        bob = PUA(s, "bob")
        try:
            bob.register(expires=300)
            sub, n = presence_sub(alice, "bob@example.com",
                                  state="pending")
            eq(n.body, "", "pending NOTIFY body")
            # one's own presence is always visible
            own, n = presence_sub(bob, "bob@example.com")
            eq(n.pidf().basics(), {"open"}, "bob watching himself")

            sctl(s, "presence", "allow", "bob@example.com",
                 "alice@example.com")
            time.sleep(1.1)
            eq(sub.refresh(expires=600).status, 200, "refresh after allow")
            n = sub.notify(what="NOTIFY after the refresh")
            eq(n.state, "active", "state after allow and refresh")
            eq(n.pidf().basics(), {"open"}, "bob's state")

            # a new subscription after the rule is active at once
            carol = PUA(s, "carol")
            try:
                presence_sub(carol, "bob@example.com", state="pending")
                sctl(s, "presence", "allow", "bob@example.com",
                     "carol@example.com")
                s2, n = presence_sub(carol, "bob@example.com")
                eq(n.pidf().basics(), {"open"}, "carol allowed")
            finally:
                closing(carol)
        finally:
            closing(alice, bob)


def test_everyone_policy_outsider_active():
    with Sipd(pres_conf("presence_policy everyone\n"),
              accounts=ACCOUNTS) as s:
        ext = stranger(s)
        try:
            sub, n = presence_sub(ext, "bob@example.com")
            eq(n.pidf().basics(), {"closed"}, "bob's state")
        finally:
            closing(ext)


def test_block_rule_403():
    """A block rule rejects the watcher with 403 under any policy (also
    a local watcher under same-domain); unset removes it."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        alice = PUA(s, "alice")
        ext = stranger(s)
        try:
            sctl(s, "presence", "block", "bob@example.com",
                 "alice@example.com")
            sctl(s, "presence", "block", "bob@example.com",
                 "mallory@evil.test")
            r = alice.subscription("bob@example.com").subscribe()
            eq(r.status, 403, "blocked local watcher")
            r = ext.subscription("bob@example.com").subscribe()
            eq(r.status, 403, "blocked outsider")
            eq(sub_list(s), [], "no subscription stored")
            alice.no_request("NOTIFY", 0.5)
            ext.no_request("NOTIFY", 0.1)
            sctl(s, "presence", "unset", "bob@example.com",
                 "alice@example.com")
            presence_sub(alice, "bob@example.com")
        finally:
            closing(alice, ext)


def test_block_after_subscription_ends_it_on_refresh():
    """A watcher blocked while subscribed: its next refresh must not
    keep it active (403, or a NOTIFY terminated;reason=rejected, RFC
    6665 4.2.1.2 / RFC 3857)."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        alice = PUA(s, "alice")
        try:
            sub, n = presence_sub(alice, "bob@example.com")
            sctl(s, "presence", "block", "bob@example.com",
                 "alice@example.com")
            time.sleep(1.1)
            r = sub.refresh(expires=600)
            if r.status == 403:
                return
            n = sub.notify(what="NOTIFY after the refresh")
            eq((n.state, n.reason), ("terminated", "rejected"),
               "Subscription-State of a blocked watcher after its"
               " refresh (answer %s)" % r.start)
        finally:
            closing(alice)


# --- watcher info ------------------------------------------------------------

def test_winfo_shows_watchers_and_only_presentity_may_subscribe():
    """RFC 3857/3858: bob subscribes to his presence.winfo and sees
    alice (active, approved) and an outsider (pending) come, and alice
    go after her unsubscribe; alice may not subscribe to bob's winfo
    (403); versions grow; state full."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        bob = PUA(s, "bob")
        alice = PUA(s, "alice")
        ext = stranger(s)
        try:
            asub = alice.subscription("bob@example.com")
            asub.event = "presence.winfo"
            r = asub.subscribe()
            eq(r.status, 403, "alice subscribes to bob's watcher info")

            wsub, n = presence_sub(bob, "bob@example.com",
                                   "presence.winfo")
            eq(n.ctype, "application/watcherinfo+xml", "Content-Type")
            attrs, w, lists = parse_winfo(n.body)
            eq(attrs.get("state"), "full", "winfo state")
            v0 = int(attrs["version"])
            eq(w, {}, "no watcher")

            time.sleep(1.1)
            psub, _ = presence_sub(alice, "bob@example.com")
            n = wsub.notify(what="winfo NOTIFY for alice")
            attrs, w, _ = parse_winfo(n.body)
            eq(w, {"sip:alice@example.com": ("active", "approved")},
               "watchers")
            check(int(attrs["version"]) > v0, "version grows")

            time.sleep(1.1)
            xsub = ext.subscription("bob@example.com")
            eq(xsub.subscribe().status, 200, "outsider pending")
            n = wsub.notify(what="winfo NOTIFY for the outsider")
            attrs, w, _ = parse_winfo(n.body)
            eq(w, {"sip:alice@example.com": ("active", "approved"),
                   "sip:mallory@evil.test": ("pending", "subscribe")},
               "watchers")

            # a dialog or reg subscription is not a presence watcher
            presence_sub(alice, "bob@example.com", "dialog")
            time.sleep(1.1)
            eq(psub.unsubscribe().status, 200, "alice unsubscribes")
            n = wsub.notify(what="winfo NOTIFY after alice left")
            _, w, _ = parse_winfo(n.body)
            check(w.get("sip:alice@example.com") in
                  (None, ("terminated", "timeout"),
                   ("terminated", "deactivated")),
                  "alice after her unsubscribe: %s" % (w,))
            eq(w.get("sip:mallory@evil.test"), ("pending", "subscribe"),
               "the outsider is still pending")
        finally:
            closing(bob, alice, ext)


def test_winfo_told_when_watcher_subscription_expires():
    """A watcher whose subscription expires leaves the watcher list: the
    winfo subscriber must be told (RFC 3857 5.2: a change of a watcher's
    subscription state is an event of the winfo package)."""
    conf = pres_conf("presence_min_expires 2\n")
    with Sipd(conf, accounts=ACCOUNTS) as s:
        bob = PUA(s, "bob")
        alice = PUA(s, "alice")
        try:
            wsub, n = presence_sub(bob, "bob@example.com",
                                   "presence.winfo", expires=600)
            time.sleep(1.1)
            psub, n = presence_sub(alice, "bob@example.com", expires=2)
            n = wsub.notify(what="winfo NOTIFY for alice")
            eq(parse_winfo(n.body)[1],
               {"sip:alice@example.com": ("active", "approved")},
               "alice watches")
            n = psub.notify(timeout=5, what="NOTIFY at the expiry")
            eq((n.state, n.reason), ("terminated", "timeout"),
               "alice's subscription expired")
            n = wsub.notify(timeout=4, what="winfo NOTIFY after alice's"
                            " subscription expired")
            _, w, _ = parse_winfo(n.body)
            check(w.get("sip:alice@example.com") in
                  (None, ("terminated", "timeout")),
                  "alice after her expiry: %s" % (w,))
        finally:
            closing(bob, alice)


# --- errors ------------------------------------------------------------------

def test_unknown_event_489_with_allow_events():
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        alice = PUA(s, "alice")
        try:
            for event in ("message-summary", "foo", "presencex"):
                sub = alice.subscription("bob@example.com", event)
                r = sub.subscribe()
                eq(r.status, 489, "SUBSCRIBE Event: %s" % event)
                ae = [x.strip() for x in
                      ",".join(r.all("allow-events")).split(",")]
                eq(sorted(ae), sorted(CTYPES), "Allow-Events of the 489")
            sub = alice.subscription("bob@example.com", None)
            eq(sub.subscribe().status, 489, "SUBSCRIBE without Event")
            r = alice.publish(pidf("alice@example.com"), event="dialog")
            eq(r.status, 489, "PUBLISH Event: dialog")
            check("presence" in (r.get("allow-events") or ""),
                  "Allow-Events of the 489 to PUBLISH")
            r = alice.publish(pidf("alice@example.com"), event=None)
            eq(r.status, 489, "PUBLISH without Event")
            # a package parameter is not another package
            sub = alice.subscription("bob@example.com",
                                     "presence;id=1")
            sub.event = "presence;id=1"
            r = sub.subscribe()
            eq(r.status, 200, "Event: presence;id=1")
            eq(sub_list(s)[0]["event"], "presence", "stored event")
        finally:
            closing(alice)


def test_expires_too_short_423_and_capped():
    """Expires below presence_min_expires: 423 with Min-Expires, for
    SUBSCRIBE (new and refresh) and PUBLISH; above the maximum it is
    lowered; none: the default."""
    conf = pres_conf("presence_min_expires 60\npresence_max_expires 1800\n"
                     "presence_default_expires 900\n")
    with Sipd(conf, accounts=ACCOUNTS) as s:
        alice = PUA(s, "alice")
        try:
            sub = alice.subscription("bob@example.com")
            r = sub.subscribe(expires=10)
            eq(r.status, 423, "SUBSCRIBE Expires: 10")
            eq(r.get("min-expires"), "60", "Min-Expires")
            eq(sub_list(s), [], "no subscription after a 423")

            sub = alice.subscription("bob@example.com")
            r = sub.subscribe(expires=100000)
            eq(r.status, 200, "SUBSCRIBE Expires: 100000")
            eq(r.get("expires"), "1800", "Expires lowered to the maximum")
            n = sub.notify()
            check(n.expires <= 1800, "Subscription-State expires %s" %
                  n.expires)
            r = sub.refresh(expires=5)
            eq(r.status, 423, "refresh with Expires: 5")
            eq(r.get("min-expires"), "60", "Min-Expires of the refresh")

            sub = alice.subscription("bob@example.com", "reg")
            r = sub.subscribe()
            eq(r.status, 200, "SUBSCRIBE without Expires")
            eq(r.get("expires"), "900", "the default expiry")

            r = alice.publish(pidf("alice@example.com"), expires=5)
            eq(r.status, 423, "PUBLISH Expires: 5")
            eq(r.get("min-expires"), "60", "Min-Expires of PUBLISH")
            r = alice.publish(pidf("alice@example.com"), expires=99999)
            eq(r.status, 200, "PUBLISH Expires: 99999")
            eq(r.get("expires"), "1800", "PUBLISH expiry lowered")
        finally:
            closing(alice)


def test_invalid_expires_400():
    """An Expires that is not delta-seconds is bad input (RFC 3261
    20.19, 21.4.1): 400, not a fetch, not an unsubscribe, nothing
    stored, and an existing subscription survives it."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        alice = PUA(s, "alice")
        try:
            sub = alice.subscription("bob@example.com")
            r = sub.subscribe(headers=["Expires: soon"])
            eq(r.status, 400, "SUBSCRIBE with Expires: soon")
            alice.no_request("NOTIFY", 0.5)
            good, _ = presence_sub(alice, "bob@example.com")
            time.sleep(1.1)
            r = good.refresh(headers=["Expires: -5"])
            eq(r.status, 400, "refresh with Expires: -5")
            eq([x["state"] for x in sub_list(s)], ["active"],
               "the subscription survives a bad refresh")
            r = alice.publish(pidf("alice@example.com"),
                              headers=["Expires: later"])
            eq(r.status, 400, "PUBLISH with Expires: later")
        finally:
            closing(alice)


def test_refresh_of_unknown_dialog_481():
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        alice = PUA(s, "alice")
        try:
            sub = alice.subscription("bob@example.com")
            sub.remote_tag = "nosuchtag"
            r = sub.refresh(expires=600)
            eq(r.status, 481, "SUBSCRIBE in an unknown dialog")
            # a known Call-ID with a wrong tag is unknown too
            sub2, _ = presence_sub(alice, "bob@example.com")
            good = sub2.remote_tag
            sub2.remote_tag = "wrong"
            eq(sub2.refresh(expires=600).status, 481, "wrong To tag")
            sub2.remote_tag = good
            eq(sub2.refresh(expires=600).status, 200, "right To tag")
            # after the unsubscribe, the dialog is gone
            eq(sub2.unsubscribe().status, 200, "unsubscribe")
            time.sleep(0.5)
            eq(sub2.refresh(expires=600).status, 481,
               "refresh after the unsubscribe")
        finally:
            closing(alice)


def test_malformed_pidf_400_and_wrong_type_415():
    """PUBLISH bodies: not well-formed XML, XML that is not PIDF, an
    external entity, a non-PIDF Content-Type; nothing is stored."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        bob = PUA(s, "bob")
        try:
            bad = [
                ("unclosed", '<?xml version="1.0"?><presence xmlns="%s"'
                 ' entity="sip:bob@example.com"><tuple id="a">' % NS_PIDF),
                ("garbage", "this is not xml at all"),
                ("wrong root", '<?xml version="1.0"?><foo xmlns="%s"/>'
                 % NS_PIDF),
                ("no namespace", '<?xml version="1.0"?><presence entity='
                 '"sip:bob@example.com"/>'),
                ("mismatched tags", '<presence xmlns="%s"><tuple id="x">'
                 '</status></presence>' % NS_PIDF),
            ]
            for what, body in bad:
                r = bob.publish(body, expires=60)
                eq(r.status, 400, "PUBLISH with %s PIDF" % what)
            r = bob.publish(pidf("bob@example.com"), expires=60,
                            ctype="text/plain")
            eq(r.status, 415, "PUBLISH text/plain")
            check("application/pidf+xml" in (r.get("accept") or ""),
                  "Accept of the 415: %r" % r.get("accept"))
            r = bob.publish('<?xml version="1.0"?><x/>', expires=60,
                            ctype="application/xpidf+xml")
            eq(r.status, 415, "PUBLISH application/xpidf+xml")
            r = bob.publish(None, expires=60)
            eq(r.status, 400, "initial PUBLISH without a body")
            eq(pub_rows(s, "bob@example.com"), [], "nothing stored")
            alive(s)
        finally:
            closing(bob)


def test_pidf_external_entity_not_expanded():
    """An XML external entity in a published PIDF is not read (no file
    content in what watchers get)."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        bob = PUA(s, "bob")
        alice = PUA(s, "alice")
        secret = os.path.join(s.dir, "secret.txt")
        with open(secret, "w") as f:
            f.write("TOPSECRET-%s" % rand_token(6))
        try:
            body = ('<?xml version="1.0"?>\n<!DOCTYPE presence [\n'
                    '<!ENTITY xxe SYSTEM "file://%s">]>\n'
                    '<presence xmlns="%s" entity="sip:bob@example.com">'
                    '<tuple id="t"><status><basic>open</basic></status>'
                    '<note>&xxe;</note></tuple></presence>\n'
                    % (secret, NS_PIDF))
            r = bob.publish(body, expires=60)
            check(r.status in (200, 400), "PUBLISH with an external"
                  " entity: %s" % r.start)
            sub, n = presence_sub(alice, "bob@example.com")
            check("TOPSECRET" not in n.body, "the file was read into"
                  " the PIDF:\n" + n.body)
            alive(s)
        finally:
            closing(bob, alice)


def test_oversized_pidf_rejected_over_tcp():
    """A PIDF of 100 kB over TCP: a 4xx or the connection closed, never
    a 2xx; nothing stored; sipd alive and alice's subscription still
    served."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        bob = PUA(s, "bob", transport="tcp")
        alice = PUA(s, "alice")
        try:
            sub, n = presence_sub(alice, "bob@example.com")
            notes = "".join('<tuple id="t%d"><status><basic>open</basic>'
                            '</status><note>%s</note></tuple>' % (
                                i, "x" * 200) for i in range(450))
            body = ('<?xml version="1.0"?><presence xmlns="%s" entity='
                    '"sip:bob@example.com">%s</presence>' % (NS_PIDF,
                                                            notes))
            check(len(body) > 100000, "body size")
            try:
                r = bob.publish(body, expires=60)
                check(400 <= r.status < 500, "oversized PIDF: %s"
                      % r.start)
            except (TestFailure, OSError):
                pass        # libre closes a TCP connection over 64 kB
            eq(pub_rows(s, "bob@example.com"), [], "nothing stored")
            alive(s)
            # 40 kB fits libre's TCP buffer: sipd's limit answers 413
            bob3 = PUA(s, "bob", transport="tcp")
            try:
                body = body[:40000] + "</presence>"
                eq(bob3.publish(body, expires=60).status, 413,
                   "PUBLISH of 40 kB")
            finally:
                closing(bob3)
            eq(pub_rows(s, "bob@example.com"), [], "nothing stored")
            bob2 = PUA(s, "bob")
            try:
                time.sleep(1.0)
                publish_ok(bob2, pidf("bob@example.com",
                                      (("small", "open", None),)))
                p = sub.notify(what="NOTIFY after a normal PUBLISH").pidf()
                eq(p.tuples, {"small": "open"}, "state")
            finally:
                closing(bob2)
        finally:
            closing(bob, alice)


# --- the life of a subscription ----------------------------------------------

def test_unsubscribe_final_notify_terminated():
    """Expires: 0 in the dialog: 200 with Expires 0, a final NOTIFY
    Subscription-State terminated (reason timeout), the row gone, no
    NOTIFY after it."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        alice = PUA(s, "alice")
        bob = PUA(s, "bob")
        try:
            sub, n = presence_sub(alice, "bob@example.com")
            eq(len(sub_list(s)), 1, "one subscription")
            r = sub.unsubscribe()
            eq(r.status, 200, "unsubscribe")
            eq(r.get("expires"), "0", "Expires of the 200")
            n = sub.notify(what="final NOTIFY")
            eq(n.state, "terminated", "Subscription-State")
            eq(n.reason, "timeout", "reason of the final NOTIFY")
            wait_for(lambda: sub_list(s) == [], "subscription row gone")
            bob.register(expires=300)
            sub.no_notify(1.5)
        finally:
            closing(alice, bob)


def test_fetch_expires_zero_gets_current_state():
    """An initial SUBSCRIBE with Expires: 0 is a fetch (RFC 6665 4.4.3,
    RFC 3856 6.4): the NOTIFY that ends it carries the current state
    (here bob's published PIDF), Subscription-State terminated."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        alice = PUA(s, "alice")
        bob = PUA(s, "bob")
        try:
            publish_ok(bob, pidf("bob@example.com",
                                 (("f", "open", "fetched"),)))
            sub = alice.subscription("bob@example.com")
            r = sub.subscribe(expires=0)
            eq(r.status, 200, "fetch")
            n = sub.notify(what="NOTIFY of the fetch")
            eq(n.state, "terminated", "Subscription-State of the fetch")
            check(n.body, "the NOTIFY of a fetch has no body: the current"
                  " state is missing:\n" + n.msg.raw)
            eq(n.pidf().tuples, {"f": "open"}, "state fetched")
            wait_for(lambda: sub_list(s) == [], "no subscription kept")
        finally:
            closing(alice, bob)


def test_subscriber_481_to_notify_loses_subscription():
    """A subscriber that answers a NOTIFY with 481 has no subscription
    any more (RFC 6665 4.2.2): the row is gone and later changes are
    not notified."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        alice = PUA(s, "alice")
        bob = PUA(s, "bob")
        try:
            sub, n = presence_sub(alice, "bob@example.com")
            time.sleep(1.1)
            alice.notify_code = 481
            bob.register(expires=300)
            n = sub.notify(what="NOTIFY after REGISTER")
            wait_for(lambda: sub_list(s) == [], "subscription removed"
                     " after 481")
            alice.notify_code = 200
            time.sleep(1.1)
            bob.register(expires=0)
            sub.no_notify(1.5)
            eq(sub.refresh(expires=600).status, 481, "refresh after the"
               " subscription ended")
            alive(s)
        finally:
            closing(alice, bob)


def test_notify_5xx_retried_then_subscription_ended():
    """A NOTIFY answered 503 is retried (after 5 s); after
    presence_notify_retries failures the subscription ends. One 503
    followed by a 200 keeps it."""
    conf = pres_conf("presence_notify_retries 1\n")
    with Sipd(conf, accounts=ACCOUNTS) as s:
        alice = PUA(s, "alice")
        carol = PUA(s, "carol")
        bob = PUA(s, "bob")
        try:
            asub, _ = presence_sub(alice, "bob@example.com")
            csub, _ = presence_sub(carol, "bob@example.com")
            time.sleep(1.1)
            alice.notify_code = 503
            carol.notify_code = 503
            bob.register(expires=300)
            n1 = asub.notify(what="NOTIFY after REGISTER")
            csub.notify(what="NOTIFY after REGISTER")
            carol.notify_code = 200
            t0 = time.time()
            n2 = asub.notify(timeout=8, what="retried NOTIFY")
            took = time.time() - t0
            check(3.5 < took < 7.5, "retry after %.1f s, expected 5" %
                  took)
            check(n2.cseq > n1.cseq, "the retry is a new transaction")
            eq(n2.pidf().basics(), {"open"}, "state of the retry")
            c2 = csub.notify(timeout=8, what="carol's retried NOTIFY")
            eq(c2.pidf().basics(), {"open"}, "carol's retry")
            wait_for(lambda: [x["watcher"] for x in sub_list(s)] ==
                     ["carol@example.com"], "alice's subscription ended,"
                     " carol's kept", timeout=3)
            alice.notify_code = 200
            time.sleep(1.1)
            bob.register(expires=0)
            csub.notify(what="carol still notified")
            asub.no_notify(1.0)
        finally:
            closing(alice, carol, bob)


def test_rate_limit_merges_burst_of_publish():
    """presence_notify_interval 1000: five PUBLISH modifications within
    200 ms give at most two NOTIFYs, the last one with the final
    state."""
    conf = pres_conf("presence_notify_interval 1000\n")
    with Sipd(conf, accounts=ACCOUNTS) as s:
        alice = PUA(s, "alice")
        bob = PUA(s, "bob", server=s.addr2)      # auth=off: fast
        try:
            _, etag = publish_ok(bob, pidf("bob@example.com",
                                           (("t", "open", "n0"),)))
            sub, n = presence_sub(alice, "bob@example.com")
            eq(n.pidf().notes, {"t": "n0"}, "initial state")
            time.sleep(1.2)
            t0 = time.time()
            for i in range(1, 6):
                r, etag = publish_ok(bob, pidf("bob@example.com",
                                               (("t", "open",
                                                 "n%d" % i),)),
                                     etag=etag)
            burst = time.time() - t0
            check(burst < 0.3, "the burst took %.2f s" % burst)
            ns = sub.notify_count(3.0)
            check(1 <= len(ns) <= 2, "NOTIFYs for a burst of 5 changes:"
                  " %d (%s)" % (len(ns), [n.pidf().notes for n in ns]))
            eq(ns[-1].pidf().notes, {"t": "n5"}, "the last NOTIFY has"
               " the final state")
        finally:
            closing(alice, bob)


def test_rate_limit_interval_respected():
    """Two NOTIFYs of one subscription are at least
    presence_notify_interval apart (2000 ms here), and changes do not
    get lost."""
    conf = pres_conf("presence_notify_interval 2000\n")
    with Sipd(conf, accounts=ACCOUNTS) as s:
        alice = PUA(s, "alice")
        bob = PUA(s, "bob", server=s.addr2)
        try:
            sub, n = presence_sub(alice, "bob@example.com")
            t_first = time.time()
            _, etag = publish_ok(bob, pidf("bob@example.com",
                                           (("t", "open", "a"),)))
            n = sub.notify(timeout=4, what="NOTIFY of the PUBLISH")
            gap = time.time() - t_first
            check(gap > 1.7, "the second NOTIFY came %.2f s after the"
                  " first" % gap)
            eq(n.pidf().notes, {"t": "a"}, "state")
        finally:
            closing(alice, bob)


def test_limits_per_watcher_and_presentity_503():
    """presence_max_per_watcher and presence_max_per_presentity: the
    subscription over the limit gets 503 with Retry-After; a refresh at
    the limit is no new subscription (200)."""
    conf = pres_conf("presence_max_per_watcher 2\n"
                     "presence_max_per_presentity 3\n")
    with Sipd(conf, accounts=ACCOUNTS) as s:
        alice = PUA(s, "alice")
        others = []
        try:
            bsub, _ = presence_sub(alice, "bob@example.com")
            presence_sub(alice, "carol@example.com")
            r = alice.subscription("dave@example.com").subscribe()
            eq(r.status, 503, "third subscription of alice")
            check(r.get("retry-after"), "Retry-After of the 503")
            # per presentity: alice counts for bob, then carol and dave
            # and bob himself
            for u in ("carol", "dave"):
                ua = PUA(s, u)
                others.append(ua)
                presence_sub(ua, "bob@example.com")
            ua = PUA(s, "bob")
            others.append(ua)
            r = ua.subscription("bob@example.com").subscribe()
            eq(r.status, 503, "fourth watcher of bob")
            eq(len(sub_list(s, "bob@example.com")), 3, "bob's watchers")
            # a refresh is not a new subscription
            eq(bsub.refresh(expires=600).status, 200, "alice's refresh at"
               " both limits")
            # after an unsubscribe there is room again
            time.sleep(1.1)
            eq(bsub.unsubscribe().status, 200, "alice unsubscribes")
            bsub.notify(what="final NOTIFY", pred=lambda n:
                        n.state == "terminated")
            wait_for(lambda: len(sub_list(s, "bob@example.com")) == 2,
                     "alice's row gone")
            presence_sub(ua, "bob@example.com")
        finally:
            closing(alice, *others)


def status_json(s):
    """sipctl status --json, parsed."""
    r = s.sipctl("status", "--json")
    eq(r.returncode, 0, "sipctl status --json: %s" % r.stderr)
    return json.loads(r.stdout)


def test_total_limit_503_counted():
    """presence_max_subscriptions 2: the third new subscription, of any
    watcher to any presentity, gets 503 with Retry-After and is counted
    (subscriptions_refused); the two held are untouched and a refresh of
    one is still accepted; once one ends there is room again."""
    with Sipd(pres_conf("presence_max_subscriptions 2\n"),
              accounts=ACCOUNTS) as s:
        alice, carol = PUA(s, "alice"), PUA(s, "carol")
        try:
            eq(status_json(s).get("subscriptions_refused"), 0,
               "subscriptions_refused at start")
            bsub, _ = presence_sub(alice, "bob@example.com")
            presence_sub(carol, "dave@example.com")
            r = carol.subscription("bob@example.com").subscribe()
            eq(r.status, 503, "third subscription in all")
            check(r.get("retry-after"), "Retry-After of the 503")
            st = status_json(s)
            eq(st.get("subscriptions_refused"), 1, "subscriptions_refused")
            eq(st.get("subscriptions"), 2, "subscriptions held")
            eq(len(sub_list(s)), 2, "rows in sipctl sub list")
            # the held ones go on: a refresh (no new subscription) is
            # answered 200 and notified
            eq(bsub.refresh(expires=600).status, 200, "refresh at the"
               " limit")
            n = bsub.notify(what="NOTIFY of the refresh")
            eq(n.state, "active", "Subscription-State after the refresh")
            # one ends: room for one more
            time.sleep(1.1)
            eq(bsub.unsubscribe().status, 200, "alice unsubscribes")
            bsub.notify(what="final NOTIFY", pred=lambda n:
                        n.state == "terminated")
            wait_for(lambda: len(sub_list(s)) == 1, "alice's row gone")
            wait_for(lambda: status_json(s).get("subscriptions") == 1,
                     "the subscription freed")
            presence_sub(carol, "bob@example.com")
        finally:
            closing(alice, carol)


def test_total_limit_bad_value_refused():
    """presence_max_subscriptions out of range or not a number stops
    sipd at start with the key named."""
    for val in ("-1", "lots", "10000001"):
        with Sipd(pres_conf("presence_max_subscriptions %s\n" % val),
                  accounts=ACCOUNTS, start=False) as s:
            out = start_refused(s, "presence_max_subscriptions %s" % val)
            check("presence_max_subscriptions" in out, "the key named for"
                  " %s:\n%s" % (val, out))


def test_unknown_presentity_404():
    """A presentity of a served domain without an account: 404; of a
    domain not served: not the presence role's (the proxy's), never a
    subscription."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        alice = PUA(s, "alice")
        try:
            r = alice.subscription("nobody@example.com").subscribe()
            eq(r.status, 404, "SUBSCRIBE to an unknown user")
            eq(sub_list(s), [], "no subscription")
        finally:
            closing(alice)


def test_notify_to_received_address_behind_nat():
    """A subscriber behind a NAT writes a Contact it cannot be reached
    at (127.0.0.2, another port): the NOTIFY goes to the address the
    SUBSCRIBE came from, with the Contact as Request-URI."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        alice = PUA(s, "alice", contact_host="127.0.0.2",
                    contact_port=free_port("127.0.0.1"))
        try:
            sub, n = presence_sub(alice, "bob@example.com")
            eq(n.msg.start.split()[1], alice.contact_uri, "Request-URI")
            eq(n.msg.src, s.addr, "NOTIFY from sipd")
        finally:
            closing(alice)


def test_notify_follows_record_route_of_subscribe():
    """A SUBSCRIBE that came through another proxy (Record-Route): the
    NOTIFYs carry the route set as Route and go to its first hop (RFC
    6665 4.1.2.2 / RFC 3261 12.1.1), here a socket of the test that
    stands for that proxy, not to the subscriber directly."""
    import socket as _socket
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        hop = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
        hop.bind(("127.0.0.1", 0))
        rr = "<sip:127.0.0.1:%d;lr>" % hop.getsockname()[1]
        alice = PUA(s, "alice")
        try:
            sub = alice.subscription("bob@example.com")
            r = sub.subscribe(headers=["Record-Route: " + rr])
            eq(r.status, 200, "SUBSCRIBE")
            hop.settimeout(3)
            try:
                data, src = hop.recvfrom(65535)
            except _socket.timeout:
                raise TestFailure("no NOTIFY at the Record-Route hop; alice"
                                  " got: %s" % alice.describe())
            m = Msg(data.decode())
            eq(m.method, "NOTIFY", "request at the hop")
            eq(m.all("route"), [rr], "Route of the NOTIFY")
            eq(m.start.split()[1], alice.contact_uri, "Request-URI: the"
               " subscriber's Contact")
            eq(src, s.addr, "from sipd")
        finally:
            hop.close()
            closing(alice)


def test_refresh_with_new_contact_changes_remote_target():
    """A refresh with another Contact: later NOTIFYs have it as
    Request-URI (RFC 6665 4.1.2.1, target refresh)."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        alice = PUA(s, "alice")
        bob = PUA(s, "bob")
        try:
            sub, n = presence_sub(alice, "bob@example.com")
            alice.contact_host = "127.0.0.3"
            time.sleep(1.1)
            eq(sub.refresh(expires=600).status, 200, "refresh")
            n = sub.notify(what="NOTIFY of the refresh")
            eq(n.msg.start.split()[1], alice.contact_uri,
               "Request-URI after the refresh")
        finally:
            closing(alice, bob)


def test_refresh_from_new_address_moves_notifies():
    """The subscriber's NAT binding changes (its refresh comes from
    another port; the old one is closed): the NOTIFYs must follow to the
    address the refresh came from, as they followed the SUBSCRIBE's
    (sipd keeps the received address for NAT, so it must renew it)."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        alice = PUA(s, "alice", contact_host="127.0.0.2",
                    contact_port=5099)
        moved = PUA(s, "alice", contact_host="127.0.0.2",
                    contact_port=5099)
        bob = PUA(s, "bob")
        try:
            sub, n = presence_sub(alice, "bob@example.com")
            alice.close()                 # the old NAT binding is gone
            sub.ua = moved
            time.sleep(1.1)
            r = sub.refresh(expires=600)
            eq(r.status, 200, "refresh from the new address")
            n = sub.notify(what="NOTIFY of the refresh at the new"
                           " address")
            time.sleep(1.1)
            bob.register(expires=300)
            n = sub.notify(what="NOTIFY of a change at the new address")
            eq(n.pidf().basics(), {"open"}, "state")
        finally:
            closing(alice, moved, bob)


def test_subscribe_over_tcp_notified_over_tcp():
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        alice = PUA(s, "alice", transport="tcp")
        bob = PUA(s, "bob")
        try:
            sub, n = presence_sub(alice, "bob@example.com")
            eq(n.pidf().basics(), {"closed"}, "state")
            check("/TCP " in n.msg.get("via", ""), "NOTIFY over TCP: %s"
                  % n.msg.get("via"))
            time.sleep(1.1)
            bob.register(expires=300)
            n = sub.notify(what="NOTIFY over TCP after REGISTER")
            eq(n.pidf().basics(), {"open"}, "state")
        finally:
            closing(alice, bob)


def test_refresh_updates_expiry_and_gets_notify():
    """A refresh sets the new expiry (sipctl sub list) and is answered
    with a NOTIFY of the current state (RFC 6665 4.2.1.2); an old CSeq
    is refused."""
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        alice = PUA(s, "alice")
        try:
            sub, n = presence_sub(alice, "bob@example.com", expires=300)
            e1 = sub_list(s)[0]["expires"]
            check(290 <= e1 <= 300, "expiry %s" % e1)
            time.sleep(1.1)
            r = sub.refresh(expires=1200)
            eq(r.status, 200, "refresh")
            eq(r.get("expires"), "1200", "Expires of the refresh")
            n = sub.notify(what="NOTIFY of the refresh")
            eq(n.state, "active", "state")
            check(1190 <= n.expires <= 1200, "expires %s" % n.expires)
            e2 = sub_list(s)[0]["expires"]
            check(1190 <= e2 <= 1200, "sipctl expiry %s" % e2)
            cs = sub.cseq
            r = sub.refresh(expires=600, cseq=cs)
            check(r.status >= 400, "a refresh with an old CSeq: %s"
                  % r.start)
        finally:
            closing(alice)


# --- subscriptions of other domains: the proxy's -----------------------------

def test_subscription_to_other_domain_refresh_goes_through_proxy():
    """alice subscribes to carol@other.test, a domain sipd does not serve
    (a static route to another presence server on 127.0.0.1): the proxy
    forwards the SUBSCRIBE (after 407), record-routed; the other server's
    NOTIFY reaches alice through sipd; and alice's refresh in that dialog
    (To tag, Route: sipd) must be forwarded to the other server too, not
    answered 481 by sipd's presence role, which has no such dialog (RFC
    3261 16.4: a request with a Route naming the proxy is routed by its
    route set)."""
    far = UA(None, "carol", domain="other.test",
             server=("127.0.0.1", 9))
    conf = pres_conf("route other.test>127.0.0.1:%d\n" % far.local[1])
    with Sipd(conf, accounts=ACCOUNTS) as s:
        far.s, far.server = s, s.addr
        alice = PUA(s, "alice")
        try:
            sub = alice.subscription("carol@other.test")
            sub.cseq += 1
            hdrs = ["Event: presence", "Expires: 600"]
            alice.send(alice.build("SUBSCRIBE", sub.ruri, sub.frm, sub.to,
                                   sub.callid, sub.cseq, hdrs))
            r = alice.expect_response(sub.callid, "SUBSCRIBE", final=True)
            eq(r.status, 407, "SUBSCRIBE to another domain: the proxy's"
               " challenge")
            chall = parse_challenge(r.all("proxy-authenticate")[0])
            sub.cseq += 1
            alice.send(alice.build(
                "SUBSCRIBE", sub.ruri, sub.frm, sub.to, sub.callid,
                sub.cseq, hdrs + ["Proxy-Authorization: " + digest_header(
                    chall, "SUBSCRIBE", sub.ruri, "alice", "secret")]))
            req = far.expect_request("SUBSCRIBE")
            check(req.all("record-route"), "the proxy record-routes the"
                  " SUBSCRIBE:\n" + req.raw)
            far.reply(req, 200, "OK", headers=["Expires: 600"])
            r = alice.expect_response(sub.callid, "SUBSCRIBE", final=True)
            eq(r.status, 200, "the other server's 200 relayed")
            sub.remote_tag = tag_of(r.get("to"))
            sub.route_set = list(reversed(r.all("record-route")))
            sub.target = uri_of(r.get("contact"))
            eq(sub.target, far.contact_uri, "remote target")
            check(sub.route_set, "route set of alice's dialog")
            eq(sub_list(s), [], "sipd's presence role holds nothing")

            # the other server's NOTIFY through sipd
            text, _ = far.build_request(
                "NOTIFY", uri_of(req.get("contact")), r.get("to"),
                req.get("from"), sub.callid, 1,
                routes=req.all("record-route"),
                headers=["Event: presence",
                         "Subscription-State: active;expires=600"])
            far.send(text)
            n = sub.notify(what="the other server's NOTIFY via sipd")
            eq(n.state, "active", "state")
            far.expect_response(sub.callid, "NOTIFY", final=True)

            # the refresh in that dialog: it must reach the other server
            # (after a 407 of the proxy, if it challenges it)
            sub.cseq += 1
            alice.send(alice.build("SUBSCRIBE", sub.target, sub.frm,
                                   sub.to, sub.callid, sub.cseq, hdrs,
                                   routes=sub.route_set))
            req2 = None
            for attempt in (1, 2):
                req2 = far.wait(lambda m: not m.is_response and
                                m.method == "SUBSCRIBE", "SUBSCRIBE",
                                1.5, fail=False)
                if req2 is not None:
                    break
                r = alice.expect_response(sub.callid, "SUBSCRIBE",
                                          final=True, timeout=1.5)
                check(r.status != 481, "sipd answered the in-dialog"
                      " refresh of a dialog it only proxies with %s"
                      " instead of forwarding it to the other server"
                      % r.start)
                eq(r.status, 407, "answer to the refresh")
                chall = parse_challenge(r.all("proxy-authenticate")[0])
                sub.cseq += 1
                alice.send(alice.build(
                    "SUBSCRIBE", sub.target, sub.frm, sub.to, sub.callid,
                    sub.cseq, hdrs + ["Proxy-Authorization: " +
                                      digest_header(chall, "SUBSCRIBE",
                                                    sub.target, "alice",
                                                    "secret")],
                    routes=sub.route_set))
            check(req2 is not None, "the refresh did not reach the other"
                  " server")
            far.reply(req2, 200, "OK", headers=["Expires: 600"])
            eq(alice.expect_response(sub.callid, "SUBSCRIBE",
                                     final=True).status, 200,
               "the refresh answered by the other server")
            alive(s)
        finally:
            closing(alice, far)


# --- SIPp and libre client code ----------------------------------------------

SIPP_CONF = PRES_CONF + "auth_md5_user_agent SIPp\n"


def test_sipp_watcher_and_publisher():
    """Two SIPp user agents: alice watches bob (presence_subscribe.xml)
    while bob publishes, modifies by ETag and removes
    (presence_publish.xml). alice's NOTIFYs carry the first note, then
    the second (closed), then bob's registration state; her unsubscribe
    gets the final NOTIFY terminated."""
    from test_proxy import sipp_run, sipp_ok, sipp_received
    with Sipd(SIPP_CONF, accounts=ACCOUNTS) as s:
        note1, note2 = "first-" + rand_token(6), "second-" + rand_token(6)
        watcher = sipp_run(s, "presence_subscribe.xml",
                           keys={"watcher": "alice",
                                 "presentity": "bob"},
                           extra=["-au", "alice", "-ap", "secret"],
                           auth_uri="bob@example.com", name="watcher")
        watcher.start()
        try:
            wait_for(lambda: sub_list(s), "SIPp's subscription",
                     timeout=5)
            time.sleep(0.5)
            pub = sipp_run(s, "presence_publish.xml",
                           keys={"user": "bob", "note1": note1,
                                 "note2": note2},
                           extra=["-au", "bob", "-ap", "secret2"],
                           auth_uri="bob@example.com", name="publisher")
            pres = pub.run(timeout=30)
            wres = watcher.wait(timeout=30)
        finally:
            watcher.kill()
        sipp_ok(pres, "SIPp publisher")
        sipp_ok(wres, "SIPp watcher")
        etags = [l.split()[1] for l in pres.logged("etag")]
        eq(len(etags), 2, "ETags the publisher got: %s" % etags)
        check(etags[0] != etags[1], "a new ETag for the modify")
        eq(pres.logged("removed"), ["removed"], "the remove")

        notifies = [Notify(m) for m in sipp_received(watcher, "NOTIFY")]
        states = [n.state for n in notifies]
        check(len(notifies) >= 3, "NOTIFYs at the watcher: %s" % states)
        eq(states[-1], "terminated", "the final NOTIFY")
        eq(set(states[:-1]), {"active"}, "states before the final one")
        seq = []
        for n in notifies[:-1]:
            p = n.pidf()
            seq.append(p.notes.get("sipp") or "reg:%s" % ",".join(
                sorted(p.basics())))
        # the distinct states in order (a merge may skip none here: the
        # publisher waits 1.5 s between its changes)
        dedup = [x for i, x in enumerate(seq) if i == 0 or seq[i-1] != x]
        eq(dedup, ["reg:closed", note1, note2, "reg:closed"],
           "states alice saw")
        cseqs = [n.cseq for n in notifies]
        eq(cseqs, sorted(set(cseqs)), "NOTIFY CSeqs grow")
        wait_for(lambda: sub_list(s) == [], "no subscription left")
        alive(s)


def test_libre_client_refreshes_publication():
    """sipc (libre's client transaction and digest) refreshes bob's
    publication with SIP-If-Match: 200, a new SIP-ETag, the same
    document; then removes it with Expires: 0."""
    from sipdlib import sipc
    with Sipd(PRES_CONF, accounts=ACCOUNTS) as s:
        bob = PUA(s, "bob")
        try:
            _, etag = publish_ok(bob, pidf("bob@example.com",
                                           (("lib", "open", "re"),)),
                                 expires=120)
            rc, r = sipc("-u", "bob", "-p", "secret2", "-F",
                         "sip:bob@example.com", "-e", "900", "-H",
                         "Event: presence\r\nSIP-If-Match: %s" % etag,
                         "request", "PUBLISH", "127.0.0.1:%d" % s.port,
                         "sip:bob@example.com")
            eq(rc, 0, "sipc exit status (0: a 2xx)")
            eq(r.status, 200, "refresh by sipc: %s" % (r and r.start))
            e2 = r.get("sip-etag")
            check(e2 and e2 != etag, "new SIP-ETag %r" % e2)
            eq(r.get("expires"), "900", "Expires")
            rows = pub_rows(s, "bob@example.com")
            eq([x[0] for x in rows], [e2], "stored ETag")
            check("re" in rows[0][2], "document kept")
            rc, r = sipc("-u", "bob", "-p", "secret2", "-F",
                         "sip:bob@example.com", "-e", "0", "-H",
                         "Event: presence\r\nSIP-If-Match: %s" % e2,
                         "request", "PUBLISH", "127.0.0.1:%d" % s.port,
                         "sip:bob@example.com")
            eq(r.status, 200, "remove by sipc")
            eq(pub_rows(s, "bob@example.com"), [], "removed")
            rc, r = sipc("-u", "bob", "-p", "secret2", "-F",
                         "sip:bob@example.com", "-e", "60", "-H",
                         "Event: presence\r\nSIP-If-Match: %s" % e2,
                         "request", "PUBLISH", "127.0.0.1:%d" % s.port,
                         "sip:bob@example.com")
            eq(r.status, 412, "refresh of the removed publication")
        finally:
            closing(bob)


def test_proxy_listed_before_presence_does_not_swallow_it():
    """roles=registrar,proxy,presence: the proxy roles are offered a
    request last whatever the order of the line, so PUBLISH and
    SUBSCRIBE for local users still reach the presence role (not 480
    from the proxy)."""
    conf = PRES_CONF.replace("roles=registrar,presence,proxy",
                             "roles=registrar,proxy,presence")
    check("roles=registrar,proxy,presence" in conf, "config rewritten")
    with Sipd(conf, accounts=ACCOUNTS) as s:
        bob = PUA(s, "bob")
        alice = PUA(s, "alice")
        try:
            r, _ = publish_ok(bob, pidf("bob@example.com",
                                        (("bob-desk", "open", None),)),
                              expires=600)
            check(bob.challenged, "PUBLISH was not challenged (401)")
            sub = alice.subscription("bob@example.com")
            r = sub.subscribe(expires=600)
            eq(r.status, 200, "SUBSCRIBE with the proxy listed first")
            n = sub.notify()
            eq(n.pidf().tuples, {"bob-desk": "open"}, "tuples")
            alive(s)
        finally:
            closing(alice, bob)
