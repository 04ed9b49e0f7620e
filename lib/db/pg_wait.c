/**
 * @file pg_wait.c  Waiting for PostgreSQL's answer, for a bounded time,
 *                  and what a failed answer means
 *
 * libpq's blocking calls (PQexec, PQexecPrepared) wait for the server as
 * long as TCP lets them: a server that hangs, or a network that drops
 * every packet, would hold the event loop, and every SIP request of the
 * process, for minutes. The statements are sent with libpq's
 * asynchronous calls instead (PQsendQuery, PQsendPrepare,
 * PQsendQueryPrepared), and their results waited for here with poll()
 * and a deadline. A server that does not answer within it costs that
 * long once: the connection is then given up (pg.c re-establishes it
 * without blocking), and the call fails like a lost connection.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <poll.h>
#include <errno.h>
#include <libpq-fe.h>
#include <re.h>
#include "core.h"
#include "db/db.h"


/**
 * Wait for the next result on a connection (in pipeline mode each
 * command's results end with NULL, a sync point's is
 * PGRES_PIPELINE_SYNC)
 *
 * @param resp     Set to the result, NULL at the end of a command's
 * @param conn     Connection
 * @param deadline tmr_jiffies() by which it must have come
 *
 * @return 0 if success, ETIMEDOUT if the server did not answer in time,
 *         ENOTCONN if the connection broke
 */
int db_pg_wait_next(struct pg_result **resp, struct pg_conn *conn,
		    uint64_t deadline)
{
	while (PQisBusy(conn)) {
		struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};
		uint64_t now = tmr_jiffies();
		int n;

		if (now >= deadline)
			return ETIMEDOUT;

		n = poll(&pfd, 1, (int)(deadline - now));
		if (n < 0 && errno != EINTR)
			return ENOTCONN;

		if (n > 0 && !PQconsumeInput(conn))
			return ENOTCONN;
	}

	*resp = (struct pg_result *)PQgetResult(conn);

	return 0;
}


/**
 * Wait for the results of what was sent on a connection
 *
 * @param resp    Set to the result: the first failed one, else the last
 * @param conn    Connection (blocking mode: the command is sent whole)
 * @param timeout ms to wait at most
 *
 * @return 0 with a result, ETIMEDOUT if the server did not answer in
 *         time, ENOTCONN if the connection broke
 */
int db_pg_wait(struct pg_result **resp, struct pg_conn *conn,
	       uint32_t timeout)
{
	uint64_t deadline = tmr_jiffies() + timeout;
	PGresult *keep = NULL;

	for (;;) {
		struct pg_result *res;
		int err;

		err = db_pg_wait_next(&res, conn, deadline);
		if (err) {
			PQclear(keep);
			return err;
		}

		if (!res)
			break;

		/* several statements in one command: the first failure
		   tells, else the last result */
		if (keep && (PQresultStatus(keep) == PGRES_FATAL_ERROR)) {
			PQclear((PGresult *)res);
			continue;
		}

		PQclear(keep);
		keep = (PGresult *)res;
	}

	if (!keep)
		return ENOTCONN;

	*resp = (struct pg_result *)keep;

	return 0;
}


/**
 * A message of libpq or the server on one line (libpq's end with a
 * newline, the server's may span several)
 *
 * @param buf  Buffer
 * @param size Its size
 * @param msg  Message, NULL for none
 */
void db_pg_msg_clean(char *buf, size_t size, const char *msg)
{
	size_t n;

	str_ncpy(buf, msg ? msg : "", size);

	n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	for (n = 0; buf[n]; n++) {
		if (buf[n] == '\n' || buf[n] == '\t')
			buf[n] = ' ';
	}

	/* one space where a line ended */
	for (n = 0; buf[n]; n++) {
		while (buf[n] == ' ' && buf[n + 1] == ' ')
			memmove(buf + n, buf + n + 1, strlen(buf + n + 1) + 1);
	}
}


/**
 * The errno value of a failed result of a live connection: class 23 (a
 * constraint) EEXIST as SQLite's SQLITE_CONSTRAINT, a lock or
 * serialization failure EBUSY, a lost connection ENOTCONN
 *
 * @param res Result
 *
 * @return errno value
 */
int db_pg_result_errno(const struct pg_result *res)
{
	const char *state;

	state = PQresultErrorField((const PGresult *)res, PG_DIAG_SQLSTATE);
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
