/**
 * @file pg_notify.c  What other nodes (and sipctl) changed in PostgreSQL:
 *                    LISTEN/NOTIFY on the libre loop, the data version
 *
 * The schema's triggers (db/pg/migrations/5.sql) tell every committed
 * change of a cached table on the channel "sipd", "TABLE KEY" as the
 * payload. sipd LISTENs on its connection once running (db_pg_listen(),
 * each worker on its own); sipctl never does.
 *
 * The data version (db_pg_version(), the store's store_version()) counts
 * the notifications read, and moves also when the connection comes back
 * (what was told while it was away is lost). Before it answers, whatever
 * the server sent is read (one non-blocking recv()), so a change
 * committed anywhere before the look is seen by it: the caches of every
 * node follow every commit without a timer.
 *
 * libpq reads notifications with any result too: each result is followed
 * by a look at them (db_pg_event_handler()). Their watchers (presence,
 * the node list) are told from the loop, never inside a store call, and
 * only of the changes of other sessions (other nodes, other workers,
 * sipctl): a process's modules know of its own.
 * While the connection is lost the loop takes its reconnection a step
 * further every 100 ms (lib/db/pg.c starts one at most every second);
 * when it is back the watchers of every table are told of a change of
 * table "" (anything may have changed, and what a session held, such
 * as an advisory lock, is gone).
 *
 * A change of the bindings is told after its commit, in a statement of
 * its own (db_pg_notify_after_commit()), not by a trigger: a transaction
 * that NOTIFYs holds PostgreSQL's server-wide notify lock until its
 * commit is on disk, which would commit every REGISTER of every node one
 * at a time (no group commit). A process that dies between the commit
 * and its notification leaves the other nodes' caches behind until the
 * binding's next change (the phone registers again when its REGISTER
 * got no 200).
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <libpq-fe.h>
#include <re.h>
#include "core.h"
#include "db/db.h"


enum {
	RETRY_INTERVAL = 100,    /* ms between steps of a reconnection */
	LISTEN_WAIT    = 3000,   /* ms the LISTEN's answer may take    */
	QUEUE_MAX      = 4096,   /* payloads waiting for their watchers */
};


/** A payload waiting for its watchers */
struct told {
	struct le le;
	char *table;
	char *key;
};


static struct {
	struct list watchl;     /* struct db_pg_watch                    */
	struct list toldl;      /* struct told, for the watchers         */
	struct list laterl;     /* struct told, to NOTIFY after a commit  */
	uint32_t told_n;
	bool overflow;          /* payloads dropped: tell of a change of
				   everything ("") instead */
	uint64_t version;
	bool listening;         /* this process LISTENs (sipd)           */
	bool draining;
	int fd;                 /* fd_listen()ed, -1: none               */
	struct tmr tmr_retry;
	struct tmr tmr_tell;
} pn = {.fd = -1};


static void told_destructor(void *arg)
{
	struct told *t = arg;

	mem_deref(t->table);
	mem_deref(t->key);
}


/* Keep a payload for the watchers (a full queue: a change of all) */
static void queue(const char *payload)
{
	const char *sp = strchr(payload, ' ');
	struct told *t;
	struct pl table, key;

	if (!pn.watchl.head)
		return;

	if (pn.told_n >= QUEUE_MAX) {
		pn.overflow = true;
		return;
	}

	t = mem_zalloc(sizeof(*t), told_destructor);
	if (!t)
		return;

	pl_set_str(&table, payload);
	pl_set_str(&key, "");
	if (sp) {
		table.l = (size_t)(sp - payload);
		pl_set_str(&key, sp + 1);
	}

	if (pl_strdup(&t->table, &table) || pl_strdup(&t->key, &key)) {
		mem_deref(t);
		return;
	}

	list_append(&pn.toldl, &t->le, t);
	++pn.told_n;
}


/* Tell the watchers of what was read, from the loop (what their own
   queries bring is told at the next turn) */
static void tell(void *arg)
{
	uint32_t n = pn.told_n;
	struct le *le;

	(void)arg;

	if (pn.overflow) {
		pn.overflow = false;
		list_flush(&pn.toldl);
		pn.told_n = n = 0;
		queue(" ");
		n = pn.told_n;
		log_warning("db: more than %u changes of other nodes waited:"
			    " told as a change of everything\n", QUEUE_MAX);
	}

	while (n-- && (le = list_head(&pn.toldl))) {
		struct told *t = le->data;
		struct le *wle;

		list_unlink(le);
		--pn.told_n;

		for (wle = pn.watchl.head; wle; ) {
			struct db_pg_watch *w = wle->data;

			wle = wle->next;
			if (!w->table || !t->table[0] ||
			    !strcmp(w->table, t->table))
				w->h(t->table, t->key, w->arg);
		}

		mem_deref(t);
	}

	if (pn.toldl.head && !tmr_isrunning(&pn.tmr_tell))
		tmr_start(&pn.tmr_tell, 0, tell, NULL);
}


/* The notifications libpq has read: each moves the version */
static void drain(void)
{
	PGconn *conn = db_pg_conn();
	PGnotify *n;

	if (!conn || pn.draining)
		return;

	pn.draining = true;

	while ((n = PQnotifies(conn))) {
		++pn.version;

		/* this session's own changes: its modules knew of them */
		if (n->be_pid != PQbackendPID(conn))
			queue(n->extra ? n->extra : "");
		PQfreemem(n);
	}

	pn.draining = false;

	if (pn.toldl.head && !tmr_isrunning(&pn.tmr_tell))
		tmr_start(&pn.tmr_tell, 0, tell, NULL);
}


static void fd_unlisten(void)
{
	if (pn.fd >= 0)
		fd_close(pn.fd);

	pn.fd = -1;
}


static void retry(void *arg);


/* The connection found lost while it was idle: the loop tries again */
static void lost(void)
{
	fd_unlisten();
	++pn.version;

	if (pn.listening)
		tmr_start(&pn.tmr_retry, RETRY_INTERVAL, retry, NULL);
}


static void readable(int flags, void *arg)
{
	PGconn *conn = db_pg_conn();

	(void)flags;
	(void)arg;

	if (!conn || !PQconsumeInput(conn) ||
	    PQstatus(conn) != CONNECTION_OK) {
		/* an idle connection that closed: the next use, or the
		   retry, re-establishes it (its loss logged once there) */
		lost();
		(void)db_pg_ready();
		return;
	}

	drain();
}


/* LISTEN on a connection just made, and watch its socket */
static int listen_conn(void)
{
	PGconn *conn = db_pg_conn();
	PGresult *res = NULL;
	int err = 0;

	if (!conn || PQstatus(conn) != CONNECTION_OK)
		return ENOTCONN;

	if (!PQsendQuery(conn, "LISTEN sipd") ||
	    db_pg_wait((struct pg_result **)&res, conn, LISTEN_WAIT)) {
		log_warning("db: PostgreSQL LISTEN got no answer\n");
		return EIO;
	}

	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		log_warning("db: PostgreSQL LISTEN failed: %s",
			    PQresultErrorMessage(res));
		err = EIO;
	}
	PQclear(res);
	if (err)
		return err;

	fd_unlisten();
	pn.fd = PQsocket(conn);
	err = fd_listen(pn.fd, FD_READ, readable, NULL);
	if (err) {
		log_warning("db: cannot watch the PostgreSQL socket: %m\n",
			    err);
		pn.fd = -1;
	}

	return err;
}


static void retry(void *arg)
{
	(void)arg;

	if (!pn.listening || pn.fd >= 0)
		return;

	/* an UP event listens again; else try once more later */
	if (db_pg_ready())
		tmr_start(&pn.tmr_retry, RETRY_INTERVAL, retry, NULL);
}


static struct pg_stmt st_notify = {
	.sql = "SELECT pg_notify('sipd', $1)"
};


/* What this process changed and committed: told to the others */
static void tell_others(void)
{
	struct list l = LIST_INIT;
	struct le *le;

	/* taken first: the notifications are statements of their own */
	while ((le = list_head(&pn.laterl))) {
		list_unlink(le);
		list_append(&l, le, le->data);
	}

	while ((le = list_head(&l))) {
		struct told *t = le->data;
		struct pg_result *res;
		char *payload = NULL;

		list_unlink(le);
		if (!re_sdprintf(&payload, "%s %s", t->table, t->key)) {
			const char *v[1] = {payload};

			if (db_pg_query(&res, &st_notify, 1, v))
				log_debug("db: change of %s not told to the"
					  " other nodes: %s\n", t->table,
					  db_pg_errmsg());
			else
				PQclear((PGresult *)res);
		}

		mem_deref(payload);
		mem_deref(t);
	}
}


static void event_handler(enum db_pg_event ev)
{
	switch (ev) {

	case DB_PG_UP:
		++pn.version;
		tmr_cancel(&pn.tmr_retry);
		if (pn.listening && !listen_conn()) {
			queue(" ");
			tmr_start(&pn.tmr_tell, 0, tell, NULL);
		}
		break;

	case DB_PG_LOST:
		drain();
		lost();
		break;

	case DB_PG_CLOSED:
		drain();
		fd_unlisten();
		tmr_cancel(&pn.tmr_retry);
		++pn.version;
		break;

	case DB_PG_WROTE:
		/* the writer's own notifications come with its commit;
		   a version moved once more costs one cache refill */
		++pn.version;
		drain();
		break;

	case DB_PG_READ:
		drain();
		break;

	case DB_PG_COMMITTED:
		tell_others();
		break;

	case DB_PG_ROLLED_BACK:
		list_flush(&pn.laterl);
		break;
	}
}


/**
 * Listen to the changes of other nodes on this process's connection
 * (sipd, once running; a worker's own connection listens by itself)
 *
 * @return 0 if success, otherwise errorcode
 */
int db_pg_listen(void)
{
	db_pg_event_handler(event_handler);

	if (!db_pg_on() || pn.listening)
		return 0;

	pn.listening = true;

	return listen_conn();
}


/**
 * Register a watcher of the changes told on the channel
 *
 * @param w     Watcher (its memory the caller's)
 * @param table Table whose changes it wants, NULL for all
 * @param h     Handler, called from the loop with table and key
 * @param arg   Handler argument
 */
void db_pg_watch_register(struct db_pg_watch *w, const char *table,
			  db_pg_changed_h *h, void *arg)
{
	if (!w || !h)
		return;

	db_pg_event_handler(event_handler);

	w->table = table;
	w->h = h;
	w->arg = arg;
	list_append(&pn.watchl, &w->le, w);
}


/**
 * Unregister a watcher
 *
 * @param w Watcher
 */
void db_pg_watch_unregister(struct db_pg_watch *w)
{
	if (w)
		list_unlink(&w->le);
}


/**
 * Tell the other sipd processes of a change once it is committed (at
 * once outside a transaction, else after the outermost commit; nothing
 * if it rolls back): a NOTIFY of "TABLE KEY" on the channel "sipd"
 *
 * @param table Table changed (or what changed: "calls")
 * @param key   Key of the change (an address of record), under 8000
 *              bytes with the table
 */
void db_pg_notify_after_commit(const char *table, const char *key)
{
	struct told *t;

	if (!table || !key || !db_pg_on())
		return;

	db_pg_event_handler(event_handler);

	t = mem_zalloc(sizeof(*t), told_destructor);
	if (!t)
		return;

	if (str_dup(&t->table, table) || str_dup(&t->key, key)) {
		mem_deref(t);
		return;
	}

	list_append(&pn.laterl, &t->le, t);

	if (!db_pg_in_transaction())
		tell_others();
}


/**
 * Run a statement that changes a table, and tell the other sipd
 * processes of it once committed: in the same round trip outside a
 * transaction (pg_pipe.c), else after the outermost commit
 *
 * @param resp  Set to the statement's result (PQclear() it)
 * @param st    Statement
 * @param n     Number of parameters
 * @param v     Parameters as text, NULL for SQL NULL
 * @param table Table changed
 * @param key   Key of the change (an address of record)
 *
 * @return 0 if success, otherwise errorcode (db_pg_errmsg() says why)
 */
int db_pg_query_told(struct pg_result **resp, struct pg_stmt *st, int n,
		     const char *const *v, const char *table,
		     const char *key)
{
	char *payload = NULL;
	int err;

	if (!table || !key)
		return EINVAL;

	if (db_pg_in_transaction()) {
		err = db_pg_query(resp, st, n, v);
		if (!err)
			db_pg_notify_after_commit(table, key);
		return err;
	}

	if (re_sdprintf(&payload, "%s %s", table, key))
		return ENOMEM;

	{
		const char *tv[1] = {payload};

		db_pg_event_handler(event_handler);
		err = db_pg_query_then(resp, st, n, v, &st_notify, 1, tv);
	}

	mem_deref(payload);

	return err;
}


/**
 * The data version of PostgreSQL: changes when anything was committed,
 * by this process or another, since the last look
 *
 * @param version Set to the version
 *
 * @return 0 if success, ENOSYS if this process does not listen (sipctl),
 *         ENOTCONN while the connection is lost
 */
int db_pg_version(uint64_t *version)
{
	PGconn *conn = db_pg_conn();

	if (!version)
		return EINVAL;

	if (!pn.listening || pn.fd < 0)
		return pn.listening ? ENOTCONN : ENOSYS;

	if (!conn || !PQconsumeInput(conn) ||
	    PQstatus(conn) != CONNECTION_OK) {
		lost();
		return ENOTCONN;
	}

	drain();
	*version = pn.version;

	return 0;
}


/** Stop listening (the process ends its database) */
void db_pg_unlisten(void)
{
	fd_unlisten();
	tmr_cancel(&pn.tmr_retry);
	tmr_cancel(&pn.tmr_tell);
	list_flush(&pn.toldl);
	list_flush(&pn.laterl);
	pn.told_n = 0;
	pn.overflow = false;
	pn.listening = false;
}
