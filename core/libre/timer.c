/**
 * @file timer.c  sipd's tmr_start() and tmr_cancel(), in front of libre's
 *
 * libre 1.1.0 keeps every timer in one list sorted by expiry, and
 * tmr_start() finds the place of a new one by walking the list. A server
 * at a few thousand requests a second holds tens of thousands of live
 * transaction timers (Timers B, F, H, J of 32 s, I of 5 s), and each new
 * 500 ms retransmission timer walks past thousands of them.
 *
 * Timers of one delay are started in the order of their expiry, so each
 * delay gets a lane of its own: a list in which a new timer goes at the
 * end (after a step back or two if the clock went back), and from which
 * a timer leaves in constant time. The lanes are found by hashing the
 * delay; a delay that finds no free lane shares a sorted list kept as
 * libre keeps its own. libre's list holds one timer of sipd's, the
 * sentinel, due when the earliest of all lanes is; when it fires, every
 * timer that is due runs, earliest first, as libre's tmr_poll() runs
 * them, and the sentinel is set again.
 *
 * libre calls tmr_start() and tmr_cancel() through the dynamic linker,
 * so these definitions in the sipd executable (linked -rdynamic) replace
 * them, as decode.c replaces sip_msg_decode(). A timer keeps libre's
 * layout and meaning: tmr_isrunning() and tmr_get_expire() still work.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <re.h>
#include "libre.h"


enum {
	LANES = 64,           /* a power of two, at most 64 (the mask) */
	PROBES = 4,
};


typedef void (start_h)(struct tmr *tmr, uint64_t delay, tmr_h *th,
		       void *arg);


struct lane {
	struct list timers;   /* sorted by expiry */
	uint64_t delay;
};


static struct {
	struct lane lanes[LANES];
	uint64_t used;        /* bit i: lane i may be non-empty */
	struct list shared;   /* delays without a lane, sorted */
	struct tmr sentinel;  /* in libre's list */
	uint64_t due;         /* the sentinel's expiry, 0: not set */
	start_h *real_start;
	bool firing;
} tm;


static start_h *real_start(void)
{
	if (!tm.real_start)
		tm.real_start = (start_h *)libre_original("tmr_start");

	return tm.real_start;
}


static struct list *lane_of(uint64_t delay)
{
	uint32_t h = (uint32_t)((delay * 0x9e3779b97f4a7c15ULL) >> 58);
	struct lane *free_lane = NULL;
	int i;

	for (i = 0; i < PROBES; i++) {
		uint32_t k = (h + i) & (LANES - 1);
		struct lane *l = &tm.lanes[k];

		if (l->delay == delay && (tm.used & (1ULL << k))) {
			return &l->timers;
		}

		if (!free_lane && list_isempty(&l->timers))
			free_lane = l;
	}

	if (!free_lane)
		return &tm.shared;

	free_lane->delay = delay;
	tm.used |= 1ULL << (free_lane - tm.lanes);

	return &free_lane->timers;
}


/* Sorted insertion, from the end: normally no step at all */
static void insert_sorted(struct list *l, struct tmr *tmr)
{
	struct le *le = l->tail;

	while (le && ((struct tmr *)le->data)->jfs > tmr->jfs)
		le = le->prev;

	if (le)
		list_insert_after(l, le, &tmr->le, tmr);
	else
		list_prepend(l, &tmr->le, tmr);
}


/* The earliest timer of all, or NULL */
static struct tmr *earliest(void)
{
	struct tmr *first = list_ledata(tm.shared.head);
	uint64_t used = tm.used;

	while (used) {
		int k = __builtin_ctzll(used);
		struct tmr *t = list_ledata(tm.lanes[k].timers.head);

		used &= used - 1;

		if (!t) {
			tm.used &= ~(1ULL << k);
			continue;
		}

		if (!first || t->jfs < first->jfs)
			first = t;
	}

	return first;
}


static void sentinel_handler(void *arg);


static void sentinel_set(uint64_t jfs)
{
	uint64_t now = tmr_jiffies();

	tm.due = jfs;
	real_start()(&tm.sentinel, jfs > now ? jfs - now : 0,
		     sentinel_handler, NULL);
}


static void sentinel_handler(void *arg)
{
	struct tmr *t;
	(void)arg;

	tm.due = 0;
	tm.firing = true;

	while ((t = earliest()) != NULL) {
		tmr_h *th;
		void *th_arg;

		if (t->jfs > tmr_jiffies())
			break;

		th = t->th;
		th_arg = t->arg;
		t->th = NULL;
		list_unlink(&t->le);

		if (th)
			th(th_arg);
	}

	tm.firing = false;

	t = earliest();
	if (t)
		sentinel_set(t->jfs);
}


/**
 * Start a timer (replaces libre's)
 *
 * @param tmr   Timer
 * @param delay Milliseconds from now
 * @param th    Handler, NULL to stop the timer
 * @param arg   Handler argument
 */
void tmr_start(struct tmr *tmr, uint64_t delay, tmr_h *th, void *arg)
{
	if (!tmr)
		return;

	if (tmr == &tm.sentinel) {
		real_start()(tmr, delay, th, arg);
		return;
	}

	if (tmr->th)
		list_unlink(&tmr->le);

	tmr->th  = th;
	tmr->arg = arg;

	if (!th)
		return;

	tmr->jfs = delay + tmr_jiffies();
	insert_sorted(lane_of(delay), tmr);

	/* while firing, the handler sets the sentinel when it is done */
	if (!tm.firing && (!tm.due || tmr->jfs < tm.due))
		sentinel_set(tmr->jfs);
}


/**
 * Stop a timer (replaces libre's)
 *
 * @param tmr Timer
 */
void tmr_cancel(struct tmr *tmr)
{
	tmr_start(tmr, 0, NULL, NULL);
}

