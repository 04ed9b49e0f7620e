/**
 * @file conn.c  The connections peers opened to sipd: open, held, closed
 *
 * libre 1.1.0 keeps its TCP, TLS and WebSocket connections (struct
 * sip_conn) to itself: it does not say which are open, tells nobody when
 * one closes, closes an idle one after 900 s whatever is registered
 * through it, and closes a WebSocket 32 s after its handshake because
 * nothing restarts that timer. A phone registered over a connection is
 * reachable only while it is open, so sipd needs all three.
 *
 * Every request that arrives over a connection is seen here (msg->sock
 * is its struct sip_conn). When libre closes a connection it signals the
 * keepalives on it with sip_keepalive_signal(&conn->kal, err), an
 * exported function it calls through the dynamic linker: sipd's
 * definition below tells the listeners which connection closed, then
 * calls libre's. The idle timer (conn->tmr, whose handler closes the
 * connection) is restarted with its own handler: at least libre's idle
 * time after every request, and until the registrations held through
 * the connection expire. And a WebSocket a browser opened is marked
 * established: libre sets that flag only on WebSockets it opens itself,
 * and queues for ever what it sends on the others. All three read struct
 * sip_conn as libre 1.1.0 lays it out; a connection that does not match
 * (its peer address or transport is not the request's) is left as libre
 * has it.
 *
 * libre gives a new connection TCP_ACCEPT_TIMEOUT (32 s) for its first
 * message, but after that a peer may start a message and never finish
 * it: libre keeps the connection for its idle time. A sweep once a
 * second closes a connection whose unfinished message (bytes left in
 * libre's conn->mb, at the same place) is older than
 * tcp_message_timeout.
 *
 * Copyright (C) 2026 sipd developers
 */

#define _GNU_SOURCE 1
#include <stddef.h>
#include <re.h>
#include "libre.h"


enum {
	HASH_SIZE = 1024,
	IDLE_MS = 900 * 1000,     /* libre's TCP idle timeout */
	SLACK_MS = 2000,
	SWEEP_MS = 1000,
	MESSAGE_TIMEOUT = 32,     /* s, libre's TCP_ACCEPT_TIMEOUT */
};


/** libre 1.1.0's struct sip_conn (src/sip/transp.c) */
struct sip_conn_head {
	struct le he;
	struct list ql;
	struct list kal;
	struct tmr tmr;           /* idle timer; its handler closes it  */
	struct tmr tmr_ka;
	struct sa laddr;
	struct sa paddr;
	struct tls_conn *sc;
	struct tcp_conn *tc;
	struct mbuf *mb;
	struct sip *sip;
	uint32_t ka_interval;
	bool established;         /* false: requests wait in ql         */
	enum sip_transp tp;
};

/** A connection sipd has seen a request on */
struct open_conn {
	struct le he_ptr;
	struct le he_addr;
	const void *ptr;          /* libre's struct sip_conn, not read   */
	enum sip_transp tp;
	struct sa peer;
	uint64_t hold_until;      /* jiffies, 0 for none                */
	struct sip_conn_head *head;  /* set once its layout is checked  */
	uint64_t requests;        /* requests seen on it                */
	const struct mbuf *part_mb;  /* an unfinished message: where    */
	size_t part_pos;
	uint64_t part_requests;
	uint64_t part_since;      /* jiffies                            */
};


/* libre's, declared in its private src/sip/sip.h */
void sip_keepalive_signal(struct list *kal, int err);


static struct {
	struct hash *by_ptr;
	struct hash *by_addr;
	struct list listeners;    /* struct conn_listener */
	struct tmr sweep;
	uint32_t message_timeout; /* s */
	bool mismatch;
} cs = {
	.message_timeout = MESSAGE_TIMEOUT,
};


/**
 * Read tcp_message_timeout (a reload applies it)
 *
 * @param apply Make it current; false only checks it
 *
 * @return 0 if success, otherwise errorcode
 */
int conn_config(bool apply)
{
	uint32_t timeout = MESSAGE_TIMEOUT;

	if (config_u32("tcp_message_timeout", &timeout, 1, 900))
		return EINVAL;

	if (apply)
		cs.message_timeout = timeout;

	return 0;
}


static void conn_destructor(void *arg)
{
	struct open_conn *c = arg;

	hash_unlink(&c->he_ptr);
	hash_unlink(&c->he_addr);
}


static uint32_t ptr_hash(const void *p)
{
	return hash_fast((const char *)&p, sizeof(p));
}


static bool ptr_cmp(struct le *le, void *arg)
{
	const struct open_conn *c = le->data;

	return c->ptr == arg;
}


struct key {
	enum sip_transp tp;
	const struct sa *peer;
};


static bool addr_cmp(struct le *le, void *arg)
{
	const struct open_conn *c = le->data;
	const struct key *k = arg;

	return c->tp == k->tp && sa_cmp(&c->peer, k->peer, SA_ALL);
}


static struct open_conn *find_ptr(const void *ptr)
{
	if (!cs.by_ptr)
		return NULL;

	return list_ledata(hash_lookup(cs.by_ptr, ptr_hash(ptr), ptr_cmp,
				       (void *)ptr));
}


/* The connection of a request, if its head is laid out as expected */
static struct sip_conn_head *head_of(const struct sip_msg *msg)
{
	struct sip_conn_head *h = msg->sock;

	if (!h || msg->tp == SIP_TRANSP_UDP)
		return NULL;

	if (!sa_cmp(&h->paddr, &msg->src, SA_ALL) || h->tp != msg->tp ||
	    h->tmr.arg != h) {
		if (!cs.mismatch)
			log_warning("conn: libre's connection is not laid out"
				    " as in libre 1.1.0: connections keep"
				    " libre's idle timeout\n");
		cs.mismatch = true;
		return NULL;
	}

	return h;
}


/* Restart libre's idle timer to expire no sooner than "until" */
static void idle_extend(struct sip_conn_head *h, uint64_t until)
{
	uint64_t now = tmr_jiffies();
	uint64_t left = tmr_get_expire(&h->tmr);

	if (!h->tmr.th || until <= now || now + left + SLACK_MS >= until)
		return;

	tmr_start(&h->tmr, until - now, h->tmr.th, h);
}


static struct open_conn *conn_add(const struct sip_msg *msg)
{
	struct open_conn *c;

	if (!cs.by_ptr && (hash_alloc(&cs.by_ptr, HASH_SIZE) ||
			   hash_alloc(&cs.by_addr, HASH_SIZE)))
		return NULL;

	c = mem_zalloc(sizeof(*c), conn_destructor);
	if (!c)
		return NULL;

	c->ptr = msg->sock;
	c->tp = msg->tp;
	c->peer = msg->src;
	hash_append(cs.by_ptr, ptr_hash(c->ptr), &c->he_ptr, c);
	hash_append(cs.by_addr, sa_hash(&c->peer, SA_ALL), &c->he_addr, c);

	return c;
}


/* Close a connection whose unfinished message is too old */
static bool sweep_handler(struct le *le, void *arg)
{
	struct open_conn *c = le->data;
	struct sip_conn_head *h = c->head;
	uint64_t now = *(uint64_t *)arg;

	if (!h || !h->mb || !mbuf_get_left(h->mb) || !h->tmr.th) {
		c->part_mb = NULL;
		return false;
	}

	if (h->mb != c->part_mb || h->mb->pos != c->part_pos ||
	    c->requests != c->part_requests) {
		c->part_mb = h->mb;
		c->part_pos = h->mb->pos;
		c->part_requests = c->requests;
		c->part_since = now;
		return false;
	}

	if (now - c->part_since < (uint64_t)cs.message_timeout * 1000)
		return false;

	log_info("conn: %s %J sent no complete message within %u s:"
		 " closing it\n", sip_transp_name(c->tp), &c->peer,
		 cs.message_timeout);
	stats_count(STATS_MESSAGE_TIMEOUTS);
	c->part_mb = NULL;

	/* libre's idle handler closes it, now */
	tmr_start(&h->tmr, 0, h->tmr.th, h);

	return false;
}


static void sweep(void *arg)
{
	uint64_t now = tmr_jiffies();
	(void)arg;

	(void)hash_apply(cs.by_ptr, sweep_handler, &now);

	tmr_start(&cs.sweep, SWEEP_MS, sweep, NULL);
}


/**
 * A request arrived: note its connection and keep it open at least
 * libre's idle time (a WebSocket too)
 *
 * @param msg The request
 */
void conn_seen(const struct sip_msg *msg)
{
	struct sip_conn_head *h;
	struct open_conn *c;
	uint64_t until;

	if (msg->tp == SIP_TRANSP_UDP || !msg->sock)
		return;

	c = find_ptr(msg->sock);
	if (!c) {
		c = conn_add(msg);
		if (!c)
			return;
	}

	++c->requests;

	h = head_of(msg);
	if (!h)
		return;

	c->head = h;
	if (!tmr_isrunning(&cs.sweep))
		tmr_start(&cs.sweep, SWEEP_MS, sweep, NULL);

	/* libre marks a WebSocket established only when it opened it */
	if (msg->tp == SIP_TRANSP_WS || msg->tp == SIP_TRANSP_WSS)
		h->established = true;

	until = tmr_jiffies() + IDLE_MS;
	idle_extend(h, MAX(until, c->hold_until));
}


/**
 * Keep the connection of a request open until a time (the expiry of
 * what was registered through it)
 *
 * @param msg     The request
 * @param seconds Seconds from now
 */
void conn_hold(const struct sip_msg *msg, uint32_t seconds)
{
	struct sip_conn_head *h;
	struct open_conn *c;
	uint64_t until = tmr_jiffies() + (uint64_t)seconds * 1000;

	c = find_ptr(msg->sock);
	h = head_of(msg);
	if (!c || !h)
		return;

	c->hold_until = MAX(c->hold_until, until);
	idle_extend(h, c->hold_until);
}


/**
 * Is a connection from a peer known to be open
 *
 * @param tp   Transport
 * @param peer The peer's address as the connection has it
 *
 * @return True if it is
 */
bool conn_is_open(enum sip_transp tp, const struct sa *peer)
{
	struct key k = {tp, peer};

	if (!cs.by_addr)
		return false;

	return hash_lookup(cs.by_addr, sa_hash(peer, SA_ALL), addr_cmp,
			   &k) != NULL;
}


/**
 * Be told when a connection sipd has seen a request on closes
 *
 * @param l Listener, with its handler set
 */
void conn_listen(struct conn_listener *l)
{
	list_append(&cs.listeners, &l->le, l);
}


void conn_unlisten(struct conn_listener *l)
{
	list_unlink(&l->le);
}


/**
 * libre closes a connection (or a UDP keepalive ends): sipd's own
 * definition, in front of libre's
 *
 * @param kal The keepalives of the connection
 * @param err Why
 */
void sip_keepalive_signal(struct list *kal, int err)
{
	static void (*real)(struct list *, int);
	struct open_conn *c;

	c = find_ptr((char *)kal - offsetof(struct sip_conn_head, kal));
	if (c) {
		struct le *le = cs.listeners.head;

		while (le) {
			struct conn_listener *l = le->data;
			le = le->next;
			l->h(c->tp, &c->peer, err, l->arg);
		}

		mem_deref(c);
	}

	if (!real)
		real = (void (*)(struct list *, int))
			libre_original("sip_keepalive_signal");

	real(kal, err);
}


void conn_close_all(void)
{
	tmr_cancel(&cs.sweep);
	hash_flush(cs.by_ptr);
	hash_clear(cs.by_addr);
	cs.by_ptr = mem_deref(cs.by_ptr);
	cs.by_addr = mem_deref(cs.by_addr);
}
