/**
 * @file location.h  Internal interface of the SQLite location module
 *
 * Copyright (C) 2026 sipd developers
 */

#include <digest/digest.h>

/* store.c */
int  store_lookup(struct list *bindings, const char *aor, int64_t now);
int  store_save(const char *aor, const struct list *upserts,
		const struct list *removes);
int  store_scan(struct list *bindings, int64_t after_id, uint32_t limit,
		int64_t now);
int  store_binding_read(struct binding **bp, struct sqlite3_stmt *stmt);
int  store_count(uint64_t *n, int64_t now);
extern const char store_columns[];

/* cache.c */
struct cache_mark {
	uint8_t hdr[48];       /* SQLite's WAL-index header before a query */
	bool valid;
};

bool cache_get(struct list *bindings, const char *aor, int64_t now,
	       struct cache_mark *mark);
void cache_put(const char *aor, const struct list *bindings,
	       const struct cache_mark *mark);
int  cache_resize(uint32_t size);
uint64_t cache_hits(void);
void cache_close(void);

/* accounts.c */
int  accounts_exists(const char *user, const char *domain, bool *exists);
int  accounts_ha1(const char *user, const char *domain, enum digest_alg alg,
		  uint8_t *ha1, size_t *len);

/* expire.c */
int  expire_run(int64_t now, uint32_t batch, uint32_t *removed);
