/**
 * @file cache.c  Lookups answered from memory while the database is unchanged
 *
 * The bindings a lookup read are kept by address-of-record. The store's
 * data version (store_version()) changes at every commit of every
 * connection, in this process or any other (sipctl, another worker); the
 * cache remembers the version it was filled under and empties itself as
 * soon as it reads another one. An entry also ends when the first of its
 * bindings expires. The version is read before the query, so what the
 * query returns is never older than the version it is kept under. When
 * the store cannot tell (inside a transaction, an engine without
 * versions) or with a size of 0, every lookup reads the store.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdint.h>
#include <string.h>
#include <re.h>
#include <sipd.h>
#include <store/store.h>
#include "location.h"


enum {
	BUCKETS = 256,
};


struct entry {
	struct le he;
	char *aor;
	struct list bindings;       /* struct binding, best first        */
	int64_t until;              /* first expiry among them           */
};


/* the version a lookup's result is kept under */
struct mark {
	uint64_t version;
	bool valid;
};


static struct {
	struct hash *ht;
	uint32_t size;              /* most entries, 0: off              */
	uint32_t count;
	uint64_t version;           /* the version the entries belong to */
	uint64_t hits;
} cache;


static void entry_destructor(void *arg)
{
	struct entry *e = arg;

	hash_unlink(&e->he);
	list_flush(&e->bindings);
	mem_deref(e->aor);
}


static void flush(void)
{
	if (cache.count)
		hash_flush(cache.ht);

	cache.count = 0;
}


static bool entry_cmp(struct le *le, void *arg)
{
	const struct entry *e = le->data;

	return !strcmp(e->aor, arg);
}


static int bindings_share(struct list *dst, const struct list *src)
{
	struct list copies = LIST_INIT;
	struct le *le;

	for (le = src->head; le; le = le->next) {
		struct binding *c;

		if (binding_share(&c, le->data)) {
			list_flush(&copies);
			return ENOMEM;
		}

		list_append(&copies, &c->le, c);
	}

	while (copies.head) {
		struct binding *c = copies.head->data;

		list_unlink(&c->le);
		list_append(dst, &c->le, c);
	}

	return 0;
}


/* The entry of an address-of-record, NULL if none */
static struct entry *entry_find(const char *aor)
{
	return list_ledata(hash_lookup(cache.ht, hash_joaat_str(aor),
				       entry_cmp, (void *)aor));
}


/* Answer a lookup from the cache; mark is set to the version to keep
   a miss's result under, or cleared when it must not be kept */
static bool cache_get(struct list *bindings, const char *aor, int64_t now,
		      struct mark *mark)
{
	struct entry *e;

	mark->valid = false;

	if (!cache.size || store_version(&mark->version))
		return false;

	mark->valid = true;

	if (mark->version != cache.version) {
		flush();
		cache.version = mark->version;
		return false;
	}

	e = entry_find(aor);
	if (!e || now >= e->until)
		return false;

	if (bindings_share(bindings, &e->bindings))
		return false;

	++cache.hits;

	return true;
}


/* Keep the result of a lookup that missed */
static void cache_put(const char *aor, const struct list *bindings,
		      const struct mark *mark)
{
	struct entry *e;
	struct le *le;

	if (!mark->valid || !cache.ht || mark->version != cache.version)
		return;

	/* an entry that expired is replaced */
	e = entry_find(aor);
	if (e) {
		mem_deref(e);
		--cache.count;
	}

	if (cache.count >= cache.size)
		return;

	e = mem_zalloc(sizeof(*e), entry_destructor);
	if (!e || str_dup(&e->aor, aor) ||
	    bindings_share(&e->bindings, bindings)) {
		mem_deref(e);
		return;
	}

	e->until = INT64_MAX;
	for (le = bindings->head; le; le = le->next) {
		const struct binding *b = le->data;

		e->until = MIN(e->until, b->expires);
	}

	hash_append(cache.ht, hash_joaat_str(aor), &e->he, e);
	++cache.count;
}


/**
 * Get the unexpired bindings of an address-of-record, best q first,
 * from the cache while the store is unchanged (the location backend's
 * lookup)
 *
 * @param bindings List to append to
 * @param aor      Address-of-record
 * @param now      Current time, epoch seconds
 *
 * @return 0 if success, otherwise errorcode
 */
int cache_lookup(struct list *bindings, const char *aor, int64_t now)
{
	struct list found = LIST_INIT;
	struct mark mark;
	int err;

	if (cache_get(bindings, aor, now, &mark))
		return 0;

	err = store_binding_lookup(&found, aor, now);
	if (!err)
		cache_put(aor, &found, &mark);

	while (found.head) {
		struct binding *b = found.head->data;

		list_unlink(&b->le);
		list_append(bindings, &b->le, b);
	}

	return err;
}


/**
 * Ask the store ahead for the bindings a lookup will want, unless they
 * are in memory
 *
 * @param aor Address-of-record
 * @param now Current time, epoch seconds
 *
 * @return 0 if asked or kept, otherwise errorcode
 */
int cache_ahead(const char *aor, int64_t now)
{
	uint64_t version;
	struct entry *e;

	/* an engine that asks nothing ahead (SQLite): not even a look */
	if (!store_engine()->binding_ahead)
		return ENOSYS;

	if (cache.size && !store_version(&version) &&
	    version == cache.version) {
		e = entry_find(aor);
		if (e && now < e->until)
			return 0;
	}

	return store_binding_ahead(aor, now);
}


/**
 * Set the most addresses-of-record kept; 0 turns the cache off
 *
 * @param size Most entries
 *
 * @return 0 if success, otherwise errorcode
 */
int cache_resize(uint32_t size)
{
	if (!cache.ht) {
		int err = hash_alloc(&cache.ht, BUCKETS);
		if (err)
			return err;
	}

	flush();
	cache.size = size;

	return 0;
}


/** Lookups answered from the cache since the start */
uint64_t cache_hits(void)
{
	return cache.hits;
}


void cache_close(void)
{
	flush();
	cache.ht = mem_deref(cache.ht);
	cache.size = 0;
}
