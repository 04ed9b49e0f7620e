/**
 * @file timer.c  sipd's tmr_start(), in front of libre's
 *
 * libre 1.1.0 keeps every timer in one list sorted by expiry, and
 * tmr_start() finds the place of a new one by walking back from the end.
 * A proxy at a thousand calls a second has tens of thousands of live
 * transaction timers (Timers B, F, J of 32 s), and every new 500 ms
 * retransmission timer walks past most of them: the loop spends its time
 * there and collapses.
 *
 * Timers of one delay are started in the order of their expiry, so the
 * last one started with a delay (a "finger") is at most a few nodes
 * before the place of the next. sipd's tmr_start() keeps the list and its
 * order exactly as libre's does, and starts the search at that finger.
 * libre calls tmr_start() through the dynamic linker (tmr_cancel() too),
 * so this definition in the sipd executable replaces it, as decode.c
 * replaces sip_msg_decode().
 *
 * A finger is only followed while its timer is surely in the list:
 * tmr_start() and tmr_cancel() move fingers off a timer they unlink, and
 * a finger whose expiry has passed (tmr_poll may have fired it) is not
 * read at all.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <re.h>
#include "core.h"


struct list *tmrl_get(void);


enum {
	FINGERS = 32,
};


static struct finger {
	uint64_t delay;
	struct tmr *tmr;       /* NULL: none yet                     */
	uint64_t jfs;          /* its expiry, read without touching it */
	uint64_t used;         /* for replacing the least recent one  */
	bool set;
} fingers[FINGERS];

static uint64_t use_count;


static struct finger *finger_of(uint64_t delay)
{
	struct finger *lru = &fingers[0];
	int i;

	for (i = 0; i < FINGERS; i++) {
		struct finger *f = &fingers[i];

		if (f->set && f->delay == delay) {
			f->used = ++use_count;
			return f;
		}

		if (!f->set || f->used < lru->used)
			lru = f;
	}

	lru->set = true;
	lru->delay = delay;
	lru->tmr = NULL;
	lru->used = ++use_count;

	return lru;
}


/* A timer leaves the list: fingers on it move to the node before it */
static void fingers_unlink(const struct tmr *tmr)
{
	int i;

	for (i = 0; i < FINGERS; i++) {
		struct finger *f = &fingers[i];

		if (f->tmr != tmr)
			continue;

		if (tmr->le.prev) {
			f->tmr = tmr->le.prev->data;
			f->jfs = f->tmr->jfs;
		}
		else {
			f->tmr = NULL;
		}
	}
}


static bool later_than(struct le *le, void *arg)
{
	const struct tmr *tmr = le->data;

	return tmr->jfs > *(uint64_t *)arg;
}


static bool not_later_than(struct le *le, void *arg)
{
	const struct tmr *tmr = le->data;

	return tmr->jfs <= *(uint64_t *)arg;
}


/**
 * Start a timer (replaces libre's; same order of the timer list)
 *
 * @param tmr   Timer
 * @param delay Milliseconds from now
 * @param th    Handler, NULL to stop the timer
 * @param arg   Handler argument
 */
void tmr_start(struct tmr *tmr, uint64_t delay, tmr_h *th, void *arg)
{
	struct list *tmrl = tmrl_get();
	struct finger *f;
	struct le *le;
	uint64_t now;

	if (!tmr)
		return;

	if (tmr->th) {
		fingers_unlink(tmr);
		list_unlink(&tmr->le);
	}

	tmr->th  = th;
	tmr->arg = arg;

	if (!th)
		return;

	now = tmr_jiffies();
	tmr->jfs = delay + now;

	if (delay == 0) {
		/* as libre: before the first that expires later */
		le = list_apply(tmrl, true, later_than, &tmr->jfs);
		if (le)
			list_insert_before(tmrl, le, &tmr->le, tmr);
		else
			list_append(tmrl, &tmr->le, tmr);
		return;
	}

	f = finger_of(delay);

	if (f->tmr && f->jfs > now && f->jfs <= tmr->jfs) {
		/* forwards from the finger, past those not later */
		le = &f->tmr->le;
		while (le->next &&
		       ((struct tmr *)le->next->data)->jfs <= tmr->jfs)
			le = le->next;

		list_insert_after(tmrl, le, &tmr->le, tmr);
	}
	else {
		/* as libre: back from the end to one not later */
		le = list_apply(tmrl, false, not_later_than, &tmr->jfs);
		if (le)
			list_insert_after(tmrl, le, &tmr->le, tmr);
		else
			list_prepend(tmrl, &tmr->le, tmr);
	}

	f->tmr = tmr;
	f->jfs = tmr->jfs;
}
