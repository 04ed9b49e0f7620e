/**
 * @file sub.c  Subscriptions: in memory for the fan-out, in SQLite for
 *              restarts
 *
 * Every subscription is a row of the subscriptions table and a struct in
 * two hash tables (by presentity, for notifying watchers; by Call-ID, for
 * refreshes). CSeq and document versions change with every NOTIFY; they
 * are written back in batches once they are STORE_AHEAD past what is
 * stored, and all at a clean stop; a restart adds a margin ten times that
 * to both, so that they only ever grow, even after a crash. Expired
 * subscriptions end a few at a time.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <sqlite3.h>
#include <re.h>
#include <sipd.h>
#include "presence.h"


enum {
	HASH_SIZE = 4096,
	TICK = 1000,               /* ms between expiry checks        */
	EXPIRE_BATCH = 200,
	FLUSH_INTERVAL = 1000,     /* ms between CSeq write-backs     */
	STORE_AHEAD = 100,         /* CSeq or version not yet stored  */
	RESTART_MARGIN = 1000,     /* added to CSeq and version       */
	RESTART_PACE = 200,        /* NOTIFYs every 100 ms at restart */
};


static struct {
	struct list all;
	struct list dirty;
	struct hash *by_pres;
	struct hash *by_dlg;
	struct hash *by_watcher;
	struct hash *by_id;
	struct tmr tmr_expire;
	struct tmr tmr_flush;
	struct tmr tmr_restart;
	struct le *restart_next;   /* moved on when its subscription ends */
	uint32_t count;
} subs;


#define COLUMNS "id, event, presentity, watcher, state, expires, call_id," \
	" local_tag, remote_tag, local_uri, remote_uri, contact, route_set," \
	" socket, received, transport, local_cseq, remote_cseq, version," \
	" accept"

static struct db_stmt st_insert = {
	.sql = "INSERT INTO subscriptions (event, presentity, watcher, state,"
	       " expires, call_id, local_tag, remote_tag, local_uri,"
	       " remote_uri, contact, route_set, socket, received, transport,"
	       " local_cseq, remote_cseq, version, accept, created, updated)"
	       " VALUES (?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
	       " ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?21)"
};

static struct db_stmt st_update = {
	.sql = "UPDATE subscriptions SET state = ?5, expires = ?6,"
	       " contact = ?12, route_set = ?13, socket = ?14,"
	       " received = ?15, transport = ?16, local_cseq = ?17,"
	       " remote_cseq = ?18, version = ?19, accept = ?20,"
	       " updated = ?21 WHERE id = ?1"
};

static struct db_stmt st_delete = {
	.sql = "DELETE FROM subscriptions WHERE id = ?1"
};

static struct db_stmt st_load = {
	.sql = "SELECT " COLUMNS " FROM subscriptions WHERE expires > ?1"
	       " AND state != 'terminated'"
};

static struct db_stmt st_expired = {
	.sql = "SELECT id FROM subscriptions WHERE expires <= ?1"
	       " AND state != 'terminated' LIMIT ?2"
};

static struct db_stmt st_purge = {
	.sql = "DELETE FROM subscriptions WHERE expires <= ?1"
	       " OR state = 'terminated'"
};


static const char *state_names[] = {"pending", "active", "terminated"};


static void sub_destructor(void *arg)
{
	struct sub *sub = arg;

	/* the restart's walk goes on with the next one */
	if (subs.restart_next == &sub->le)
		subs.restart_next = sub->le.next;

	list_unlink(&sub->le);
	list_unlink(&sub->le_dirty);
	hash_unlink(&sub->he_pres);
	hash_unlink(&sub->he_dlg);
	hash_unlink(&sub->he_watcher);
	hash_unlink(&sub->he_id);
	tmr_cancel(&sub->tmr);
	mem_deref(sub->req);
	mem_deref(sub->presentity);
	mem_deref(sub->watcher);
	mem_deref(sub->call_id);
	mem_deref(sub->local_tag);
	mem_deref(sub->remote_tag);
	mem_deref(sub->local_uri);
	mem_deref(sub->remote_uri);
	mem_deref(sub->contact);
	mem_deref(sub->route_set);
	mem_deref(sub->socket);
	mem_deref(sub->accept);

	if (subs.count)
		--subs.count;
}


int sub_alloc(struct sub **subp)
{
	struct sub *sub;

	sub = mem_zalloc(sizeof(*sub), sub_destructor);
	if (!sub)
		return ENOMEM;

	sa_init(&sub->received, AF_UNSPEC);
	sub->tp = SIP_TRANSP_UDP;
	++subs.count;

	*subp = sub;

	return 0;
}


/**
 * Put a subscription in the indexes
 *
 * @param sub Subscription with presentity and Call-ID set
 */
void sub_index(struct sub *sub)
{
	list_append(&subs.all, &sub->le, sub);
	hash_append(subs.by_pres, hash_joaat_str(sub->presentity),
		    &sub->he_pres, sub);
	hash_append(subs.by_dlg, hash_joaat_str(sub->call_id), &sub->he_dlg,
		    sub);
	hash_append(subs.by_watcher, hash_joaat_str(sub->watcher),
		    &sub->he_watcher, sub);
	hash_append(subs.by_id, (uint32_t)sub->id, &sub->he_id, sub);
}


/**
 * Note that a subscription changed: it is written back with the next
 * batch
 *
 * @param sub Subscription
 */
void sub_dirty(struct sub *sub)
{
	if (!sub->le_dirty.list)
		list_append(&subs.dirty, &sub->le_dirty, sub);
}


static bool ahead(const struct sub *sub, uint32_t by)
{
	return sub->local_cseq - sub->stored_cseq >= by ||
		sub->version - sub->stored_version >= by;
}


/**
 * Note that a subscription's CSeq or version grew: written back once it
 * is STORE_AHEAD past what is stored (the margin a restart adds covers
 * the rest), and at a clean stop
 *
 * @param sub Subscription
 */
void sub_advanced(struct sub *sub)
{
	if (ahead(sub, STORE_AHEAD))
		sub_dirty(sub);
}


struct dlg_key {
	const struct pl *call_id;
	const struct pl *ltag;
	const struct pl *rtag;
};


static bool dlg_cmp(struct le *le, void *arg)
{
	const struct sub *sub = le->data;
	const struct dlg_key *k = arg;

	return !pl_strcmp(k->call_id, sub->call_id) &&
		!pl_strcmp(k->ltag, sub->local_tag) &&
		!pl_strcmp(k->rtag, sub->remote_tag);
}


/**
 * Find the subscription of an in-dialog SUBSCRIBE
 *
 * @param call_id Call-ID
 * @param ltag    sipd's tag (the To tag of the SUBSCRIBE)
 * @param rtag    The subscriber's tag (its From tag)
 *
 * @return Subscription, or NULL
 */
struct sub *sub_find_dialog(const struct pl *call_id, const struct pl *ltag,
			    const struct pl *rtag)
{
	struct dlg_key k = {call_id, ltag, rtag};

	return list_ledata(hash_lookup(subs.by_dlg, hash_joaat_pl(call_id),
				       dlg_cmp, &k));
}


static void bind_str(sqlite3_stmt *stmt, int col, const char *s)
{
	sqlite3_bind_text(stmt, col, s ? s : "", -1, SQLITE_STATIC);
}


static int step(sqlite3_stmt *stmt)
{
	int rc = sqlite3_step(stmt);

	sqlite3_reset(stmt);

	if (rc == SQLITE_DONE)
		return 0;

	return rc == SQLITE_BUSY ? EBUSY : EIO;
}


/**
 * Write a subscription to the database (insert or update)
 *
 * @param sub Subscription
 *
 * @return 0 once written, otherwise errorcode
 */
int sub_save(struct sub *sub)
{
	sqlite3_stmt *stmt = db_stmt(sub->id ? &st_update : &st_insert);
	char recv[64] = "";
	int err;

	if (!stmt)
		return db_error();

	if (sa_isset(&sub->received, SA_ALL))
		re_snprintf(recv, sizeof(recv), "%J", &sub->received);

	if (sub->id)
		sqlite3_bind_int64(stmt, 1, sub->id);
	bind_str(stmt, 2, pkg_name(sub->pkg));
	bind_str(stmt, 3, sub->presentity);
	bind_str(stmt, 4, sub->watcher);
	bind_str(stmt, 5, state_names[sub->state]);
	sqlite3_bind_int64(stmt, 6, sub->expires);
	bind_str(stmt, 7, sub->call_id);
	bind_str(stmt, 8, sub->local_tag);
	bind_str(stmt, 9, sub->remote_tag);
	bind_str(stmt, 10, sub->local_uri);
	bind_str(stmt, 11, sub->remote_uri);
	bind_str(stmt, 12, sub->contact);
	bind_str(stmt, 13, sub->route_set);
	bind_str(stmt, 14, sub->socket);
	bind_str(stmt, 15, recv);
	bind_str(stmt, 16, transp_name(sub->tp));
	sqlite3_bind_int64(stmt, 17, sub->local_cseq);
	sqlite3_bind_int64(stmt, 18, sub->remote_cseq);
	sqlite3_bind_int64(stmt, 19, sub->version);
	bind_str(stmt, 20, sub->accept);
	sqlite3_bind_int64(stmt, 21, time_now());

	err = step(stmt);
	if (err)
		return err;

	if (!sub->id)
		sub->id = sqlite3_last_insert_rowid(db_handle());

	sub->stored_cseq = sub->local_cseq;
	sub->stored_version = sub->version;
	list_unlink(&sub->le_dirty);

	return 0;
}


/**
 * Forget a subscription: database row and memory
 *
 * @param sub Subscription (freed)
 *
 * @return 0 if success, otherwise errorcode (it is freed anyway)
 */
int sub_delete(struct sub *sub)
{
	sqlite3_stmt *stmt;
	int err = 0;

	if (sub->id && (stmt = db_stmt(&st_delete))) {
		sqlite3_bind_int64(stmt, 1, sub->id);
		err = step(stmt);
	}

	mem_deref(sub);

	return err;
}


/**
 * Write back the CSeq and versions that changed, in one transaction
 */
void sub_flush_dirty(void)
{
	struct le *le;

	if (list_isempty(&subs.dirty) || db_begin())
		return;   /* nothing, or busy: next time */

	while ((le = subs.dirty.head)) {
		struct sub *sub = le->data;

		if (!sub->id) {
			list_unlink(le);
			continue;
		}

		/* sub_save takes it off the list */
		if (sub_save(sub))
			break;
	}

	if (db_commit())
		log_warning("presence: cannot store subscription state\n");
}


uint32_t sub_count_watcher(const char *watcher)
{
	struct list *l = hash_list(subs.by_watcher, hash_joaat_str(watcher));
	uint32_t n = 0;
	struct le *le;

	for (le = list_head(l); le; le = le->next) {
		const struct sub *sub = le->data;

		if (sub->state != SUB_TERMINATED &&
		    !strcmp(sub->watcher, watcher))
			++n;
	}

	return n;
}


uint32_t sub_count_presentity(const char *presentity)
{
	struct list *l;
	struct le *le;
	uint32_t n = 0;

	l = hash_list(subs.by_pres, hash_joaat_str(presentity));
	for (le = list_head(l); le; le = le->next) {
		const struct sub *sub = le->data;

		if (!strcmp(sub->presentity, presentity) &&
		    sub->state != SUB_TERMINATED)
			++n;
	}

	return n;
}


/**
 * Call a handler for every live subscription to a presentity and package
 *
 * @param presentity Presentity
 * @param pkg        Package
 * @param h          Handler; it may end the subscription
 * @param arg        Handler argument
 *
 * @return Number of subscriptions
 */
int sub_apply(const char *presentity, enum pkg pkg,
	      void (*h)(struct sub *sub, void *arg), void *arg)
{
	struct list *l = hash_list(subs.by_pres, hash_joaat_str(presentity));
	struct le *le = list_head(l);
	int n = 0;

	while (le) {
		struct sub *sub = le->data;

		le = le->next;

		if (sub->pkg != pkg || sub->state == SUB_TERMINATED ||
		    strcmp(sub->presentity, presentity))
			continue;

		++n;
		h(sub, arg);
	}

	return n;
}


static int col_dup(char **dst, sqlite3_stmt *stmt, int col)
{
	const char *s = (const char *)sqlite3_column_text(stmt, col);

	return str_dup(dst, s ? s : "");
}


static int pkg_decode(enum pkg *pkg, const char *name)
{
	int i;

	for (i = 0; i < PKG_COUNT; i++) {
		if (!strcmp(name, pkg_name(i))) {
			*pkg = (enum pkg)i;
			return 0;
		}
	}

	return EINVAL;
}


/**
 * Load the live subscriptions from the database (at start)
 *
 * @return 0 if success, otherwise errorcode
 */
int sub_load(void)
{
	sqlite3_stmt *stmt;
	int rc, err = 0;
	uint32_t n = 0;

	stmt = db_stmt(&st_purge);
	if (stmt) {
		sqlite3_bind_int64(stmt, 1, time_now());
		(void)step(stmt);
	}

	stmt = db_stmt(&st_load);
	if (!stmt)
		return db_error();

	sqlite3_bind_int64(stmt, 1, time_now());

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *s;
		struct sub *sub;
		struct pl tp;

		err = sub_alloc(&sub);
		if (err)
			break;

		sub->id = sqlite3_column_int64(stmt, 0);
		if (pkg_decode(&sub->pkg,
			       (const char *)sqlite3_column_text(stmt, 1))) {
			mem_deref(sub);
			continue;
		}

		s = (const char *)sqlite3_column_text(stmt, 4);
		sub->state = s && !strcmp(s, "active") ? SUB_ACTIVE :
			SUB_PENDING;
		sub->expires = sqlite3_column_int64(stmt, 5);

		err  = col_dup(&sub->presentity, stmt, 2);
		err |= col_dup(&sub->watcher, stmt, 3);
		err |= col_dup(&sub->call_id, stmt, 6);
		err |= col_dup(&sub->local_tag, stmt, 7);
		err |= col_dup(&sub->remote_tag, stmt, 8);
		err |= col_dup(&sub->local_uri, stmt, 9);
		err |= col_dup(&sub->remote_uri, stmt, 10);
		err |= col_dup(&sub->contact, stmt, 11);
		err |= col_dup(&sub->route_set, stmt, 12);
		err |= col_dup(&sub->socket, stmt, 13);
		err |= col_dup(&sub->accept, stmt, 19);
		if (err) {
			mem_deref(sub);
			err = ENOMEM;
			break;
		}

		s = (const char *)sqlite3_column_text(stmt, 14);
		if (s && *s)
			(void)sa_decode(&sub->received, s, strlen(s));
		s = (const char *)sqlite3_column_text(stmt, 15);
		pl_set_str(&tp, s ? s : "udp");
		if (transp_decode(&sub->tp, &tp))
			sub->tp = SIP_TRANSP_UDP;

		/* CSeq and versions only grow, even after a crash */
		sub->local_cseq = (uint32_t)sqlite3_column_int64(stmt, 16) +
			RESTART_MARGIN;
		sub->remote_cseq = (uint32_t)sqlite3_column_int64(stmt, 17);
		sub->version = (uint32_t)sqlite3_column_int64(stmt, 18) +
			RESTART_MARGIN;
		sub_index(sub);
		sub_dirty(sub);
		++n;
	}

	sqlite3_reset(stmt);

	if (n)
		log_info("presence: %u subscriptions restored\n", n);

	return err;
}


/* After a restart, every subscriber hears the current state, paced */
static void restart_handler(void *arg)
{
	uint32_t n = 0;
	(void)arg;

	while (subs.restart_next && n++ < RESTART_PACE) {
		struct sub *sub = subs.restart_next->data;

		subs.restart_next = subs.restart_next->next;
		notify_sub(sub);
	}

	if (subs.restart_next)
		tmr_start(&subs.tmr_restart, 100, restart_handler, NULL);
}


static bool id_cmp(struct le *le, void *arg)
{
	const struct sub *sub = le->data;

	return sub->id == *(int64_t *)arg;
}


/* The expired ones, found by the database's index on expires */
static void expire_handler(void *arg)
{
	int64_t ids[EXPIRE_BATCH];
	sqlite3_stmt *stmt;
	uint32_t i, n = 0;
	(void)arg;

	stmt = db_stmt(&st_expired);
	if (stmt) {
		sqlite3_bind_int64(stmt, 1, time_now());
		sqlite3_bind_int64(stmt, 2, EXPIRE_BATCH);

		while (n < EXPIRE_BATCH && sqlite3_step(stmt) == SQLITE_ROW)
			ids[n++] = sqlite3_column_int64(stmt, 0);

		sqlite3_reset(stmt);
	}

	for (i = 0; i < n; i++) {
		struct sub *sub;

		sub = list_ledata(hash_lookup(subs.by_id, (uint32_t)ids[i],
					      id_cmp, &ids[i]));
		if (sub && sub->state != SUB_TERMINATED) {
			notify_terminate(sub, "timeout");
		}
		else if (!sub && (stmt = db_stmt(&st_delete))) {
			/* a row no subscription in memory has: gone */
			sqlite3_bind_int64(stmt, 1, ids[i]);
			(void)step(stmt);
		}
	}

	tmr_start(&subs.tmr_expire, n == EXPIRE_BATCH ? 20 : TICK,
		  expire_handler, NULL);
}


static void flush_handler(void *arg)
{
	(void)arg;

	sub_flush_dirty();
	tmr_start(&subs.tmr_flush, FLUSH_INTERVAL, flush_handler, NULL);
}


/**
 * Start the timers, and notify the subscriptions loaded from the database
 */
void sub_start(void)
{
	subs.restart_next = subs.all.head;
	if (subs.restart_next)
		tmr_start(&subs.tmr_restart, 500, restart_handler, NULL);

	tmr_start(&subs.tmr_expire, TICK, expire_handler, NULL);
	tmr_start(&subs.tmr_flush, FLUSH_INTERVAL, flush_handler, NULL);
}


/**
 * Allocate the indexes
 *
 * @return 0 if success, otherwise errorcode
 */
int sub_init(void)
{
	int err;

	err  = hash_alloc(&subs.by_pres, HASH_SIZE);
	err |= hash_alloc(&subs.by_dlg, HASH_SIZE);
	err |= hash_alloc(&subs.by_watcher, HASH_SIZE);
	err |= hash_alloc(&subs.by_id, HASH_SIZE);

	return err;
}


void sub_close(void)
{
	struct le *le;

	tmr_cancel(&subs.tmr_expire);
	tmr_cancel(&subs.tmr_flush);
	tmr_cancel(&subs.tmr_restart);
	subs.restart_next = NULL;

	/* what a restart would otherwise only cover with its margin */
	for (le = subs.all.head; le; le = le->next) {
		struct sub *sub = le->data;

		if (ahead(sub, 1))
			sub_dirty(sub);
	}

	sub_flush_dirty();

	list_flush(&subs.all);
	list_init(&subs.dirty);
	hash_clear(subs.by_pres);
	hash_clear(subs.by_dlg);
	hash_clear(subs.by_watcher);
	hash_clear(subs.by_id);
	subs.by_pres = mem_deref(subs.by_pres);
	subs.by_dlg = mem_deref(subs.by_dlg);
	subs.by_watcher = mem_deref(subs.by_watcher);
	subs.by_id = mem_deref(subs.by_id);
	subs.count = 0;
}


uint32_t sub_total(void)
{
	return subs.count;
}
