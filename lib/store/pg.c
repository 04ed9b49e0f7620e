/**
 * @file pg.c  The store's PostgreSQL engine: the connection, its errors,
 *             prepared statements, transactions, the schema
 *
 * One connection per process (each worker opens its own after the fork),
 * made by store_pg_open() from a libpq connection URI. Statements are
 * prepared once per connection (PQprepare) when first run, and run with
 * their parameters as text. Outside a transaction every statement
 * commits by itself; synchronous_commit is set on for the session, so a
 * call returns only once its commit is on the server's disk.
 *
 * A connection found broken is re-established (PQreset) by the next call
 * outside a transaction; its statements are prepared again. The call
 * that found it broken fails with ENOTCONN.
 *
 * Unlike SQLite, PostgreSQL aborts a whole transaction when one of its
 * statements fails: the statements after it fail, and its commit fails
 * (the server answers ROLLBACK), so nothing of it is kept.
 *
 * lib/store is linked into each module that uses it, each with its own
 * copy of this file's state: each copy opens its own connection. The
 * statements are named after their address, so that copies sharing one
 * connection (held by the core, later) would not collide.
 *
 * The data version (store_version()) answers ENOSYS for now: the caches
 * then read the store every time. Its place is pg_version(), which a
 * LISTEN of the changes of other nodes (NOTIFY) will feed.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include <re.h>
#include <sipd.h>
#include "store.h"
#include "pg.h"


static struct {
	PGconn *conn;
	uint64_t gen;          /* connection generation (prepared stmts)  */
	unsigned depth;        /* nested store_begin()s                  */
	bool doomed;           /* an inner transaction was rolled back   */
	char err[256];         /* the server's last error message        */
} pg;


static void err_set(const char *msg)
{
	size_t n;

	str_ncpy(pg.err, msg ? msg : "", sizeof(pg.err));

	/* libpq's messages end with a newline */
	n = strlen(pg.err);
	while (n && (pg.err[n - 1] == '\n' || pg.err[n - 1] == ' '))
		pg.err[--n] = '\0';
}


/**
 * The errno value of a failed result: class 23 (a constraint) EEXIST as
 * SQLite's SQLITE_CONSTRAINT, a lock or serialization failure EBUSY, a
 * lost connection ENOTCONN
 */
static int res_errno(const PGresult *res)
{
	const char *state;

	if (!res || PQstatus(pg.conn) != CONNECTION_OK)
		return ENOTCONN;

	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (!state)
		return EIO;

	if (!strncmp(state, "23", 2))
		return EEXIST;
	if (!strcmp(state, "40001") || !strcmp(state, "40P01") ||
	    !strcmp(state, "55P03") || !strcmp(state, "57014"))
		return EBUSY;
	if (!strncmp(state, "08", 2) || !strncmp(state, "57P", 3))
		return ENOTCONN;
	if (!strcmp(state, "53200"))
		return ENOMEM;
	if (!strcmp(state, "42P01"))
		return ENOENT;

	return EIO;
}


/* A usable connection: re-established outside a transaction if lost */
static int conn_ready(void)
{
	if (!pg.conn)
		return ENOENT;

	if (PQstatus(pg.conn) == CONNECTION_OK)
		return 0;

	if (pg.depth)
		return ENOTCONN;

	PQreset(pg.conn);
	++pg.gen;
	if (PQstatus(pg.conn) != CONNECTION_OK) {
		err_set(PQerrorMessage(pg.conn));
		return ENOTCONN;
	}

	return 0;
}


/* A command without parameters, outside the prepared ones */
static int exec_simple(const char *sql, const char *want_status)
{
	PGresult *res;
	int err = 0;

	res = PQexec(pg.conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK) {
		err_set(res ? PQresultErrorMessage(res) :
			PQerrorMessage(pg.conn));
		err = res_errno(res);
	}
	else if (want_status && strcmp(PQcmdStatus(res), want_status)) {
		/* COMMIT of a failed transaction answers ROLLBACK */
		err_set("transaction rolled back");
		err = EIO;
	}

	PQclear(res);

	return err;
}


/* The server's notices (a DROP's cascade): not for stderr */
static void notice_quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}


/** Add a text parameter; NULL is SQL NULL */
void pg_arg_str(struct pg_args *a, const char *s)
{
	if (a->n < PG_ARGS_MAX)
		a->v[a->n++] = s;
}


/** Add an integer parameter */
void pg_arg_i64(struct pg_args *a, int64_t v)
{
	if (a->n >= PG_ARGS_MAX)
		return;

	(void)re_snprintf(a->num[a->n], sizeof(a->num[a->n]), "%lld",
			  (long long)v);
	a->v[a->n] = a->num[a->n];
	++a->n;
}


/**
 * Run a statement, prepared on this connection when first run
 *
 * @param resp Set to its result (PQclear() it) if success
 * @param st   Statement
 * @param a    Its parameters, NULL for none
 *
 * @return 0 if success, otherwise errorcode (pg.err says why)
 */
int pg_query(PGresult **resp, struct pg_stmt *st, const struct pg_args *a)
{
	ExecStatusType status;
	PGresult *res;
	char name[32];
	int err;

	err = conn_ready();
	if (err)
		return err;

	re_snprintf(name, sizeof(name), "sipd_%llx",
		    (unsigned long long)(uintptr_t)st);

	if (st->gen != pg.gen + 1) {
		res = PQprepare(pg.conn, name, st->sql, 0, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			err_set(res ? PQresultErrorMessage(res) :
				PQerrorMessage(pg.conn));
			err = res_errno(res);
			PQclear(res);
			return err;
		}
		PQclear(res);
		st->gen = pg.gen + 1;
	}

	res = PQexecPrepared(pg.conn, name, a ? a->n : 0, a ? a->v : NULL,
			     NULL, NULL, 0);
	status = PQresultStatus(res);
	if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
		err_set(res ? PQresultErrorMessage(res) :
			PQerrorMessage(pg.conn));
		err = res_errno(res);
		PQclear(res);
		return err;
	}

	*resp = res;

	return 0;
}


/**
 * Run a statement that returns no rows
 *
 * @param st      Statement
 * @param a       Its parameters
 * @param changes Set to the rows it changed, if not NULL
 *
 * @return 0 if success, otherwise errorcode
 */
int pg_do(struct pg_stmt *st, const struct pg_args *a, uint64_t *changes)
{
	PGresult *res;
	int err;

	err = pg_query(&res, st, a);
	if (err)
		return err;

	if (changes)
		*changes = strtoull(PQcmdTuples(res), NULL, 10);

	PQclear(res);

	return 0;
}


/** A column as text, NULL for SQL NULL */
const char *pg_text(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return NULL;

	return PQgetvalue(res, row, col);
}


/** A column as an integer, 0 for SQL NULL */
int64_t pg_i64(const PGresult *res, int row, int col)
{
	const char *s = pg_text(res, row, col);

	return s ? strtoll(s, NULL, 10) : 0;
}


/** Copy a column, SQL NULL left NULL */
int pg_str(char **dst, const PGresult *res, int row, int col)
{
	const char *s = pg_text(res, row, col);

	return s ? str_dup(dst, s) : 0;
}


/** Copy a column, SQL NULL as "" */
int pg_str_empty(char **dst, const PGresult *res, int row, int col)
{
	const char *s = pg_text(res, row, col);

	return str_dup(dst, s ? s : "");
}


/**
 * Begin a transaction; one begun inside another is part of it
 *
 * @return 0 if success, otherwise errorcode
 */
int pg_begin(void)
{
	int err;

	if (pg.depth) {
		++pg.depth;
		return 0;
	}

	err = conn_ready();
	if (err)
		return err;

	err = exec_simple("BEGIN", NULL);
	if (err)
		return err;

	pg.depth = 1;
	pg.doomed = false;

	return 0;
}


/**
 * Commit the transaction (rolled back if it fails or an inner one was)
 *
 * @return 0 once the server committed, otherwise errorcode
 */
int pg_commit(void)
{
	int err;

	if (!pg.depth)
		return EINVAL;

	if (--pg.depth)
		return 0;

	if (pg.doomed) {
		(void)exec_simple("ROLLBACK", NULL);
		err_set("an inner transaction was rolled back");
		return EIO;
	}

	err = exec_simple("COMMIT", "COMMIT");
	if (err && PQtransactionStatus(pg.conn) != PQTRANS_IDLE)
		(void)exec_simple("ROLLBACK", NULL);

	return err;
}


/** Undo the transaction (an inner one: the whole, at its end) */
void pg_rollback(void)
{
	if (!pg.depth)
		return;

	if (--pg.depth) {
		pg.doomed = true;
		return;
	}

	if (pg.conn && PQstatus(pg.conn) == CONNECTION_OK)
		(void)exec_simple("ROLLBACK", NULL);
}


/* The version of the schema; 0 without a version table */
static int schema_version(int *ver)
{
	PGresult *res;
	int err = 0;

	res = PQexec(pg.conn,
		     "SELECT version FROM version WHERE name = 'schema'");
	if (PQresultStatus(res) == PGRES_TUPLES_OK) {
		*ver = PQntuples(res) ? atoi(PQgetvalue(res, 0, 0)) : -1;
	}
	else {
		err = res_errno(res);
		err_set(res ? PQresultErrorMessage(res) :
			PQerrorMessage(pg.conn));
		if (err == ENOENT) {
			*ver = 0;
			err = 0;
		}
	}

	PQclear(res);

	return err;
}


/**
 * The check of the database: its schema is the one this sipd was built
 * for (PostgreSQL checks its own pages)
 *
 * @param problem Set to what is wrong
 * @param size    Its size
 *
 * @return 0 if sound, EILSEQ with a problem, otherwise errorcode
 */
int pg_check(char *problem, size_t size)
{
	int ver = 0, err;

	err = conn_ready();
	if (!err)
		err = schema_version(&ver);
	if (err) {
		str_ncpy(problem, pg.err, size);
		return err;
	}

	if (ver != pg_schema_ver) {
		re_snprintf(problem, size, "schema version %d, not %d", ver,
			    pg_schema_ver);
		return EILSEQ;
	}

	return 0;
}


/** How long a statement waits for a lock another session holds */
int pg_lock_wait(uint32_t ms)
{
	char sql[64];
	int err;

	err = conn_ready();
	if (err)
		return err;

	re_snprintf(sql, sizeof(sql), "SET lock_timeout = %u", ms);

	return exec_simple(sql, NULL);
}


/**
 * The data version: not known yet (no LISTEN), so every cache reads the
 * store every time. A LISTEN on the changes of every node will make it a
 * counter bumped by each NOTIFY received and each commit of this
 * connection.
 *
 * @return ENOSYS
 */
int pg_version(uint64_t *version)
{
	(void)version;

	return ENOSYS;
}


/**
 * Open the PostgreSQL database, the engine's connection in this process
 *
 * @param uri    libpq connection URI or string
 * @param create Create the tables of an empty database
 * @param msg    Set to the server's or libpq's message on failure
 * @param size   Its size
 *
 * @return 0 if success, ECONNREFUSED if no connection could be made,
 *         EPROTO for a schema of another version (or none, unless
 *         create), otherwise errorcode
 */
int store_pg_open(const char *uri, bool create, char *msg, size_t size)
{
	int ver = 0, err;

	if (!uri)
		return EINVAL;

	store_pg_close();

	pg.conn = PQconnectdb(uri);
	if (!pg.conn)
		return ENOMEM;

	if (PQstatus(pg.conn) != CONNECTION_OK) {
		err_set(PQerrorMessage(pg.conn));
		err = ECONNREFUSED;
		goto out;
	}

	(void)PQsetNoticeProcessor(pg.conn, notice_quiet, NULL);

	/* a binding is answered only once it is on the server's disk; the
	   HA1s read in hex; text in UTF-8 whatever the database's */
	err = exec_simple("SET synchronous_commit = on;"
			  " SET bytea_output = hex;"
			  " SET client_encoding = 'UTF8'", NULL);
	if (err)
		goto out;

	err = schema_version(&ver);
	if (err)
		goto out;

	if (!ver && create) {
		err = exec_simple(pg_schema_sql, NULL);
		if (err)
			goto out;
		ver = pg_schema_ver;
	}

	if (ver != pg_schema_ver) {
		if (ver > 0)
			re_snprintf(pg.err, sizeof(pg.err),
				    "schema version %d, not %d", ver,
				    pg_schema_ver);
		else
			re_snprintf(pg.err, sizeof(pg.err),
				    "no sipd schema (version %d wanted)",
				    pg_schema_ver);
		err = EPROTO;
	}

 out:
	if (err) {
		if (msg)
			str_ncpy(msg, pg.err, size);
		store_pg_close();
	}

	return err;
}


/** Close the engine's connection */
void store_pg_close(void)
{
	if (pg.conn)
		PQfinish(pg.conn);

	pg.conn = NULL;
	pg.depth = 0;
	pg.doomed = false;
	++pg.gen;
}


/**
 * The last error message of the server or of libpq
 *
 * @return Message, "" if none
 */
const char *store_pg_errmsg(void)
{
	return pg.err;
}
