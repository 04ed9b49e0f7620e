/**
 * @file cache.c  Lookups answered from memory while the database is unchanged
 *
 * The bindings a lookup read are kept by address-of-record. SQLite
 * rewrites its WAL-index header (the first bytes of the "-shm" file) at
 * every commit of every connection, in this process or any other (sipctl,
 * another worker); the cache remembers the header it was filled under and
 * empties itself as soon as it reads another one. An entry also ends when
 * the first of its bindings expires. The header is read before the query,
 * so what the query returns is never older than the header it is kept
 * under. Inside a transaction, without a WAL index (another journal mode,
 * an in-memory database) or with a size of 0, every lookup reads SQLite.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdint.h>
#include <string.h>
#include <sqlite3.h>
#include <re.h>
#include <sipd.h>
#include "location.h"


enum {
	WAL_HDR_SIZE    = 48,       /* one copy of SQLite's WalIndexHdr  */
	WAL_HDR_VERSION = 3007000,  /* its iVersion field                */
	WAL_HDR_INIT    = 12,       /* offset of its isInit byte         */
	WAL_INDEX_PAGE  = 32768,    /* the size SQLite maps it in        */
	BUCKETS         = 256,
};


struct entry {
	struct le he;
	char *aor;
	struct list bindings;       /* struct binding, best first        */
	int64_t until;              /* first expiry among them           */
};


static struct {
	struct hash *ht;
	uint32_t size;              /* most entries, 0: off              */
	uint32_t count;
	uint8_t hdr[WAL_HDR_SIZE];  /* the header the entries belong to  */
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


/*
 * SQLite's own mapping of the first page of the connection's WAL index,
 * asked for at every use so that it is never used past the connection's
 * life. (Opening the "-shm" file here would be wrong: closing that file
 * would drop the POSIX locks SQLite holds on it.)
 */
static const uint8_t *wal_index(sqlite3 *db)
{
	sqlite3_file *file = NULL;
	void volatile *p = NULL;

	if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER,
				 &file) != SQLITE_OK || !file ||
	    !file->pMethods || file->pMethods->iVersion < 2 ||
	    !file->pMethods->xShmMap)
		return NULL;

	if (file->pMethods->xShmMap(file, 0, WAL_INDEX_PAGE, 0, &p) !=
	    SQLITE_OK)
		return NULL;

	return (const uint8_t *)p;
}


/* Read the header as SQLite's readers do: both copies, equal */
static bool header_read(uint8_t *hdr, const volatile uint8_t *shm)
{
	uint8_t other[WAL_HDR_SIZE];
	uint32_t version;
	size_t i;

	for (i = 0; i < WAL_HDR_SIZE; i++)
		hdr[i] = shm[i];
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (i = 0; i < WAL_HDR_SIZE; i++)
		other[i] = shm[WAL_HDR_SIZE + i];

	memcpy(&version, hdr, sizeof(version));

	return version == WAL_HDR_VERSION && hdr[WAL_HDR_INIT] == 1 &&
		!memcmp(hdr, other, WAL_HDR_SIZE);
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


/**
 * Answer a lookup from the cache
 *
 * @param bindings List to append copies to
 * @param aor      Address-of-record
 * @param now      Current time, epoch seconds
 * @param mark     Set to the header to keep a miss's result under, or
 *                 cleared when it must not be kept
 *
 * @return true if the bindings were appended (a hit)
 */
bool cache_get(struct list *bindings, const char *aor, int64_t now,
	       struct cache_mark *mark)
{
	sqlite3 *db = db_handle();
	const uint8_t *shm;
	struct entry *e;

	mark->valid = false;

	if (!cache.size || !db || !sqlite3_get_autocommit(db))
		return false;

	shm = wal_index(db);
	if (!shm || !header_read(mark->hdr, shm))
		return false;

	mark->valid = true;

	if (memcmp(mark->hdr, cache.hdr, WAL_HDR_SIZE)) {
		flush();
		memcpy(cache.hdr, mark->hdr, WAL_HDR_SIZE);
		return false;
	}

	e = list_ledata(hash_lookup(cache.ht, hash_joaat_str(aor),
				    entry_cmp, (void *)aor));
	if (!e || now >= e->until)
		return false;

	if (bindings_share(bindings, &e->bindings))
		return false;

	++cache.hits;

	return true;
}


/**
 * Keep the result of a lookup that missed
 *
 * @param aor      Address-of-record
 * @param bindings Its bindings, as the lookup returns them
 * @param mark     What cache_get() set
 */
void cache_put(const char *aor, const struct list *bindings,
	       const struct cache_mark *mark)
{
	struct entry *e;
	struct le *le;

	if (!mark->valid || !cache.ht ||
	    memcmp(mark->hdr, cache.hdr, WAL_HDR_SIZE))
		return;

	/* an entry that expired is replaced */
	e = list_ledata(hash_lookup(cache.ht, hash_joaat_str(aor),
				    entry_cmp, (void *)aor));
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
