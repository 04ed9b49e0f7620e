/**
 * @file store.h  The store: bindings, accounts (with their busy limits and
 *                call forwarding rules) and presence (rules,
 *                publications, subscriptions), whatever the database
 *                engine
 *
 * The daemon's modules and sipctl read and write through these functions
 * only; no SQL lives outside lib/store. An engine is a struct of
 * operations (struct store_engine): SQLite's (sqlite*.c) on the core's
 * SQLite connection (db_handle()), PostgreSQL's (pg*.c, store_pg) on the
 * core's PostgreSQL connection (db_pg_query()); store_engine() is the one
 * the process's database is (db_pg_on()), unless store_engine_set() chose
 * one. What an engine does
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
	uint32_t busy_limit;       /**< Calls before 486, 0: unlimited
				        (listing only)                       */
};

/** How an account is written */
enum store_write {
	STORE_ADD,                 /**< A new account: EEXIST if it is not */
	STORE_UPDATE,              /**< Its HA1s: ENOENT without it        */
	STORE_UPSERT,              /**< Either                              */
};


/** The kinds of call forwarding rules; a user has at most one of each */
enum store_forward_kind {
	FORWARD_ALWAYS = 0,        /**< Every call                          */
	FORWARD_BUSY,              /**< When the user is busy (486)         */
	FORWARD_NOANSWER,          /**< When nobody answers in time         */
	FORWARD_UNAVAILABLE,       /**< When the user has no binding        */
	FORWARD_KINDS
};

/** A forwarding rule of a user */
struct store_forward {
	struct le le;
	char aor[256];                /**< user@domain                  */
	enum store_forward_kind kind;
	char target[256];             /**< sip: URI or a number          */
	uint32_t after;               /**< noanswer: seconds of ringing  */
	int64_t created;
};


/** A presence rule: one watcher of one presentity */
struct store_rule {
	struct le le;
	char *presentity;
	char *watcher;
	char *rule;                /**< "allow" or "block"                  */
};

/** A publication (PUBLISH, RFC 3903), as listed */
struct store_pub {
	struct le le;
	int64_t id;
	char *presentity;
	char *etag;
	int64_t expires;
	char *source;
	char *body;
	char *ctype;               /**< Content type of the body            */
	int64_t updated;
};

/** The presence document last composed for a presentity */
struct store_pstate {
	char *pidf;
	char *sources;
	int64_t updated;
};

/** A subscription (SUBSCRIBE, RFC 6665) as it is kept */
struct store_sub {
	struct le le;
	int64_t id;                /**< 0 for a new one, set when saved     */
	char *event;
	char *presentity;
	char *watcher;
	char *state;               /**< pending, active or terminated       */
	int64_t expires;
	char *call_id;
	char *local_tag;
	char *remote_tag;
	char *local_uri;
	char *remote_uri;
	char *contact;
	char *route_set;
	char *sock;
	char *received;
	char *transport;
	uint32_t local_cseq;
	uint32_t remote_cseq;
	uint32_t version;
	char *accept;
	int64_t updated;
};

/** A row id in a list */
struct store_id {
	struct le le;
	int64_t id;
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
	int (*binding_ahead)(const char *aor, int64_t now);

	/* accounts */
	int (*account_ha1)(const char *user, const char *domain,
			   enum digest_alg alg, uint8_t *ha1, size_t *len);
	int (*account_write)(const struct store_account *acc,
			     enum store_write how);
	int (*account_import)(const struct list *accounts);
	int (*account_delete)(const char *user, const char *domain);
	int (*account_list)(struct list *accounts, int64_t now);
	int (*account_busy_limit)(const char *user, const char *domain,
				  uint32_t *limit);
	int (*account_busy_limit_set)(const char *user, const char *domain,
				      uint32_t limit);

	/* call forwarding rules */
	int (*forward_set)(const char *aor, enum store_forward_kind kind,
			   const char *target, uint32_t after, int64_t now);
	int (*forward_del)(const char *aor, enum store_forward_kind kind);
	int (*forward_list)(struct list *fwds, const char *aor);
	int (*callee_rules)(const char *user, const char *domain,
			    const char *aor, uint32_t *busy_limit,
			    struct list *fwds);

	/* presence rules */
	int (*rule_get)(char *rule, size_t size, const char *presentity,
			const char *watcher);
	int (*rule_set)(const char *presentity, const char *watcher,
			const char *rule, int64_t now);
	int (*rule_list)(struct list *rules, const char *presentity);

	/* publications */
	int (*pub_find)(int64_t *id, char *presentity, size_t size,
			const struct pl *etag, int64_t now);
	int (*pub_add)(int64_t *id, const char *presentity, const char *etag,
		       int64_t expires, const char *ctype,
		       const struct pl *body, const char *source,
		       int64_t now);
	int (*pub_modify)(int64_t id, const char *etag, int64_t expires,
			  const char *ctype, const struct pl *body,
			  int64_t now);
	int (*pub_delete)(int64_t id);
	int (*pub_list)(struct list *pubs, const char *presentity,
			int64_t now, bool newest_first);
	int (*pub_count)(uint64_t *n, int64_t now);
	int (*pub_expired)(struct list *pubs, int64_t now, uint32_t limit);
	int (*pstate_save)(const char *presentity, const char *pidf,
			   const char *sources, int64_t now);
	int (*pstate_get)(struct store_pstate **psp, const char *presentity);

	/* subscriptions */
	int (*sub_save)(struct store_sub *sub);
	int (*sub_delete)(int64_t id);
	int (*sub_purge)(int64_t now);
	int (*sub_list)(struct list *subs, const char *presentity,
			int64_t now, bool live);
	int (*sub_expired)(struct list *ids, int64_t now, uint32_t limit);
	int (*sub_adopt)(struct list *subs, const char *node, int64_t now);

	/* the database as a whole */
	int (*check)(char *problem, size_t size);
	int (*lock_wait)(uint32_t ms);

	/* transactions and changes */
	int (*begin)(void);
	int (*commit)(void);
	void (*rollback)(void);
	int (*version)(uint64_t *version);
};

extern const struct store_engine store_sqlite;
extern const struct store_engine store_pg;

/* the PostgreSQL engine's last error (pg.c) */
const char *store_pg_errmsg(void);

void store_engine_set(const struct store_engine *engine);
const struct store_engine *store_engine(void);


/* --- Bindings (struct binding of sipd.h) -------------------------------- */

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
int  store_binding_ahead(const char *aor, int64_t now);

/* sipctl reg add and del, in the daemon or in sipctl */
typedef int (store_save_h)(const char *aor, const struct list *upserts,
			   const struct list *removes);

int  store_reg_add(struct mbuf *msg, const char *aor, const char *contact,
		   uint32_t expires, uint16_t q, store_save_h *saveh);
int  store_reg_del(struct mbuf *msg, const char *aor, const char *contact,
		   store_save_h *saveh);


/* --- Accounts ----------------------------------------------------------- */

int  store_account_ha1(const char *user, const char *domain,
		       enum digest_alg alg, uint8_t *ha1, size_t *len);
int  store_account_exists(const char *user, const char *domain,
			  bool *exists);
int  store_account_write(const struct store_account *acc,
			 enum store_write how);
int  store_account_import(const struct list *accounts);
int  store_account_delete(const char *user, const char *domain);
int  store_account_list(struct list *accounts, int64_t now);
int  store_account_busy_limit(const char *user, const char *domain,
			      uint32_t *limit);
int  store_account_busy_limit_set(const char *user, const char *domain,
				  uint32_t limit);


/* --- Call forwarding (struct store_forward) ------------------------------ */

const char *store_forward_kind_name(enum store_forward_kind kind);
int  store_forward_kind_decode(enum store_forward_kind *kind,
			       const char *name);
int  store_forward_set(const char *aor, enum store_forward_kind kind,
		       const char *target, uint32_t after);
int  store_forward_del(const char *aor, enum store_forward_kind kind);
int  store_forward_list(struct list *fwds, const char *aor);
int  store_callee_rules(const char *user, const char *domain,
			uint32_t *busy_limit, struct list *fwds);


/* --- Presence ----------------------------------------------------------- */

int  store_rule_get(char *rule, size_t size, const char *presentity,
		    const char *watcher);
int  store_rule_set(const char *presentity, const char *watcher,
		    const char *rule, int64_t now);
int  store_rule_list(struct list *rules, const char *presentity);

int  store_pub_find(int64_t *id, char *presentity, size_t size,
		    const struct pl *etag, int64_t now);
int  store_pub_add(int64_t *id, const char *presentity, const char *etag,
		   int64_t expires, const char *ctype, const struct pl *body,
		   const char *source, int64_t now);
int  store_pub_modify(int64_t id, const char *etag, int64_t expires,
		      const char *ctype, const struct pl *body, int64_t now);
int  store_pub_delete(int64_t id);
int  store_pub_list(struct list *pubs, const char *presentity, int64_t now,
		    bool newest_first);
int  store_pub_count(uint64_t *n, int64_t now);
int  store_pub_expired(struct list *pubs, int64_t now, uint32_t limit);
int  store_pstate_save(const char *presentity, const char *pidf,
		       const char *sources, int64_t now);
int  store_pstate_get(struct store_pstate **psp, const char *presentity);

int  store_sub_save(struct store_sub *sub);
int  store_sub_delete(int64_t id);
int  store_sub_purge(int64_t now);
int  store_sub_list(struct list *subs, const char *presentity, int64_t now,
		    bool live);
int  store_sub_expired(struct list *ids, int64_t now, uint32_t limit);
int  store_sub_adopt(struct list *subs, const char *node, int64_t now);


/* --- Transactions and changes ------------------------------------------- */

int  store_check(char *problem, size_t size);
int  store_lock_wait(uint32_t ms);
int  store_begin(void);
int  store_commit(void);
void store_rollback(void);
int  store_version(uint64_t *version);

#endif
