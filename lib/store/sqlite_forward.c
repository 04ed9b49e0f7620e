/**
 * @file sqlite_forward.c  The store's SQLite engine: call forwarding rules
 *                         (table forwards) and busy limits of accounts
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <sqlite3.h>
#include <re.h>
#include <sipd.h>
#include "store.h"
#include "sqlite.h"


static struct db_stmt st_busy_get = {
	.sql = "SELECT busy_limit FROM accounts"
	       " WHERE username = ?1 AND domain = ?2"
};

static struct db_stmt st_busy_set = {
	.sql = "UPDATE accounts SET busy_limit = ?3"
	       " WHERE username = ?1 AND domain = ?2"
};

/* a new rule of a kind replaces the old one, which keeps its created */
static struct db_stmt st_set = {
	.sql = "INSERT INTO forwards (aor, kind, target, after, created)"
	       " VALUES (?1, ?2, ?3, ?4, ?5)"
	       " ON CONFLICT (aor, kind) DO UPDATE SET"
	       " target = excluded.target, after = excluded.after"
};

static struct db_stmt st_del = {
	.sql = "DELETE FROM forwards WHERE aor = ?1 AND kind = ?2"
};

/* an account, its busy limit and its rules: one row without rules */
static struct db_stmt st_callee = {
	.sql = "SELECT a.busy_limit, f.kind, f.target, f.after, f.created"
	       " FROM accounts a LEFT JOIN forwards f ON f.aor = ?3"
	       " WHERE a.username = ?1 AND a.domain = ?2 ORDER BY f.kind"
};

/* the names of the kinds sort in their order: always, busy, ... */
static struct db_stmt st_list = {
	.sql = "SELECT aor, kind, target, after, created FROM forwards"
	       " WHERE ?1 IS NULL OR aor = ?1 ORDER BY aor, kind"
};


int sqlite_account_busy_limit(const char *user, const char *domain,
			      uint32_t *limit)
{
	sqlite3_stmt *stmt = db_stmt(&st_busy_get);
	int rc, err = 0;

	if (!stmt)
		return db_error();

	sqlite3_bind_text(stmt, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, domain, -1, SQLITE_STATIC);

	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		int64_t v = sqlite3_column_int64(stmt, 0);

		*limit = v < 0 ? 0 : v > UINT32_MAX ? UINT32_MAX :
			(uint32_t)v;
	}
	else if (rc == SQLITE_DONE) {
		err = ENOENT;
	}
	else {
		err = sqlite_errno(rc);
	}

	sqlite3_reset(stmt);

	return err;
}


int sqlite_account_busy_limit_set(const char *user, const char *domain,
				  uint32_t limit)
{
	sqlite3_stmt *stmt = db_stmt(&st_busy_set);
	int rc, err;

	if (!stmt)
		return db_error();

	sqlite3_bind_text(stmt, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, domain, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, limit);

	rc = sqlite3_step(stmt);
	err = rc == SQLITE_DONE ? 0 : sqlite_errno(rc);
	if (!err && !sqlite3_changes(db_handle()))
		err = ENOENT;

	sqlite3_reset(stmt);

	return err;
}


int sqlite_forward_set(const char *aor, enum store_forward_kind kind,
		       const char *target, uint32_t after, int64_t now)
{
	sqlite3_stmt *stmt = db_stmt(&st_set);
	int rc;

	if (!stmt)
		return db_error();

	sqlite3_bind_text(stmt, 1, aor, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, store_forward_kind_name(kind), -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, target, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, after);
	sqlite3_bind_int64(stmt, 5, now);

	rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);

	return rc == SQLITE_DONE ? 0 : sqlite_errno(rc);
}


int sqlite_forward_del(const char *aor, enum store_forward_kind kind)
{
	sqlite3_stmt *stmt = db_stmt(&st_del);
	int rc, err;

	if (!stmt)
		return db_error();

	sqlite3_bind_text(stmt, 1, aor, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, store_forward_kind_name(kind), -1,
			  SQLITE_STATIC);

	rc = sqlite3_step(stmt);
	err = rc == SQLITE_DONE ? 0 : sqlite_errno(rc);
	if (!err && !sqlite3_changes(db_handle()))
		err = ENOENT;

	sqlite3_reset(stmt);

	return err;
}


static void col_copy(char *buf, size_t size, sqlite3_stmt *stmt, int col)
{
	const char *s = (const char *)sqlite3_column_text(stmt, col);

	str_ncpy(buf, s ? s : "", size);
}


/* A rule of a row whose columns 1 to 4 are kind, target, after and
   created; its user is aor, or column 0 */
static int forward_row(struct list *fwds, sqlite3_stmt *stmt,
		       const char *aor)
{
	const char *kind = (const char *)sqlite3_column_text(stmt, 1);
	int64_t after = sqlite3_column_int64(stmt, 3);
	struct store_forward *f;

	f = mem_zalloc(sizeof(*f), NULL);
	if (!f)
		return ENOMEM;

	if (aor)
		str_ncpy(f->aor, aor, sizeof(f->aor));
	else
		col_copy(f->aor, sizeof(f->aor), stmt, 0);
	col_copy(f->target, sizeof(f->target), stmt, 2);
	f->after = after < 0 ? 0 : after > UINT32_MAX ? UINT32_MAX :
		(uint32_t)after;
	f->created = sqlite3_column_int64(stmt, 4);

	/* the table's CHECK keeps out any other kind */
	if (store_forward_kind_decode(&f->kind, kind ? kind : "")) {
		mem_deref(f);
		return EILSEQ;
	}

	list_append(fwds, &f->le, f);

	return 0;
}


int sqlite_forward_list(struct list *fwds, const char *aor)
{
	sqlite3_stmt *stmt = db_stmt(&st_list);
	int rc, err = 0;

	if (!stmt)
		return db_error();

	sqlite_bind_text(stmt, 1, aor);

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		err = forward_row(fwds, stmt, NULL);
		if (err)
			break;
	}

	if (!err && rc != SQLITE_DONE && rc != SQLITE_ROW)
		err = sqlite_errno(rc);

	sqlite3_reset(stmt);

	return err;
}


int sqlite_callee_rules(const char *user, const char *domain,
			const char *aor, uint32_t *busy_limit,
			struct list *fwds)
{
	sqlite3_stmt *stmt = db_stmt(&st_callee);
	bool found = false;
	int rc, err = 0;

	if (!stmt)
		return db_error();

	sqlite3_bind_text(stmt, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, aor, -1, SQLITE_STATIC);

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		int64_t v = sqlite3_column_int64(stmt, 0);

		found = true;
		*busy_limit = v < 0 ? 0 : v > UINT32_MAX ? UINT32_MAX :
			(uint32_t)v;

		/* an account without rules: one row, no kind */
		if (sqlite3_column_type(stmt, 1) == SQLITE_NULL)
			continue;

		err = forward_row(fwds, stmt, aor);
		if (err)
			break;
	}

	if (!err && rc != SQLITE_DONE && rc != SQLITE_ROW)
		err = sqlite_errno(rc);
	if (!err && !found)
		err = ENOENT;

	sqlite3_reset(stmt);

	return err;
}
