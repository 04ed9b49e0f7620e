/**
 * @file conns.c  The connections phones registered through
 *
 * A REGISTER over TCP, TLS or WebSocket keeps its connection open until
 * the bindings it made expire (the core restarts libre's idle timer). A
 * phone that does SIP outbound (RFC 5626: Supported: outbound, or
 * +sip.instance and reg-id on its Contact) answers CRLF keepalives: its
 * TCP or TLS connection gets them (libre's, with a pong deadline that
 * closes the connection).
 *
 * When a connection closes, the bindings of a phone sipd cannot reach
 * otherwise are removed: SIP outbound, behind a NAT, or a WebSocket
 * (a browser accepts no connection). The others are reached at their
 * Contact again.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include <sipd.h>
#include "registrar.h"


enum {
	HASH_SIZE = 256,
	BATCH = 50,
	HOLD_SLACK = 60,       /* s beyond the expiry */
};


/** A connection phones registered through */
struct reg_conn {
	struct le he;
	enum sip_transp tp;
	struct sa peer;
	struct sip_keepalive *ka;
	bool remove_on_close;
};


static struct {
	struct hash *conns;
	struct conn_listener listener;
	uint32_t interval;
} rc;


static void reg_conn_destructor(void *arg)
{
	struct reg_conn *c = arg;

	hash_unlink(&c->he);
	mem_deref(c->ka);
}


struct key {
	enum sip_transp tp;
	const struct sa *peer;
};


static bool reg_conn_cmp(struct le *le, void *arg)
{
	const struct reg_conn *c = le->data;
	const struct key *k = arg;

	return c->tp == k->tp && sa_cmp(&c->peer, k->peer, SA_ALL);
}


static struct reg_conn *reg_conn_find(enum sip_transp tp,
				      const struct sa *peer)
{
	struct key k = {tp, peer};

	return list_ledata(hash_lookup(rc.conns, sa_hash(peer, SA_ALL),
				       reg_conn_cmp, &k));
}


static uint32_t bindings_remove(enum sip_transp tp, const struct sa *peer)
{
	struct list batch = LIST_INIT;
	uint32_t removed = 0;
	int64_t after = 0;

	for (;;) {
		struct le *le;
		uint32_t n;

		if (location_scan(&batch, after, BATCH))
			break;

		n = list_count(&batch);
		for (le = batch.head; le; le = le->next) {
			const struct binding *b = le->data;

			after = b->id;
			if (b->tp == tp && sa_cmp(&b->received, peer, SA_ALL) &&
			    !reg_binding_remove(b))
				++removed;
		}
		list_flush(&batch);

		if (n < BATCH)
			break;
	}

	return removed;
}


static void conn_close_handler(enum sip_transp tp, const struct sa *peer,
			       int err, void *arg)
{
	struct reg_conn *c = reg_conn_find(tp, peer);
	(void)arg;

	if (!c)
		return;

	if (c->remove_on_close) {
		log_info("registrar: %s connection from %J closed (%m): %u"
			 " bindings removed\n", sip_transp_name(tp), peer,
			 err, bindings_remove(tp, peer));
	}
	else {
		log_debug("registrar: %s connection from %J closed (%m)\n",
			  sip_transp_name(tp), peer, err);
	}

	mem_deref(c);
}


/* libre's keepalive ended: the connection closes, conn_close_handler() */
static void ka_handler(int err, void *arg)
{
	(void)err;
	(void)arg;
}


static bool has_outbound_params(const struct sip_hdr *hdr,
				const struct sip_msg *msg, void *arg)
{
	struct contact c;
	struct pl val;
	(void)msg;
	(void)arg;

	return !contact_decode(&c, &hdr->val) &&
		!msg_param_decode(&c.params, "reg-id", &val) &&
		!msg_param_decode(&c.params, "+sip.instance", &val);
}


/* Does the phone do SIP outbound (RFC 5626), and so answer CRLF pings? */
static bool outbound(const struct sip_msg *msg)
{
	if (sip_msg_hdr_has_value(msg, SIP_HDR_SUPPORTED, "outbound"))
		return true;

	return sip_msg_hdr_apply(msg, true, SIP_HDR_CONTACT,
				 has_outbound_params, NULL) != NULL;
}


/**
 * A REGISTER over a connection saved bindings: hold the connection
 *
 * @param sock    Socket it came on
 * @param msg     The REGISTER
 * @param expires Seconds until the last of its bindings expires
 * @param nated   True if a binding it saved is behind a NAT
 */
void conns_register(struct sipd_sock *sock, const struct sip_msg *msg,
		    uint32_t expires, bool nated)
{
	bool ob, ws;
	struct reg_conn *c;

	if (msg->tp == SIP_TRANSP_UDP || !rc.conns)
		return;

	conn_hold(msg, expires + HOLD_SLACK);

	ob = outbound(msg);
	ws = msg->tp == SIP_TRANSP_WS || msg->tp == SIP_TRANSP_WSS;

	c = reg_conn_find(msg->tp, &msg->src);
	if (!c) {
		c = mem_zalloc(sizeof(*c), reg_conn_destructor);
		if (!c)
			return;

		c->tp = msg->tp;
		c->peer = msg->src;
		hash_append(rc.conns, sa_hash(&c->peer, SA_ALL), &c->he, c);
	}

	c->remove_on_close |= ob || ws || nated;

	if (ob && rc.interval && !c->ka &&
	    (msg->tp == SIP_TRANSP_TCP || msg->tp == SIP_TRANSP_TLS))
		(void)sip_keepalive_start(&c->ka, sock_sip(sock), msg,
					  rc.interval, ka_handler, c);
}


/**
 * Set the CRLF keepalive interval of outbound flows held from now on
 *
 * @param interval Interval in seconds, 0 for none
 */
void conns_interval(uint32_t interval)
{
	rc.interval = interval;
}


/**
 * Start watching connections
 *
 * @return 0 if success, otherwise errorcode
 */
int conns_init(void)
{
	int err;

	err = hash_alloc(&rc.conns, HASH_SIZE);
	if (err)
		return err;

	rc.listener.h = conn_close_handler;
	conn_listen(&rc.listener);

	return 0;
}


void conns_close(void)
{
	conn_unlisten(&rc.listener);
	hash_flush(rc.conns);
	rc.conns = mem_deref(rc.conns);
}
