/**
 * @file throttle.c  Failed digest attempts per source address
 *
 * Failures count for a window. Past the throttle threshold a source gets
 * one attempt a second (the others are dropped); at the limit it is
 * banned through the core for the ban time.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <re.h>
#include <sipd.h>
#include "auth.h"


enum {
	HASH_SIZE = 1024,
	MAX_SOURCES = 65536,
};


struct source {
	struct le he;
	struct le le;
	struct sa addr;
	uint32_t failures;
	uint64_t first;        /* ms, start of the window */
	uint64_t last;         /* ms, last failure        */
};


static struct {
	struct throttle_conf conf;
	struct hash *ht;
	struct list order;
	uint32_t count;
} th = {
	.conf = {5, 10, 300, 900},
};


static void source_destructor(void *arg)
{
	struct source *s = arg;

	hash_unlink(&s->he);
	list_unlink(&s->le);
	--th.count;
}


void throttle_configure(const struct throttle_conf *conf)
{
	th.conf = *conf;
}


static bool addr_cmp(struct le *le, void *arg)
{
	const struct source *s = le->data;

	return sa_cmp(&s->addr, arg, SA_ADDR);
}


static struct source *lookup(const struct sa *src, uint64_t now)
{
	struct source *s;

	if (!th.ht)
		return NULL;

	s = list_ledata(hash_lookup(th.ht, sa_hash(src, SA_ADDR), addr_cmp,
				    (void *)src));
	if (s && now - s->first > (uint64_t)th.conf.window * 1000) {
		mem_deref(s);
		s = NULL;
	}

	return s;
}


/**
 * Check whether a source must wait before its next attempt
 *
 * @param src    Source address
 * @param now_ms Current time, tmr_jiffies()
 *
 * @return True if the request must be dropped
 */
bool throttle_blocked(const struct sa *src, uint64_t now_ms)
{
	const struct source *s = lookup(src, now_ms);

	if (!s || !th.conf.throttle || s->failures < th.conf.throttle)
		return false;

	return now_ms - s->last < 1000;
}


/**
 * Count a failed attempt
 *
 * @param src    Source address
 * @param now_ms Current time, tmr_jiffies()
 *
 * @return True if the source is now banned
 */
bool throttle_fail(const struct sa *src, uint64_t now_ms)
{
	struct source *s = lookup(src, now_ms);

	if (!th.ht && hash_alloc(&th.ht, HASH_SIZE))
		return false;

	if (!s) {
		if (th.count >= MAX_SOURCES && th.order.head)
			mem_deref(th.order.head->data);

		s = mem_zalloc(sizeof(*s), source_destructor);
		if (!s)
			return false;

		s->addr = *src;
		s->first = now_ms;
		hash_append(th.ht, sa_hash(src, SA_ADDR), &s->he, s);
		list_append(&th.order, &s->le, s);
		++th.count;
	}

	++s->failures;
	s->last = now_ms;

	if (!th.conf.ban_time || s->failures < th.conf.limit)
		return false;

	ban_add(src, th.conf.ban_time, "repeated digest auth failures");
	mem_deref(s);

	return true;
}


void throttle_flush(void)
{
	hash_flush(th.ht);
	th.ht = mem_deref(th.ht);
	list_init(&th.order);
	th.count = 0;
}
