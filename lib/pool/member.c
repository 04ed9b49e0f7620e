/**
 * @file member.c  Server pools: the pools in use and their members'
 *                 state and counters (the modules' API, pool.h)
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include "pools.h"


enum {
	DRAIN_DEFAULT = 60,        /* a 503 without Retry-After: seconds */
};

static struct {
	struct list pools;         /* struct pool */
	struct pool_settings set;
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


/**
 * Stop the probe in flight of a member, if any (its destructor is
 * probe.c's)
 *
 * @param m Member
 */
void member_probe_cancel(struct pool_member *m)
{
	if (m)
		m->probe = mem_deref(m->probe);
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


void pool_settings_set(const struct pool_settings *set)
{
	pools.set = *set;
}


static const char *alg_names[] = {
	"least-busy", "weighted", "round-robin", "hash",
};


const char *pool_alg_name(enum pool_alg alg)
{
	return alg < ARRAY_SIZE(alg_names) ? alg_names[alg] : "?";
}


int pool_alg_decode(enum pool_alg *alg, const char *s)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(alg_names); i++) {
		if (!str_casecmp(s, alg_names[i])) {
			*alg = (enum pool_alg)i;
			return 0;
		}
	}

	return EINVAL;
}
