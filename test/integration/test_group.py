"""Group commit of REGISTERs over UDP (lib/db/group.c).

A burst of REGISTERs that sipd reads one a turn of its loop shares
commits: sipctl status shows fewer commits than saves, every REGISTER
gets its 200 listing its own contact, and every binding that had a 200
is in the database, also after a kill -9 in the middle of a burst.
"""

import time

from sipdlib import Sipd, check, eq, status


USERS = 60

CONF = """\
domain example.com
db {db}
log_level debug
module location
module auth
listen udp:127.0.0.1:{port};roles=registrar;auth=off
"""


def accounts():
    return [("g%d@example.com" % i, "pw%d" % i) for i in range(USERS)]


def burst(c, first, n):
    """n REGISTERs back to back, one user each; {call-id: contact}."""
    sent = {}
    for i in range(first, first + n):
        contact = "sip:g%d@127.0.0.1:%d;burst=%d" % (i, c.local[1], i)
        callid = "group-%d-%d@test" % (i, time.time_ns())
        c.request("REGISTER", "sip:example.com",
                  ["Contact: <%s>" % contact, "Expires: 600"],
                  to="<sip:g%d@example.com>" % i,
                  frm="<sip:g%d@example.com>;tag=t%d" % (i, i),
                  callid=callid, cseq=1)
        sent[callid] = contact
    return sent


def answers(c, sent, timeout=5.0):
    """{call-id: final response} of the burst, as many as came."""
    got = {}
    deadline = time.time() + timeout
    while len(got) < len(sent) and time.time() < deadline:
        m = c.recv(0.5)
        if m is None or not m.is_response or m.status < 200:
            continue
        got[m.get("call-id")] = m
    return got


def bound(s):
    return {r[0] for r in s.query("SELECT contact FROM bindings")}


def test_burst_shares_commits():
    with Sipd(CONF, accounts=accounts()) as s:
        before = status(s)
        c = s.client()
        sent = burst(c, 0, USERS)
        got = answers(c, sent)
        eq(len(got), USERS, "final responses to the burst")
        for callid, contact in sent.items():
            eq(got[callid].status, 200, "REGISTER %s" % callid)
            check(contact in got[callid].raw,
                  "the 200 does not list %s:\n%s" %
                  (contact, got[callid].raw))
        eq(bound(s), set(sent.values()), "bindings in the database")

        after = status(s)
        saves = after["registrar_group_saves"] - \
            before["registrar_group_saves"]
        commits = after["registrar_group_commits"] - \
            before["registrar_group_commits"]
        eq(saves, USERS, "REGISTERs saved in groups")
        # read one a turn, the burst waits in the socket: a group takes
        # every REGISTER that came while it was open (a commit every
        # turn would make groups of one or two)
        check(commits * 4 <= saves, "%d commits for %d saves: groups of"
              " fewer than 4" % (commits, saves))


def test_kill9_in_a_burst_keeps_every_acknowledged_binding():
    with Sipd(CONF, accounts=accounts()) as s:
        c = s.client()
        sent = burst(c, 0, USERS)
        # the first answers, then kill -9 while the rest are in flight
        got = {}
        deadline = time.time() + 5
        while len(got) < USERS // 3 and time.time() < deadline:
            m = c.recv(0.5)
            if m is not None and m.is_response and m.status == 200:
                got[m.get("call-id")] = m
        s.kill9()
        while True:
            m = c.recv(0.2)
            if m is None:
                break
            if m.is_response and m.status == 200:
                got[m.get("call-id")] = m
        check(len(got) >= USERS // 3, "only %d 200s before the kill" %
              len(got))
        s.start()
        rows = bound(s)
        for callid in got:
            check(sent[callid] in rows, "%s had its 200 but is not in the"
                  " database after kill -9" % sent[callid])
