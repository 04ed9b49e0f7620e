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
 * A statement may also be asked for ahead (db_pg_ahead()): a REGISTER's
 * bindings, before its credentials are checked. It is only kept here,
 * and sent with the next statement (the account's HA1), both before one
 * Sync, so that one round trip answers both; the lookup after the check
 * takes the answer kept. A request turned away before any statement
 * (throttled, malformed) sends nothing.
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
	if (err == ETIMEDOUT)
		db_pg_give_up(ms);

	(void)db_pg_fail(NULL);
	db_pg_give_up(0);

	return ENOTCONN;
}


static bool done(const PGresult *res, const char *status)
{
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		return false;

	return !status || !strcmp(PQcmdStatus((PGresult *)res), status);
}


/* The statement asked for ahead: kept here, sent only with the next
   statement, in its round trip; its parameters copied */
enum { AHEAD_ARGS = 8 };

static struct {
	struct pg_stmt *st;  /* NULL: none                               */
	int n;
	char *v[AHEAD_ARGS];
	bool null[AHEAD_ARGS];
	PGresult *res;       /* its result, once read                    */
	struct tmr tmr;      /* dropped at the end of the loop's turn    */
} ahead;


static void ahead_clear(void)
{
	int i;

	tmr_cancel(&ahead.tmr);
	ahead.st = NULL;
	for (i = 0; i < ahead.n; i++)
		ahead.v[i] = mem_deref(ahead.v[i]);
	ahead.n = 0;
	PQclear(ahead.res);
	ahead.res = NULL;
}


static bool ahead_is(const struct pg_stmt *st, int n, const char *const *v)
{
	int i;

	if (st != ahead.st || n != ahead.n)
		return false;

	for (i = 0; i < n; i++) {
		if (!v[i] != ahead.null[i])
			return false;
		if (v[i] && strcmp(v[i], ahead.v[i]))
			return false;
	}

	return true;
}


/* st sent in one pipeline after the statement asked for ahead: that
   one's result kept, st's returned in resp (ESRCH: run st alone) */
static int ahead_send(PGresult **resp, struct pg_stmt *st, int n,
		      const char *const *v)
{
	PGconn *conn = (PGconn *)db_pg_conn();
	PGresult *res[2] = {NULL, NULL};
	const char *av[AHEAD_ARGS];
	uint32_t ms = db_pg_wait_ms();
	char aname[32], name[32];
	int i, err = 0;

	for (i = 0; i < ahead.n; i++)
		av[i] = ahead.null[i] ? NULL : ahead.v[i];

	/* prepared first if not yet: commands of their own */
	err = db_pg_prepared(ahead.st, aname, sizeof(aname));
	if (!err)
		err = db_pg_prepared(st, name, sizeof(name));
	if (err) {
		ahead_clear();
		return err;
	}

	if (!PQenterPipelineMode(conn)) {
		ahead_clear();
		return ESRCH;
	}

	if (!PQsendQueryPrepared(conn, aname, ahead.n, av, NULL, NULL, 0) ||
	    !PQsendQueryPrepared(conn, name, n, v, NULL, NULL, 0) ||
	    !PQpipelineSync(conn))
		err = ENOTCONN;
	else
		err = read_all(res, 2, conn, tmr_jiffies() + ms);

	if (err || !PQexitPipelineMode(conn)) {
		PQclear(res[0]);
		PQclear(res[1]);
		ahead_clear();
		return broke(err, ms);
	}

	if (done(res[0], NULL))
		ahead.res = res[0];
	else
		PQclear(res[0]);

	/* aborted with the one ahead (no sync point between): alone */
	if (PQresultStatus(res[1]) == PGRES_PIPELINE_ABORTED) {
		PQclear(res[1]);
		return ESRCH;
	}

	if (!done(res[1], NULL)) {
		err = db_pg_fail((struct pg_result *)res[1]);
		PQclear(res[1]);
		return err;
	}

	*resp = res[1];

	return 0;
}


static void drop_timer(void *arg)
{
	(void)arg;
	ahead_clear();
}


/* pg.c's handler of every statement (resp NULL: a command of another
   kind comes: what was asked ahead is dropped) */
static int pipe_handler(struct pg_result **resp, struct pg_stmt *st, int n,
			const char *const *v)
{
	PGresult *res = NULL;
	int err;

	if (!resp || !ahead.st) {
		ahead_clear();
		return ESRCH;
	}

	/* answered: taken by the same statement */
	if (ahead.res) {
		if (!ahead_is(st, n, v))
			return ESRCH;

		db_pg_result_read((struct pg_result *)ahead.res);
		*resp = (struct pg_result *)ahead.res;
		ahead.res = NULL;
		ahead_clear();
		return 0;
	}

	/* asked for itself, or the connection away: alone */
	if (ahead_is(st, n, v) || db_pg_ready()) {
		ahead_clear();
		return ESRCH;
	}

	err = ahead_send(&res, st, n, v);
	if (err)
		return err;

	db_pg_result_read((struct pg_result *)res);
	*resp = (struct pg_result *)res;

	return 0;
}


/* Before a pipeline: outside a transaction, nothing asked ahead, a
   connection, st prepared (name: 32 bytes) */
static int pipe_start(struct pg_stmt *st, char *name)
{
	int err;

	if (db_pg_in_transaction())
		return EALREADY;

	ahead_clear();

	err = db_pg_ready();
	if (!err)
		err = db_pg_prepared(st, name, 32);

	return err;
}


/**
 * Ask for a statement ahead: it is sent with the next statement, in one
 * round trip, and its result taken by the db_pg_query() of the same
 * statement and parameters in the same turn of the loop. Nothing is
 * sent if no other statement comes in that turn (a request turned away
 * first costs the database nothing); any other command drops it.
 * Outside a transaction only; a failure only means the statement runs
 * when asked for.
 *
 * @param st Statement that reads
 * @param n  Number of parameters (at most 8)
 * @param v  Parameters as text, NULL for SQL NULL
 *
 * @return 0 if kept, otherwise errorcode
 */
int db_pg_ahead(struct pg_stmt *st, int n, const char *const *v)
{
	char name[32];
	int i, err;

	if (!st || n < 0 || n > AHEAD_ARGS)
		return EINVAL;

	err = pipe_start(st, name);
	if (err)
		return err;

	for (i = 0; i < n; i++) {
		ahead.null[i] = !v[i];
		if (v[i] && str_dup(&ahead.v[i], v[i])) {
			ahead.n = i;
			ahead_clear();
			return ENOMEM;
		}
	}

	db_pg_pipe_handler(pipe_handler);
	ahead.n = n;
	ahead.st = st;
	tmr_start(&ahead.tmr, 0, drop_timer, NULL);

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
