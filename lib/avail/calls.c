/**
 * @file calls.c  How many calls each user is on, from the call events
 *
 * The stateful proxy reports each local party of the INVITEs it forwards
 * (EVENT_CALL: trying, early, confirmed, terminated; modules/proxy
 * calls.c). A party's dialog is kept here as an entry: its AOR, the
 * Call-ID, its side (initiator or not), its own tag and the peer's tag.
 *
 * - A call the user makes counts from TRYING on (a user dialling out is
 *   busy too); a call the user receives counts from CONFIRMED on. Early
 *   dialogs of the callee (its phones ringing) do not count.
 * - A tag still empty (the callee's own tag before any answer, the
 *   peer's tag before the answer) matches any tag: the caller's entry of
 *   TRYING takes the peer's tag of the first CONFIRMED; a TERMINATED
 *   without tags (the final failure of the INVITE) ends every dialog of
 *   that call and side.
 * - A forked call that two phones answer makes two dialogs; the entries
 *   are dialogs, but a user counts a call (Call-ID and side) once while
 *   one of its dialogs lasts. A user who calls itself counts two calls.
 * - TERMINATED ends a call: the failure of the INVITE, or its BYE.
 *
 * Memory is bounded: entries expire AGE_CONFIRMED after they were
 * confirmed (a BYE that never passed the proxy), AGE_SETUP after they
 * began if never confirmed (a final response that never came); no user
 * keeps more than AOR_MAX, and the table no more than TOTAL_MAX (the
 * oldest go first). Expired entries are dropped when their user is asked
 * about or an entry is added.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include "sipd.h"
#include "avail/avail.h"


enum {
	HASH_SIZE = 1024,
	AGE_CONFIRMED = 12 * 3600,   /* s, if a BYE never passes       */
	AGE_SETUP = 3600,            /* s, if a final never passes     */
	AOR_MAX = 32,                /* dialogs of one user            */
	TOTAL_MAX = 100000,
};


/** A dialog of a local party */
struct dlg {
	struct le he;           /* by AOR                            */
	struct le le;           /* oldest first                      */
	char *aor;
	char *call_id;
	char *ltag;             /* the party's own tag, may be ""    */
	char *rtag;             /* the peer's tag, may be ""         */
	bool initiator;
	bool confirmed;
	int64_t since;          /* began, or confirmed               */
};


static struct {
	struct hash *ht;
	struct list order;
	uint32_t count;
} tab;


static void dlg_destructor(void *arg)
{
	struct dlg *d = arg;

	hash_unlink(&d->he);
	list_unlink(&d->le);
	mem_deref(d->aor);
	mem_deref(d->call_id);
	mem_deref(d->ltag);
	mem_deref(d->rtag);
	--tab.count;
}


static const char *str_or_empty(const char *s)
{
	return s ? s : "";
}


/* An empty tag is not known yet: it matches any */
static bool tag_match(const char *a, const char *b)
{
	return !*a || !*b || !strcmp(a, b);
}


static bool expired(const struct dlg *d, int64_t now)
{
	return now - d->since >= (d->confirmed ? AGE_CONFIRMED : AGE_SETUP);
}


static bool same_call(const struct dlg *d, const struct call_event *ce)
{
	return d->initiator == ce->initiator &&
		!strcmp(d->aor, ce->aor) && !strcmp(d->call_id, ce->call_id);
}


static struct list *bucket(const char *aor)
{
	return tab.ht ? hash_list(tab.ht, hash_joaat_str(aor)) : NULL;
}


/* Drop the expired entries of a user; return how many it keeps */
static uint32_t aor_prune(const char *aor, int64_t now, struct dlg **oldest)
{
	struct list *l = bucket(aor);
	struct le *le = l ? l->head : NULL;
	uint32_t n = 0;

	if (oldest)
		*oldest = NULL;

	while (le) {
		struct dlg *d = le->data;

		le = le->next;
		if (strcmp(d->aor, aor))
			continue;

		if (expired(d, now)) {
			mem_deref(d);
			continue;
		}

		if (oldest && (!*oldest || d->since < (*oldest)->since))
			*oldest = d;
		++n;
	}

	return n;
}


static int dlg_add(const struct call_event *ce, bool confirmed, int64_t now)
{
	struct dlg *d, *oldest;
	int err;

	if (!tab.ht && hash_alloc(&tab.ht, HASH_SIZE))
		return ENOMEM;

	/* the oldest go when the table is full or they are stale */
	while (tab.order.head) {
		struct dlg *old = tab.order.head->data;

		if (tab.count < TOTAL_MAX && !expired(old, now))
			break;
		mem_deref(old);
	}

	if (aor_prune(ce->aor, now, &oldest) >= AOR_MAX && oldest) {
		log_info("avail: %s has more than %u calls: the oldest is"
			 " forgotten\n", ce->aor, AOR_MAX);
		mem_deref(oldest);
	}

	d = mem_zalloc(sizeof(*d), dlg_destructor);
	if (!d)
		return ENOMEM;

	++tab.count;
	hash_append(tab.ht, hash_joaat_str(ce->aor), &d->he, d);
	list_append(&tab.order, &d->le, d);

	d->initiator = ce->initiator;
	d->confirmed = confirmed;
	d->since = now;

	err  = str_dup(&d->aor, ce->aor);
	err |= str_dup(&d->call_id, ce->call_id);
	err |= str_dup(&d->ltag, str_or_empty(ce->local_tag));
	err |= str_dup(&d->rtag, confirmed ? str_or_empty(ce->remote_tag) :
		       "");
	if (err)
		mem_deref(d);

	return err;
}


/* Confirmed now: counted for AGE_CONFIRMED from here, the newest */
static void dlg_confirm(struct dlg *d, const struct call_event *ce,
			int64_t now)
{
	const char *lt = str_or_empty(ce->local_tag);
	const char *rt = str_or_empty(ce->remote_tag);

	if (!*d->ltag && *lt) {
		mem_deref(d->ltag);
		if (str_dup(&d->ltag, lt))
			d->ltag = NULL;
	}

	if (!*d->rtag && *rt) {
		mem_deref(d->rtag);
		if (str_dup(&d->rtag, rt))
			d->rtag = NULL;
	}

	if (!d->ltag || !d->rtag) {
		mem_deref(d);
		return;
	}

	if (d->confirmed)
		return;

	d->confirmed = true;
	d->since = now;
	list_unlink(&d->le);
	list_append(&tab.order, &d->le, d);
}


/* Trying or early: the caller counts from here, the callee not yet */
static void on_setup(const struct call_event *ce, int64_t now)
{
	struct list *l;
	struct le *le;

	if (!ce->initiator)
		return;

	l = bucket(ce->aor);
	for (le = l ? l->head : NULL; le; le = le->next) {
		const struct dlg *d = le->data;

		if (same_call(d, ce) &&
		    tag_match(d->ltag, str_or_empty(ce->local_tag)))
			return;
	}

	(void)dlg_add(ce, false, now);
}


static void on_confirmed(const struct call_event *ce, int64_t now)
{
	const char *lt = str_or_empty(ce->local_tag);
	const char *rt = str_or_empty(ce->remote_tag);
	struct dlg *unanswered = NULL;
	struct list *l = bucket(ce->aor);
	struct le *le;

	for (le = l ? l->head : NULL; le; le = le->next) {
		struct dlg *d = le->data;

		if (!same_call(d, ce) || !tag_match(d->ltag, lt))
			continue;

		/* this dialog again (a retransmitted 2xx) */
		if (*d->rtag && !strcmp(d->rtag, rt)) {
			dlg_confirm(d, ce, now);
			return;
		}

		if (!*d->rtag && !unanswered)
			unanswered = d;
	}

	if (unanswered)
		dlg_confirm(unanswered, ce, now);
	else
		(void)dlg_add(ce, true, now);
}


static void on_terminated(const struct call_event *ce)
{
	const char *lt = str_or_empty(ce->local_tag);
	const char *rt = str_or_empty(ce->remote_tag);
	struct list *l = bucket(ce->aor);
	struct le *le = l ? l->head : NULL;

	while (le) {
		struct dlg *d = le->data;

		le = le->next;
		if (same_call(d, ce) && tag_match(d->ltag, lt) &&
		    tag_match(d->rtag, rt))
			mem_deref(d);
	}
}


/**
 * Count a call event of a party
 *
 * @param ce  The event (EVENT_CALL)
 * @param now Epoch seconds
 */
void avail_calls_event(const struct call_event *ce, int64_t now)
{
	if (!ce || !ce->aor || !*ce->aor || !ce->call_id || !*ce->call_id)
		return;

	switch (ce->state) {

	case CALL_TRYING:
	case CALL_EARLY:
		on_setup(ce, now);
		break;

	case CALL_CONFIRMED:
		on_confirmed(ce, now);
		break;

	case CALL_TERMINATED:
		on_terminated(ce);
		break;
	}
}


/**
 * How many calls a user is on: its dialogs counted once per call and
 * side
 *
 * @param aor user@domain
 * @param now Epoch seconds
 *
 * @return Count
 */
uint32_t avail_calls_at(const char *aor, int64_t now)
{
	struct list *l;
	struct le *le, *e;
	uint32_t n = 0;

	if (!aor || !aor_prune(aor, now, NULL))
		return 0;

	l = bucket(aor);
	for (le = l->head; le; le = le->next) {
		const struct dlg *d = le->data;
		bool seen = false;

		if (strcmp(d->aor, aor))
			continue;

		/* another dialog of the same call, counted already */
		for (e = l->head; e != le && !seen; e = e->next) {
			const struct dlg *o = e->data;

			seen = !strcmp(o->aor, aor) &&
				o->initiator == d->initiator &&
				!strcmp(o->call_id, d->call_id);
		}

		if (!seen)
			++n;
	}

	return n;
}


/**
 * How many dialogs are kept, for all users
 *
 * @return Count
 */
uint32_t avail_calls_entries(void)
{
	return tab.count;
}


void avail_calls_flush(void)
{
	hash_flush(tab.ht);
	tab.ht = mem_deref(tab.ht);
	list_init(&tab.order);
	tab.count = 0;
}
