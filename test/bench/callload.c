/**
 * @file callload.c  An open-loop SIP load at a fixed rate (test/bench/compare)
 *
 *   callload [-m redirect|register] [-r RATE] [-n CALLS | -t SECONDS]
 *            [-s SOCKETS] [-b SECONDS] [-c CALLEE] [-d DOMAIN]
 *            [-u PREFIX] [-P PWPREFIX] [-a MD5|SHA-256] HOST PORT
 *
 * Starts CALLS redirect calls (or RATE x SECONDS), RATE a second on a
 * fixed schedule whatever the answers, from SOCKETS UDP sockets bound to
 * HOST with ports of the kernel's choice (call i on socket i mod SOCKETS,
 * so that SO_REUSEPORT spreads them over sipd's workers). A call is an
 * INVITE to sip:CALLEE@DOMAIN with its own Call-ID, branch and From tag;
 * a 100 is ignored (it stops the retransmissions); a 302 whose first
 * Contact holds a SIP URI ends the call well and gets the ACK of a
 * non-2xx final response (RFC 3261 17.1.1.3: the INVITE's branch and
 * Request-URI, the To tag of the 302; a retransmitted 302 gets it again).
 * The INVITE is retransmitted per Timer A (500 ms, doubling); a call
 * fails when no final response came within -b seconds (Timer B, 32) or
 * another final response came. Messages go out and come in in
 * sendmmsg() and recvmmsg() batches, so that the client needs much less
 * CPU a call than the server it loads.
 *
 * -m register: a call is a registration of its own user, PREFIX0 ..
 * PREFIX{CALLS-1} at DOMAIN (alice, example.com), password
 * PWPREFIX-USER (pw; test/sipp/users.py's accounts): REGISTER
 * sip:DOMAIN, a 401 whose MD5 challenge (-a SHA-256: its SHA-256 one; of
 * several, the others skipped, RFC 8760) is answered by a REGISTER with credentials (qop=auth), and
 * a 200 with a Contact. Each REGISTER is retransmitted per Timer E (500
 * ms doubling up to 4 s) and fails after -b seconds; the times run from
 * the first REGISTER to the 200.
 *
 * When the last call has ended it prints one line of name=value figures:
 *   calls ok failed timeouts rate retrans p50_ms p99_ms max_ms dups
 *   lag_ms cpu_s elapsed_s send_errors
 * rate is the calls started a second (from the first to the last),
 * lag_ms the most a call started after its time on the schedule,
 * p50/p99/max_ms the times of the calls that succeeded, dups the final
 * responses to calls already ended (retransmitted, a 302 ACKed again,
 * or late, after the call failed), cpu_s callload's own CPU time,
 * send_errors the messages the kernel refused. Exit status 0 when every
 * call succeeded, 1 when one failed, 2 on a usage or set-up error.
 *
 * Copyright (C) 2026 sipd developers
 */

#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>


enum {
	MAX_SOCKS = 256,
	BATCH = 64,
	MSG_SIZE = 2048,
	TICK_MS = 10,           /* timer resolution */
	SLOTS = 4096,           /* timer wheel: 40.96 s */
	T1_TICKS = 500 / TICK_MS,
	T2_TICKS = 4000 / TICK_MS,
	MAX_REPORTED = 5,       /* failures described on stderr */
};

enum state {
	IDLE = 0,
	CALLING,                /* INVITE or first REGISTER sent, no answer */
	PROCEEDING,             /* a 1xx to the INVITE: no retransmissions */
	AUTH,                   /* REGISTER with credentials sent */
	DONE,
	FAILED,
};

struct call {
	double t0;              /* the first request left */
	char *req;              /* the request, while it may be resent */
	uint32_t tx;            /* tick its transaction started */
	uint32_t due;           /* tick of the call's timer */
	uint16_t reqlen;
	uint16_t ival;          /* the next retransmission interval, ticks */
	uint8_t state;
};

struct sock {
	int fd;
	uint16_t lport;
	unsigned n;             /* messages queued */
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	char buf[BATCH][MSG_SIZE];
};

struct wheel_slot {
	uint32_t *v;
	size_t n, sz;
};


static struct sockaddr_in dst;
static struct sock *socks;
static unsigned nsocks = 4;
static struct call *calls;
static uint32_t ncalls;
static struct wheel_slot wheel[SLOTS];
static const char *host, *callee = "bench", *domain = "example.com";
static const char *prefix = "alice", *pw_prefix = "pw";
static int reg_mode;            /* -m register */
static unsigned run_id;
static int sha256;              /* -a SHA-256: answer its challenge */
static double t_start;
static uint32_t cap_ticks = 32000 / TICK_MS;

static uint64_t n_ok, n_failed, n_timeouts, n_retrans, n_dups;
static uint64_t n_send_errors;
static unsigned n_reported;


static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);

	return ts.tv_sec + ts.tv_nsec / 1e9;
}


static uint32_t tick_of(double t)
{
	return (uint32_t)((t - t_start) * (1000 / TICK_MS));
}


static void flush(struct sock *s)
{
	unsigned off = 0;

	while (off < s->n) {
		int r = sendmmsg(s->fd, s->msgs + off, s->n - off, 0);

		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			n_send_errors += s->n - off;  /* retransmitted later */
			break;
		}
		off += (unsigned)r;
	}

	s->n = 0;
}


static void flush_all(void)
{
	unsigned i;

	for (i = 0; i < nsocks; i++) {
		if (socks[i].n)
			flush(&socks[i]);
	}
}


static void queue(struct sock *s, const char *data, size_t len)
{
	if (len > MSG_SIZE)
		return;

	if (s->n == BATCH)
		flush(s);

	memcpy(s->buf[s->n], data, len);
	s->iov[s->n].iov_base = s->buf[s->n];
	s->iov[s->n].iov_len = len;
	memset(&s->msgs[s->n], 0, sizeof(s->msgs[s->n]));
	s->msgs[s->n].msg_hdr.msg_name = &dst;
	s->msgs[s->n].msg_hdr.msg_namelen = sizeof(dst);
	s->msgs[s->n].msg_hdr.msg_iov = &s->iov[s->n];
	s->msgs[s->n].msg_hdr.msg_iovlen = 1;
	++s->n;
}


static void timer_set(uint32_t idx, uint32_t due)
{
	struct wheel_slot *w = &wheel[due % SLOTS];

	if (w->n == w->sz) {
		size_t sz = w->sz ? w->sz * 2 : 64;
		uint32_t *v = realloc(w->v, sz * sizeof(*v));

		if (!v) {
			perror("callload: realloc");
			exit(2);
		}
		w->v = v;
		w->sz = sz;
	}

	w->v[w->n++] = idx;
	calls[idx].due = due;
}


static void fail(uint32_t idx, const char *why, int code)
{
	struct call *c = &calls[idx];

	c->state = FAILED;
	free(c->req);
	c->req = NULL;
	++n_failed;

	if (n_reported++ >= MAX_REPORTED)
		return;

	if (code)
		fprintf(stderr, "callload: call %u failed: %s %d\n", idx, why,
			code);
	else
		fprintf(stderr, "callload: call %u failed: %s\n", idx, why);
}


/* msg is idx's request of a new transaction: sent, kept to resend */
static void send_request(uint32_t idx, const char *msg, int len, double t)
{
	struct call *c = &calls[idx];

	if (len <= 0 || len >= MSG_SIZE) {
		fail(idx, "request too long", 0);
		return;
	}

	free(c->req);
	c->req = malloc((size_t)len);
	if (!c->req) {
		perror("callload: malloc");
		exit(2);
	}
	memcpy(c->req, msg, (size_t)len);
	c->reqlen = (uint16_t)len;
	c->tx = tick_of(t);
	c->ival = T1_TICKS;
	queue(&socks[idx % nsocks], msg, (size_t)len);
	timer_set(idx, c->tx + T1_TICKS);
}


/* the REGISTER of user idx, with an Authorization header or none */
static void send_register(uint32_t idx, int cseq, const char *auth,
			  double t)
{
	struct sock *s = &socks[idx % nsocks];
	char msg[MSG_SIZE];
	int len;

	len = snprintf(msg, sizeof(msg),
		       "REGISTER sip:%s SIP/2.0\r\n"
		       "Via: SIP/2.0/UDP %s:%u"
		       ";branch=z9hG4bK-cl%x-%u-%d;rport\r\n"
		       "Max-Forwards: 70\r\n"
		       "From: <sip:%s%u@%s>;tag=cl%x-%u\r\n"
		       "To: <sip:%s%u@%s>\r\n"
		       "Call-ID: cl%x-%u@%s\r\n"
		       "CSeq: %d REGISTER\r\n"
		       "Contact: <sip:%s%u@%s:%u>\r\n"
		       "Expires: 3600\r\n"
		       "%s"
		       "User-Agent: callload\r\n"
		       "Content-Length: 0\r\n\r\n",
		       domain, host, s->lport, run_id, idx, cseq, prefix, idx,
		       domain, run_id, idx, prefix, idx, domain, run_id, idx,
		       host, cseq, prefix, idx, host, s->lport, auth);

	send_request(idx, msg, len, t);
}


static void done(uint32_t idx, double t)
{
	struct call *c = &calls[idx];

	c->state = DONE;
	c->t0 = t - c->t0;  /* from here on, the call's time */
	free(c->req);
	c->req = NULL;
	++n_ok;
}


static void start_call(uint32_t idx, double t)
{
	struct call *c = &calls[idx];
	struct sock *s = &socks[idx % nsocks];
	char msg[MSG_SIZE];
	int len;

	c->t0 = t;
	c->state = CALLING;

	if (reg_mode) {
		send_register(idx, 1, "", t);
		return;
	}

	len = snprintf(msg, sizeof(msg),
		       "INVITE sip:%s@%s SIP/2.0\r\n"
		       "Via: SIP/2.0/UDP %s:%u;branch=z9hG4bK-cl%x-%u;rport\r\n"
		       "Max-Forwards: 70\r\n"
		       "From: <sip:caller@%s>;tag=cl%x-%u\r\n"
		       "To: <sip:%s@%s>\r\n"
		       "Call-ID: cl%x-%u@%s\r\n"
		       "CSeq: 1 INVITE\r\n"
		       "Contact: <sip:caller@%s:%u>\r\n"
		       "User-Agent: callload\r\n"
		       "Content-Length: 0\r\n\r\n",
		       callee, domain, host, s->lport, run_id, idx, domain,
		       run_id, idx, callee, domain, run_id, idx, host, host,
		       s->lport);

	send_request(idx, msg, len, t);
}


/* the due timers of every tick up to t: retransmit, or time the call out */
static void run_timers(double t)
{
	static uint32_t done_tick;
	uint32_t tk = tick_of(t);

	for (; done_tick <= tk; done_tick++) {
		struct wheel_slot *w = &wheel[done_tick % SLOTS];
		size_t i;

		/* every timer is due within cap_ticks < SLOTS: an entry for
		 * another tick is stale (the call's timer moved) */
		for (i = 0; i < w->n; i++) {
			uint32_t idx = w->v[i];
			struct call *c = &calls[idx];
			uint32_t start = c->tx, next;

			if (c->due != done_tick ||
			    (c->state != CALLING && c->state != PROCEEDING &&
			     c->state != AUTH))
				continue;

			if (done_tick >= start + cap_ticks) {
				++n_timeouts;
				fail(idx, "no final response in time", 0);
				continue;
			}

			if (c->state != PROCEEDING) {
				queue(&socks[idx % nsocks], c->req, c->reqlen);
				++n_retrans;
				c->ival *= 2;
				if (reg_mode && c->ival > T2_TICKS)
					c->ival = T2_TICKS;  /* Timer E */
				next = done_tick + c->ival;
			}
			else {
				next = start + cap_ticks;
			}

			timer_set(idx, next < start + cap_ticks ? next :
				  start + cap_ticks);
		}

		w->n = 0;
	}
}


/* a header's value: name (or its compact form) at a line start, after
 * the line of after (the value of an earlier one) or the start line */
static const char *header_after(const char *msg, size_t len,
				const char *after, const char *name,
				char compact, size_t *vlen)
{
	const char *p = after ? after : msg, *end = msg + len;
	size_t nl = strlen(name);

	while (p < end && *p != '\n')
		++p;

	while (p < end) {
		const char *line = ++p, *eol, *v;

		while (p < end && *p != '\n')
			++p;
		eol = p;
		if (eol > line && eol[-1] == '\r')
			--eol;
		if (eol == line)
			return NULL;   /* the end of the headers */

		v = line;
		while (v < eol && *v != ':' && *v != ' ' && *v != '\t')
			++v;
		if (!(((size_t)(v - line) == nl &&
		       !strncasecmp(line, name, nl)) ||
		      (compact && v - line == 1 &&
		       (*line | 0x20) == compact)))
			continue;

		while (v < eol && (*v == ' ' || *v == '\t'))
			++v;
		if (v == eol || *v != ':')
			continue;
		++v;
		while (v < eol && (*v == ' ' || *v == '\t'))
			++v;

		*vlen = (size_t)(eol - v);
		return v;
	}

	return NULL;
}


static const char *header(const char *msg, size_t len, const char *name,
			  char compact, size_t *vlen)
{
	return header_after(msg, len, NULL, name, compact, vlen);
}


/* the call a response belongs to, from its Call-ID: ours, or -1 */
static long call_of(const char *msg, size_t len)
{
	char prefix[32], *e;
	const char *v;
	size_t vlen, pl;
	unsigned long idx;

	v = header(msg, len, "Call-ID", 'i', &vlen);
	if (!v)
		return -1;

	pl = (size_t)snprintf(prefix, sizeof(prefix), "cl%x-", run_id);
	if (vlen <= pl || strncmp(v, prefix, pl))
		return -1;

	idx = strtoul(v + pl, &e, 10);
	if (e == v + pl || *e != '@' || idx >= ncalls)
		return -1;

	return (long)idx;
}


static void send_ack(uint32_t idx, const char *to, size_t tolen)
{
	struct sock *s = &socks[idx % nsocks];
	char msg[MSG_SIZE];
	int len;

	len = snprintf(msg, sizeof(msg),
		       "ACK sip:%s@%s SIP/2.0\r\n"
		       "Via: SIP/2.0/UDP %s:%u;branch=z9hG4bK-cl%x-%u;rport\r\n"
		       "Max-Forwards: 70\r\n"
		       "From: <sip:caller@%s>;tag=cl%x-%u\r\n"
		       "To: %.*s\r\n"
		       "Call-ID: cl%x-%u@%s\r\n"
		       "CSeq: 1 ACK\r\n"
		       "User-Agent: callload\r\n"
		       "Content-Length: 0\r\n\r\n",
		       callee, domain, host, s->lport, run_id, idx, domain,
		       run_id, idx, (int)tolen, to, run_id, idx, host);
	if (len > 0 && len < (int)sizeof(msg))
		queue(s, msg, (size_t)len);
}


/* does a Contact value hold a SIP URI: "sip:" or "sips:" after an
 * optional display name and "<" */
static int sip_contact(const char *v, size_t len)
{
	const char *lt = memchr(v, '<', len);

	if (lt) {
		len -= (size_t)(lt + 1 - v);
		v = lt + 1;
	}

	return (len > 4 && !strncasecmp(v, "sip:", 4)) ||
		(len > 5 && !strncasecmp(v, "sips:", 5));
}


/* the final response that ends a call well must name a SIP Contact */
static void done_with_contact(uint32_t idx, const char *msg, size_t len,
			      int code, double t)
{
	const char *m;
	size_t mlen;

	m = header(msg, len, "Contact", 'm', &mlen);
	if (!m || !sip_contact(m, mlen)) {
		fail(idx, code == 302 ? "302 without a SIP Contact" :
		     "200 without a SIP Contact", code);
		return;
	}

	done(idx, t);
}


/* a response to the INVITE of call idx */
static void handle_invite(long idx, int code, const char *msg, size_t len,
			  double t)
{
	struct call *c = &calls[idx];
	const char *to;
	size_t tolen;

	if (code < 200) {
		if (c->state == CALLING)
			c->state = PROCEEDING;  /* its timer times it out */
		return;
	}

	to = header(msg, len, "To", 't', &tolen);
	if (!to)
		return;

	if (code >= 300)
		send_ack((uint32_t)idx, to, tolen);

	if (c->state != CALLING && c->state != PROCEEDING) {
		++n_dups;  /* a retransmission: it has its ACK again */
		return;
	}

	if (code != 302) {
		fail((uint32_t)idx, "final response", code);
		return;
	}

	done_with_contact((uint32_t)idx, msg, len, code, t);
}


/* the hex digest of the algorithm the registrations answer with (-a) */
static void digest_hex(char out[65], const char *fmt, ...)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	char buf[1024];
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);

	if (len < 0 || len >= (int)sizeof(buf) ||
	    !EVP_Digest(buf, (size_t)len, md, &mdlen,
			sha256 ? EVP_sha256() : EVP_md5(), NULL))
		mdlen = 0;

	for (i = 0; i < mdlen && i < 32; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
	out[2 * i] = '\0';
}


struct challenge {
	char realm[128], nonce[256], opaque[256], qop[64], algorithm[32];
};


/* a Digest challenge's parameters (quoted or tokens); 0 if not Digest */
static int parse_challenge(const char *v, size_t len, struct challenge *ch)
{
	const char *p = v, *end = v + len;

	memset(ch, 0, sizeof(*ch));
	if (len < 7 || strncasecmp(v, "Digest", 6) ||
	    (v[6] != ' ' && v[6] != '\t'))
		return 0;

	p += 6;
	while (p < end) {
		const char *name, *val;
		size_t nlen, vlen;
		char *out = NULL;
		size_t osz = 0;

		while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
			++p;
		name = p;
		while (p < end && *p != '=' && *p != ' ' && *p != ',')
			++p;
		nlen = (size_t)(p - name);
		while (p < end && *p == ' ')
			++p;
		if (p == end || *p != '=')
			continue;
		++p;
		while (p < end && *p == ' ')
			++p;
		if (p < end && *p == '"') {
			val = ++p;
			while (p < end && *p != '"')
				p += (*p == '\\' && p + 1 < end) ? 2 : 1;
			vlen = (size_t)(p - val);
			if (p < end)
				++p;
		}
		else {
			val = p;
			while (p < end && *p != ',' && *p != ' ')
				++p;
			vlen = (size_t)(p - val);
		}

#define PARAM(n) (nlen == sizeof(#n) - 1 && !strncasecmp(name, #n, nlen))
		if (PARAM(realm))
			out = ch->realm, osz = sizeof(ch->realm);
		else if (PARAM(nonce))
			out = ch->nonce, osz = sizeof(ch->nonce);
		else if (PARAM(opaque))
			out = ch->opaque, osz = sizeof(ch->opaque);
		else if (PARAM(qop))
			out = ch->qop, osz = sizeof(ch->qop);
		else if (PARAM(algorithm))
			out = ch->algorithm, osz = sizeof(ch->algorithm);
#undef PARAM
		if (out && vlen < osz) {
			memcpy(out, val, vlen);
			out[vlen] = '\0';
		}
	}

	return 1;
}


/* does a comma-separated list hold the token "auth" */
static int has_auth(const char *list)
{
	const char *p = list;

	while (*p) {
		size_t n;

		while (*p == ' ' || *p == ',')
			++p;
		n = strcspn(p, " ,");
		if (n == 4 && !strncasecmp(p, "auth", 4))
			return 1;
		p += n;
	}

	return 0;
}


/* the REGISTER with credentials for the MD5 (or -a SHA-256) challenge
   of a 401 */
static void answer_challenge(uint32_t idx, const char *msg, size_t len,
			     double t)
{
	const char *alg = sha256 ? "SHA-256" : "MD5";
	struct challenge ch;
	char ha1[65], ha2[65], resp[65], auth[1300], user[64];
	char qop_part[64] = "", opaque_part[300] = "";
	const char *v = NULL;
	size_t vlen;
	int qop;

	for (;;) {
		v = header_after(msg, len, v, "WWW-Authenticate", 0, &vlen);
		if (!v) {
			fail(idx, sha256 ? "401 without a SHA-256 Digest"
			     " challenge" : "401 without an MD5 Digest"
			     " challenge", 401);
			return;
		}
		if (parse_challenge(v, vlen, &ch) && ch.nonce[0] &&
		    ((!ch.algorithm[0] && !sha256) ||
		     !strcasecmp(ch.algorithm, alg)))
			break;
	}

	snprintf(user, sizeof(user), "%s%u", prefix, idx);
	qop = has_auth(ch.qop);
	digest_hex(ha1, "%s:%s:%s-%s", user, ch.realm, pw_prefix, user);
	digest_hex(ha2, "REGISTER:sip:%s", domain);
	if (qop)
		digest_hex(resp, "%s:%s:00000001:%08x%08x:auth:%s", ha1, ch.nonce,
			run_id, idx, ha2);
	else
		digest_hex(resp, "%s:%s:%s", ha1, ch.nonce, ha2);

	if (qop)
		snprintf(qop_part, sizeof(qop_part), ", qop=auth, nc=00000001,"
			 " cnonce=\"%08x%08x\"", run_id, idx);
	if (ch.opaque[0])
		snprintf(opaque_part, sizeof(opaque_part), ", opaque=\"%s\"",
			 ch.opaque);

	snprintf(auth, sizeof(auth),
		 "Authorization: Digest username=\"%s\", realm=\"%s\","
		 " nonce=\"%s\", uri=\"sip:%s\", response=\"%s\","
		 " algorithm=%s%s%s\r\n",
		 user, ch.realm, ch.nonce, domain, resp, alg, qop_part,
		 opaque_part);

	calls[idx].state = AUTH;
	send_register(idx, 2, auth, t);
}


/* a response to REGISTER number cseq of user idx */
static void handle_register(long idx, int code, int cseq, const char *msg,
			    size_t len, double t)
{
	struct call *c = &calls[idx];

	if (code < 200)
		return;

	if ((cseq == 1 && c->state != CALLING) ||
	    (cseq == 2 && c->state != AUTH)) {
		++n_dups;  /* retransmitted, or late */
		return;
	}

	if (cseq == 1 && code == 401) {
		answer_challenge((uint32_t)idx, msg, len, t);
		return;
	}

	if (cseq == 1 || code != 200) {
		fail((uint32_t)idx, cseq == 1 ? "final response without a"
		     " challenge" : "final response to the credentials", code);
		return;
	}

	done_with_contact((uint32_t)idx, msg, len, code, t);
}


static void handle(const char *msg, size_t len, double t)
{
	const char *cseq;
	size_t cslen;
	char *e;
	long idx;
	int code;
	unsigned long num;

	if (len < 12 || strncmp(msg, "SIP/2.0 ", 8))
		return;    /* not a response */

	code = atoi(msg + 8);
	idx = call_of(msg, len);
	cseq = header(msg, len, "CSeq", 0, &cslen);
	if (idx < 0 || !cseq || calls[idx].state == IDLE)
		return;

	num = strtoul(cseq, &e, 10);
	while (e < cseq + cslen && (*e == ' ' || *e == '\t'))
		++e;
	cslen -= (size_t)(e - cseq);

	if (reg_mode && cslen >= 8 && !strncmp(e, "REGISTER", 8) &&
	    (num == 1 || num == 2))
		handle_register(idx, code, (int)num, msg, len, t);
	else if (!reg_mode && cslen >= 6 && !strncmp(e, "INVITE", 6) &&
		 num == 1)
		handle_invite(idx, code, msg, len, t);
}


static void receive(struct sock *s, double t)
{
	static char buf[BATCH][MSG_SIZE];
	static struct iovec iov[BATCH];
	static struct mmsghdr msgs[BATCH];
	int i, r;

	for (;;) {
		for (i = 0; i < BATCH; i++) {
			iov[i].iov_base = buf[i];
			iov[i].iov_len = sizeof(buf[i]) - 1;
			memset(&msgs[i], 0, sizeof(msgs[i]));
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}

		r = recvmmsg(s->fd, msgs, BATCH, MSG_DONTWAIT, NULL);
		if (r <= 0)
			return;

		for (i = 0; i < r; i++) {
			buf[i][msgs[i].msg_len] = '\0';
			handle(buf[i], msgs[i].msg_len, t);
		}

		if (r < BATCH)
			return;
	}
}


static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}


static double percentile(const double *v, size_t n, double p)
{
	size_t k;

	if (!n)
		return 0;

	k = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;

	return v[k - 1];
}


static void report(double t_first, double t_last, double lag, double end)
{
	double *rtt, rate, cpu;
	struct rusage ru;
	size_t n = 0;
	uint32_t i;

	rtt = malloc((n_ok ? n_ok : 1) * sizeof(*rtt));
	if (!rtt) {
		perror("callload: malloc");
		exit(2);
	}
	for (i = 0; i < ncalls; i++) {
		if (calls[i].state == DONE)
			rtt[n++] = calls[i].t0 * 1000.0;
	}
	qsort(rtt, n, sizeof(*rtt), cmp_double);

	rate = t_last > t_first ? (ncalls - 1) / (t_last - t_first) : 0;
	getrusage(RUSAGE_SELF, &ru);
	cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;

	printf("calls=%u ok=%llu failed=%llu timeouts=%llu rate=%.1f"
	       " retrans=%llu p50_ms=%.3f p99_ms=%.3f max_ms=%.3f"
	       " dups=%llu lag_ms=%.1f cpu_s=%.2f elapsed_s=%.2f"
	       " send_errors=%llu\n",
	       ncalls, (unsigned long long)n_ok,
	       (unsigned long long)n_failed,
	       (unsigned long long)n_timeouts, rate,
	       (unsigned long long)n_retrans, percentile(rtt, n, 50),
	       percentile(rtt, n, 99), n ? rtt[n - 1] : 0,
	       (unsigned long long)n_dups, lag * 1000.0,
	       cpu, end - t_first, (unsigned long long)n_send_errors);
	free(rtt);
}


static void usage(void)
{
	fprintf(stderr, "usage: callload [-m redirect|register] [-r RATE]"
		" [-n CALLS | -t SECONDS]\n"
		"                [-s SOCKETS] [-b SECONDS] [-c CALLEE]"
		" [-d DOMAIN]\n"
		"                [-u PREFIX] [-P PWPREFIX] [-a MD5|SHA-256]"
		" HOST PORT\n");
	exit(2);
}


static void open_socks(void)
{
	unsigned i;

	socks = calloc(nsocks, sizeof(*socks));
	if (!socks) {
		perror("callload: calloc");
		exit(2);
	}

	for (i = 0; i < nsocks; i++) {
		struct sockaddr_in la = dst;
		socklen_t len = sizeof(la);
		int fd = socket(AF_INET, SOCK_DGRAM, 0);
		int sz = 4 << 20;

		la.sin_port = 0;
		if (fd < 0 || bind(fd, (struct sockaddr *)&la, sizeof(la)) ||
		    getsockname(fd, (struct sockaddr *)&la, &len)) {
			perror("callload: socket");
			exit(2);
		}
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));

		socks[i].fd = fd;
		socks[i].lport = ntohs(la.sin_port);
	}
}


int main(int argc, char *argv[])
{
	static struct pollfd pfd[MAX_SOCKS];
	double rate = 1000, seconds = 0, cap = 32, lag = 0;
	double t, t_last = 0;
	uint32_t started = 0;
	long n = 0;
	unsigned i;
	int o;

	while ((o = getopt(argc, argv, "m:r:n:t:s:b:c:d:u:P:a:")) != -1) {
		switch (o) {

		case 'm':
			if (!strcmp(optarg, "register"))
				reg_mode = 1;
			else if (strcmp(optarg, "redirect"))
				usage();
			break;

		case 'r': rate = atof(optarg); break;
		case 'n': n = atol(optarg); break;
		case 't': seconds = atof(optarg); break;
		case 's': nsocks = (unsigned)atoi(optarg); break;
		case 'b': cap = atof(optarg); break;
		case 'c': callee = optarg; break;
		case 'd': domain = optarg; break;
		case 'u': prefix = optarg; break;
		case 'P': pw_prefix = optarg; break;
		case 'a':
			if (!strcasecmp(optarg, "SHA-256"))
				sha256 = 1;
			else if (strcasecmp(optarg, "MD5"))
				usage();
			break;
		default: usage();
		}
	}

	if (argc - optind != 2)
		usage();

	host = argv[optind];
	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)atoi(argv[optind + 1]));
	if (seconds > 0)
		n = (long)(rate * seconds + 0.5);

	if (inet_pton(AF_INET, host, &dst.sin_addr) != 1 ||
	    ntohl(dst.sin_addr.s_addr) >> 24 != 127 || !dst.sin_port ||
	    rate <= 0 || n < 1 || n > 50000000 || nsocks < 1 ||
	    nsocks > MAX_SOCKS || cap < 0.5 || cap > 40) {
		fprintf(stderr, "callload: a 127.x.x.x address and a port, a"
			" positive rate, 1 to 50000000 calls, 1 to %d"
			" sockets, -b 0.5 to 40 s\n", MAX_SOCKS);
		return 2;
	}

	ncalls = (uint32_t)n;
	cap_ticks = (uint32_t)(cap * 1000 / TICK_MS);
	run_id = (unsigned)getpid();
	calls = calloc(ncalls, sizeof(*calls));
	if (!calls) {
		perror("callload: calloc");
		return 2;
	}
	open_socks();
	for (i = 0; i < nsocks; i++) {
		pfd[i].fd = socks[i].fd;
		pfd[i].events = POLLIN;
	}

	t_start = now();

	for (;;) {
		uint64_t due;
		double wait;
		struct timespec ts;

		t = now();

		/* the calls whose time has come, on schedule i / rate */
		due = (uint64_t)((t - t_start) * rate) + 1;
		if (due > ncalls)
			due = ncalls;
		if (started < due) {
			double late = t - t_start - started / rate;

			if (late > lag)
				lag = late;
			while (started < due)
				start_call(started++, t);
			t_last = t;
		}
		flush_all();

		run_timers(t);
		flush_all();

		if (started == ncalls && n_ok + n_failed == ncalls)
			break;

		/* sleep to the next call, 1 ms at least (batches), unless an
		 * answer comes */
		wait = started < ncalls ? t_start + started / rate - t : 0.01;
		if (wait < 0.001)
			wait = 0.001;
		if (wait > 0.01)
			wait = 0.01;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)(wait * 1e9);

		if (ppoll(pfd, nsocks, &ts, NULL) < 0 && errno != EINTR) {
			perror("callload: poll");
			return 2;
		}

		t = now();
		for (i = 0; i < nsocks; i++) {
			if (pfd[i].revents & POLLIN)
				receive(&socks[i], t);
		}
		flush_all();
	}

	report(t_start, t_last, lag, now());

	return n_failed ? 1 : 0;
}
