/**
 * @file pg_presence.c  The store's PostgreSQL engine: presence rules,
 *                      publications, composed documents
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include <sipd.h>
#include "store.h"
#include "pg.h"


static struct pg_stmt st_rule_get = {
	.sql = "SELECT rule FROM presence_rules WHERE presentity = $1"
	       " AND watcher = $2"
};

static struct pg_stmt st_rule_set = {
	.sql = "INSERT INTO presence_rules (presentity, watcher, rule,"
	       " created) VALUES ($1, $2, $3, $4) ON CONFLICT"
	       " (presentity, watcher) DO UPDATE SET rule = excluded.rule"
};

static struct pg_stmt st_rule_unset = {
	.sql = "DELETE FROM presence_rules WHERE presentity = $1 AND"
	       " watcher = $2"
};

static struct pg_stmt st_rule_list = {
	.sql = "SELECT presentity, watcher, rule FROM presence_rules"
	       " WHERE $1::text IS NULL OR presentity = $1"
	       " ORDER BY presentity, watcher"
};

static struct pg_stmt st_pub_find = {
	.sql = "SELECT id, presentity FROM publications WHERE etag = $1"
	       " AND event = 'presence' AND expires > $2"
};

static struct pg_stmt st_pub_add = {
	.sql = "INSERT INTO publications (presentity, event, etag, expires,"
	       " content_type, body, source, created, updated)"
	       " VALUES ($1, 'presence', $2, $3, $4, $5, $6, $7, $7)"
	       " RETURNING id"
};

static struct pg_stmt st_pub_refresh = {
	.sql = "UPDATE publications SET etag = $2, expires = $3, updated = $4"
	       " WHERE id = $1"
};

static struct pg_stmt st_pub_modify = {
	.sql = "UPDATE publications SET etag = $2, expires = $3, updated = $4,"
	       " content_type = $5, body = $6 WHERE id = $1"
};

static struct pg_stmt st_pub_delete = {
	.sql = "DELETE FROM publications WHERE id = $1"
};

#define PUB_COLUMNS "id, presentity, etag, expires, source, body, updated," \
	" content_type"

static struct pg_stmt st_pub_list = {
	.sql = "SELECT " PUB_COLUMNS " FROM publications WHERE expires > $2"
	       " AND event = 'presence' AND ($1::text IS NULL OR"
	       " presentity = $1) ORDER BY presentity, id"
};

static struct pg_stmt st_pub_newest = {
	.sql = "SELECT " PUB_COLUMNS " FROM publications WHERE presentity = $1"
	       " AND event = 'presence' AND expires > $2"
	       " ORDER BY updated DESC, id DESC"
};

static struct pg_stmt st_pub_count = {
	.sql = "SELECT count(*) FROM publications WHERE expires > $1"
};

static struct pg_stmt st_pub_expired = {
	.sql = "SELECT " PUB_COLUMNS " FROM publications WHERE expires <= $1"
	       " LIMIT $2"
};

static struct pg_stmt st_pstate_save = {
	.sql = "INSERT INTO presence_state (presentity, pidf, sources,"
	       " updated) VALUES ($1, $2, $3, $4)"
	       " ON CONFLICT (presentity) DO UPDATE SET"
	       " pidf = excluded.pidf, sources = excluded.sources,"
	       " updated = excluded.updated"
};

static struct pg_stmt st_pstate_get = {
	.sql = "SELECT pidf, sources, updated FROM presence_state"
	       " WHERE presentity = $1"
};


int pg_rule_get(char *rule, size_t size, const char *presentity,
		const char *watcher)
{
	struct pg_args a = {.n = 0};
	PGresult *res;
	int err;

	pg_arg_str(&a, presentity);
	pg_arg_str(&a, watcher);

	err = pg_query(&res, &st_rule_get, &a);
	if (err)
		return err;

	/* none: rule left "" (store_rule_get()) */
	if (PQntuples(res)) {
		const char *r = pg_text(res, 0, 0);

		str_ncpy(rule, r ? r : "", size);
	}

	PQclear(res);

	return 0;
}


int pg_rule_set(const char *presentity, const char *watcher,
		const char *rule, int64_t now)
{
	struct pg_args a = {.n = 0};
	uint64_t n = 0;
	int err;

	pg_arg_str(&a, presentity);
	pg_arg_str(&a, watcher);
	if (rule) {
		pg_arg_str(&a, rule);
		pg_arg_i64(&a, now);
	}

	err = pg_do(rule ? &st_rule_set : &st_rule_unset, &a, &n);
	if (!err && !rule && !n)
		err = ENOENT;

	return err;
}


static void rule_destructor(void *arg)
{
	struct store_rule *r = arg;

	mem_deref(r->presentity);
	mem_deref(r->watcher);
	mem_deref(r->rule);
}


int pg_rule_list(struct list *rules, const char *presentity)
{
	struct pg_args a = {.n = 0};
	PGresult *res;
	int i, err;

	pg_arg_str(&a, presentity);

	err = pg_query(&res, &st_rule_list, &a);
	if (err)
		return err;

	for (i = 0; i < PQntuples(res); i++) {
		struct store_rule *r;

		r = mem_zalloc(sizeof(*r), rule_destructor);
		if (!r) {
			err = ENOMEM;
			break;
		}

		list_append(rules, &r->le, r);

		err  = pg_str(&r->presentity, res, i, 0);
		err |= pg_str(&r->watcher, res, i, 1);
		err |= pg_str(&r->rule, res, i, 2);
		if (err) {
			err = ENOMEM;
			break;
		}
	}

	PQclear(res);

	return err;
}


int pg_pub_find(int64_t *id, char *presentity, size_t size,
		const struct pl *etag, int64_t now)
{
	struct pg_args a = {.n = 0};
	PGresult *res;
	char *tag;
	int err;

	err = pl_strdup(&tag, etag);
	if (err)
		return err;

	pg_arg_str(&a, tag);
	pg_arg_i64(&a, now);

	err = pg_query(&res, &st_pub_find, &a);
	mem_deref(tag);
	if (err)
		return err;

	if (PQntuples(res)) {
		const char *p = pg_text(res, 0, 1);

		*id = pg_i64(res, 0, 0);
		str_ncpy(presentity, p ? p : "", size);
	}
	else {
		err = ENOENT;
	}

	PQclear(res);

	return err;
}


int pg_pub_add(int64_t *id, const char *presentity, const char *etag,
	       int64_t expires, const char *ctype, const struct pl *body,
	       const char *source, int64_t now)
{
	struct pg_args a = {.n = 0};
	PGresult *res;
	char *text;
	int err;

	err = pl_strdup(&text, body);
	if (err)
		return err;

	pg_arg_str(&a, presentity);
	pg_arg_str(&a, etag);
	pg_arg_i64(&a, expires);
	pg_arg_str(&a, ctype);
	pg_arg_str(&a, text);
	pg_arg_str(&a, source);
	pg_arg_i64(&a, now);

	err = pg_query(&res, &st_pub_add, &a);
	mem_deref(text);
	if (err)
		return err;

	if (PQntuples(res) == 1)
		*id = pg_i64(res, 0, 0);
	else
		err = EIO;

	PQclear(res);

	return err;
}


int pg_pub_modify(int64_t id, const char *etag, int64_t expires,
		  const char *ctype, const struct pl *body, int64_t now)
{
	struct pg_args a = {.n = 0};
	char *text = NULL;
	int err;

	if (body) {
		err = pl_strdup(&text, body);
		if (err)
			return err;
	}

	pg_arg_i64(&a, id);
	pg_arg_str(&a, etag);
	pg_arg_i64(&a, expires);
	pg_arg_i64(&a, now);
	if (body) {
		pg_arg_str(&a, ctype);
		pg_arg_str(&a, text);
	}

	err = pg_do(body ? &st_pub_modify : &st_pub_refresh, &a, NULL);
	mem_deref(text);

	return err;
}


int pg_pub_delete(int64_t id)
{
	struct pg_args a = {.n = 0};

	pg_arg_i64(&a, id);

	return pg_do(&st_pub_delete, &a, NULL);
}


static void pub_destructor(void *arg)
{
	struct store_pub *p = arg;

	mem_deref(p->presentity);
	mem_deref(p->etag);
	mem_deref(p->source);
	mem_deref(p->body);
	mem_deref(p->ctype);
}


/* Append the rows of PUB_COLUMNS of a statement */
static int pub_rows(struct list *pubs, struct pg_stmt *st,
		    const struct pg_args *a)
{
	PGresult *res;
	int i, err;

	err = pg_query(&res, st, a);
	if (err)
		return err;

	for (i = 0; i < PQntuples(res); i++) {
		struct store_pub *p;

		p = mem_zalloc(sizeof(*p), pub_destructor);
		if (!p) {
			err = ENOMEM;
			break;
		}

		list_append(pubs, &p->le, p);

		p->id = pg_i64(res, i, 0);
		p->expires = pg_i64(res, i, 3);
		p->updated = pg_i64(res, i, 6);

		err  = pg_str(&p->presentity, res, i, 1);
		err |= pg_str(&p->etag, res, i, 2);
		err |= pg_str(&p->source, res, i, 4);
		err |= pg_str(&p->body, res, i, 5);
		err |= pg_str(&p->ctype, res, i, 7);
		if (err) {
			err = ENOMEM;
			break;
		}
	}

	PQclear(res);

	return err;
}


int pg_pub_list(struct list *pubs, const char *presentity, int64_t now,
		bool newest_first)
{
	struct pg_args a = {.n = 0};

	if (newest_first && !presentity)
		return EINVAL;

	pg_arg_str(&a, presentity);
	pg_arg_i64(&a, now);

	return pub_rows(pubs, newest_first ? &st_pub_newest : &st_pub_list,
			&a);
}


int pg_pub_count(uint64_t *n, int64_t now)
{
	struct pg_args a = {.n = 0};
	PGresult *res;
	int err;

	pg_arg_i64(&a, now);

	err = pg_query(&res, &st_pub_count, &a);
	if (err)
		return err;

	if (PQntuples(res) == 1)
		*n = (uint64_t)pg_i64(res, 0, 0);
	else
		err = EIO;

	PQclear(res);

	return err;
}


int pg_pub_expired(struct list *pubs, int64_t now, uint32_t limit)
{
	struct pg_args a = {.n = 0};

	pg_arg_i64(&a, now);
	pg_arg_i64(&a, limit);

	return pub_rows(pubs, &st_pub_expired, &a);
}


int pg_pstate_save(const char *presentity, const char *pidf,
		   const char *sources, int64_t now)
{
	struct pg_args a = {.n = 0};

	pg_arg_str(&a, presentity);
	pg_arg_str(&a, pidf);
	pg_arg_str(&a, sources);
	pg_arg_i64(&a, now);

	return pg_do(&st_pstate_save, &a, NULL);
}


static void pstate_destructor(void *arg)
{
	struct store_pstate *ps = arg;

	mem_deref(ps->pidf);
	mem_deref(ps->sources);
}


int pg_pstate_get(struct store_pstate **psp, const char *presentity)
{
	struct store_pstate *ps;
	struct pg_args a = {.n = 0};
	PGresult *res;
	int err;

	pg_arg_str(&a, presentity);

	err = pg_query(&res, &st_pstate_get, &a);
	if (err)
		return err;

	if (!PQntuples(res)) {
		PQclear(res);
		return ENOENT;
	}

	ps = mem_zalloc(sizeof(*ps), pstate_destructor);
	if (!ps) {
		PQclear(res);
		return ENOMEM;
	}

	ps->updated = pg_i64(res, 0, 2);
	err  = pg_str(&ps->pidf, res, 0, 0);
	err |= pg_str(&ps->sources, res, 0, 1);

	PQclear(res);

	if (err) {
		mem_deref(ps);
		return ENOMEM;
	}

	*psp = ps;

	return 0;
}
