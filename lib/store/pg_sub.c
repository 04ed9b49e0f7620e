/**
 * @file pg_sub.c  The store's PostgreSQL engine: subscriptions
 *
 * With several nodes (lib/node) each subscription is owned by the node
 * that took it (its node column): that node sends its NOTIFYs, loads it
 * at start and ends it when it expires; the live ones listed, and the
 * expired ones, are the node's own. The live subscriptions of a node
 * that is gone (the advisory lock of its name free: lib/node) are taken
 * over by the first node that asks (pg_sub_adopt(), one UPDATE).
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include <sipd.h>
#include <node/node.h>
#include "store.h"
#include "pg.h"


#define SUB_RETURNING "subscriptions.id, event, presentity, watcher," \
	" state, expires, call_id, local_tag, remote_tag, local_uri," \
	" remote_uri, contact, route_set, socket, received, transport," \
	" local_cseq, remote_cseq, version, accept, updated"

#define SUB_COLUMNS "id, event, presentity, watcher, state, expires," \
	" call_id, local_tag, remote_tag, local_uri, remote_uri, contact," \
	" route_set, socket, received, transport, local_cseq, remote_cseq," \
	" version, accept, updated"

static struct pg_stmt st_sub_insert = {
	.sql = "INSERT INTO subscriptions (event, presentity, watcher, state,"
	       " expires, call_id, local_tag, remote_tag, local_uri,"
	       " remote_uri, contact, route_set, socket, received, transport,"
	       " local_cseq, remote_cseq, version, accept, created, updated,"
	       " node) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
	       " $12, $13, $14, $15, $16, $17, $18, $19, $20, $20, $21)"
	       " RETURNING id"
};

/* the dialog's identity (event to remote_uri) stays as it was saved */
static struct pg_stmt st_sub_update = {
	.sql = "UPDATE subscriptions SET state = $1, expires = $2,"
	       " contact = $3, route_set = $4, socket = $5, received = $6,"
	       " transport = $7, local_cseq = $8, remote_cseq = $9,"
	       " version = $10, accept = $11, updated = $12 WHERE id = $13"
};

static struct pg_stmt st_sub_delete = {
	.sql = "DELETE FROM subscriptions WHERE id = $1"
};

/* a node's own: each subscription is owned by the node that took it */
static struct pg_stmt st_sub_live = {
	.sql = "SELECT " SUB_COLUMNS " FROM subscriptions WHERE expires > $2"
	       " AND state != 'terminated'"
	       " AND ($1::text IS NULL OR presentity = $1)"
	       " AND ($3::text IS NULL OR node = $3)"
};

static struct pg_stmt st_sub_list = {
	.sql = "SELECT " SUB_COLUMNS " FROM subscriptions WHERE expires > $2"
	       " AND ($1::text IS NULL OR presentity = $1)"
	       " ORDER BY presentity, event, watcher"
};

static struct pg_stmt st_sub_expired = {
	.sql = "SELECT id FROM subscriptions WHERE expires <= $1"
	       " AND state != 'terminated'"
	       " AND ($3::text IS NULL OR node = $3) LIMIT $2"
};

/* the live ones of nodes whose name's lock is free (lib/node): gone */
static struct pg_stmt st_sub_adopt = {
	.sql = "UPDATE subscriptions SET node = $1 FROM (SELECT name FROM"
	       " nodes WHERE name != $1 AND NOT sipd_node_alive(name)) gone"
	       " WHERE subscriptions.node = gone.name"
	       " AND expires > $2 AND state != 'terminated'"
	       " RETURNING " SUB_RETURNING
};

static struct pg_stmt st_sub_purge = {
	.sql = "DELETE FROM subscriptions WHERE expires <= $1"
	       " OR state = 'terminated'"
};


/* A string never NULL, for the columns that hold "" for none */
static void arg_str(struct pg_args *a, const char *s)
{
	pg_arg_str(a, s ? s : "");
}


/* The columns a saved subscription changes */
static int sub_update(const struct store_sub *sub)
{
	struct pg_args a = {.n = 0};

	arg_str(&a, sub->state);
	pg_arg_i64(&a, sub->expires);
	arg_str(&a, sub->contact);
	arg_str(&a, sub->route_set);
	arg_str(&a, sub->sock);
	arg_str(&a, sub->received);
	arg_str(&a, sub->transport);
	pg_arg_i64(&a, sub->local_cseq);
	pg_arg_i64(&a, sub->remote_cseq);
	pg_arg_i64(&a, sub->version);
	arg_str(&a, sub->accept);
	pg_arg_i64(&a, sub->updated);
	pg_arg_i64(&a, sub->id);

	return pg_do(&st_sub_update, &a, NULL);
}


int pg_sub_save(struct store_sub *sub)
{
	struct pg_args a = {.n = 0};
	PGresult *res;
	int err;

	if (sub->id)
		return sub_update(sub);

	arg_str(&a, sub->event);
	arg_str(&a, sub->presentity);
	arg_str(&a, sub->watcher);
	arg_str(&a, sub->state);
	pg_arg_i64(&a, sub->expires);
	arg_str(&a, sub->call_id);
	arg_str(&a, sub->local_tag);
	arg_str(&a, sub->remote_tag);
	arg_str(&a, sub->local_uri);
	arg_str(&a, sub->remote_uri);
	arg_str(&a, sub->contact);
	arg_str(&a, sub->route_set);
	arg_str(&a, sub->sock);
	arg_str(&a, sub->received);
	arg_str(&a, sub->transport);
	pg_arg_i64(&a, sub->local_cseq);
	pg_arg_i64(&a, sub->remote_cseq);
	pg_arg_i64(&a, sub->version);
	arg_str(&a, sub->accept);
	pg_arg_i64(&a, sub->updated);
	pg_arg_str(&a, node_self());

	err = pg_query(&res, &st_sub_insert, &a);
	if (err)
		return err;

	if (PQntuples(res) == 1)
		sub->id = pg_i64(res, 0, 0);
	else
		err = EIO;

	PQclear(res);

	return err;
}


static int delete_id(struct pg_stmt *st, int64_t id)
{
	struct pg_args a = {.n = 0};

	pg_arg_i64(&a, id);

	return pg_do(st, &a, NULL);
}


int pg_sub_delete(int64_t id)
{
	return delete_id(&st_sub_delete, id);
}


int pg_sub_purge(int64_t now)
{
	return delete_id(&st_sub_purge, now);
}


static void sub_destructor(void *arg)
{
	struct store_sub *s = arg;

	mem_deref(s->event);
	mem_deref(s->presentity);
	mem_deref(s->watcher);
	mem_deref(s->state);
	mem_deref(s->call_id);
	mem_deref(s->local_tag);
	mem_deref(s->remote_tag);
	mem_deref(s->local_uri);
	mem_deref(s->remote_uri);
	mem_deref(s->contact);
	mem_deref(s->route_set);
	mem_deref(s->sock);
	mem_deref(s->received);
	mem_deref(s->transport);
	mem_deref(s->accept);
}


/* A subscription from a row of SUB_COLUMNS */
static int sub_read(struct store_sub *s, const PGresult *res, int i)
{
	int err;

	s->id          = pg_i64(res, i, 0);
	s->expires     = pg_i64(res, i, 5);
	s->local_cseq  = (uint32_t)pg_i64(res, i, 16);
	s->remote_cseq = (uint32_t)pg_i64(res, i, 17);
	s->version     = (uint32_t)pg_i64(res, i, 18);
	s->updated     = pg_i64(res, i, 20);

	err  = pg_str_empty(&s->event, res, i, 1);
	err |= pg_str_empty(&s->presentity, res, i, 2);
	err |= pg_str_empty(&s->watcher, res, i, 3);
	err |= pg_str_empty(&s->state, res, i, 4);
	err |= pg_str_empty(&s->call_id, res, i, 6);
	err |= pg_str_empty(&s->local_tag, res, i, 7);
	err |= pg_str_empty(&s->remote_tag, res, i, 8);
	err |= pg_str_empty(&s->local_uri, res, i, 9);
	err |= pg_str_empty(&s->remote_uri, res, i, 10);
	err |= pg_str_empty(&s->contact, res, i, 11);
	err |= pg_str_empty(&s->route_set, res, i, 12);
	err |= pg_str_empty(&s->sock, res, i, 13);
	err |= pg_str_empty(&s->received, res, i, 14);
	err |= pg_str_empty(&s->transport, res, i, 15);
	err |= pg_str_empty(&s->accept, res, i, 19);

	return err ? ENOMEM : 0;
}


/* The subscriptions of a statement's rows, appended to a list */
static int rows_read(struct list *subs, struct pg_stmt *st,
		     const struct pg_args *a)
{
	PGresult *res;
	int i, err;

	err = pg_query(&res, st, a);
	if (err)
		return err;

	for (i = 0; i < PQntuples(res) && !err; i++) {
		struct store_sub *s;

		s = mem_zalloc(sizeof(*s), sub_destructor);
		if (!s) {
			err = ENOMEM;
			break;
		}

		list_append(subs, &s->le, s);

		err = sub_read(s, res, i);
	}

	PQclear(res);

	return err;
}


int pg_sub_list(struct list *subs, const char *presentity, int64_t now,
		bool live)
{
	struct pg_args a = {.n = 0};

	pg_arg_str(&a, presentity);
	pg_arg_i64(&a, now);
	if (live)
		pg_arg_str(&a, node_self());

	return rows_read(subs, live ? &st_sub_live : &st_sub_list, &a);
}


int pg_sub_adopt(struct list *subs, const char *node, int64_t now)
{
	struct pg_args a = {.n = 0};

	pg_arg_str(&a, node);
	pg_arg_i64(&a, now);

	return rows_read(subs, &st_sub_adopt, &a);
}


int pg_sub_expired(struct list *ids, int64_t now, uint32_t limit)
{
	struct pg_args a = {.n = 0};
	PGresult *res;
	int i, err;

	pg_arg_i64(&a, now);
	pg_arg_i64(&a, limit);
	pg_arg_str(&a, node_self());

	err = pg_query(&res, &st_sub_expired, &a);
	if (err)
		return err;

	for (i = 0; i < PQntuples(res); i++) {
		struct store_id *id = mem_zalloc(sizeof(*id), NULL);

		if (!id) {
			err = ENOMEM;
			break;
		}

		id->id = pg_i64(res, i, 0);
		list_append(ids, &id->le, id);
	}

	PQclear(res);

	return err;
}
