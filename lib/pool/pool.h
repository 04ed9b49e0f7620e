/**
 * @file pool.h  Server pools: members chosen for a request, probed with
 *               OPTIONS (the modules' API; lib/pool is linked once into
 *               sipd, its symbols exported to the modules)
 *
 *   pool NAME [algorithm=least-busy|weighted|round-robin|hash]
 *        URI[;weight=N][;max=N] [URI...]
 *
 * Copyright (C) 2026 sipd developers
 */

#ifndef SIPD_POOL_H
#define SIPD_POOL_H

#include "sipd.h"

struct pool_member;

/** What a member's load is counted from */
enum pool_use {
	POOL_USE_PROXY,        /* calls in progress count (proxy roles) */
	POOL_USE_REDIRECT,     /* calls redirected in pool_hold_time count */
};

/** A member chosen for a request (struct pool_pick in a list) */
struct pool_pick {
	struct le le;
	struct pool_member *m;     /* referenced */
};

bool pool_exists(const char *name);
/* The live members in the order of the pool's choice, best first.
   Returns 0 (picks non-empty), ENOENT (no such pool), ENODEV (no member
   alive: not down and not drained), EBUSY (every live member is at its
   max=; *retry_after then says when to retry, seconds >= 1: 5 for the
   proxy roles, a 60th of pool_hold_time for the redirect role).
   key: the caller's From URI, for algorithm=hash (may be NULL: then in
   turn). list_flush(picks) releases the picks and their references */
int  pool_choose(struct list *picks, const char *name, const struct pl *key,
		 enum pool_use use, uint32_t *retry_after);
const char *pool_member_uri(const struct pool_member *m);
const char *pool_member_pool(const struct pool_member *m);
/* proxy: +1 a call sent to it, -1 it ended */
void pool_member_call(struct pool_member *m, int delta);
/* redirect: a call was sent there now */
void pool_member_redirected(struct pool_member *m);
/* it answered 503: drained for retry_after seconds (0: 60) */
void pool_member_unavailable(struct pool_member *m, uint32_t retry_after);

/* the daemon registers the pools with the core (before core_init) */
void pool_part_register(void);

#endif
