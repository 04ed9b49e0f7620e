/**
 * @file rules.c  A user's account, busy limit and forwards, from memory
 *                while the store is unchanged
 *
 * Every call to a local user needs them (callee.c). What the store
 * answered is kept by address-of-record under the store's data version
 * (store_version()), which changes at every commit of every connection:
 * sipctl's forward set, another worker's REGISTER, this process's own
 * writes. The first read under another version empties the cache, so a
 * change is seen at the next call, never later. When the store cannot
 * tell (inside a transaction, an engine without versions) every call
 * reads the store.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include <store/store.h>
#include "engine.h"


enum {
	BUCKETS = 256,
	ENTRIES_MAX = 4096,
};


/** What the store answered for one user */
struct rules {
	struct le he;
	char *aor;
	int err;                   /* 0, or ENOENT: no such account */
	uint32_t limit;
	struct list fwds;          /* struct store_forward */
};


static struct {
	struct hash *ht;
	uint32_t count;
	uint64_t version;          /* the version the entries belong to */
} cache;


static void rules_destructor(void *arg)
{
	struct rules *r = arg;

	hash_unlink(&r->he);
	list_flush(&r->fwds);
	mem_deref(r->aor);
}


static bool rules_cmp(struct le *le, void *arg)
{
	const struct rules *r = le->data;

	return !strcmp(r->aor, arg);
}


static int fwds_copy(struct list *dst, const struct list *src)
{
	struct le *le;

	for (le = src->head; le; le = le->next) {
		struct store_forward *f = mem_zalloc(sizeof(*f), NULL);

		if (!f)
			return ENOMEM;

		memcpy(f, le->data, sizeof(*f));
		memset(&f->le, 0, sizeof(f->le));
		list_append(dst, &f->le, f);
	}

	return 0;
}


static void flush(void)
{
	hash_flush(cache.ht);
	cache.count = 0;
}


static void keep(const char *aor, int err, uint32_t limit,
		 const struct list *fwds)
{
	struct rules *r;

	if (cache.count >= ENTRIES_MAX ||
	    (!cache.ht && hash_alloc(&cache.ht, BUCKETS)))
		return;

	r = mem_zalloc(sizeof(*r), rules_destructor);
	if (!r)
		return;

	r->err = err;
	r->limit = limit;
	if (str_dup(&r->aor, aor) || fwds_copy(&r->fwds, fwds)) {
		mem_deref(r);
		return;
	}

	hash_append(cache.ht, hash_joaat_str(aor), &r->he, r);
	++cache.count;
}


/**
 * A user's busy limit and forwards (store_callee_rules()), from memory
 * while the store is unchanged
 *
 * @param user   User part
 * @param domain Domain
 * @param limit  Its busy limit, 0 for unlimited
 * @param fwds   List to append copies of its struct store_forward to
 *
 * @return 0 if success, ENOENT if there is no such account, otherwise
 *         errorcode
 */
int rules_get(const char *user, const char *domain, uint32_t *limit,
	      struct list *fwds)
{
	const struct rules *r;
	uint64_t version;
	char aor[256];
	bool kept;
	int err;

	if (re_snprintf(aor, sizeof(aor), "%s@%s", user, domain) < 0)
		return EOVERFLOW;

	kept = !store_version(&version);
	if (kept && version != cache.version) {
		flush();
		cache.version = version;
	}

	r = kept ? list_ledata(hash_lookup(cache.ht, hash_joaat_str(aor),
					   rules_cmp, aor)) : NULL;
	if (r) {
		*limit = r->limit;
		err = fwds_copy(fwds, &r->fwds);
		return err ? err : r->err;
	}

	err = store_callee_rules(user, domain, limit, fwds);
	if (kept && (!err || err == ENOENT))
		keep(aor, err, err ? 0 : *limit, fwds);

	return err;
}


void rules_close(void)
{
	flush();
	cache.ht = mem_deref(cache.ht);
}
