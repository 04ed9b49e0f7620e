/**
 * @file pg_binding.c  The store's PostgreSQL engine: bindings
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include <sipd.h>
#include "store.h"
#include "pg.h"


#define COLUMNS "id, aor, contact, params, expires, q, callid, cseq," \
	" received, transport, socket, path, user_agent, instance," \
	" reg_id, created, updated, nat, node"

/* the columns written, in the order of write_binding()'s parameters */
#define WRITTEN "aor, contact, params, expires, q, callid, cseq, received," \
	" transport, socket, path, user_agent, instance, reg_id, created," \
	" updated, nat, node"


static struct pg_stmt st_lookup = {
	.sql = "SELECT " COLUMNS " FROM bindings"
	       " WHERE aor = $1 AND expires > $2"
};

static struct pg_stmt st_list = {
	.sql = "SELECT " COLUMNS " FROM bindings"
	       " WHERE expires > $1 AND ($2::text IS NULL OR aor = $2)"
	       " ORDER BY aor, q DESC, id"
};

static struct pg_stmt st_scan = {
	.sql = "SELECT " COLUMNS " FROM bindings"
	       " WHERE id > $1 AND expires > $2 ORDER BY id LIMIT $3"
};

static struct pg_stmt st_insert = {
	.sql = "INSERT INTO bindings (" WRITTEN ") VALUES ($1, $2, $3, $4,"
	       " $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,"
	       " $18) RETURNING id"
};

static struct pg_stmt st_update = {
	.sql = "UPDATE bindings SET (" WRITTEN ") = ($1, $2, $3, $4, $5,"
	       " $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
	       " WHERE id = $19"
};

static struct pg_stmt st_count = {
	.sql = "SELECT count(*) FROM bindings WHERE expires > $1"
};

static struct pg_stmt st_delete = {
	.sql = "DELETE FROM bindings WHERE id = $1"
};

static struct pg_stmt st_expired = {
	.sql = "SELECT " COLUMNS " FROM bindings WHERE expires <= $1"
	       " ORDER BY expires LIMIT $2"
};

static struct pg_stmt st_expire = {
	.sql = "DELETE FROM bindings WHERE id = $1 AND expires <= $2"
};


static const char *tp_name(enum sip_transp tp)
{
	switch (tp) {

	case SIP_TRANSP_TCP: return "tcp";
	case SIP_TRANSP_TLS: return "tls";
	case SIP_TRANSP_WS:  return "ws";
	case SIP_TRANSP_WSS: return "wss";
	default:             return "udp";
	}
}


static enum sip_transp tp_decode(const char *name)
{
	if (!name)
		return SIP_TRANSP_UDP;
	if (!strcmp(name, "tcp"))
		return SIP_TRANSP_TCP;
	if (!strcmp(name, "tls"))
		return SIP_TRANSP_TLS;
	if (!strcmp(name, "ws"))
		return SIP_TRANSP_WS;
	if (!strcmp(name, "wss"))
		return SIP_TRANSP_WSS;

	return SIP_TRANSP_UDP;
}


/* A binding from a row of COLUMNS */
static int binding_read(struct binding **bp, const PGresult *res, int row)
{
	struct binding *b;
	const char *recv, *nat;
	int err;

	err = binding_alloc(&b);
	if (err)
		return err;

	b->id      = pg_i64(res, row, 0);
	b->expires = pg_i64(res, row, 4);
	b->q       = (uint16_t)pg_i64(res, row, 5);
	b->cseq    = (uint32_t)pg_i64(res, row, 7);
	b->tp      = tp_decode(pg_text(res, row, 9));
	b->reg_id  = (uint32_t)pg_i64(res, row, 14);
	b->created = pg_i64(res, row, 15);
	b->updated = pg_i64(res, row, 16);

	nat = pg_text(res, row, 17);
	b->nat = !nat ? BINDING_NAT_UNKNOWN :
		strcmp(nat, "0") ? BINDING_NAT_YES : BINDING_NAT_NO;

	recv = pg_text(res, row, 8);
	if (recv)
		(void)sa_decode(&b->received, recv, strlen(recv));

	err  = pg_str(&b->aor, res, row, 1);
	err |= pg_str(&b->contact, res, row, 2);
	err |= pg_str(&b->params, res, row, 3);
	err |= pg_str(&b->callid, res, row, 6);
	err |= pg_str(&b->sock, res, row, 10);
	err |= pg_str(&b->path, res, row, 11);
	err |= pg_str(&b->user_agent, res, row, 12);
	err |= pg_str(&b->instance, res, row, 13);
	err |= pg_str(&b->node, res, row, 18);

	if (err) {
		mem_deref(b);
		return ENOMEM;
	}

	*bp = b;

	return 0;
}


/* Append the rows of a statement to a list */
static int read_rows(struct list *bindings, struct pg_stmt *st,
		     const struct pg_args *a)
{
	PGresult *res;
	int i, err;

	err = pg_query(&res, st, a);
	if (err)
		return err;

	for (i = 0; i < PQntuples(res); i++) {
		struct binding *b;

		err = binding_read(&b, res, i);
		if (err)
			break;

		list_append(bindings, &b->le, b);
	}

	PQclear(res);

	return err;
}


int pg_binding_count(uint64_t *n, int64_t now)
{
	struct pg_args a = {.n = 0};
	PGresult *res;
	int err;

	pg_arg_i64(&a, now);

	err = pg_query(&res, &st_count, &a);
	if (err)
		return err;

	if (PQntuples(res) == 1)
		*n = (uint64_t)pg_i64(res, 0, 0);
	else
		err = EIO;

	PQclear(res);

	return err;
}


int pg_binding_lookup(struct list *bindings, const char *aor, int64_t now)
{
	struct list found = LIST_INIT;
	struct pg_args a = {.n = 0};
	int err;

	pg_arg_str(&a, aor);
	pg_arg_i64(&a, now);

	err = read_rows(&found, &st_lookup, &a);

	/* sorted here, as SQLite's engine does */
	list_sort(&found, binding_before, NULL);

	while (found.head) {
		struct binding *b = found.head->data;

		list_unlink(&b->le);
		list_append(bindings, &b->le, b);
	}

	return err;
}


/* pg_binding_lookup()'s statement sent ahead (lib/db/pg_pipe.c) */
int pg_binding_ahead(const char *aor, int64_t now)
{
	struct pg_args a = {.n = 0};

	pg_arg_str(&a, aor);
	pg_arg_i64(&a, now);

	return db_pg_ahead(&st_lookup, a.n, a.v);
}


int pg_binding_list(struct list *bindings, const char *aor, int64_t now)
{
	struct pg_args a = {.n = 0};

	pg_arg_i64(&a, now);
	pg_arg_str(&a, aor);

	return read_rows(bindings, &st_list, &a);
}


int pg_binding_scan(struct list *bindings, int64_t after_id,
		    uint32_t limit, int64_t now)
{
	struct pg_args a = {.n = 0};

	pg_arg_i64(&a, after_id);
	pg_arg_i64(&a, now);
	pg_arg_i64(&a, limit);

	return read_rows(bindings, &st_scan, &a);
}


int pg_binding_expired(struct list *bindings, int64_t now, uint32_t limit)
{
	struct pg_args a = {.n = 0};

	pg_arg_i64(&a, now);
	pg_arg_i64(&a, limit);

	return read_rows(bindings, &st_expired, &a);
}


/* Write a binding (told: the other nodes told of it once committed) */
static int write_binding(const char *aor, struct binding *b, bool told)
{
	struct pg_args a = {.n = 0};
	struct pg_stmt *st;
	PGresult *res;
	char recv[64];
	int err;

	if (sa_isset(&b->received, SA_ALL))
		re_snprintf(recv, sizeof(recv), "%J", &b->received);
	else
		recv[0] = '\0';

	pg_arg_str(&a, aor);
	pg_arg_str(&a, b->contact);
	pg_arg_str(&a, b->params ? b->params : "");
	pg_arg_i64(&a, b->expires);
	pg_arg_i64(&a, b->q);
	pg_arg_str(&a, b->callid ? b->callid : "");
	pg_arg_i64(&a, b->cseq);
	pg_arg_str(&a, recv);
	pg_arg_str(&a, tp_name(b->tp));
	pg_arg_str(&a, b->sock ? b->sock : "");
	pg_arg_str(&a, b->path);
	pg_arg_str(&a, b->user_agent);
	pg_arg_str(&a, b->instance);
	pg_arg_i64(&a, b->reg_id);
	pg_arg_i64(&a, b->created);
	pg_arg_i64(&a, b->updated);
	if (b->nat == BINDING_NAT_UNKNOWN)
		pg_arg_str(&a, NULL);
	else
		pg_arg_i64(&a, b->nat == BINDING_NAT_YES);
	pg_arg_str(&a, b->node);

	if (b->id)
		pg_arg_i64(&a, b->id);

	st = b->id ? &st_update : &st_insert;
	err = told ? pg_query_told(&res, st, &a, "bindings", aor) :
		pg_query(&res, st, &a);
	if (err)
		return err;

	if (!b->id && PQntuples(res) == 1)
		b->id = pg_i64(res, 0, 0);
	else if (!b->id)
		err = EIO;

	PQclear(res);

	return err;
}


static int delete_binding(struct pg_stmt *st, int64_t id, int64_t now)
{
	struct pg_args a = {.n = 0};

	pg_arg_i64(&a, id);
	if (now)
		pg_arg_i64(&a, now);

	return pg_do(st, &a, NULL);
}


int pg_binding_save(const char *aor, const struct list *upserts,
		    const struct list *removes)
{
	struct le *le;
	int err;

	/* one binding (a phone's REGISTER): its own transaction, then the
	   other nodes told, in one round trip (lib/db/pg_pipe.c); or part
	   of the transaction open */
	if (list_count(upserts) == 1 && !list_count(removes))
		return write_binding(aor, list_head(upserts)->data, true);

	err = pg_begin();
	if (err)
		return err;

	for (le = removes ? removes->head : NULL; le && !err; le = le->next) {
		const struct binding *b = le->data;
		err = delete_binding(&st_delete, b->id, 0);
	}

	for (le = upserts ? upserts->head : NULL; le && !err; le = le->next)
		err = write_binding(aor, le->data, false);

	/* synchronous commit: back once the server has it on disk */
	if (err) {
		pg_rollback();
		return err;
	}

	/* the other nodes hear of it once committed (lib/db/pg_notify.c) */
	db_pg_notify_after_commit("bindings", aor);

	return pg_commit();
}


int pg_binding_expire(const struct list *bindings, int64_t now)
{
	struct le *le;
	int err;

	err = pg_begin();
	if (err)
		return err;

	for (le = bindings->head; le && !err; le = le->next) {
		const struct binding *b = le->data;

		err = delete_binding(&st_expire, b->id, now);
		if (!err)
			db_pg_notify_after_commit("bindings", b->aor);
	}

	if (err) {
		pg_rollback();
		return err;
	}

	return pg_commit();
}
