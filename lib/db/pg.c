/**
 * @file pg.c  The process's PostgreSQL connection: open, schema, prepared
 *             statements, transactions, reconnection
 *
 * Linked once into sipd (its symbols exported to the modules), into
 * sipctl and the tests: every module's copy of lib/store's PostgreSQL
 * engine runs its statements on this one connection. A worker opens its
 * own after the fork (db_reopen()); a connection is never shared.
 * Statements are prepared once per connection when first run, named
 * after their address, their parameters text. Outside a transaction a
 * statement commits by itself; synchronous_commit is on, so a call
 * returns only once its commit is on the server's disk.
 *
 * Every command is sent with libpq's asynchronous calls and its result
 * waited for at most WAIT_MS (plus the lock wait set: pg_wait.c): a
 * server that hangs, or a network that drops its packets, holds the
 * event loop that long once; the connection is then given up.
 *
 * A connection found broken (or given up) is re-established without
 * blocking (PQresetStart, then PQresetPoll at each later call outside a
 * transaction, and every 100 ms from the loop: pg_notify.c); a call
 * meanwhile fails at once with ENOTCONN, and a new attempt starts at
 * most once a second while the server stays away, each given
 * CONNECT_WAIT_MS. Its statements are prepared again and its session
 * settings made again. The loss is logged once per outage, and so is
 * the return.
 *
 * pg_pipe.c sends statements in libpq's pipeline mode (one sent ahead
 * of the next, a change with its notification): it registers a handler
 * that every statement here passes first (db_pg_pipe_handler()).
 *
 * What else must follow the connection (pg_notify.c: its LISTEN, the
 * notifications a result brought, those to send after a commit)
 * registers one handler of its events (db_pg_event_handler()): the
 * connection up, lost, closed, a result read, a transaction ended.
 *
 * Unlike SQLite, PostgreSQL aborts a whole transaction when one of its
 * statements fails: the statements after it fail, and its commit fails
 * (the server answers ROLLBACK), so nothing of it is kept.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <libpq-fe.h>
#include <re.h>
#include "core.h"
#include "db/db.h"


enum {
	RETRY_INTERVAL  = 1000,  /* ms between reconnection attempts      */
	WAIT_MS         = 3000,  /* ms a result is waited for, at most    */
	CONNECT_WAIT_MS = 5000,  /* ms a reconnection may take            */
};

/* every session: a binding answered once on the server's disk; HA1s in
   hex; UTF-8; a lock waited for less than an answer (EBUSY, not a lost
   connection); a client gone without a word found within about 25 s,
   its advisory lock (its node's name) freed */
#define SESSION_SET "SET synchronous_commit = on; SET bytea_output = hex;" \
	" SET client_encoding = 'UTF8'; SET lock_timeout = 2000;" \
	" SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5;" \
	" SET tcp_keepalives_count = 3"

#define CONNECT_TIMEOUT "5"      /* s, unless the URI says */


static struct {
	PGconn *conn;
	uint64_t gen;          /* connection generation (prepared stmts)  */
	unsigned depth;        /* nested begins                          */
	bool doomed;           /* an inner transaction was rolled back   */
	bool down;             /* lost, its loss logged                  */
	bool broken;           /* given up: no answer in time            */
	bool resetting;        /* a reconnection under way               */
	uint64_t reset_until;  /* jiffies: the reconnection given up then */
	uint32_t lock_ms;      /* the lock wait set (db_pg_lock_wait())   */
	uint64_t retry_at;     /* no reconnection attempt before (ms)    */
	char err[256];         /* the server's last error message        */
	db_pg_event_h *eventh; /* pg_notify.c's                          */
	db_pg_pipe_h *pipeh;   /* pg_pipe.c's                            */
} pg;


static void event(enum db_pg_event ev)
{
	if (pg.eventh)
		pg.eventh(ev);
}


/**
 * Set the handler of the connection's events (one, pg_notify.c's)
 *
 * @param eh Event handler, NULL for none
 */
void db_pg_event_handler(db_pg_event_h *eh)
{
	pg.eventh = eh;
}


/** Register the handler of a statement sent ahead (pg_pipe.c) */
void db_pg_pipe_handler(db_pg_pipe_h *h)
{
	pg.pipeh = h;
}


/**
 * The process's libpq connection, for lib/db's own files
 *
 * @return Connection, NULL if none
 */
struct pg_conn *db_pg_conn(void)
{
	return pg.conn;
}


static void err_set(const char *msg)
{
	db_pg_msg_clean(pg.err, sizeof(pg.err), msg);
}


static int res_errno(const PGresult *res)
{
	if (!res || PQstatus(pg.conn) != CONNECTION_OK || pg.broken)
		return ENOTCONN;

	return db_pg_result_errno((const struct pg_result *)res);
}


/** A failed call: the result's message, the loss logged once */
int db_pg_fail(struct pg_result *r)
{
	PGresult *res = (PGresult *)r;
	int err;

	if (res || !pg.broken)
		err_set(res ? PQresultErrorMessage(res) :
			PQerrorMessage(pg.conn));
	err = res_errno(res);

	if (err == ENOTCONN && !pg.down) {
		pg.down = true;
		log_warning("db: PostgreSQL connection lost: %s (requests"
			    " that need the database get 500 until it is"
			    " back)\n", pg.err);
		event(DB_PG_LOST);
	}

	return err;
}


/* Whether the connection can take a command now */
static bool conn_ok(void)
{
	return PQstatus(pg.conn) == CONNECTION_OK && !pg.broken &&
		!pg.resetting;
}


/** The connection is given up (made again later); ms: no answer came
    within ms (0: the reason is set already) */
void db_pg_give_up(uint32_t ms)
{
	if (ms)
		re_snprintf(pg.err, sizeof(pg.err), "no answer from"
			    " PostgreSQL within %u ms", ms);
	pg.broken = true;
}


/** How long a command's answer is waited for, in ms */
uint32_t db_pg_wait_ms(void)
{
	return WAIT_MS + pg.lock_ms;
}


/* The result of a command sent (sent: what the send call returned);
   NULL if none came, the reason in pg.err */
static PGresult *await(int sent)
{
	PGresult *res = NULL;
	uint32_t ms = db_pg_wait_ms();
	int err;

	if (!sent) {
		err_set(PQerrorMessage(pg.conn));
		return NULL;
	}

	err = db_pg_wait((struct pg_result **)&res, pg.conn, ms);
	if (err == ETIMEDOUT) {
		db_pg_give_up(ms);
		return NULL;
	}
	if (err) {
		err_set(PQerrorMessage(pg.conn));
		return NULL;
	}

	return res;
}


/* A reconnection finished: the session as sipd wants it */
static int conn_back(void)
{
	int err;

	pg.resetting = false;

	err = db_pg_exec(SESSION_SET, NULL);
	if (err) {
		pg.broken = true;
		return ENOTCONN;
	}

	pg.retry_at = 0;
	pg.down = false;
	log_notice("db: PostgreSQL connection back\n");
	event(DB_PG_UP);

	return 0;
}


/* A usable connection: re-established outside a transaction if lost,
   without blocking (each call takes the reconnection a step further) */
static int conn_ready(void)
{
	PostgresPollingStatusType st;
	uint64_t now;

	if (!pg.conn)
		return ENOENT;

	if (conn_ok())
		return 0;

	if (pg.depth)
		return ENOTCONN;

	if (!pg.down) {
		pg.down = true;
		log_warning("db: PostgreSQL connection lost%s%s (requests"
			    " that need the database get 500 until it is"
			    " back)\n", pg.broken ? ": " : "",
			    pg.broken ? pg.err : "");
		event(DB_PG_LOST);
	}

	now = tmr_jiffies();

	if (!pg.resetting) {
		if (pg.retry_at && now < pg.retry_at)
			return ENOTCONN;

		pg.broken = false;
		++pg.gen;
		pg.retry_at = now + RETRY_INTERVAL;
		if (!PQresetStart(pg.conn)) {
			err_set(PQerrorMessage(pg.conn));
			pg.broken = true;
			return ENOTCONN;
		}

		pg.resetting = true;
		pg.reset_until = now + CONNECT_WAIT_MS;
	}

	st = PQresetPoll(pg.conn);
	if (st == PGRES_POLLING_OK)
		return conn_back();

	if (st == PGRES_POLLING_FAILED || now >= pg.reset_until) {
		if (st == PGRES_POLLING_FAILED)
			err_set(PQerrorMessage(pg.conn));
		else
			re_snprintf(pg.err, sizeof(pg.err), "no answer from"
				    " PostgreSQL within %u ms",
				    CONNECT_WAIT_MS);
		pg.resetting = false;
		pg.broken = true;
	}

	return ENOTCONN;
}


/** A usable connection (a step of a reconnection: 0, or ENOTCONN) */
int db_pg_ready(void)
{
	return conn_ready();
}


/** A result read: what the server sent with it (notifications) is due */
void db_pg_result_read(const struct pg_result *res)
{
	if (pg.eventh)
		pg.eventh(strncmp(PQcmdStatus((PGresult *)res), "SELECT", 6) ?
			  DB_PG_WROTE : DB_PG_READ);
}


/** A command without parameters, outside the prepared ones */
int db_pg_exec(const char *sql, const char *want_status)
{
	PGresult *res;
	int err = 0;

	if (pg.pipeh)
		(void)pg.pipeh(NULL, NULL, 0, NULL);

	res = await(PQsendQuery(pg.conn, sql));
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK) {
		err = db_pg_fail((struct pg_result *)res);
	}
	else if (want_status && strcmp(PQcmdStatus(res), want_status)) {
		/* COMMIT of a failed transaction answers ROLLBACK */
		err_set("transaction rolled back");
		err = EIO;
	}
	else {
		db_pg_result_read((struct pg_result *)res);
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


/**
 * Whether the database of this process is PostgreSQL
 *
 * @return True with a PostgreSQL connection open (even if lost)
 */
bool db_pg_on(void)
{
	return pg.conn != NULL;
}


/**
 * The name of a statement, prepared on this connection if not yet
 *
 * @param st   Statement
 * @param name Set to its name
 * @param size Size of name (32)
 *
 * @return 0 if success, otherwise errorcode
 */
int db_pg_prepared(struct pg_stmt *st, char *name, size_t size)
{
	PGresult *res;
	int err = 0;

	re_snprintf(name, size, "sipd_%llx", (unsigned long long)(uintptr_t)st);
	if (st->gen == pg.gen + 1)
		return 0;

	res = await(PQsendPrepare(pg.conn, name, st->sql, 0, NULL));
	if (PQresultStatus(res) == PGRES_COMMAND_OK)
		st->gen = pg.gen + 1;
	else
		err = db_pg_fail((struct pg_result *)res);

	PQclear(res);

	return err;
}


/**
 * Run a statement, prepared on this connection when first run
 *
 * @param resp Set to its result (PQclear() it) if success
 * @param st   Statement
 * @param n    Number of parameters
 * @param v    Parameters as text, NULL for SQL NULL
 *
 * @return 0 if success, ENOTCONN without a connection to the server,
 *         otherwise errorcode (db_pg_errmsg() says why)
 */
int db_pg_query(struct pg_result **resp, struct pg_stmt *st, int n,
		const char *const *v)
{
	ExecStatusType status;
	PGresult *res;
	char name[32];
	int err;

	if (!resp || !st)
		return EINVAL;

	/* sent ahead (pg_pipe.c), or with what was */
	err = pg.pipeh ? pg.pipeh(resp, st, n, v) : ESRCH;
	if (err != ESRCH)
		return err;

	err = conn_ready();
	if (!err)
		err = db_pg_prepared(st, name, sizeof(name));
	if (err)
		return err;

	res = await(PQsendQueryPrepared(pg.conn, name, n, v, NULL, NULL,
					0));
	status = PQresultStatus(res);
	if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
		err = db_pg_fail((struct pg_result *)res);
		PQclear(res);
		return err;
	}

	db_pg_result_read((struct pg_result *)res);
	*resp = res;

	return 0;
}


/**
 * Begin a transaction; one begun inside another is part of it
 *
 * @return 0 if success, otherwise errorcode
 */
int db_pg_begin(void)
{
	int err;

	if (pg.depth) {
		++pg.depth;
		return 0;
	}

	err = conn_ready();
	if (err)
		return err;

	err = db_pg_exec("BEGIN", NULL);
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
int db_pg_commit(void)
{
	int err;

	if (!pg.depth)
		return EINVAL;

	if (--pg.depth)
		return 0;

	if (pg.doomed) {
		(void)db_pg_exec("ROLLBACK", NULL);
		err_set("an inner transaction was rolled back");
		event(DB_PG_ROLLED_BACK);
		return EIO;
	}

	err = db_pg_exec("COMMIT", "COMMIT");
	if (err && conn_ok() &&
	    PQtransactionStatus(pg.conn) != PQTRANS_IDLE)
		(void)db_pg_exec("ROLLBACK", NULL);

	event(err ? DB_PG_ROLLED_BACK : DB_PG_COMMITTED);

	return err;
}


/** Whether a transaction is open (its changes not committed yet) */
bool db_pg_in_transaction(void)
{
	return pg.depth > 0;
}


/** Undo the transaction (an inner one: the whole, at its end) */
void db_pg_rollback(void)
{
	if (!pg.depth)
		return;

	if (--pg.depth) {
		pg.doomed = true;
		return;
	}

	if (pg.conn && conn_ok())
		(void)db_pg_exec("ROLLBACK", NULL);

	event(DB_PG_ROLLED_BACK);
}


/** The version of the schema; 0 without a version table */
int db_pg_schema_read(int *ver)
{
	PGresult *res;
	int err = 0;

	res = await(PQsendQuery(pg.conn, "SELECT version FROM version"
				" WHERE name = 'schema'"));
	if (PQresultStatus(res) == PGRES_TUPLES_OK) {
		*ver = PQntuples(res) ? atoi(PQgetvalue(res, 0, 0)) : -1;
	}
	else {
		err = db_pg_fail((struct pg_result *)res);
		if (err == ENOENT) {
			*ver = 0;
			err = 0;
		}
	}

	PQclear(res);

	return err;
}


/** How long a statement waits for a lock another session holds */
int db_pg_lock_wait(uint32_t ms)
{
	char sql[64];
	int err;

	err = conn_ready();
	if (err)
		return err;

	re_snprintf(sql, sizeof(sql), "SET lock_timeout = %u", ms);

	err = db_pg_exec(sql, NULL);
	if (!err)
		pg.lock_ms = ms;

	return err;
}


/** Run the migrations from version ver + 1 on, in one transaction */
int db_pg_migrate(int ver)
{
	int v, err;

	err = db_pg_exec("BEGIN", NULL);
	if (err)
		return err;

	for (v = ver + 1; v <= pg_schema_ver && !err; v++)
		err = db_pg_exec(pg_migrations[v], NULL);

	if (!err)
		err = db_pg_exec("COMMIT", "COMMIT");
	if (err && conn_ok() &&
	    PQtransactionStatus(pg.conn) != PQTRANS_IDLE)
		(void)db_pg_exec("ROLLBACK", NULL);

	return err;
}


/* Create the tables; another node creating them at once is no error */
static int schema_create(int *ver)
{
	int err;

	err = db_pg_exec("BEGIN", NULL);
	if (!err)
		err = db_pg_exec(pg_schema_sql, NULL);
	if (!err)
		err = db_pg_exec("COMMIT", "COMMIT");
	if (!err && pg_schema_ver > pg_schema_base)
		err = db_pg_migrate(pg_schema_base);
	if (!err) {
		*ver = pg_schema_ver;
		return 0;
	}

	if (conn_ok() && PQtransactionStatus(pg.conn) != PQTRANS_IDLE)
		(void)db_pg_exec("ROLLBACK", NULL);

	if (!conn_ok() || db_pg_schema_read(ver) ||
	    *ver != pg_schema_ver)
		return err;

	return 0;
}


/* Open: older is an older schema this sipd can upgrade, left as it is */
static int open_conn(const char *uri, bool create, bool older, char *msg,
		     size_t size)
{
	const char *const keys[] = {"connect_timeout", "dbname", NULL};
	const char *const vals[] = {CONNECT_TIMEOUT, uri, NULL};
	int ver = 0, err;

	if (!uri)
		return EINVAL;

	db_pg_close();

	/* a server that does not answer costs CONNECT_TIMEOUT seconds at
	   most, unless the URI sets its own connect_timeout (later keys
	   win: the URI's come after) */
	pg.conn = PQconnectdbParams(keys, vals, 1);
	if (!pg.conn)
		return ENOMEM;

	if (PQstatus(pg.conn) != CONNECTION_OK) {
		err_set(PQerrorMessage(pg.conn));
		err = ECONNREFUSED;
		goto out;
	}

	(void)PQsetNoticeProcessor(pg.conn, notice_quiet, NULL);

	err = db_pg_exec(SESSION_SET, NULL);
	if (err)
		goto out;

	err = db_pg_schema_read(&ver);
	if (err)
		goto out;

	if (!ver && create) {
		err = schema_create(&ver);
		if (err)
			goto out;
	}

	if (older && ver >= pg_schema_base && ver < pg_schema_ver)
		goto out;

	if (ver != pg_schema_ver) {
		if (ver > 0) {
			re_snprintf(pg.err, sizeof(pg.err),
				    "schema version %d, not %d%s", ver,
				    pg_schema_ver, ver < pg_schema_ver ?
				    ": run 'sipctl db upgrade'" : "");
			err = EPROTO;
		}
		else {
			re_snprintf(pg.err, sizeof(pg.err),
				    "no sipd schema (version %d wanted)",
				    pg_schema_ver);
			err = ENOENT;
		}
	}

 out:
	if (err) {
		if (msg)
			str_ncpy(msg, pg.err, size);
		db_pg_close();
	}
	else {
		event(DB_PG_UP);
	}

	return err;
}


/**
 * Open the PostgreSQL database, the process's connection
 *
 * @param uri    libpq connection URI or string
 * @param create Create the tables of an empty database
 * @param msg    Set to the server's or libpq's message on failure
 * @param size   Its size
 *
 * @return 0 if success, ECONNREFUSED if no connection could be made,
 *         ENOENT for a database without the sipd schema (unless create),
 *         EPROTO for a schema of another version, otherwise errorcode
 */
int db_pg_open(const char *uri, bool create, char *msg, size_t size)
{
	return open_conn(uri, create, false, msg, size);
}


/**
 * Open the PostgreSQL database accepting an older schema, to upgrade it
 * (db_pg_upgrade()); otherwise as db_pg_open()
 */
int db_pg_open_older(const char *uri, bool create, char *msg, size_t size)
{
	return open_conn(uri, create, true, msg, size);
}


/**
 * Forget the statements prepared on the connection (a module's memory
 * is about to go: another may get its addresses)
 */
void db_pg_stmts_release(void)
{
	if (!pg.conn || !conn_ok())
		return;   /* a new session (PQresetStart) has none */

	/* the statements are session-wide, outside any transaction: only
	   once the server dropped them may their names be prepared again */
	if (!db_pg_exec("DEALLOCATE ALL", NULL))
		++pg.gen;
}


/** Close the process's PostgreSQL connection */
void db_pg_close(void)
{
	if (pg.conn) {
		event(DB_PG_CLOSED);
		PQfinish(pg.conn);
	}

	pg.conn = NULL;
	pg.depth = 0;
	pg.doomed = false;
	pg.down = false;
	pg.broken = false;
	pg.resetting = false;
	pg.retry_at = 0;
	pg.lock_ms = 0;
	++pg.gen;
}


/**
 * The last error message of the server or of libpq
 *
 * @return Message, "" if none
 */
const char *db_pg_errmsg(void)
{
	return pg.err;
}
