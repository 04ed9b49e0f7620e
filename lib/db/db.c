/**
 * @file db.c  The SQLite database: open, create, check the schema version
 *
 * sipd, its modules and sipctl share one SQLite file in WAL mode. The
 * schema (db/schema.sql) is compiled in, so sipd creates a missing file by
 * itself. Statements are prepared once and kept.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <sqlite3.h>
#include <re.h>
#include "core.h"
#include "db/db.h"


enum {
	DB_BUSY_TIMEOUT = 50,   /* ms */
};


static struct {
	sqlite3 *db;
	const struct db_tx *tx;  /* a group's begin, commit and rollback */
	struct list stmts;     /* struct db_stmt */
	struct db_stmt begin;
	struct db_stmt commit;
	struct db_stmt rollback;
	int last_rc;
} dbs = {
	.begin    = {.sql = "BEGIN IMMEDIATE"},
	.commit   = {.sql = "COMMIT"},
	.rollback = {.sql = "ROLLBACK"},
};


static int rc_errno(int rc)
{
	switch (rc & 0xff) {

	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:      return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:   return EBUSY;
	case SQLITE_NOMEM:    return ENOMEM;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:     return EACCES;
	case SQLITE_CANTOPEN: return ENOENT;
	case SQLITE_FULL:     return ENOSPC;
	case SQLITE_CONSTRAINT: return EEXIST;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:  return EILSEQ;
	default:              return EIO;
	}
}


/**
 * The errno value of the last failed database call
 *
 * @return errno value
 */
int db_error(void)
{
	return rc_errno(dbs.last_rc);
}


sqlite3 *db_handle(void)
{
	return dbs.db;
}


/**
 * Get a prepared statement, reset and with no bindings
 *
 * @param st Statement holder with its SQL
 *
 * @return The statement, or NULL on error (logged)
 */
sqlite3_stmt *db_stmt(struct db_stmt *st)
{
	int rc;

	if (!dbs.db || !st)
		return NULL;

	if (st->stmt) {
		sqlite3_reset(st->stmt);
		sqlite3_clear_bindings(st->stmt);
		return st->stmt;
	}

	rc = sqlite3_prepare_v3(dbs.db, st->sql, -1,
				SQLITE_PREPARE_PERSISTENT, &st->stmt, NULL);
	if (rc != SQLITE_OK) {
		dbs.last_rc = rc;
		log_error("db: cannot prepare \"%s\": %s\n", st->sql,
			  sqlite3_errmsg(dbs.db));
		return NULL;
	}

	list_append(&dbs.stmts, &st->le, st);

	return st->stmt;
}


static int step_done(struct db_stmt *st)
{
	sqlite3_stmt *stmt = db_stmt(st);
	int rc;

	if (!stmt)
		return db_error();

	rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE) {
		dbs.last_rc = rc;
		return rc_errno(rc);
	}

	return 0;
}


/**
 * Run SQL that returns no rows
 *
 * @param sql One or more statements
 *
 * @return 0 if success, otherwise errorcode (logged)
 */
int db_exec(const char *sql)
{
	char *msg = NULL;
	int rc;

	if (!dbs.db)
		return ENOENT;

	rc = sqlite3_exec(dbs.db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		dbs.last_rc = rc;
		log_error("db: %s\n", msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return rc_errno(rc);
	}

	return 0;
}


/**
 * Let a group transaction take the store's begin, commit and rollback
 * (group.c), or give them back
 *
 * @param tx Its functions, NULL for the plain ones
 */
void db_tx_set(const struct db_tx *tx)
{
	dbs.tx = tx;
}


/** BEGIN IMMEDIATE, whatever group is open */
int db_begin_plain(void)
{
	return step_done(&dbs.begin);
}


/** COMMIT (rolled back if it fails), whatever group is open */
int db_commit_plain(void)
{
	int err = step_done(&dbs.commit);

	if (err)
		db_rollback_plain();

	return err;
}


/** ROLLBACK of the open transaction, whatever group is open */
void db_rollback_plain(void)
{
	if (dbs.db && !sqlite3_get_autocommit(dbs.db))
		(void)step_done(&dbs.rollback);
}


int db_begin(void)
{
	return dbs.tx ? dbs.tx->begin() : db_begin_plain();
}


int db_commit(void)
{
	return dbs.tx ? dbs.tx->commit() : db_commit_plain();
}


void db_rollback(void)
{
	if (dbs.tx)
		dbs.tx->rollback();
	else
		db_rollback_plain();
}


/**
 * Read the schema version of the open database
 *
 * @return Version, 0 if the file has no version table, -1 on error
 */
int db_schema_version(void)
{
	sqlite3_stmt *stmt;
	int rc, ver = 0;

	if (db_pg_on())
		return db_pg_schema_version();

	rc = sqlite3_prepare_v2(dbs.db, "SELECT version FROM version"
				" WHERE name = 'schema'", -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return 0;

	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		ver = sqlite3_column_int(stmt, 0);
	else if (rc != SQLITE_DONE)
		ver = -1;

	sqlite3_finalize(stmt);

	return ver;
}


static bool db_empty(void)
{
	sqlite3_stmt *stmt;
	bool empty = true;

	if (sqlite3_prepare_v2(dbs.db, "SELECT 1 FROM sqlite_master LIMIT 1",
			       -1, &stmt, NULL) != SQLITE_OK)
		return false;

	if (sqlite3_step(stmt) == SQLITE_ROW)
		empty = false;

	sqlite3_finalize(stmt);

	return empty;
}


/* Apply the migrations from a version to the current one */
static int migrate(int from)
{
	int v, err;

	for (v = from + 1; v <= db_schema_ver; v++) {
		err = db_exec(db_migrations[v]);
		if (err)
			return err;
	}

	return 0;
}


/**
 * Bring an older database to the current schema, in one transaction
 *
 * @return 0 if success (or nothing to do), otherwise errorcode
 */
int db_upgrade(void)
{
	int ver = db_schema_version(), err;

	/* PostgreSQL's schema: db/pg/schema.sql and db/pg/migrations */
	if (db_pg_on())
		return db_pg_upgrade();

	if (ver <= 0 || ver > db_schema_ver)
		return EPROTO;

	if (ver == db_schema_ver)
		return 0;

	err = db_exec("BEGIN IMMEDIATE");
	if (err)
		return err;

	err = migrate(ver);
	if (err) {
		db_rollback();
		return err;
	}

	err = db_exec("COMMIT");
	if (!err)
		log_info("db: upgraded from schema version %d to %d\n", ver,
			 db_schema_ver);

	return err;
}


static int db_create(const char *path)
{
	int err;

	err = db_exec("BEGIN IMMEDIATE");
	if (err)
		return err;

	err = db_exec(db_schema_sql);
	if (!err)
		err = migrate(1);
	if (err) {
		db_rollback();
		return err;
	}

	err = db_exec("COMMIT");
	if (err)
		return err;

	log_info("db: created %s (schema version %d)\n", path, db_schema_ver);

	return 0;
}


/**
 * Open the database, creating it with the schema when it is missing
 *
 * @param path    SQLite file
 * @param create  True to create a missing file
 * @param upgrade True to accept an older schema (to upgrade it)
 *
 * @return 0 if success, otherwise errorcode (logged with the path)
 */
int db_open(const char *path, bool create, bool upgrade)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
	int rc, ver, err = 0;

	if (dbs.db)
		return EALREADY;

	if (create)
		flags |= SQLITE_OPEN_CREATE;

	rc = sqlite3_open_v2(path, &dbs.db, flags, NULL);
	if (rc != SQLITE_OK) {
		err = errno ? errno : rc_errno(rc);
		log_error("db: cannot open %s: %s\n", path,
			  dbs.db ? sqlite3_errmsg(dbs.db) : sqlite3_errstr(rc));
		goto out;
	}

	/* short: a module that cannot wait on the loop retries later */
	sqlite3_busy_timeout(dbs.db, DB_BUSY_TIMEOUT);

	err = db_exec("PRAGMA journal_mode = WAL");
	if (err) {
		log_error("db: %s is not a usable SQLite database\n", path);
		goto out;
	}

	if (db_empty()) {
		if (!create) {
			log_error("db: %s has no schema\n", path);
			err = ENOENT;
			goto out;
		}

		err = db_create(path);
		if (err)
			goto out;
	}

	ver = db_schema_version();
	if (ver != db_schema_ver && !(upgrade && ver > 0 &&
				     ver < db_schema_ver)) {
		log_error("db: %s has schema version %d, this sipd needs"
			  " version %d%s\n", path, ver, db_schema_ver,
			  ver > 0 && ver < db_schema_ver ?
			  ": run 'sipctl db upgrade'" : "");
		err = EPROTO;
		goto out;
	}

 out:
	if (err)
		db_close();

	return err;
}


/**
 * Set how hard SQLite makes each commit durable
 *
 * @param full True for synchronous=FULL (survives power loss), false for
 *             NORMAL (survives a crash or kill -9 of sipd)
 *
 * @return 0 if success, otherwise errorcode
 */
int db_set_sync(bool full)
{
	return db_exec(full ? "PRAGMA synchronous = FULL" :
		       "PRAGMA synchronous = NORMAL");
}


/**
 * Finalize every prepared statement; a module calls it from its close
 * handler (its statements live in its memory) and the core before it
 * closes the database. Statements are prepared again on their next use.
 */
void db_stmts_release(void)
{
	struct le *le;

	db_pg_stmts_release();

	while ((le = dbs.stmts.head)) {
		struct db_stmt *st = le->data;

		list_unlink(&st->le);
		sqlite3_finalize(st->stmt);
		st->stmt = NULL;
	}
}


void db_close(void)
{
	if (dbs.tx)
		(void)dbs.tx->flush();

	db_stmts_release();
	db_pg_close();

	if (dbs.db) {
		sqlite3_close(dbs.db);
		dbs.db = NULL;
	}
}
