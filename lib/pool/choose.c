/**
 * @file choose.c  Server pools: the members a request is offered, in the
 *                 order of the pool's algorithm
 *
 * least-busy   load / weight ascending (load: calls in progress, or calls
 *              redirected in pool_hold_time), ties by weight descending,
 *              then rotated so that ties spread
 * weighted     weighted random first choice, the rest in weighted random
 *              order
 * round-robin  the live members rotated by one each time
 * hash         rendezvous hashing of the caller's From URI over the live
 *              members: a caller keeps its member while that member is
 *              alive (weights not used); without a key, round-robin
 *
 * Members at their max= are left out, whatever the algorithm.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include "pools.h"


enum {
	PICKS_MAX = 256,
	PROXY_RETRY = 5,           /* EBUSY of the proxy roles: seconds */
};

struct cand {
	struct pool_member *m;
	uint64_t load;
	uint64_t score;            /* hash */
};


static uint64_t load_of(const struct pool_member *m, enum pool_use use)
{
	return use == POOL_USE_PROXY ? m->calls : member_redirects(m);
}


/* a before b in least-busy order */
static bool busy_before(const struct cand *a, const struct cand *b)
{
	uint64_t la = a->load * b->m->weight;
	uint64_t lb = b->load * a->m->weight;

	if (la != lb)
		return la < lb;

	return a->m->weight > b->m->weight;
}


static bool score_before(const struct cand *a, const struct cand *b)
{
	return a->score > b->score;
}


/* stable insertion sort: the rotation decides between ties */
static void sort(struct cand *v, size_t n,
		 bool (*before)(const struct cand *, const struct cand *))
{
	size_t i, j;

	for (i = 1; i < n; i++) {
		struct cand c = v[i];

		for (j = i; j > 0 && before(&c, &v[j - 1]); j--)
			v[j] = v[j - 1];
		v[j] = c;
	}
}


static void rotate(struct cand *v, size_t n, uint32_t by)
{
	struct cand tmp[PICKS_MAX];
	size_t i;

	if (n < 2)
		return;

	for (i = 0; i < n; i++)
		tmp[i] = v[(i + by) % n];

	memcpy(v, tmp, n * sizeof(*v));
}


static void weighted_order(struct cand *v, size_t n)
{
	size_t i, j;

	for (i = 0; i + 1 < n; i++) {
		uint64_t sum = 0, r;

		for (j = i; j < n; j++)
			sum += v[j].m->weight;

		r = rand_u32() % sum;

		for (j = i; j < n; j++) {
			if (r < v[j].m->weight)
				break;
			r -= v[j].m->weight;
		}

		if (j != i) {
			struct cand c = v[i];
			v[i] = v[j];
			v[j] = c;
		}
	}
}


static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;

	return h;
}


static void pick_destructor(void *arg)
{
	struct pool_pick *pk = arg;

	list_unlink(&pk->le);
	mem_deref(pk->m);
}


static int pick_add(struct list *picks, struct pool_member *m)
{
	struct pool_pick *pk;

	pk = mem_zalloc(sizeof(*pk), pick_destructor);
	if (!pk)
		return ENOMEM;

	pk->m = mem_ref(m);
	list_append(picks, &pk->le, pk);

	return 0;
}


/**
 * The live members of a pool in the order of the pool's choice, best
 * first
 *
 * @param picks       List to append struct pool_pick to (each references
 *                    its member; list_flush releases them)
 * @param name        Pool name
 * @param key         The caller's From URI, for algorithm=hash, or NULL
 * @param use         What counts as a member's load
 * @param retry_after With EBUSY: when to retry, seconds (>= 1)
 *
 * @return 0 (picks non-empty), ENOENT (no such pool), ENODEV (no member
 *         alive), EBUSY (every live member at its max=)
 */
int pool_choose(struct list *picks, const char *name, const struct pl *key,
		enum pool_use use, uint32_t *retry_after)
{
	struct cand v[PICKS_MAX];
	struct pool *p;
	uint64_t now = tmr_jiffies();
	uint64_t kh = 0;
	size_t n = 0, live = 0, i;
	struct le *le;
	int err = 0;

	if (!picks || !name)
		return EINVAL;

	p = pool_find(pool_list(), name);
	if (!p)
		return ENOENT;

	if (key && pl_isset(key))
		kh = hash_joaat((const uint8_t *)key->p, key->l);

	for (le = p->members.head; le && n < PICKS_MAX; le = le->next) {
		struct pool_member *m = le->data;

		if (!member_live(m, now))
			continue;

		++live;
		v[n].m = m;
		v[n].load = load_of(m, use);
		if (m->max && v[n].load >= m->max)
			continue;

		v[n].score = mix(kh ^ mix(hash_joaat((uint8_t *)m->uri,
						      strlen(m->uri))));
		++n;
	}

	if (!live)
		return ENODEV;

	if (!n) {
		if (retry_after) {
			uint32_t bin = pool_settings()->hold / REDIRECT_BINS;

			*retry_after = use == POOL_USE_PROXY ? PROXY_RETRY :
				(bin ? bin : 1);
		}
		return EBUSY;
	}

	switch (p->alg) {

	case POOL_LEAST_BUSY:
		rotate(v, n, p->rr++);
		sort(v, n, busy_before);
		break;

	case POOL_WEIGHTED:
		weighted_order(v, n);
		break;

	case POOL_HASH:
		if (kh) {
			sort(v, n, score_before);
			break;
		}
		/*@fallthrough@*/

	case POOL_ROUND_ROBIN:
	default:
		rotate(v, n, p->rr++);
		break;
	}

	for (i = 0; i < n && !err; i++)
		err = pick_add(picks, v[i].m);

	if (err)
		list_flush(picks);

	return err;
}
