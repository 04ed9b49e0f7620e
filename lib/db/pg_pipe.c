/**
 * @file pg_pipe.c  A change and the statement that follows its commit,
 *                  in one round trip (libpq's pipeline mode)
 *
 * A REGISTER's binding is written in a transaction of its own, and the
 * other nodes are told of it once it is committed (pg_notify.c: not in
 * the same transaction, whose NOTIFY would hold PostgreSQL's notify lock
 * until the commit is on disk). Sent one after the other, the two cost
 * two round trips: two sends, two waits for the server, each a wake-up
 * of this process and of the server's. Here both go in one send:
 *
 *   BEGIN; the change; COMMIT;
 *   BEGIN; SET LOCAL synchronous_commit = off; the second; COMMIT; Sync
 *
 * The first COMMIT is on disk before the server runs the second
 * transaction, which changes no table (a notification) and so need not
 * wait for the disk; the server answers everything at the Sync, once.
 * A failed change aborts what follows it up to the Sync: nothing is told
 * of a change that was not made.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <errno.h>
#include <libpq-fe.h>
#include <re.h>
#include "core.h"
#include "db/db.h"


enum { CHANGE = 1, THEN = 5, CMDS = 7 };

/* the commands in order; NULL: the change, the second statement */
static const char *const frame[CMDS] = {
	"BEGIN", NULL, "COMMIT",
	"BEGIN", "SET LOCAL synchronous_commit = off", NULL, "COMMIT"
};


/* Send the commands and the sync point */
static bool send_all(PGconn *conn, const char *name, int n,
		     const char *const *v, const char *tname, int tn,
		     const char *const *tv)
{
	int i;

	for (i = 0; i < CMDS; i++) {
		int ok;

		if (i == CHANGE)
			ok = PQsendQueryPrepared(conn, name, n, v, NULL, NULL,
						 0);
		else if (i == THEN)
			ok = PQsendQueryPrepared(conn, tname, tn, tv, NULL,
						 NULL, 0);
		else
			ok = PQsendQueryParams(conn, frame[i], 0, NULL, NULL,
					       NULL, NULL, 0);
		if (!ok)
			return false;
	}

	return PQpipelineSync(conn) == 1;
}


/* Read the first result of each of count commands, then the sync
   point's */
static int read_all(PGresult **res, int count, PGconn *conn,
		    uint64_t deadline)
{
	struct pg_conn *c = (struct pg_conn *)conn;
	struct pg_result *r;
	int i, err;

	for (i = 0; i < count; i++) {
		err = db_pg_wait_next((struct pg_result **)&res[i], c,
				      deadline);
		if (err)
			return err;
		if (!res[i])
			return ENOTCONN;

		/* the end of the command's results */
		do {
			err = db_pg_wait_next(&r, c, deadline);
			if (err)
				return err;
			PQclear((PGresult *)r);
		} while (r);
	}

	err = db_pg_wait_next(&r, c, deadline);
	if (err)
		return err;
	if (!r || PQresultStatus((PGresult *)r) != PGRES_PIPELINE_SYNC) {
		PQclear((PGresult *)r);
		return ENOTCONN;
	}

	PQclear((PGresult *)r);

	return 0;
}


/* The pipeline failed: the connection, in a state unknown, is given up
   (made again later) */
static int broke(int err, uint32_t ms)
{
	char why[64];

	if (err == ETIMEDOUT) {
		re_snprintf(why, sizeof(why), "no answer from PostgreSQL"
			    " within %u ms", ms);
		db_pg_give_up(why);
	}

	(void)db_pg_fail(NULL);
	db_pg_give_up(NULL);

	return ENOTCONN;
}


static bool done(const PGresult *res, const char *status)
{
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		return false;

	return !status || !strcmp(PQcmdStatus((PGresult *)res), status);
}


/* The statement sent ahead: the pipeline's end, its sync point, is sent
   with the next statement; its parameters joined */
static struct {
	PGconn *conn;        /* connection it went on, NULL: none        */
	bool open;           /* its sync point not sent yet              */
	struct pg_stmt *st;
	char *key;
	PGresult *res;       /* its result, once read                    */
	struct tmr tmr;      /* dropped at the end of the loop's turn    */
} ahead;


static void ahead_clear(void)
{
	tmr_cancel(&ahead.tmr);
	ahead.conn = NULL;
	ahead.open = false;
	ahead.st = NULL;
	ahead.key = mem_deref(ahead.key);
	PQclear(ahead.res);
	ahead.res = NULL;
}


/* The parameters as one string (each with its length before it) */
static int params_key(char **keyp, int n, const char *const *v)
{
	struct mbuf *mb = mbuf_alloc(256);
	int i, err = mb ? 0 : ENOMEM;

	for (i = 0; i < n && !err; i++)
		err = mbuf_printf(mb, v[i] ? "%zu:%s" : "-", v[i] ?
				  strlen(v[i]) : 0, v[i]);

	if (!err) {
		mb->pos = 0;
		err = mbuf_strdup(mb, keyp, mb->end);
	}

	mem_deref(mb);

	return err;
}


static bool ahead_is(const struct pg_stmt *st, int n, const char *const *v)
{
	char *key = NULL;
	bool same;

	if (st != ahead.st || params_key(&key, n, v))
		return false;

	same = !strcmp(key, ahead.key);
	mem_deref(key);

	return same;
}


/* The sync point sent, with st (if not NULL) before it; the statement
   sent ahead's result kept, st's returned in resp */
static int ahead_sync(PGresult **resp, struct pg_stmt *st, int n,
		      const char *const *v)
{
	PGconn *conn = ahead.conn;
	PGresult *res[2] = {NULL, NULL};
	uint32_t ms = db_pg_wait_ms();
	char name[32];
	int err = 0;

	ahead.open = false;

	if (st) {
		(void)db_pg_prepared(st, name, sizeof(name));  /* prepared */
		if (!PQsendQueryPrepared(conn, name, n, v, NULL, NULL, 0))
			err = ENOTCONN;
	}

	if (!err && !PQpipelineSync(conn))
		err = ENOTCONN;
	if (!err)
		err = read_all(res, st ? 2 : 1, conn, tmr_jiffies() + ms);
	if (err || !PQexitPipelineMode(conn)) {
		PQclear(res[0]);
		PQclear(res[1]);
		ahead_clear();
		return broke(err, ms);
	}

	ahead.res = res[0];
	if (!done(ahead.res, NULL))
		ahead_clear();

	/* st aborted with the one ahead: run again, alone */
	if (st && !done(res[1], NULL) &&
	    PQresultStatus(res[1]) == PGRES_PIPELINE_ABORTED) {
		PQclear(res[1]);
		return ESRCH;
	}

	if (st && !done(res[1], NULL)) {
		err = db_pg_fail((struct pg_result *)res[1]);
		PQclear(res[1]);
		return err;
	}

	if (st)
		*resp = res[1];

	return 0;
}


/* Whether the statement sent ahead is still in its pipeline (not on a
   connection closed or made again since) */
static bool ahead_pending(void)
{
	return ahead.open && ahead.conn == (PGconn *)db_pg_conn() &&
		PQpipelineStatus(ahead.conn) == PQ_PIPELINE_ON;
}


/* What was sent ahead answered, its result dropped */
static void settle(void)
{
	if (ahead_pending())
		(void)ahead_sync(NULL, NULL, 0, NULL);

	ahead_clear();
}


static void settle_timer(void *arg)
{
	(void)arg;
	settle();
}


/* pg.c's handler of every statement (resp NULL: settle) */
static int pipe_handler(struct pg_result **resp, struct pg_stmt *st, int n,
			const char *const *v)
{
	PGresult *res = NULL;
	int err;

	if (!resp) {
		settle();
		return ESRCH;
	}

	if (!ahead.st)
		return ESRCH;

	if (ahead.open && !ahead_pending())
		ahead_clear();

	/* st goes with the sync point, unless it must be prepared first
	   (a command of its own) */
	if (ahead.open && !ahead_is(st, n, v) && db_pg_stmt_ready(st)) {
		err = ahead_sync(&res, st, n, v);
		if (err)
			return err;

		db_pg_result_read((struct pg_result *)res);
		*resp = (struct pg_result *)res;
		return 0;
	}

	if (ahead.open) {
		err = ahead_sync(NULL, NULL, 0, NULL);
		if (err)
			return err;
	}

	if (!ahead.res || !ahead_is(st, n, v))
		return ESRCH;

	db_pg_result_read((struct pg_result *)ahead.res);
	*resp = (struct pg_result *)ahead.res;
	ahead.res = NULL;
	ahead_clear();

	return 0;
}


/* Before a pipeline: outside a transaction, what was sent ahead
   settled, a connection, st prepared (name: 32 bytes) */
static int pipe_start(struct pg_stmt *st, char *name)
{
	int err;

	if (db_pg_in_transaction())
		return EALREADY;

	settle();

	err = db_pg_ready();
	if (!err)
		err = db_pg_prepared(st, name, 32);

	return err;
}


/**
 * Send a statement ahead: its result is read with the next statement's
 * (one round trip for both) and taken by the db_pg_query() of the same
 * statement and parameters in the same turn of the loop; dropped if none
 * asks for it. Outside a transaction only; a failure only means the
 * statement will be run when asked for.
 *
 * @param st Statement that reads
 * @param n  Number of parameters
 * @param v  Parameters as text, NULL for SQL NULL
 *
 * @return 0 if sent, otherwise errorcode
 */
int db_pg_ahead(struct pg_stmt *st, int n, const char *const *v)
{
	PGconn *conn;
	char name[32];
	int err;

	if (!st)
		return EINVAL;

	err = pipe_start(st, name);
	if (err)
		return err;

	conn = (PGconn *)db_pg_conn();
	err = params_key(&ahead.key, n, v);
	if (err)
		return err;

	if (!PQenterPipelineMode(conn)) {
		ahead_clear();
		return EBUSY;
	}

	/* libpq keeps it in its buffer until the sync point */
	if (!PQsendQueryPrepared(conn, name, n, v, NULL, NULL, 0)) {
		(void)PQexitPipelineMode(conn);
		ahead_clear();
		return EIO;
	}

	db_pg_pipe_handler(pipe_handler);
	ahead.conn = conn;
	ahead.open = true;
	ahead.st = st;
	tmr_start(&ahead.tmr, 0, settle_timer, NULL);

	return 0;
}


/**
 * Run a statement in a transaction of its own and, once committed, a
 * second one in another whose commit is not waited for on disk; one
 * round trip. Outside a transaction only.
 *
 * @param resp Set to the first statement's result (PQclear() it)
 * @param st   Statement that changes something
 * @param n    Number of its parameters
 * @param v    Its parameters as text, NULL for SQL NULL
 * @param then Statement run after st's commit (its result is dropped, a
 *             failure of it only logged)
 * @param tn   Number of its parameters
 * @param tv   Its parameters
 *
 * @return 0 once st is committed, EALREADY in a transaction, ENOTCONN
 *         without a connection to the server, otherwise errorcode
 */
int db_pg_query_then(struct pg_result **resp, struct pg_stmt *st, int n,
		     const char *const *v, struct pg_stmt *then, int tn,
		     const char *const *tv)
{
	PGresult *res[CMDS] = {NULL};
	uint32_t ms = db_pg_wait_ms();
	char name[32], tname[32];
	PGconn *conn;
	int i, err;

	if (!resp || !st || !then)
		return EINVAL;

	err = pipe_start(st, name);
	if (!err)
		err = db_pg_prepared(then, tname, sizeof(tname));
	if (err)
		return err;

	conn = (PGconn *)db_pg_conn();
	if (!PQenterPipelineMode(conn))
		return db_pg_fail(NULL);

	if (!send_all(conn, name, n, v, tname, tn, tv))
		err = ENOTCONN;
	else
		err = read_all(res, CMDS, conn, tmr_jiffies() + ms);

	if (err || !PQexitPipelineMode(conn)) {
		err = broke(err, ms);
		goto out;
	}

	if (!done(res[CHANGE], NULL)) {
		err = db_pg_fail((struct pg_result *)res[CHANGE]);
	}
	else if (!done(res[CHANGE + 1], "COMMIT")) {
		err = db_pg_fail((struct pg_result *)res[CHANGE + 1]);
		if (!err)
			err = EIO;
	}
	else if (!done(res[THEN], NULL) || !done(res[THEN + 1], "COMMIT")) {
		log_debug("db: the statement after a commit failed: %s\n",
			  PQresultErrorMessage(res[THEN]));
	}

	/* a failure left a transaction open: undone */
	if (err != ENOTCONN && PQtransactionStatus(conn) != PQTRANS_IDLE)
		(void)db_pg_exec("ROLLBACK", NULL);

	if (!err) {
		db_pg_result_read((struct pg_result *)res[CHANGE]);
		*resp = (struct pg_result *)res[CHANGE];
		res[CHANGE] = NULL;
	}

 out:
	for (i = 0; i < CMDS; i++)
		PQclear(res[i]);

	return err;
}
