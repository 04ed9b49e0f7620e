/**
 * @file pg_forward.c  The store's PostgreSQL engine: call forwarding rules
 *                     (table forwards) and busy limits of accounts
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include <sipd.h>
#include "store.h"
#include "pg.h"


static struct pg_stmt st_busy_get = {
	.sql = "SELECT busy_limit FROM accounts"
	       " WHERE username = $1 AND domain = $2"
};

static struct pg_stmt st_busy_set = {
	.sql = "UPDATE accounts SET busy_limit = $3"
	       " WHERE username = $1 AND domain = $2"
};

/* a new rule of a kind replaces the old one, which keeps its created */
static struct pg_stmt st_set = {
	.sql = "INSERT INTO forwards (aor, kind, target, after, created)"
	       " VALUES ($1, $2, $3, $4, $5)"
	       " ON CONFLICT (aor, kind) DO UPDATE SET"
	       " target = excluded.target, after = excluded.after"
};

static struct pg_stmt st_del = {
	.sql = "DELETE FROM forwards WHERE aor = $1 AND kind = $2"
};

/* an account, its busy limit and its rules: one row without rules; the
   kinds in their order whatever the database's collation */
#define KIND_ORDER "array_position(ARRAY['always','busy','noanswer'," \
	"'unavailable'], f.kind)"

static struct pg_stmt st_callee = {
	.sql = "SELECT a.busy_limit, f.kind, f.target, f.after, f.created"
	       " FROM accounts a LEFT JOIN forwards f ON f.aor = $3"
	       " WHERE a.username = $1 AND a.domain = $2"
	       " ORDER BY " KIND_ORDER
};

static struct pg_stmt st_list = {
	.sql = "SELECT f.aor, f.kind, f.target, f.after, f.created"
	       " FROM forwards f WHERE $1::text IS NULL OR f.aor = $1"
	       " ORDER BY f.aor, " KIND_ORDER
};


static uint32_t u32(int64_t v)
{
	return v < 0 ? 0 : v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}


int pg_account_busy_limit(const char *user, const char *domain,
			  uint32_t *limit)
{
	struct pg_args a = {.n = 0};
	PGresult *res;
	int err;

	pg_arg_str(&a, user);
	pg_arg_str(&a, domain);

	err = pg_query(&res, &st_busy_get, &a);
	if (err)
		return err;

	if (PQntuples(res))
		*limit = u32(pg_i64(res, 0, 0));
	else
		err = ENOENT;

	PQclear(res);

	return err;
}


int pg_account_busy_limit_set(const char *user, const char *domain,
			      uint32_t limit)
{
	struct pg_args a = {.n = 0};
	uint64_t n = 0;
	int err;

	pg_arg_str(&a, user);
	pg_arg_str(&a, domain);
	pg_arg_i64(&a, limit);

	err = pg_do(&st_busy_set, &a, &n);
	if (!err && !n)
		err = ENOENT;

	return err;
}


int pg_forward_set(const char *aor, enum store_forward_kind kind,
		   const char *target, uint32_t after, int64_t now)
{
	struct pg_args a = {.n = 0};

	pg_arg_str(&a, aor);
	pg_arg_str(&a, store_forward_kind_name(kind));
	pg_arg_str(&a, target);
	pg_arg_i64(&a, after);
	pg_arg_i64(&a, now);

	return pg_do(&st_set, &a, NULL);
}


int pg_forward_del(const char *aor, enum store_forward_kind kind)
{
	struct pg_args a = {.n = 0};
	uint64_t n = 0;
	int err;

	pg_arg_str(&a, aor);
	pg_arg_str(&a, store_forward_kind_name(kind));

	err = pg_do(&st_del, &a, &n);
	if (!err && !n)
		err = ENOENT;

	return err;
}


/* A rule of a row whose columns 1 to 4 are kind, target, after and
   created; its user is aor, or column 0 */
static int forward_row(struct list *fwds, const PGresult *res, int row,
		       const char *aor)
{
	const char *kind = pg_text(res, row, 1);
	const char *s;
	struct store_forward *f;

	f = mem_zalloc(sizeof(*f), NULL);
	if (!f)
		return ENOMEM;

	s = aor ? aor : pg_text(res, row, 0);
	str_ncpy(f->aor, s ? s : "", sizeof(f->aor));
	s = pg_text(res, row, 2);
	str_ncpy(f->target, s ? s : "", sizeof(f->target));
	f->after = u32(pg_i64(res, row, 3));
	f->created = pg_i64(res, row, 4);

	/* the table's CHECK keeps out any other kind */
	if (store_forward_kind_decode(&f->kind, kind ? kind : "")) {
		mem_deref(f);
		return EILSEQ;
	}

	list_append(fwds, &f->le, f);

	return 0;
}


int pg_forward_list(struct list *fwds, const char *aor)
{
	struct pg_args a = {.n = 0};
	PGresult *res;
	int i, err;

	pg_arg_str(&a, aor);

	err = pg_query(&res, &st_list, &a);
	if (err)
		return err;

	for (i = 0; i < PQntuples(res) && !err; i++)
		err = forward_row(fwds, res, i, NULL);

	PQclear(res);

	return err;
}


int pg_callee_rules(const char *user, const char *domain, const char *aor,
		    uint32_t *busy_limit, struct list *fwds)
{
	struct pg_args a = {.n = 0};
	PGresult *res;
	int i, err;

	pg_arg_str(&a, user);
	pg_arg_str(&a, domain);
	pg_arg_str(&a, aor);

	err = pg_query(&res, &st_callee, &a);
	if (err)
		return err;

	if (!PQntuples(res))
		err = ENOENT;

	for (i = 0; i < PQntuples(res) && !err; i++) {

		*busy_limit = u32(pg_i64(res, i, 0));

		/* an account without rules: one row, no kind */
		if (PQgetisnull(res, i, 1))
			continue;

		err = forward_row(fwds, res, i, aor);
	}

	PQclear(res);

	return err;
}
