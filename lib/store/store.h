/**
 * @file store.h  The store: bindings and accounts, whatever the database
 *                engine
 *
 * The daemon's modules and sipctl read and write through these functions
 * only; no SQL lives outside lib/store. An engine is a struct of
 * operations (struct store_engine): SQLite's is the default
 * (sqlite*.c), on the connection of the core (db_handle()); another engine
 * (PostgreSQL) plugs in with store_engine_set(). What an engine does
 * beyond the interface (SQLite's upserts, its WAL, its busy timeouts)
 * stays behind it.
 *
 * Every function returns 0 or an errno value: ENOENT for a row that is
 * not there, EEXIST for one that already is, EBUSY for a database
 * another writer holds, ENOSYS for an operation the engine lacks.
 *
 * Copyright (C) 2026 sipd developers
 */

#ifndef STORE_H
#define STORE_H

#include <sipd.h>


/** An account, with its HA1 values (H(user:domain:password)) */
struct store_account {
	struct le le;
	char user[128];
	char domain[128];
	uint8_t ha1_md5[DIGEST_MAX_SIZE];
	uint8_t ha1_sha256[DIGEST_MAX_SIZE];
	int64_t created;           /**< Epoch seconds                       */
	uint32_t bindings;         /**< Bindings not expired (listing only) */
};

/** How an account is written */
enum store_write {
	STORE_ADD,                 /**< A new account: EEXIST if it is not */
	STORE_UPDATE,              /**< Its HA1s: ENOENT without it        */
	STORE_UPSERT,              /**< Either                              */
};


/** The operations of a database engine; a missing one answers ENOSYS */
struct store_engine {
	const char *name;

	/* bindings */
	int (*binding_lookup)(struct list *bindings, const char *aor,
			      int64_t now);
	int (*binding_list)(struct list *bindings, const char *aor,
			    int64_t now);
	int (*binding_scan)(struct list *bindings, int64_t after_id,
			    uint32_t limit, int64_t now);
	int (*binding_save)(const char *aor, const struct list *upserts,
			    const struct list *removes);
	int (*binding_expired)(struct list *bindings, int64_t now,
			       uint32_t limit);
	int (*binding_expire)(const struct list *bindings, int64_t now);
	int (*binding_count)(uint64_t *n, int64_t now);

	/* accounts */
	int (*account_ha1)(const char *user, const char *domain,
			   enum digest_alg alg, uint8_t *ha1, size_t *len);
	int (*account_write)(const struct store_account *acc,
			     enum store_write how);
	int (*account_import)(const struct list *accounts);
	int (*account_delete)(const char *user, const char *domain);
	int (*account_list)(struct list *accounts, int64_t now);

	/* changes */
	int (*version)(uint64_t *version);
};

extern const struct store_engine store_sqlite;

void store_engine_set(const struct store_engine *engine);
const struct store_engine *store_engine(void);


/* --- Bindings (struct binding of sipd.h) ---------------------------- */

int  store_binding_lookup(struct list *bindings, const char *aor,
			  int64_t now);
int  store_binding_list(struct list *bindings, const char *aor,
			int64_t now);
int  store_binding_scan(struct list *bindings, int64_t after_id,
			uint32_t limit, int64_t now);
int  store_binding_save(const char *aor, const struct list *upserts,
			const struct list *removes);
int  store_binding_expired(struct list *bindings, int64_t now,
			   uint32_t limit);
int  store_binding_expire(const struct list *bindings, int64_t now);
int  store_binding_count(uint64_t *n, int64_t now);

/* sipctl reg add and del, in the daemon or in sipctl */
typedef int (store_save_h)(const char *aor, const struct list *upserts,
			   const struct list *removes);

int  store_reg_add(struct mbuf *msg, const char *aor, const char *contact,
		   uint32_t expires, uint16_t q, store_save_h *saveh);
int  store_reg_del(struct mbuf *msg, const char *aor, const char *contact,
		   store_save_h *saveh);


/* --- Accounts ------------------------------------------------------- */

int  store_account_ha1(const char *user, const char *domain,
		       enum digest_alg alg, uint8_t *ha1, size_t *len);
int  store_account_exists(const char *user, const char *domain,
			  bool *exists);
int  store_account_write(const struct store_account *acc,
			 enum store_write how);
int  store_account_import(const struct list *accounts);
int  store_account_delete(const char *user, const char *domain);
int  store_account_list(struct list *accounts, int64_t now);


/* --- Changes -------------------------------------------------------- */

int  store_version(uint64_t *version);

#endif
