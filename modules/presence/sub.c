/**
 * @file sub.c  Subscriptions: in memory for the fan-out, in the store for
 *              restarts
 *
 * Every subscription is a row of the store's subscriptions and a struct in
 * two hash tables (by presentity, for notifying watchers; by Call-ID, for
 * refreshes). CSeq and document versions change with every NOTIFY; they
 * are written back in batches once they are STORE_AHEAD past what is
 * stored, and all at a clean stop; a restart adds a margin ten times that
 * to both, so that they only ever grow, even after a crash. Expired
 * subscriptions end a few at a time.
 *
 * With several nodes on PostgreSQL each subscription is its node's; every
 * ADOPT_INTERVAL a node takes over those of the nodes that are gone.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include <sipd.h>
#include <store/store.h>
#include <node/node.h>
#include "presence.h"


enum {
	HASH_SIZE = 4096,
	TICK = 1000,               /* ms between expiry checks        */
	EXPIRE_BATCH = 200,
	FLUSH_INTERVAL = 1000,     /* ms between CSeq write-backs     */
	STORE_AHEAD = 100,         /* CSeq or version not yet stored  */
	RESTART_MARGIN = 1000,     /* added to CSeq and version       */
	RESTART_PACE = 200,        /* NOTIFYs every 100 ms at restart */
	ADOPT_INTERVAL = 2000,     /* ms between looks for gone nodes  */
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
	struct tmr tmr_adopt;
	sub_notify_h *notifyh;      /* sends a subscription's NOTIFY */
	sub_terminate_h *terminateh; /* ends one with a final NOTIFY  */
	struct le *restart_next;   /* moved on when its subscription ends */
	uint32_t count;
} subs;


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


/**
 * Write a subscription to the store (insert or update)
 *
 * @param sub Subscription
 *
 * @return 0 once written, otherwise errorcode
 */
int sub_save(struct sub *sub)
{
	struct store_sub rec;
	char recv[64] = "";
	int err;

	if (sa_isset(&sub->received, SA_ALL))
		re_snprintf(recv, sizeof(recv), "%J", &sub->received);

	memset(&rec, 0, sizeof(rec));
	rec.id          = sub->id;
	rec.event       = (char *)pkg_name(sub->pkg);
	rec.presentity  = sub->presentity;
	rec.watcher     = sub->watcher;
	rec.state       = (char *)state_names[sub->state];
	rec.expires     = sub->expires;
	rec.call_id     = sub->call_id;
	rec.local_tag   = sub->local_tag;
	rec.remote_tag  = sub->remote_tag;
	rec.local_uri   = sub->local_uri;
	rec.remote_uri  = sub->remote_uri;
	rec.contact     = sub->contact;
	rec.route_set   = sub->route_set;
	rec.sock        = sub->socket;
	rec.received    = recv;
	rec.transport   = (char *)transp_name(sub->tp);
	rec.local_cseq  = sub->local_cseq;
	rec.remote_cseq = sub->remote_cseq;
	rec.version     = sub->version;
	rec.accept      = sub->accept;
	rec.updated     = time_now();

	err = store_sub_save(&rec);
	if (err)
		return err;

	sub->id = rec.id;
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
	int err = 0;

	if (sub->id)
		err = store_sub_delete(sub->id);

	mem_deref(sub);

	return err;
}


/**
 * Write back the CSeq and versions that changed, in one transaction
 */
void sub_flush_dirty(void)
{
	struct le *le;
	int err;

	if (list_isempty(&subs.dirty) || store_begin())
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

	/* a lost database server is logged once, by the core */
	err = store_commit();
	if (err && err != ENOTCONN)
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


/* A subscription from its row; NULL for a row of an unknown package */
static struct sub *restore(struct store_sub *rec)
{
	struct sub *sub;
	struct pl tp;

	if (sub_alloc(&sub))
		return NULL;

	sub->id = rec->id;
	if (pkg_decode(&sub->pkg, rec->event)) {
		mem_deref(sub);
		return NULL;
	}

	sub->state = !strcmp(rec->state, "active") ? SUB_ACTIVE :
		SUB_PENDING;
	sub->expires = rec->expires;

	/* the strings change hands */
	sub->presentity = mem_ref(rec->presentity);
	sub->watcher    = mem_ref(rec->watcher);
	sub->call_id    = mem_ref(rec->call_id);
	sub->local_tag  = mem_ref(rec->local_tag);
	sub->remote_tag = mem_ref(rec->remote_tag);
	sub->local_uri  = mem_ref(rec->local_uri);
	sub->remote_uri = mem_ref(rec->remote_uri);
	sub->contact    = mem_ref(rec->contact);
	sub->route_set  = mem_ref(rec->route_set);
	sub->socket     = mem_ref(rec->sock);
	sub->accept     = mem_ref(rec->accept);

	if (*rec->received)
		(void)sa_decode(&sub->received, rec->received,
				strlen(rec->received));
	pl_set_str(&tp, *rec->transport ? rec->transport : "udp");
	if (transp_decode(&sub->tp, &tp))
		sub->tp = SIP_TRANSP_UDP;

	/* CSeq and versions only grow, even after a crash */
	sub->local_cseq = rec->local_cseq + RESTART_MARGIN;
	sub->remote_cseq = rec->remote_cseq;
	sub->version = rec->version + RESTART_MARGIN;
	sub_index(sub);
	sub_dirty(sub);

	return sub;
}


/**
 * Load the live subscriptions from the database (at start)
 *
 * @return 0 if success, otherwise errorcode
 */
int sub_load(void)
{
	struct list rows = LIST_INIT;
	struct le *le;
	int err;
	uint32_t n = 0;

	(void)store_sub_purge(time_now());

	err = store_sub_list(&rows, NULL, time_now(), true);

	for (le = rows.head; le && !err; le = le->next) {
		if (restore(le->data))
			++n;
	}

	list_flush(&rows);

	if (n)
		log_info("presence: %u subscriptions restored\n", n);

	return err;
}


/*
 * The subscriptions of nodes that are gone (several nodes on PostgreSQL:
 * lib/node) become this node's: they leave from a socket of this node of
 * their transport (a connection of theirs was the dead node's: the
 * watcher is reached at its Contact), and each watcher hears the
 * current state from this node at once.
 */
static void adopt_handler(void *arg)
{
	struct list rows = LIST_INIT;
	struct le *le;
	uint32_t n = 0;
	(void)arg;

	tmr_start(&subs.tmr_adopt, ADOPT_INTERVAL, adopt_handler, NULL);

	if (store_sub_adopt(&rows, node_self(), time_now()))
		return;

	for (le = rows.head; le; le = le->next) {
		struct sub *sub = restore(le->data);
		struct sipd_sock *sock;

		if (!sub)
			continue;

		sock = sock_choose(sub->tp, AF_UNSPEC, NULL);
		if (sock) {
			mem_deref(sub->socket);
			(void)str_dup(&sub->socket, sock_name(sock));
		}
		if (sub->tp != SIP_TRANSP_UDP)
			sa_init(&sub->received, AF_UNSPEC);

		++n;
		subs.notifyh(sub);
	}

	list_flush(&rows);

	if (n)
		log_notice("presence: %u subscriptions of nodes that are gone"
			   " taken over\n", n);
}


/* After a restart, every subscriber hears the current state, paced */
static void restart_handler(void *arg)
{
	uint32_t n = 0;
	(void)arg;

	while (subs.restart_next && n++ < RESTART_PACE) {
		struct sub *sub = subs.restart_next->data;

		subs.restart_next = subs.restart_next->next;
		subs.notifyh(sub);
	}

	if (subs.restart_next)
		tmr_start(&subs.tmr_restart, 100, restart_handler, NULL);
}


static bool id_cmp(struct le *le, void *arg)
{
	const struct sub *sub = le->data;

	return sub->id == *(int64_t *)arg;
}


/* The expired ones, found by the store's index on expires */
static void expire_handler(void *arg)
{
	struct list ids = LIST_INIT;
	struct le *le;
	uint32_t n = 0;
	(void)arg;

	(void)store_sub_expired(&ids, time_now(), EXPIRE_BATCH);

	for (le = ids.head; le; le = le->next) {
		struct store_id *id = le->data;
		struct sub *sub;

		++n;
		sub = list_ledata(hash_lookup(subs.by_id, (uint32_t)id->id,
					      id_cmp, &id->id));
		if (sub && sub->state != SUB_TERMINATED)
			subs.terminateh(sub, "timeout");
		else if (!sub)
			/* a row no subscription in memory has: gone */
			(void)store_sub_delete(id->id);
	}

	list_flush(&ids);

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

	if (node_self())
		tmr_start(&subs.tmr_adopt, ADOPT_INTERVAL, adopt_handler,
			  NULL);
}


/**
 * Allocate the indexes, and say who sends the NOTIFYs (notify.c)
 *
 * @return 0 if success, otherwise errorcode
 */
int sub_init(sub_notify_h *notifyh, sub_terminate_h *terminateh)
{
	int err;

	subs.notifyh = notifyh;
	subs.terminateh = terminateh;

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
	tmr_cancel(&subs.tmr_adopt);
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
