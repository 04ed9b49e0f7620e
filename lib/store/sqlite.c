/**
 * @file sqlite.c  The store's SQLite engine: the data version, the check,
 *                 transactions, helpers of its statements
 *
 * The engine works on the connection of the core (db.c), whose prepared
 * statements (db_stmt()) it keeps.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <sqlite3.h>
#include <re.h>
#include <sipd.h>
#include "store.h"
#include "sqlite.h"


static struct db_stmt st_data_version = {
	.sql = "PRAGMA data_version"
};


static struct {
	const sqlite3 *db;          /* the connection last read           */
	int64_t data_version;       /* its PRAGMA data_version            */
	int64_t changes;            /* its sqlite3_total_changes64()      */
	uint64_t version;           /* what store_version() answers       */
} dv;


/**
 * The errno value of an SQLite result code
 *
 * @param rc Result code
 *
 * @return 0 or errno value
 */
int sqlite_errno(int rc)
{
	switch (rc & 0xff) {

	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:        return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:     return EBUSY;
	case SQLITE_NOMEM:      return ENOMEM;
	case SQLITE_CONSTRAINT: return EEXIST;
	default:                return EIO;
	}
}


/** Bind a string, NULL as SQL NULL */
void sqlite_bind_text(sqlite3_stmt *stmt, int col, const char *s)
{
	if (s)
		sqlite3_bind_text(stmt, col, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(stmt, col);
}


/** Copy a text column, NULL left NULL */
int sqlite_col_str(char **dst, sqlite3_stmt *stmt, int col)
{
	const char *s = (const char *)sqlite3_column_text(stmt, col);

	if (!s)
		return 0;

	return str_dup(dst, s);
}


/**
 * The data version (store_version()): PRAGMA data_version, which changes
 * at every commit of another connection (another worker, sipctl, the
 * sqlite3 shell), and sqlite3_total_changes64(), which changes at every
 * change of this connection. Both are documented interfaces. The pragma
 * runs a read transaction of its own, so it sees the latest commit; it
 * is skipped while no file of the database was written
 * (sqlite_watch.c).
 *
 * @param version Set to the version
 *
 * @return 0 if success, EBUSY inside a transaction, otherwise errorcode
 */
int sqlite_version(uint64_t *version)
{
	sqlite3 *db = db_handle();
	sqlite3_stmt *stmt;
	int64_t data_version, changes;
	int rc;

	if (!db)
		return ENOENT;

	/* its own changes may still be rolled back */
	if (!sqlite3_get_autocommit(db))
		return EBUSY;

	changes = sqlite3_total_changes64(db);

	/* a change of its own: a new version, whatever other connections
	   did (what is read next sees their commits too; their next data
	   version read makes one more) */
	if (db == dv.db && changes != dv.changes) {
		dv.changes = changes;
		*version = ++dv.version;
		return 0;
	}

	/* nothing written by anyone since the last read: it stands */
	if (db == dv.db && sqlite_watch_quiet(db)) {
		*version = dv.version;
		return 0;
	}

	stmt = db_stmt(&st_data_version);
	if (!stmt)
		return db_error();

	rc = sqlite3_step(stmt);
	data_version = sqlite3_column_int64(stmt, 0);
	sqlite3_reset(stmt);
	if (rc != SQLITE_ROW)
		return sqlite_errno(rc == SQLITE_DONE ? SQLITE_ERROR : rc);

	changes = sqlite3_total_changes64(db);

	if (db != dv.db || data_version != dv.data_version ||
	    changes != dv.changes) {
		dv.db = db;
		dv.data_version = data_version;
		dv.changes = changes;
		++dv.version;
	}

	*version = dv.version;

	return 0;
}


/**
 * PRAGMA quick_check
 *
 * @param problem Set to what it reports, unless "ok"
 * @param size    Its size
 *
 * @return 0 if ok, EILSEQ with a problem, otherwise errorcode
 */
int sqlite_check(char *problem, size_t size)
{
	static struct db_stmt st = {.sql = "PRAGMA quick_check"};
	sqlite3_stmt *stmt = db_stmt(&st);
	const char *res;
	int rc, err = 0;

	if (!stmt)
		return db_error();

	rc = sqlite3_step(stmt);
	res = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(stmt, 0) :
		NULL;
	if (!res) {
		str_ncpy(problem, "failed", size);
		err = rc == SQLITE_ROW ? EIO : sqlite_errno(rc);
	}
	else if (strcmp(res, "ok")) {
		str_ncpy(problem, res, size);
		err = EILSEQ;
	}

	sqlite3_reset(stmt);

	return err;
}


/** The busy timeout of the core's connection */
int sqlite_lock_wait(uint32_t ms)
{
	sqlite3 *db = db_handle();

	if (!db)
		return ENOENT;

	return sqlite_errno(sqlite3_busy_timeout(db, (int)ms));
}


int sqlite_begin(void)
{
	return db_begin();
}


int sqlite_commit(void)
{
	return db_commit();
}


void sqlite_rollback(void)
{
	db_rollback();
}
