/**
 * @file callstate.c  The calls of each address-of-record, from the
 *                    proxy's call events
 *
 * The dialog package lists them, the presence package turns a confirmed
 * one into the activity on-the-phone. A terminated call is listed once
 * more (so that a busy lamp goes off) and then forgotten.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include <sipd.h>
#include "presence.h"


enum {
	HASH_SIZE = 1024,
	MAX_CALLS_PER_AOR = 32,
};


/** A call of one party, as its last event described it */
struct call {
	struct le he;
	char *aor;
	char *call_id;
	char *local_tag;
	char *remote_tag;
	char *peer;
	char *local_uri;
	enum call_state state;
	bool initiator;
	uint16_t code;
	uint64_t ended;            /* tmr_jiffies() when terminated  */
};


static struct hash *calls;


static void call_destructor(void *arg)
{
	struct call *c = arg;

	hash_unlink(&c->he);
	mem_deref(c->aor);
	mem_deref(c->call_id);
	mem_deref(c->local_tag);
	mem_deref(c->remote_tag);
	mem_deref(c->peer);
	mem_deref(c->local_uri);
}


struct key {
	const char *aor;
	const char *call_id;
	bool initiator;
};


static bool call_cmp(struct le *le, void *arg)
{
	const struct call *c = le->data;
	const struct key *k = arg;

	return !strcmp(c->aor, k->aor) && !strcmp(c->call_id, k->call_id) &&
		c->initiator == k->initiator;
}


static int set_str(char **dst, const char *src)
{
	mem_deref(*dst);
	*dst = NULL;

	return str_dup(dst, src ? src : "");
}


/**
 * Take a call event
 *
 * @param ce The event
 */
void callstate_event(const struct call_event *ce)
{
	struct key k = {ce->aor, ce->call_id, ce->initiator};
	struct call *c;
	int err;

	if (!calls && hash_alloc(&calls, HASH_SIZE))
		return;

	c = list_ledata(hash_lookup(calls, hash_joaat_str(ce->aor), call_cmp,
				    &k));
	if (!c) {
		if (ce->state == CALL_TERMINATED)
			return;

		c = mem_zalloc(sizeof(*c), call_destructor);
		if (!c)
			return;

		if (str_dup(&c->aor, ce->aor) ||
		    str_dup(&c->call_id, ce->call_id)) {
			mem_deref(c);
			return;
		}

		c->initiator = ce->initiator;
		hash_append(calls, hash_joaat_str(ce->aor), &c->he, c);
	}

	c->state = ce->state;
	c->code = ce->code;
	if (ce->state == CALL_TERMINATED && !c->ended)
		c->ended = tmr_jiffies();

	err  = set_str(&c->local_tag, ce->local_tag);
	err |= set_str(&c->peer, ce->peer);
	err |= set_str(&c->local_uri, ce->local_uri);
	if (ce->remote_tag && *ce->remote_tag)
		err |= set_str(&c->remote_tag, ce->remote_tag);
	if (err)
		mem_deref(c);
}


/**
 * Whether an event tells nothing new: its call is known in that state
 * (or it ends a call not known)
 *
 * @param ce The event
 *
 * @return True if nothing would change
 */
bool callstate_known(const struct call_event *ce)
{
	struct key k = {ce->aor, ce->call_id, ce->initiator};
	const struct call *c;

	c = calls ? list_ledata(hash_lookup(calls, hash_joaat_str(ce->aor),
					    call_cmp, &k)) : NULL;
	if (!c)
		return ce->state == CALL_TERMINATED;

	return c->state == ce->state;
}


static bool aor_cmp(struct le *le, void *arg)
{
	const struct call *c = le->data;

	return !strcmp(c->aor, arg);
}


/**
 * Is an address-of-record in a confirmed call?
 *
 * @param aor user@domain
 *
 * @return True if so
 */
bool callstate_busy(const char *aor)
{
	struct le *le;

	if (!calls)
		return false;

	for (le = list_head(hash_list(calls, hash_joaat_str(aor))); le;
	     le = le->next) {
		const struct call *c = le->data;

		if (aor_cmp(le, (void *)aor) && c->state == CALL_CONFIRMED)
			return true;
	}

	return false;
}


/**
 * Call a handler for each call of an address-of-record
 *
 * @param aor user@domain
 * @param h   Handler
 * @param arg Handler argument
 *
 * @return Number of calls
 */
int callstate_apply(const char *aor,
		    void (*h)(const struct call_event *ce, void *arg),
		    void *arg)
{
	struct le *le;
	int n = 0;

	if (!calls)
		return 0;

	callstate_expire(aor);

	for (le = list_head(hash_list(calls, hash_joaat_str(aor))); le;
	     le = le->next) {
		const struct call *c = le->data;
		struct call_event ce;

		if (!aor_cmp(le, (void *)aor) || n >= MAX_CALLS_PER_AOR)
			continue;

		ce.aor = c->aor;
		ce.state = c->state;
		ce.initiator = c->initiator;
		ce.call_id = c->call_id;
		ce.local_tag = c->local_tag;
		ce.remote_tag = c->remote_tag;
		ce.peer = c->peer;
		ce.local_uri = c->local_uri;
		ce.code = c->code;

		h(&ce, arg);
		++n;
	}

	return n;
}


static void prune(const char *aor, uint64_t keep)
{
	struct le *le;

	if (!calls)
		return;

	le = list_head(hash_list(calls, hash_joaat_str(aor)));
	while (le) {
		struct call *c = le->data;

		le = le->next;

		if (aor_cmp(&c->he, (void *)aor) &&
		    c->state == CALL_TERMINATED &&
		    tmr_jiffies() - c->ended >= keep)
			mem_deref(c);
	}
}


/**
 * Forget the terminated calls of an address-of-record (they were
 * reported)
 *
 * @param aor user@domain
 */
void callstate_prune(const char *aor)
{
	prune(aor, 0);
}


/**
 * Forget the terminated calls of an address-of-record that every
 * watcher had the time to hear of: the next NOTIFY of a watcher lists a
 * call terminated once more, and the rate limit may hold it back an
 * interval (twice, if one is in flight)
 *
 * @param aor user@domain
 */
void callstate_expire(const char *aor)
{
	prune(aor, 2 * (uint64_t)presence_conf.notify_interval + 1000);
}


void callstate_close(void)
{
	hash_flush(calls);
	calls = mem_deref(calls);
}
