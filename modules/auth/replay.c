/**
 * @file replay.c  Nonce-count replay detection
 *
 * For every nonce that has authenticated a request, the highest nonce
 * count seen and a window of the 64 counts below it. A count seen before
 * is a replay, unless it comes again with the same Via branch (a UDP
 * retransmission of the same request). Entries end when their nonce
 * expires; the table is bounded.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <ctype.h>
#include <re.h>
#include <sipd.h>
#include "auth.h"


enum {
	HASH_SIZE = 4096,
	MAX_ENTRIES = 262144,
	WINDOW = 64,
};


struct ncount {
	struct le he;
	struct le le;          /* in order of creation */
	char nonce[NONCE_SIZE + 1];
	uint32_t max;
	uint64_t seen;         /* bit i: count max - i was seen */
	uint32_t branch;       /* branch hash of the request with max */
	int64_t expires;
};


static struct {
	struct hash *ht;
	struct list order;
	uint32_t count;
} rp;


static void ncount_destructor(void *arg)
{
	struct ncount *nc = arg;

	hash_unlink(&nc->he);
	list_unlink(&nc->le);
	--rp.count;
}


static bool nonce_cmp(struct le *le, void *arg)
{
	const struct ncount *nc = le->data;

	return 0 == pl_strcmp(arg, nc->nonce);
}


static void prune(int64_t now)
{
	int n = 0;

	/* a few at a time: the oldest first */
	while (rp.order.head && n++ < 8) {
		struct ncount *nc = rp.order.head->data;

		if (nc->expires > now && rp.count < MAX_ENTRIES)
			break;

		mem_deref(nc);
	}
}


static int nc_decode(uint32_t *val, const struct pl *pl)
{
	size_t i;
	uint32_t v = 0;

	if (!pl || pl->l != 8)
		return EINVAL;

	for (i = 0; i < pl->l; i++) {
		if (!isxdigit((unsigned char)pl->p[i]))
			return EINVAL;
		v = v << 4 | ch_hex(pl->p[i]);
	}

	*val = v;

	return 0;
}


/**
 * Record a nonce count and check it was not used before
 *
 * @param nonce       Nonce of the credentials (already verified)
 * @param ncpl        Nonce count, 8 hex digits
 * @param branch_hash Hash of the request's top Via branch
 * @param expires     When the nonce expires, epoch seconds
 *
 * @return 0 if fresh, EALREADY if a replay, EINVAL if malformed
 */
int replay_check(const struct pl *nonce, const struct pl *ncpl,
		 uint32_t branch_hash, int64_t expires)
{
	struct ncount *nc;
	uint32_t val, h;

	if (nc_decode(&val, ncpl) || !val || nonce->l != NONCE_SIZE)
		return EINVAL;

	if (!rp.ht && hash_alloc(&rp.ht, HASH_SIZE))
		return ENOMEM;

	prune(time_now());

	h = hash_joaat_pl(nonce);
	nc = list_ledata(hash_lookup(rp.ht, h, nonce_cmp, (void *)nonce));
	if (!nc) {
		nc = mem_zalloc(sizeof(*nc), ncount_destructor);
		if (!nc)
			return ENOMEM;

		(void)pl_strcpy(nonce, nc->nonce, sizeof(nc->nonce));
		nc->max = val;
		nc->seen = 1;
		nc->branch = branch_hash;
		nc->expires = expires;
		hash_append(rp.ht, h, &nc->he, nc);
		list_append(&rp.order, &nc->le, nc);
		++rp.count;
		return 0;
	}

	if (val > nc->max) {
		uint32_t shift = val - nc->max;

		nc->seen = shift >= WINDOW ? 0 : nc->seen << shift;
		nc->seen |= 1;
		nc->max = val;
		nc->branch = branch_hash;
		return 0;
	}

	if (val == nc->max && branch_hash == nc->branch)
		return 0;   /* retransmission of the same request */

	if (nc->max - val >= WINDOW)
		return EALREADY;

	if (nc->seen & ((uint64_t)1 << (nc->max - val)))
		return EALREADY;

	nc->seen |= (uint64_t)1 << (nc->max - val);

	return 0;
}


void replay_flush(void)
{
	hash_flush(rp.ht);
	rp.ht = mem_deref(rp.ht);
	list_init(&rp.order);
	rp.count = 0;
}


uint32_t replay_count(void)
{
	return rp.count;
}
