/**
 * @file sqlite_account.c  The store's SQLite engine: accounts
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <sqlite3.h>
#include <re.h>
#include <sipd.h>
#include "store.h"
#include <digest/digest.h>
#include "sqlite.h"


static struct db_stmt st_ha1 = {
	.sql = "SELECT ha1_md5, ha1_sha256 FROM accounts"
	       " WHERE username = ?1 AND domain = ?2"
};

static struct db_stmt st_add = {
	.sql = "INSERT INTO accounts (username, domain, ha1_md5, ha1_sha256,"
	       " created) VALUES (?1, ?2, ?3, ?4, ?5)"
};

static struct db_stmt st_update = {
	.sql = "UPDATE accounts SET ha1_md5 = ?3, ha1_sha256 = ?4"
	       " WHERE username = ?1 AND domain = ?2"
};

static struct db_stmt st_upsert = {
	.sql = "INSERT INTO accounts (username, domain, ha1_md5, ha1_sha256,"
	       " created) VALUES (?1, ?2, ?3, ?4, ?5)"
	       " ON CONFLICT (username, domain) DO UPDATE SET"
	       " ha1_md5 = excluded.ha1_md5,"
	       " ha1_sha256 = excluded.ha1_sha256"
};

static struct db_stmt st_delete = {
	.sql = "DELETE FROM accounts WHERE username = ?1 AND domain = ?2"
};

static struct db_stmt st_delete_bindings = {
	.sql = "DELETE FROM bindings WHERE aor = ?1"
};

/* an account's forwarding rules go with it (sqlite_forward.c) */
static struct db_stmt st_delete_forwards = {
	.sql = "DELETE FROM forwards WHERE aor = ?1"
};

static struct db_stmt st_list = {
	.sql = "SELECT a.username, a.domain, a.created,"
	       " (SELECT count(*) FROM bindings b WHERE"
	       "  b.aor = a.username || '@' || a.domain"
	       "  AND b.expires > ?1), a.busy_limit"
	       " FROM accounts a ORDER BY a.domain, a.username"
};


int sqlite_account_ha1(const char *user, const char *domain,
		       enum digest_alg alg, uint8_t *ha1, size_t *len)
{
	sqlite3_stmt *stmt = db_stmt(&st_ha1);
	int col = alg == DIGEST_SHA256 ? 1 : 0;
	size_t n;
	int rc, err = 0;

	if (!stmt)
		return db_error();

	sqlite3_bind_text(stmt, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, domain, -1, SQLITE_STATIC);

	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		n = (size_t)sqlite3_column_bytes(stmt, col);
		if (n != digest_size(alg)) {
			err = EILSEQ;
		}
		else {
			memcpy(ha1, sqlite3_column_blob(stmt, col), n);
			*len = n;
		}
	}
	else if (rc == SQLITE_DONE) {
		err = ENOENT;
	}
	else {
		err = rc == SQLITE_BUSY ? EBUSY : EIO;
	}

	sqlite3_reset(stmt);

	return err;
}


/* One account with the statement of how it is written; not reset */
static int write_account(sqlite3_stmt *stmt, const struct store_account *a)
{
	int rc;

	sqlite3_bind_text(stmt, 1, a->user, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, a->domain, -1, SQLITE_STATIC);
	sqlite3_bind_blob(stmt, 3, a->ha1_md5, (int)digest_size(DIGEST_MD5),
			  SQLITE_STATIC);
	sqlite3_bind_blob(stmt, 4, a->ha1_sha256,
			  (int)digest_size(DIGEST_SHA256), SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 5, a->created);

	rc = sqlite3_step(stmt);

	return rc == SQLITE_DONE ? 0 : sqlite_errno(rc);
}


int sqlite_account_write(const struct store_account *acc,
			 enum store_write how)
{
	struct db_stmt *st = how == STORE_ADD ? &st_add :
		how == STORE_UPDATE ? &st_update : &st_upsert;
	sqlite3_stmt *stmt = db_stmt(st);
	int err;

	if (!stmt)
		return db_error();

	err = write_account(stmt, acc);
	if (!err && how == STORE_UPDATE && !sqlite3_changes(db_handle()))
		err = ENOENT;

	sqlite3_reset(stmt);

	return err;
}


int sqlite_account_import(const struct list *accounts)
{
	sqlite3_stmt *stmt;
	struct le *le;
	int err;

	err = db_begin();
	if (err)
		return err;

	for (le = accounts->head; le && !err; le = le->next) {
		stmt = db_stmt(&st_upsert);
		if (!stmt) {
			err = db_error();
			break;
		}

		err = write_account(stmt, le->data);
		sqlite3_reset(stmt);
	}

	if (err) {
		db_rollback();
		return err;
	}

	return db_commit();
}


static int step_changes(struct db_stmt *st, const char *a, const char *b,
			int *changes)
{
	sqlite3_stmt *stmt = db_stmt(st);
	int rc;

	if (!stmt)
		return db_error();

	sqlite3_bind_text(stmt, 1, a, -1, SQLITE_STATIC);
	if (b)
		sqlite3_bind_text(stmt, 2, b, -1, SQLITE_STATIC);

	rc = sqlite3_step(stmt);
	*changes = sqlite3_changes(db_handle());
	sqlite3_reset(stmt);

	return rc == SQLITE_DONE ? 0 : sqlite_errno(rc);
}


int sqlite_account_delete(const char *user, const char *domain)
{
	char aor[300];
	int n = 0, err;

	if (re_snprintf(aor, sizeof(aor), "%s@%s", user, domain) < 0)
		return EINVAL;

	err = db_begin();
	if (err)
		return err;

	err = step_changes(&st_delete, user, domain, &n);
	if (!err && !n)
		err = ENOENT;
	if (!err)
		err = step_changes(&st_delete_bindings, aor, NULL, &n);
	if (!err)
		err = step_changes(&st_delete_forwards, aor, NULL, &n);

	if (err) {
		db_rollback();
		return err;
	}

	return db_commit();
}


int sqlite_account_list(struct list *accounts, int64_t now)
{
	sqlite3_stmt *stmt = db_stmt(&st_list);
	int rc, err = 0;

	if (!stmt)
		return db_error();

	sqlite3_bind_int64(stmt, 1, now);

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct store_account *a = mem_zalloc(sizeof(*a), NULL);
		const char *s;

		if (!a) {
			err = ENOMEM;
			break;
		}

		s = (const char *)sqlite3_column_text(stmt, 0);
		str_ncpy(a->user, s ? s : "", sizeof(a->user));
		s = (const char *)sqlite3_column_text(stmt, 1);
		str_ncpy(a->domain, s ? s : "", sizeof(a->domain));
		a->created = sqlite3_column_int64(stmt, 2);
		a->bindings = (uint32_t)sqlite3_column_int64(stmt, 3);
		a->busy_limit = (uint32_t)sqlite3_column_int64(stmt, 4);

		list_append(accounts, &a->le, a);
	}

	if (!err && rc != SQLITE_DONE && rc != SQLITE_ROW)
		err = sqlite_errno(rc);

	sqlite3_reset(stmt);

	return err;
}
