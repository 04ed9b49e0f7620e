/**
 * @file probe.c  Server pools: an OPTIONS to every member each
 *                pool_probe_interval
 *
 * A probe goes through a socket of the member's transport (the first
 * one of its address family) and libre's RFC 3263 resolution. A probe
 * still unanswered at the next interval is a failure, as is a transport
 * error; pool_probe_failures failures in a row take the member down. One
 * answer of any code but 503 brings it up; a 503 drains it for its
 * Retry-After (60 s without one), whatever later probes answer. A host
 * name that does not resolve takes it down at once, with a warning. A
 * member with no socket of its transport is not probed (a warning; its
 * state stays unknown).
 *
 * Each worker probes on its own (pool.c).
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include "pools.h"


struct probe {
	struct sip_request *req;
	struct pool_member *m;     /* owns the probe */
};

static struct tmr tick_tmr;


static void probe_destructor(void *arg)
{
	struct probe *pr = arg;

	mem_deref(pr->req);
}


static void state_set(struct pool_member *m, enum member_state state,
		      const char *why)
{
	if (m->state == state)
		return;

	m->state = state;

	if (state == MEMBER_DOWN)
		log_notice("pool %s: %s down (%s)\n", m->pool, m->uri, why);
	else if (state == MEMBER_UP)
		log_notice("pool %s: %s up (%s)\n", m->pool, m->uri, why);
}


/* A member whose host is not an IP address: resolved by DNS */
static bool host_is_name(const struct pool_member *m)
{
	struct sa sa;

	return sa_set(&sa, &m->u.host, 0) != 0;
}


static void failure(struct pool_member *m, int err)
{
	char why[64];

	m->last_code = 0;
	m->last_time = time_now();

	if (err == ETIMEDOUT) {
		m->last_result = "timeout";
	}
	else if (host_is_name(m) && (err == EDESTADDRREQ || err == ENOENT ||
				     err == ENODATA || err == EINVAL ||
				     err == EBADMSG)) {
		/* libre: no address found, or the DNS error (EINVAL: no
		   DNS client) */
		m->last_result = "unresolved";
		if (m->state != MEMBER_DOWN)
			log_warning("pool %s: %s: cannot resolve %r (%m)\n",
				    m->pool, m->uri, &m->u.host, err);
		m->failures = pool_settings()->failures;
		state_set(m, MEMBER_DOWN, "unresolved");
		return;
	}
	else {
		m->last_result = "error";
	}

	if (++m->failures < pool_settings()->failures)
		return;

	(void)re_snprintf(why, sizeof(why), "%u probe%s %s",
			  m->failures, m->failures == 1 ? "" : "s",
			  err == ETIMEDOUT ? "unanswered" : "failed");
	state_set(m, MEMBER_DOWN, why);
}


static void probe_resp(int err, const struct sip_msg *msg, void *arg)
{
	struct probe *pr = arg;
	struct pool_member *m = pr->m;
	char why[32];

	if (!err && msg && msg->scode < 200)
		return;

	if (err || !msg) {
		failure(m, err ? err : EPROTO);
		goto out;
	}

	m->last_code = msg->scode;
	m->last_result = NULL;
	m->last_time = time_now();
	m->failures = 0;

	if (msg->scode == 503) {
		const struct sip_hdr *hdr;
		uint32_t ra = 0;

		hdr = sip_msg_hdr(msg, SIP_HDR_RETRY_AFTER);
		if (hdr)
			ra = pl_u32(&hdr->val);

		if (m->state == MEMBER_DOWN)
			state_set(m, MEMBER_UP, "answered 503");
		else
			m->state = MEMBER_UP;
		pool_member_unavailable(m, ra);
		goto out;
	}

	(void)re_snprintf(why, sizeof(why), "answered %u", msg->scode);
	if (m->state == MEMBER_UNKNOWN)
		log_info("pool %s: %s up (%s)\n", m->pool, m->uri, why);
	if (m->state == MEMBER_UNKNOWN)
		m->state = MEMBER_UP;
	else
		state_set(m, MEMBER_UP, why);

 out:
	m->probe = mem_deref(m->probe);
}


static int probe_send(struct pool_member *m)
{
	struct sipd_sock *sock;
	char tag[16], callid[24];
	struct probe *pr;
	struct mbuf *mb;
	int af = m->u.af == AF_INET6 ? AF_INET6 : AF_INET;
	int err;

	sock = sock_choose(m->tp, af, NULL);
	if (!sock)
		sock = sock_choose(m->tp, AF_UNSPEC, NULL);
	if (!sock)
		return ENOTSUP;

	pr = mem_zalloc(sizeof(*pr), probe_destructor);
	mb = mbuf_alloc(256);
	if (!pr || !mb) {
		err = ENOMEM;
		goto out;
	}

	pr->m = m;
	rand_str(tag, sizeof(tag));
	rand_str(callid, sizeof(callid));

	err = mbuf_printf(mb, "From: <sip:pool@%s>;tag=%s\r\n"
			  "To: <%s>\r\n"
			  "Call-ID: %s\r\n"
			  "CSeq: 1 OPTIONS\r\n"
			  "Max-Forwards: 70\r\n"
			  "Content-Length: 0\r\n\r\n",
			  domain_default() ? domain_default() : "invalid",
			  tag, m->uri, callid);
	if (err)
		goto out;

	mb->pos = 0;

	err = sip_request(&pr->req, sock_sip(sock), true, "OPTIONS", -1,
			  m->uri, -1, &m->u, mb, 0, NULL, probe_resp, pr);
	if (err)
		goto out;

	m->probe = pr;
	pr = NULL;

 out:
	mem_deref(mb);
	mem_deref(pr);

	return err;
}


static void tick(void *arg)
{
	struct le *le, *mle;
	(void)arg;

	for (le = pool_list()->head; le; le = le->next) {
		struct pool *p = le->data;

		for (mle = p->members.head; mle; mle = mle->next) {
			struct pool_member *m = mle->data;
			int err;

			/* the last one is still unanswered */
			if (m->probe) {
				m->probe = mem_deref(m->probe);
				failure(m, ETIMEDOUT);
			}

			err = probe_send(m);
			if (err == ENOTSUP) {
				if (!m->last_result)
					log_warning("pool %s: %s: no %s"
						    " socket to probe it"
						    " from\n", m->pool,
						    m->uri,
						    transp_name(m->tp));
				m->last_result = "no socket";
			}
			else if (err) {
				failure(m, err);
			}
		}
	}

	tmr_start(&tick_tmr, pool_settings()->interval * 1000, tick, NULL);
}


/**
 * Probe now, then every pool_probe_interval (again from now)
 */
void probe_start(void)
{
	tmr_start(&tick_tmr, 0, tick, NULL);
}


void probe_stop(void)
{
	tmr_cancel(&tick_tmr);
}

