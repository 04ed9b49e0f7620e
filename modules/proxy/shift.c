/**
 * @file shift.c  CSeq shifts of dialogs through a challenging trunk
 *
 * When a trunk challenges an INVITE, sipd sends it again with
 * credentials, and RFC 3261 22.2 wants a higher CSeq for that: the trunk
 * sees CSeq N+1 where the caller sent N. For the rest of that dialog the
 * caller's requests (ACK, re-INVITE, BYE) go to the trunk one higher and
 * their responses come back one lower; the trunk's own requests are not
 * touched. Dialogs are known by Call-ID and the caller's From tag.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include <sipd.h>
#include "proxy.h"


enum {
	HASH_SIZE = 256,
	MAX_AGE = 12 * 3600,       /* seconds */
	MAX_SHIFTS = 100000,
};


struct shift {
	struct le he;
	struct le le;
	char *call_id;
	char *tag;                 /* the caller's From tag */
	int32_t delta;
	int64_t created;
};


static struct {
	struct hash *ht;
	struct list order;
	uint32_t count;
} shifts;


static void shift_destructor(void *arg)
{
	struct shift *sh = arg;

	hash_unlink(&sh->he);
	list_unlink(&sh->le);
	mem_deref(sh->call_id);
	mem_deref(sh->tag);
	--shifts.count;
}


/**
 * Remember that a dialog's CSeq numbers are shifted towards the callee
 *
 * @param call_id  Call-ID
 * @param from_tag The caller's From tag
 * @param delta    How much higher the callee sees them
 */
void shift_add(const struct pl *call_id, const struct pl *from_tag,
	       int32_t delta)
{
	struct shift *sh;

	if (!shifts.ht && hash_alloc(&shifts.ht, HASH_SIZE))
		return;

	while (shifts.order.head) {
		struct shift *old = shifts.order.head->data;

		if (shifts.count < MAX_SHIFTS &&
		    time_now() - old->created < MAX_AGE)
			break;
		mem_deref(old);
	}

	sh = mem_zalloc(sizeof(*sh), shift_destructor);
	if (!sh)
		return;

	++shifts.count;
	hash_append(shifts.ht, hash_joaat_pl(call_id), &sh->he, sh);
	list_append(&shifts.order, &sh->le, sh);
	sh->delta = delta;
	sh->created = time_now();

	if (pl_strdup(&sh->call_id, call_id) ||
	    pl_strdup(&sh->tag, from_tag))
		mem_deref(sh);
}


static bool shift_cmp(struct le *le, void *arg)
{
	const struct shift *sh = le->data;
	const struct sip_msg *msg = arg;

	return !pl_strcmp(&msg->callid, sh->call_id) &&
		!pl_strcmp(&msg->from.tag, sh->tag);
}


/**
 * The CSeq shift of a message of the caller's side of a shifted dialog:
 * plus for its requests, minus for the responses to them
 *
 * @param msg Request or response
 *
 * @return Delta to add, 0 for other messages
 */
int32_t shift_of(const struct sip_msg *msg)
{
	const struct shift *sh;

	if (!shifts.ht)
		return 0;

	sh = list_ledata(hash_lookup(shifts.ht, hash_joaat_pl(&msg->callid),
				     shift_cmp, (void *)msg));
	if (!sh)
		return 0;

	return msg->req ? sh->delta : -sh->delta;
}


void shift_close(void)
{
	hash_flush(shifts.ht);
	shifts.ht = mem_deref(shifts.ht);
	list_init(&shifts.order);
	shifts.count = 0;
}
