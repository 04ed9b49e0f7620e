/**
 * @file ban.c  Source addresses that sipd refuses for a while
 *
 * Any module may ban an address through the core's ban_add() (the auth
 * module does after repeated failures); the core's source filter, which
 * guard.c registers, drops every datagram and request from it until the
 * ban ends. The table is bounded: when full, the ban closest to its end
 * makes room. sipctl lists and lifts bans through the control socket
 * (command.c).
 *
 * Copyright (C) 2026 sipd developers
 */

#include <re.h>
#include <sipd.h>
#include "guard.h"


enum {
	BAN_HASH_SIZE = 256,
	BAN_MAX = 65536,
};


struct ban {
	struct le he;
	struct sa addr;
	uint64_t until;        /* tmr_jiffies() */
	int64_t since;         /* epoch seconds */
	char reason[48];
};


static struct {
	struct hash *ht;
	uint32_t count;
	uint64_t added;        /* bans made */
	uint64_t drops;        /* messages dropped */
} bans;


static void ban_destructor(void *arg)
{
	struct ban *ban = arg;

	hash_unlink(&ban->he);
	--bans.count;
}


static bool addr_cmp(struct le *le, void *arg)
{
	const struct ban *ban = le->data;

	return sa_cmp(&ban->addr, arg, SA_ADDR);
}


static struct ban *ban_lookup(const struct sa *addr)
{
	if (!bans.ht)
		return NULL;

	return list_ledata(hash_lookup(bans.ht, sa_hash(addr, SA_ADDR),
				       addr_cmp, (void *)addr));
}


/**
 * Check whether a source address is banned now
 *
 * @param src Source address (the port is ignored)
 *
 * @return True if requests from it must be dropped
 */
bool bans_check(const struct sa *src)
{
	struct ban *ban;

	if (!bans.count)
		return false;

	ban = ban_lookup(src);
	if (!ban)
		return false;

	if (tmr_jiffies() < ban->until) {
		++bans.drops;
		return true;
	}

	mem_deref(ban);

	return false;
}


static bool oldest_handler(struct le *le, void *arg)
{
	struct ban *ban = le->data;
	struct ban **oldest = arg;

	if (!*oldest || ban->until < (*oldest)->until)
		*oldest = ban;

	return false;
}


/**
 * Ban a source address
 *
 * @param src     Source address (the port is ignored)
 * @param seconds How long
 * @param reason  Short reason, for the log and for sipctl
 */
void bans_add(const struct sa *src, uint32_t seconds, const char *reason)
{
	struct ban *ban;

	if (!bans.ht && hash_alloc(&bans.ht, BAN_HASH_SIZE))
		return;

	ban = ban_lookup(src);
	if (!ban) {
		if (bans.count >= BAN_MAX) {
			struct ban *oldest = NULL;
			(void)hash_apply(bans.ht, oldest_handler, &oldest);
			mem_deref(oldest);
		}

		ban = mem_zalloc(sizeof(*ban), ban_destructor);
		if (!ban)
			return;

		ban->addr = *src;
		hash_append(bans.ht, sa_hash(src, SA_ADDR), &ban->he, ban);
		++bans.count;
		++bans.added;
	}

	ban->since = time_now();
	ban->until = tmr_jiffies() + (uint64_t)seconds * 1000;
	str_ncpy(ban->reason, reason ? reason : "", sizeof(ban->reason));

	log_notice("banned %j for %u seconds: %s\n", src, seconds,
		   ban->reason);
}


static bool expired_handler(struct le *le, void *arg)
{
	struct ban *ban = le->data;
	uint64_t now = *(uint64_t *)arg;

	if (now >= ban->until)
		mem_deref(ban);

	return false;
}


/* Drop the bans that have ended */
static void bans_expire(void)
{
	uint64_t now = tmr_jiffies();

	if (bans.ht)
		(void)hash_apply(bans.ht, expired_handler, &now);
}


/**
 * How many source addresses are banned now
 *
 * @return Count
 */
uint32_t bans_count(void)
{
	bans_expire();

	return bans.count;
}


static uint64_t active_read(void *arg)
{
	(void)arg;

	return bans_count();
}


static uint64_t counter_read(void *arg)
{
	return *(uint64_t *)arg;
}


static struct stat_figure figures[] = {
	{.name = STAT_BANS_ACTIVE, .help = "Source addresses banned now",
	 .kind = STAT_GAUGE, .readh = active_read},
	{.name = STAT_BANS, .help = "Source addresses banned",
	 .kind = STAT_COUNTER, .readh = counter_read, .arg = &bans.added},
	{.name = STAT_BANNED_DROPS,
	 .help = "Messages dropped because their source is banned",
	 .kind = STAT_COUNTER, .readh = counter_read, .arg = &bans.drops},
};


/**
 * Register the figures of the bans
 */
void bans_init(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(figures); i++)
		stats_register(&figures[i]);
}


struct ban_walk {
	ban_apply_h *h;
	void *arg;
	uint64_t now;
};


static bool walk_handler(struct le *le, void *arg)
{
	const struct ban *ban = le->data;
	struct ban_walk *w = arg;
	struct ban_info info;

	info.addr = &ban->addr;
	info.remaining = (uint32_t)((ban->until - w->now + 999) / 1000);
	info.since = ban->since;
	info.reason = ban->reason;

	return w->h(&info, w->arg);
}


/**
 * Apply a handler to every current ban
 *
 * @param h   Handler; returning true stops the walk
 * @param arg Handler argument
 */
void bans_apply(ban_apply_h *h, void *arg)
{
	struct ban_walk w = {h, arg, 0};

	bans_expire();

	if (!bans.ht || !h)
		return;

	w.now = tmr_jiffies();
	(void)hash_apply(bans.ht, walk_handler, &w);
}


/**
 * Lift the ban of a source address
 *
 * @param addr Address (the port is ignored)
 *
 * @return 0 if it was banned, ENOENT if not
 */
int bans_del(const struct sa *addr)
{
	struct ban *ban;

	bans_expire();

	ban = ban_lookup(addr);
	if (!ban)
		return ENOENT;

	log_notice("ban of %j lifted\n", addr);
	mem_deref(ban);

	return 0;
}


/**
 * Lift every ban
 *
 * @return How many were lifted
 */
uint32_t bans_del_all(void)
{
	uint32_t n = bans_count();

	hash_flush(bans.ht);

	if (n)
		log_notice("%u ban%s lifted\n", n, n == 1 ? "" : "s");

	return n;
}


void bans_close(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(figures); i++)
		stats_unregister(&figures[i]);

	hash_flush(bans.ht);
	bans.ht = mem_deref(bans.ht);
	bans.count = 0;
}
