/**
 * @file pg_account.c  The store's PostgreSQL engine: accounts
 *
 * The HA1 values are BYTEA, written and read as text in PostgreSQL's hex
 * format (\x followed by two hex digits a byte).
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include <sipd.h>
#include "store.h"
#include <digest/digest.h>
#include "pg.h"


static struct pg_stmt st_ha1 = {
	.sql = "SELECT ha1_md5, ha1_sha256 FROM accounts"
	       " WHERE username = $1 AND domain = $2"
};

static struct pg_stmt st_add = {
	.sql = "INSERT INTO accounts (username, domain, ha1_md5, ha1_sha256,"
	       " created) VALUES ($1, $2, $3, $4, $5)"
};

static struct pg_stmt st_update = {
	.sql = "UPDATE accounts SET ha1_md5 = $3, ha1_sha256 = $4"
	       " WHERE username = $1 AND domain = $2"
};

static struct pg_stmt st_upsert = {
	.sql = "INSERT INTO accounts (username, domain, ha1_md5, ha1_sha256,"
	       " created) VALUES ($1, $2, $3, $4, $5)"
	       " ON CONFLICT (username, domain) DO UPDATE SET"
	       " ha1_md5 = excluded.ha1_md5,"
	       " ha1_sha256 = excluded.ha1_sha256"
};

static struct pg_stmt st_delete = {
	.sql = "DELETE FROM accounts WHERE username = $1 AND domain = $2"
};

static struct pg_stmt st_delete_bindings = {
	.sql = "DELETE FROM bindings WHERE aor = $1"
};

/* an account's forwarding rules go with it (pg_forward.c) */
static struct pg_stmt st_delete_forwards = {
	.sql = "DELETE FROM forwards WHERE aor = $1"
};

static struct pg_stmt st_list = {
	.sql = "SELECT a.username, a.domain, a.created,"
	       " (SELECT count(*) FROM bindings b WHERE"
	       "  b.aor = a.username || '@' || a.domain"
	       "  AND b.expires > $1), a.busy_limit"
	       " FROM accounts a ORDER BY a.domain, a.username"
};


/* Bytes as a BYTEA in hex format */
static void hex_encode(char *buf, const uint8_t *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	*buf++ = '\\';
	*buf++ = 'x';
	for (i = 0; i < n; i++) {
		*buf++ = hex[p[i] >> 4];
		*buf++ = hex[p[i] & 0xf];
	}
	*buf = '\0';
}


static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;

	return -1;
}


/* A BYTEA in hex format into a buffer; the byte count, -1 if invalid */
static int hex_decode(uint8_t *buf, size_t size, const char *s)
{
	size_t n = 0;

	if (!s || s[0] != '\\' || s[1] != 'x')
		return -1;

	for (s += 2; s[0] && s[1]; s += 2) {
		int hi = hexval(s[0]), lo = hexval(s[1]);

		if (hi < 0 || lo < 0 || n >= size)
			return -1;

		buf[n++] = (uint8_t)(hi << 4 | lo);
	}

	return *s ? -1 : (int)n;
}


int pg_account_ha1(const char *user, const char *domain,
		   enum digest_alg alg, uint8_t *ha1, size_t *len)
{
	int col = alg == DIGEST_SHA256 ? 1 : 0;
	struct pg_args a = {.n = 0};
	uint8_t buf[DIGEST_MAX_SIZE];
	PGresult *res;
	int n, err = 0;

	pg_arg_str(&a, user);
	pg_arg_str(&a, domain);

	err = pg_query(&res, &st_ha1, &a);
	if (err)
		return err;

	if (!PQntuples(res)) {
		err = ENOENT;
	}
	else {
		n = hex_decode(buf, sizeof(buf), pg_text(res, 0, col));
		if (n < 0 || (size_t)n != digest_size(alg)) {
			err = EILSEQ;
		}
		else {
			memcpy(ha1, buf, (size_t)n);
			*len = (size_t)n;
		}
	}

	PQclear(res);

	return err;
}


/* One account with the statement of how it is written */
static int write_account(struct pg_stmt *st, const struct store_account *acc,
			 uint64_t *changes)
{
	char md5[2 * DIGEST_MAX_SIZE + 3], sha256[2 * DIGEST_MAX_SIZE + 3];
	struct pg_args a = {.n = 0};

	hex_encode(md5, acc->ha1_md5, digest_size(DIGEST_MD5));
	hex_encode(sha256, acc->ha1_sha256, digest_size(DIGEST_SHA256));

	pg_arg_str(&a, acc->user);
	pg_arg_str(&a, acc->domain);
	pg_arg_str(&a, md5);
	pg_arg_str(&a, sha256);
	if (st != &st_update)
		pg_arg_i64(&a, acc->created);

	return pg_do(st, &a, changes);
}


int pg_account_write(const struct store_account *acc, enum store_write how)
{
	struct pg_stmt *st = how == STORE_ADD ? &st_add :
		how == STORE_UPDATE ? &st_update : &st_upsert;
	uint64_t n = 0;
	int err;

	err = write_account(st, acc, &n);
	if (!err && how == STORE_UPDATE && !n)
		err = ENOENT;

	return err;
}


int pg_account_import(const struct list *accounts)
{
	struct le *le;
	int err;

	err = pg_begin();
	if (err)
		return err;

	for (le = accounts->head; le && !err; le = le->next)
		err = write_account(&st_upsert, le->data, NULL);

	if (err) {
		pg_rollback();
		return err;
	}

	return pg_commit();
}


static int run_changes(struct pg_stmt *st, const char *x, const char *y,
		       uint64_t *changes)
{
	struct pg_args a = {.n = 0};

	pg_arg_str(&a, x);
	if (y)
		pg_arg_str(&a, y);

	return pg_do(st, &a, changes);
}


int pg_account_delete(const char *user, const char *domain)
{
	uint64_t n = 0;
	char aor[300];
	int err;

	if (re_snprintf(aor, sizeof(aor), "%s@%s", user, domain) < 0)
		return EINVAL;

	err = pg_begin();
	if (err)
		return err;

	err = run_changes(&st_delete, user, domain, &n);
	if (!err && !n)
		err = ENOENT;
	if (!err)
		err = run_changes(&st_delete_bindings, aor, NULL, NULL);
	if (!err)
		err = run_changes(&st_delete_forwards, aor, NULL, NULL);

	if (err) {
		pg_rollback();
		return err;
	}

	/* bindings have no trigger: told after the commit */
	db_pg_notify_after_commit("bindings", aor);

	return pg_commit();
}


int pg_account_list(struct list *accounts, int64_t now)
{
	struct pg_args a = {.n = 0};
	PGresult *res;
	int i, err;

	pg_arg_i64(&a, now);

	err = pg_query(&res, &st_list, &a);
	if (err)
		return err;

	for (i = 0; i < PQntuples(res); i++) {
		struct store_account *acc = mem_zalloc(sizeof(*acc), NULL);
		const char *s;

		if (!acc) {
			err = ENOMEM;
			break;
		}

		s = pg_text(res, i, 0);
		str_ncpy(acc->user, s ? s : "", sizeof(acc->user));
		s = pg_text(res, i, 1);
		str_ncpy(acc->domain, s ? s : "", sizeof(acc->domain));
		acc->created = pg_i64(res, i, 2);
		acc->bindings = (uint32_t)pg_i64(res, i, 3);
		acc->busy_limit = (uint32_t)pg_i64(res, i, 4);

		list_append(accounts, &acc->le, acc);
	}

	PQclear(res);

	return err;
}
