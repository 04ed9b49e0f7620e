/**
 * @file conn.c  Connections phones opened to sipd that are still open
 *
 * A phone that registers over TCP without a NAT in between is reached
 * through its connection while that is open and at its Contact (a new
 * connection) once it has closed; libre does not tell which connections
 * it holds. The registrar watches the connections REGISTERs come on and
 * reports here when one opens and closes.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <re.h>
#include "core.h"


enum {
	HASH_SIZE = 1024,
};


struct open_conn {
	struct le he;
	enum sip_transp tp;
	struct sa peer;
	uint32_t refs;
};


static struct hash *conns;


static void conn_destructor(void *arg)
{
	struct open_conn *c = arg;

	hash_unlink(&c->he);
}


struct key {
	enum sip_transp tp;
	const struct sa *peer;
};


static bool conn_cmp(struct le *le, void *arg)
{
	const struct open_conn *c = le->data;
	const struct key *k = arg;

	return c->tp == k->tp && sa_cmp(&c->peer, k->peer, SA_ALL);
}


static struct open_conn *conn_find(enum sip_transp tp, const struct sa *peer)
{
	struct key k = {tp, peer};

	if (!conns)
		return NULL;

	return list_ledata(hash_lookup(conns, sa_hash(peer, SA_ALL),
				       conn_cmp, &k));
}


/**
 * A connection from a peer is open (every call pairs with conn_closed)
 *
 * @param tp   Transport
 * @param peer The peer's address as the connection has it
 */
void conn_opened(enum sip_transp tp, const struct sa *peer)
{
	struct open_conn *c;

	if (!conns && hash_alloc(&conns, HASH_SIZE))
		return;

	c = conn_find(tp, peer);
	if (c) {
		++c->refs;
		return;
	}

	c = mem_zalloc(sizeof(*c), conn_destructor);
	if (!c)
		return;

	c->tp = tp;
	c->peer = *peer;
	c->refs = 1;
	hash_append(conns, sa_hash(peer, SA_ALL), &c->he, c);
}


/**
 * A connection reported by conn_opened has closed
 *
 * @param tp   Transport
 * @param peer The peer's address
 */
void conn_closed(enum sip_transp tp, const struct sa *peer)
{
	struct open_conn *c = conn_find(tp, peer);

	if (c && !--c->refs)
		mem_deref(c);
}


/**
 * Is a connection from a peer known to be open
 *
 * @param tp   Transport
 * @param peer The peer's address
 *
 * @return True if it is
 */
bool conn_is_open(enum sip_transp tp, const struct sa *peer)
{
	return conn_find(tp, peer) != NULL;
}


void conn_close_all(void)
{
	hash_flush(conns);
	conns = mem_deref(conns);
}
