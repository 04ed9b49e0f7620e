/**
 * @file pool.c  Server pools: the part of the core that reads them,
 *               replaces them at a reload and starts their probes
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
 * Members named by a host name make the sockets get the DNS client at
 * start even when no role needs it (a reload that adds the first such
 * member needs a restart for it).
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


static struct {
	bool started;
} pools;


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


/* The fresh pools take the running members that stay, with their state */
static void merge(struct list *fresh)
{
	struct le *le, *mle, *next;

	for (le = fresh->head; le; le = le->next) {
		struct pool *fp = le->data;
		struct pool *op = pool_find(pool_list(), fp->name);

		if (op)
			fp->rr = op->rr;

		for (mle = fp->members.head; mle; mle = next) {
			struct pool_member *fm = mle->data;
			struct pool_member *om;

			next = mle->next;
			om = member_find(pool_list(), fp->name, fm->uri);
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
	for (le = pool_list()->head; le; le = le->next) {
		struct pool *op = le->data;

		for (mle = op->members.head; mle; mle = mle->next)
			member_probe_cancel(mle->data);
	}

	list_flush(pool_list());

	while (fresh->head) {
		struct pool *p = fresh->head->data;

		list_unlink(&p->le);
		list_append(pool_list(), &p->le, p);
	}
}


static bool names_used(void)
{
	struct le *le, *mle;
	struct sa sa;

	for (le = pool_list()->head; le; le = le->next) {
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

	pool_settings_set(&set);
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

	for (le = pool_list()->head; le; le = le->next) {
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

	for (le = pool_list()->head; le; le = le->next) {
		struct pool *p = le->data;

		for (mle = p->members.head; mle; mle = mle->next)
			member_probe_cancel(mle->data);
	}

	list_flush(pool_list());
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
