/**
 * @file pool.c  Server pools: the part of the core that keeps them, and
 *               the members' counters (the modules' API, pool.h)
 *
 *   pool NAME [algorithm=...] URI[;weight=N][;max=N] [URI...]
 *   pool_probe_interval SECONDS   default 10
 *   pool_probe_failures N         default 3
 *   pool_hold_time SECONDS        default 180
 *
 * A service above the core, linked once into sipd (the proxy and
 * redirect roles include <pool/pool.h>); the daemon registers it as a
 * part of the core. A reload replaces the pools: a member that stays
 * (same pool, same URI) keeps its counters and its state, and a member
 * a request in progress holds stays valid until released (mem_ref).
 *
 * With workers, each worker keeps its own pools: it probes every member
 * itself and counts only its own calls and redirections (worker 0, which
 * has the control socket, is the one sipctl pool shows).
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include "core.h"
#include "pools.h"


enum {
	DRAIN_DEFAULT = 60,        /* a 503 without Retry-After: seconds */
};

static struct {
	struct list pools;         /* struct pool */
	struct pool_settings set;
	bool started;
} pools = {
	.set = {10, 3, 180},
};


const struct pool_settings *pool_settings(void)
{
	return &pools.set;
}


struct list *pool_list(void)
{
	return &pools.pools;
}


struct pool *pool_find(const struct list *list, const char *name)
{
	struct le *le;

	for (le = list ? list->head : NULL; le; le = le->next) {
		struct pool *p = le->data;

		if (!str_casecmp(p->name, name))
			return p;
	}

	return NULL;
}


static struct pool_member *member_find(const struct list *list,
				       const char *pool, const char *uri)
{
	const struct pool *p = pool_find(list, pool);
	struct le *le;

	for (le = p ? p->members.head : NULL; le; le = le->next) {
		struct pool_member *m = le->data;

		if (!strcmp(m->uri, uri))
			return m;
	}

	return NULL;
}


bool member_drained(const struct pool_member *m, uint64_t now)
{
	return m->drained_until > now;
}


bool member_live(const struct pool_member *m, uint64_t now)
{
	return m->state != MEMBER_DOWN && !member_drained(m, now);
}


const char *member_state_name(const struct pool_member *m)
{
	if (m->state == MEMBER_DOWN)
		return "down";

	if (member_drained(m, tmr_jiffies()))
		return "drained";

	return m->state == MEMBER_UP ? "up" : "unknown";
}


/* the redirections are counted in bins of a width, over the hold time */
static uint32_t bin_width(void)
{
	uint32_t hold = pools.set.hold;

	return (hold + REDIRECT_BINS - 1) / REDIRECT_BINS;
}


uint32_t member_redirects(const struct pool_member *m)
{
	uint32_t width = bin_width();
	uint32_t bins = (pools.set.hold + width - 1) / width;
	uint64_t epoch = tmr_jiffies() / 1000 / width;
	uint32_t sum = 0;
	unsigned i;

	for (i = 0; i < REDIRECT_BINS; i++) {
		if (m->bin_count[i] && m->bin_epoch[i] + bins > epoch)
			sum += m->bin_count[i];
	}

	return sum;
}


/**
 * Whether a pool of this name is configured
 *
 * @param name Pool name
 *
 * @return True if it is
 */
bool pool_exists(const char *name)
{
	return name && pool_find(&pools.pools, name) != NULL;
}


const char *pool_member_uri(const struct pool_member *m)
{
	return m ? m->uri : NULL;
}


const char *pool_member_pool(const struct pool_member *m)
{
	return m ? m->pool : NULL;
}


/**
 * A call was sent to a member (+1), or it ended (-1): the proxy roles
 *
 * @param m     Member
 * @param delta +1 or -1
 */
void pool_member_call(struct pool_member *m, int delta)
{
	if (!m)
		return;

	if (delta < 0 && m->calls < (uint32_t)-delta)
		m->calls = 0;
	else
		m->calls += delta;
}


/**
 * A call was redirected to a member now (the redirect role)
 *
 * @param m Member
 */
void pool_member_redirected(struct pool_member *m)
{
	uint64_t epoch;
	unsigned slot;

	if (!m)
		return;

	epoch = tmr_jiffies() / 1000 / bin_width();
	slot = (unsigned)(epoch % REDIRECT_BINS);

	if (m->bin_epoch[slot] != epoch) {
		m->bin_epoch[slot] = epoch;
		m->bin_count[slot] = 0;
	}

	++m->bin_count[slot];
}


/**
 * A member answered 503: it gets no new calls for a while (drained)
 *
 * @param m           Member
 * @param retry_after Its Retry-After in seconds, 0 without one (60 s)
 */
void pool_member_unavailable(struct pool_member *m, uint32_t retry_after)
{
	uint64_t now = tmr_jiffies();

	if (!m)
		return;

	if (!retry_after)
		retry_after = DRAIN_DEFAULT;

	if (!member_drained(m, now))
		log_notice("pool %s: %s drained for %u s (503)\n", m->pool,
			   m->uri, retry_after);

	m->drained_until = now + (uint64_t)retry_after * 1000;
}


/* The fresh pools take the running members that stay, with their state */
static void merge(struct list *fresh)
{
	struct le *le, *mle, *next;

	for (le = fresh->head; le; le = le->next) {
		struct pool *fp = le->data;
		struct pool *op = pool_find(&pools.pools, fp->name);

		if (op)
			fp->rr = op->rr;

		for (mle = fp->members.head; mle; mle = next) {
			struct pool_member *fm = mle->data;
			struct pool_member *om;

			next = mle->next;
			om = member_find(&pools.pools, fp->name, fm->uri);
			if (!om)
				continue;

			om->weight = fm->weight;
			om->max = fm->max;
			om->lineno = fm->lineno;
			list_unlink(&om->le);
			list_insert_before(&fp->members, &fm->le, &om->le,
					   om);
			mem_deref(fm);
		}
	}

	/* the members that go: no more probes */
	for (le = pools.pools.head; le; le = le->next) {
		struct pool *op = le->data;

		for (mle = op->members.head; mle; mle = mle->next)
			probe_cancel(mle->data);
	}

	list_flush(&pools.pools);

	while (fresh->head) {
		struct pool *p = fresh->head->data;

		list_unlink(&p->le);
		list_append(&pools.pools, &p->le, p);
	}
}


static bool names_used(void)
{
	struct le *le, *mle;
	struct sa sa;

	for (le = pools.pools.head; le; le = le->next) {
		const struct pool *p = le->data;

		for (mle = p->members.head; mle; mle = mle->next) {
			const struct pool_member *m = mle->data;

			if (sa_set(&sa, &m->u.host, 0))
				return true;
		}
	}

	return false;
}


/**
 * Read the pool keys
 *
 * @param apply True to use them (at start and at a reload), false to
 *              check them
 *
 * @return 0 if success, otherwise errorcode
 */
int pool_config(bool apply)
{
	struct pool_settings set = {10, 3, 180};
	struct list fresh = LIST_INIT;
	int err = 0, e;

	e = config_u32("pool_probe_interval", &set.interval, 1, 3600);
	err |= e;
	e = config_u32("pool_probe_failures", &set.failures, 1, 100);
	err |= e;
	e = config_u32("pool_hold_time", &set.hold, 1, 86400);
	err |= e;

	e = pool_conf_read(&fresh);
	if (e && !err)
		err = e;

	if (err || !apply) {
		list_flush(&fresh);
		return err ? EINVAL : 0;
	}

	pools.set = set;
	merge(&fresh);

	/* members named by DNS: the sockets need the client (at start) */
	if (!pools.started && names_used())
		listen_dnsc_want();

	if (pools.started)
		probe_start();

	return 0;
}


/* sipd_pool_member_up and _calls: one series a member */
static void up_values(stat_label_h *h, void *ctx, void *arg)
{
	bool calls = arg != NULL;
	uint64_t now = tmr_jiffies();
	struct le *le, *mle;

	for (le = pools.pools.head; le; le = le->next) {
		const struct pool *p = le->data;

		for (mle = p->members.head; mle; mle = mle->next) {
			const struct pool_member *m = mle->data;

			h(p->name, m->uri, calls ? m->calls :
			  member_live(m, now), ctx);
		}
	}
}


static struct stat_figure figures[] = {
	{.name = "pool_member_up",
	 .help = "Whether a pool member gets calls (not down, not drained)",
	 .kind = STAT_GAUGE, .label = "pool", .label2 = "member",
	 .labelsh = up_values},
	{.name = "pool_member_calls",
	 .help = "Calls in progress through a pool member",
	 .kind = STAT_GAUGE, .label = "pool", .label2 = "member",
	 .labelsh = up_values, .arg = &pools},
};


static int pool_start(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(figures); i++)
		stats_register(&figures[i]);

	pool_command_register();
	pools.started = true;
	probe_start();

	return 0;
}


static void pool_stop(void)
{
	size_t i;

	pools.started = false;
	probe_stop();
	pool_command_unregister();

	for (i = 0; i < ARRAY_SIZE(figures); i++)
		stats_unregister(&figures[i]);
}


void pool_close(void)
{
	struct le *le, *mle;

	for (le = pools.pools.head; le; le = le->next) {
		struct pool *p = le->data;

		for (mle = p->members.head; mle; mle = mle->next)
			probe_cancel(mle->data);
	}

	list_flush(&pools.pools);
}


static struct core_part pool_part = {
	.name = "pool",
	.configh = pool_config,
	.live = true,
	.starth = pool_start,
	.stoph = pool_stop,
	.closeh = pool_close,
};


/**
 * Register the server pools with the core (before core_init)
 */
void pool_part_register(void)
{
	core_part_register(&pool_part);
}
