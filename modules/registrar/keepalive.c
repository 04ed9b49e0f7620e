/**
 * @file keepalive.c  Keep NATed bindings reachable, and drop dead ones
 *
 * UDP: a binding behind a NAT (as decided when it registered, lib/sipmsg
 * nat.c) gets an OPTIONS request through the socket it registered on,
 * at the received address, every interval. Any answer counts; a binding
 * that misses several in a row is removed.
 *
 * Over TCP, TLS and WebSocket a phone is reached through its connection
 * (conns.c); one behind a NAT that does not do SIP outbound is pinged
 * with OPTIONS like a UDP one.
 *
 * The availability service (lib/avail) asks whether a binding missed
 * its last ping: a call does not try one that did.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include <sipd.h>
#include <avail/avail.h>
#include "registrar.h"


enum {
	PING_WAIT = 4000,      /* ms an answer may take */
	TICK = 100,            /* ms between batches of a pass */
	BATCH = 50,
	HASH_SIZE = 256,
};


/** Missed pings of a binding */
struct miss {
	struct le he;
	int64_t id;
	uint32_t count;
	uint32_t pass;         /* the last pass that found its binding */
};

/** An OPTIONS ping under way */
struct ping {
	struct le he;
	struct tmr tmr;
	struct sip_request *req;
	struct binding *b;
};


enum {
	INTERVAL_DEFAULT = 30,
	FAILURES_DEFAULT = 3,
};


static struct {
	uint32_t interval;     /* s, 0 = off */
	uint32_t failures;
	struct tmr tmr;
	int64_t last_id;
	uint64_t pass_start;
	uint32_t pass;
	struct hash *misses;
	struct hash *pings;
} kal = {
	.interval = INTERVAL_DEFAULT,
	.failures = FAILURES_DEFAULT,
};


static void miss_destructor(void *arg)
{
	struct miss *m = arg;

	hash_unlink(&m->he);
}


static void ping_destructor(void *arg)
{
	struct ping *p = arg;

	hash_unlink(&p->he);
	tmr_cancel(&p->tmr);
	mem_deref(p->req);
	mem_deref(p->b);
}


static struct avail_source avail_src = {
	.name = "registrar",
	.binding_failedh = keepalive_failed,
};


static bool miss_cmp(struct le *le, void *arg)
{
	const struct miss *m = le->data;

	return m->id == *(int64_t *)arg;
}


static struct miss *miss_find(int64_t id)
{
	return list_ledata(hash_lookup(kal.misses, (uint32_t)id, miss_cmp,
				       &id));
}


static bool ping_cmp(struct le *le, void *arg)
{
	const struct ping *p = le->data;

	return p->b->id == *(int64_t *)arg;
}


static bool ping_pending(int64_t id)
{
	return hash_lookup(kal.pings, (uint32_t)id, ping_cmp, &id) != NULL;
}


static void ping_timeout(void *arg);


/**
 * Count the answer to a ping of a binding: one that misses several in a
 * row is removed
 *
 * @param b   The binding pinged
 * @param err 0 if it answered, otherwise errorcode (ETIMEDOUT)
 */
void keepalive_answer(const struct binding *b, int err)
{
	struct miss *m = miss_find(b->id);

	if (!err) {
		mem_deref(m);   /* alive */
		return;
	}

	if (!kal.misses && hash_alloc(&kal.misses, HASH_SIZE))
		return;

	if (!m) {
		m = mem_zalloc(sizeof(*m), miss_destructor);
		if (!m)
			return;
		m->id = b->id;
		m->pass = kal.pass;
		hash_append(kal.misses, (uint32_t)m->id, &m->he, m);
	}

	if (++m->count < kal.failures) {
		log_debug("registrar: %s at %J missed %u pings\n",
			  b->contact, &b->received, m->count);
		return;
	}

	log_info("registrar: %s of %s does not answer at %J: removed\n",
		 b->contact, b->aor, &b->received);
	mem_deref(m);
	(void)reg_binding_remove(b);
}


/**
 * Did the last ping of a binding go unanswered? (the availability
 * service asks before a call tries it)
 *
 * @param b The binding
 *
 * @return True if it missed its last ping; false if it answered or is
 *         not pinged
 */
bool keepalive_failed(const struct binding *b)
{
	const struct miss *m = b ? miss_find(b->id) : NULL;

	return m && m->count > 0;
}


static void ping_resp(int err, const struct sip_msg *msg, void *arg)
{
	struct ping *p = arg;

	if (msg && msg->scode < 200)
		return;

	p->req = mem_deref(p->req);
	keepalive_answer(p->b, err);
	mem_deref(p);
}


/* libre's transaction waits 32 s; a ping does not */
static void ping_timeout(void *arg)
{
	ping_resp(ETIMEDOUT, NULL, arg);
}


static bool nated(const struct binding *b)
{
	if (!b->sock || !*b->sock || !sa_isset(&b->received, SA_ALL))
		return false;

	/* an outbound flow over TCP has its CRLF keepalive */
	if (b->tp != SIP_TRANSP_UDP && b->instance && b->reg_id)
		return false;

	return binding_behind_nat(b);
}


static void ping_send(const struct binding *b)
{
	struct sipd_sock *sock = sock_find(b->sock);
	char route_str[96], tag[16], callid[24];
	struct uri route;
	struct ping *p;
	struct mbuf *mb;
	struct pl pl;
	int err;

	if (!sock)
		return;

	p = mem_zalloc(sizeof(*p), ping_destructor);
	mb = mbuf_alloc(256);
	if (!p || !mb)
		goto fail;

	if (binding_dup(&p->b, b))
		goto fail;

	rand_str(tag, sizeof(tag));
	rand_str(callid, sizeof(callid));

	err = mbuf_printf(mb, "From: <sip:keepalive@%s>;tag=%s\r\n"
			  "To: <%s>\r\n"
			  "Call-ID: %s\r\n"
			  "CSeq: 1 OPTIONS\r\n"
			  "Max-Forwards: 70\r\n"
			  "Content-Length: 0\r\n\r\n",
			  domain_default() ? domain_default() : "invalid",
			  tag, b->contact, callid);
	if (err)
		goto fail;

	mb->pos = 0;

	re_snprintf(route_str, sizeof(route_str), "sip:%J;transport=%s",
		    &b->received, transp_name(b->tp));
	pl_set_str(&pl, route_str);
	if (uri_decode(&route, &pl))
		goto fail;

	err = sip_request(&p->req, sock_sip(sock), true, "OPTIONS", -1,
			  b->contact, -1, &route, mb, 0, NULL, ping_resp, p);
	if (err)
		goto fail;

	hash_append(kal.pings, (uint32_t)b->id, &p->he, p);
	tmr_start(&p->tmr, PING_WAIT, ping_timeout, p);
	mem_deref(mb);

	return;

 fail:
	mem_deref(mb);
	mem_deref(p);
}


/* Misses of bindings the last pass did not find: removed or expired */
static bool miss_stale(struct le *le, void *arg)
{
	struct miss *m = le->data;
	(void)arg;

	if (m->pass != kal.pass)
		mem_deref(m);

	return false;
}


static void tick(void *arg)
{
	struct list batch = LIST_INIT;
	struct miss *m;
	uint32_t n;
	struct le *le;
	int err;
	(void)arg;

	if (!kal.last_id)
		kal.pass_start = tmr_jiffies();

	err = location_scan(&batch, kal.last_id, BATCH);
	if (err) {
		tmr_start(&kal.tmr, kal.interval * 1000, tick, NULL);
		return;
	}

	n = list_count(&batch);

	for (le = batch.head; le; le = le->next) {
		const struct binding *b = le->data;

		kal.last_id = b->id;
		if (!nated(b))
			continue;

		m = miss_find(b->id);
		if (m)
			m->pass = kal.pass;

		if (!ping_pending(b->id))
			ping_send(b);
	}

	list_flush(&batch);

	if (n == BATCH) {
		tmr_start(&kal.tmr, TICK, tick, NULL);
		return;
	}

	/* the pass is over: the next one an interval after this began */
	(void)hash_apply(kal.misses, miss_stale, NULL);
	++kal.pass;
	kal.last_id = 0;
	{
		uint64_t spent = tmr_jiffies() - kal.pass_start;
		uint64_t wait = (uint64_t)kal.interval * 1000;

		tmr_start(&kal.tmr, spent < wait ? wait - spent : TICK, tick,
			  NULL);
	}
}


/**
 * Read the settings; with apply, use them: the pings start, stop or
 * start again at a new interval (connections keep the keepalive
 * interval they were given)
 *
 * @param apply True to use them, false to check them
 *
 * @return 0 if success, otherwise errorcode
 */
int keepalive_conf(bool apply)
{
	uint32_t interval = INTERVAL_DEFAULT, failures = FAILURES_DEFAULT;
	int err;

	err  = config_u32("registrar_nat_ping_interval", &interval, 0, 3600);
	err |= config_u32("registrar_nat_ping_failures", &failures, 1, 100);
	if (err)
		return EINVAL;

	if (!apply)
		return 0;

	kal.failures = failures;
	conns_interval(interval);

	if (interval == kal.interval &&
	    (!interval || tmr_isrunning(&kal.tmr)))
		return 0;

	kal.interval = interval;
	kal.last_id = 0;
	tmr_cancel(&kal.tmr);

	if (interval)
		tmr_start(&kal.tmr, interval * 1000, tick, NULL);

	return 0;
}


/**
 * Read the settings and start the pings
 *
 * @return 0 if success, otherwise errorcode
 */
int keepalive_init(void)
{
	int err;

	err  = hash_alloc(&kal.misses, HASH_SIZE);
	err |= hash_alloc(&kal.pings, HASH_SIZE);
	if (err)
		return ENOMEM;

	err = conns_init();
	if (err)
		return err;

	avail_register(&avail_src);

	return keepalive_conf(true);
}


void keepalive_close(void)
{
	avail_unregister(&avail_src);
	conns_close();
	tmr_cancel(&kal.tmr);
	hash_flush(kal.pings);
	kal.pings = mem_deref(kal.pings);
	hash_flush(kal.misses);
	kal.misses = mem_deref(kal.misses);
	kal.last_id = 0;
}
