/**
 * @file location.c  Location service facade: bindings of an address-of-record
 *
 * Roles ask the core for bindings; the core forwards to the backend module
 * that registered itself (the SQLite location module) and reports every
 * change as a core event.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include "core.h"


static struct list backends;


static void binding_destructor(void *arg)
{
	struct binding *b = arg;

	list_unlink(&b->le);
	mem_deref(b->aor);
	mem_deref(b->contact);
	mem_deref(b->params);
	mem_deref(b->callid);
	mem_deref(b->sock);
	mem_deref(b->path);
	mem_deref(b->user_agent);
	mem_deref(b->instance);
	mem_deref(b->node);
}


/**
 * Allocate an empty binding
 *
 * @param bp Pointer to allocated binding
 *
 * @return 0 if success, otherwise errorcode
 */
int binding_alloc(struct binding **bp)
{
	struct binding *b;

	if (!bp)
		return EINVAL;

	b = mem_zalloc(sizeof(*b), binding_destructor);
	if (!b)
		return ENOMEM;

	sa_init(&b->received, AF_UNSPEC);
	b->tp = SIP_TRANSP_UDP;

	*bp = b;

	return 0;
}


/**
 * The order of a lookup's bindings: best q first, then the latest
 * update, then the oldest row (a list_sort() handler)
 *
 * @param le1 A binding
 * @param le2 The binding after it
 * @param arg Unused
 *
 * @return true if le1 may stay before le2
 */
bool binding_before(struct le *le1, struct le *le2, void *arg)
{
	const struct binding *a = le1->data, *b = le2->data;
	(void)arg;

	if (a->q != b->q)
		return a->q > b->q;

	if (a->updated != b->updated)
		return a->updated > b->updated;

	return a->id <= b->id;
}


/* A string of a copy: its own, or the original's shared */
static int str_copy(char **dst, char *src, bool share)
{
	if (!src)
		return 0;

	if (share) {
		*dst = mem_ref(src);
		return 0;
	}

	return str_dup(dst, src);
}


static int copy(struct binding **bp, const struct binding *src, bool share)
{
	struct binding *b;
	int err;

	if (!bp || !src)
		return EINVAL;

	err = binding_alloc(&b);
	if (err)
		return err;

	b->id       = src->id;
	b->expires  = src->expires;
	b->q        = src->q;
	b->cseq     = src->cseq;
	b->received = src->received;
	b->tp       = src->tp;
	b->reg_id   = src->reg_id;
	b->nat      = src->nat;
	b->created  = src->created;
	b->updated  = src->updated;

	err  = str_copy(&b->aor, src->aor, share);
	err |= str_copy(&b->contact, src->contact, share);
	err |= str_copy(&b->params, src->params, share);
	err |= str_copy(&b->callid, src->callid, share);
	err |= str_copy(&b->sock, src->sock, share);
	err |= str_copy(&b->path, src->path, share);
	err |= str_copy(&b->user_agent, src->user_agent, share);
	err |= str_copy(&b->instance, src->instance, share);
	err |= str_copy(&b->node, src->node, share);

	if (err)
		mem_deref(b);
	else
		*bp = b;

	return err ? ENOMEM : 0;
}


/**
 * Copy a binding
 *
 * @param bp  Pointer to allocated copy
 * @param src Binding to copy
 *
 * @return 0 if success, otherwise errorcode
 */
int binding_dup(struct binding **bp, const struct binding *src)
{
	return copy(bp, src, false);
}


/**
 * Copy a binding that shares the strings of the original (a binding's
 * strings are replaced, never written to)
 *
 * @param bp  Pointer to allocated copy
 * @param src Binding to copy
 *
 * @return 0 if success, otherwise errorcode
 */
int binding_share(struct binding **bp, const struct binding *src)
{
	return copy(bp, src, true);
}


void location_register(struct location_backend *be)
{
	if (be)
		list_append(&backends, &be->le, be);
}


void location_unregister(struct location_backend *be)
{
	if (be)
		list_unlink(&be->le);
}


bool location_available(void)
{
	return !list_isempty(&backends);
}


/**
 * Get the current (unexpired) bindings of an address-of-record
 *
 * @param bindings List to append struct binding to, best q first
 * @param aor      Address-of-record, user@domain
 *
 * @return 0 if success, ENOSYS without a backend, otherwise errorcode
 */
int location_lookup(struct list *bindings, const char *aor)
{
	const struct location_backend *be = list_ledata(backends.head);

	if (!be)
		return ENOSYS;

	return be->lookup(bindings, aor, time_now());
}


/* A lookup of aor follows in this turn: the backend may ask ahead */
void location_ahead(const char *aor)
{
	const struct location_backend *be = list_ledata(backends.head);

	if (be && be->ahead)
		(void)be->ahead(aor, time_now());
}


static void emit(enum sipd_event_type type, const struct binding *b)
{
	struct sipd_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.binding = b;

	event_emit(&ev);
}


/**
 * Store the changes of one registration atomically; they are on disk
 * when this returns 0
 *
 * @param aor     Address-of-record
 * @param upserts Bindings to add (id 0) or update (id set)
 * @param removes Bindings to remove (by id)
 *
 * @return 0 if committed, ENOSYS without a backend, otherwise errorcode
 */
int location_save(const char *aor, const struct list *upserts,
		  const struct list *removes)
{
	const struct location_backend *be = list_ledata(backends.head);
	struct le *le;
	bool *added;
	size_t i = 0;
	int err;

	if (!be)
		return ENOSYS;

	/* remember which are new: the backend sets their ids */
	added = mem_zalloc(sizeof(*added) * (list_count(upserts) + 1), NULL);
	if (!added)
		return ENOMEM;

	for (le = upserts ? upserts->head : NULL; le; le = le->next) {
		const struct binding *b = le->data;
		added[i++] = b->id == 0;
	}

	err = be->save(aor, upserts, removes);
	if (err)
		goto out;

	i = 0;
	for (le = upserts ? upserts->head : NULL; le; le = le->next)
		emit(added[i++] ? EVENT_BINDING_ADDED :
		     EVENT_BINDING_REFRESHED, le->data);

	for (le = removes ? removes->head : NULL; le; le = le->next)
		emit(EVENT_BINDING_REMOVED, le->data);

 out:
	mem_deref(added);

	return err;
}


/**
 * Report a binding that the backend removed because it expired
 *
 * @param b The binding, as it was
 */
void location_expired(const struct binding *b)
{
	emit(EVENT_BINDING_EXPIRED, b);
}


/**
 * Walk every unexpired binding, a batch at a time, in id order
 *
 * @param bindings List to append the batch to
 * @param after_id Last id of the previous batch, 0 to start
 * @param limit    Most bindings in the batch
 *
 * @return 0 if success, ENOSYS without a backend, otherwise errorcode
 */
int location_scan(struct list *bindings, int64_t after_id, uint32_t limit)
{
	const struct location_backend *be = list_ledata(backends.head);

	if (!be || !be->scan)
		return ENOSYS;

	return be->scan(bindings, after_id, limit, time_now());
}
