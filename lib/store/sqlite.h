/**
 * @file sqlite.h  Internal interface of the store's SQLite engine
 *
 * Copyright (C) 2026 sipd developers
 */

struct sqlite3_stmt;

/* sqlite.c */
int  sqlite_errno(int rc);
void sqlite_bind_text(struct sqlite3_stmt *stmt, int col, const char *s);
int  sqlite_col_str(char **dst, struct sqlite3_stmt *stmt, int col);
int  sqlite_version(uint64_t *version);
int  sqlite_check(char *problem, size_t size);
int  sqlite_lock_wait(uint32_t ms);
int  sqlite_begin(void);
int  sqlite_commit(void);
void sqlite_rollback(void);

/* sqlite_watch.c */
bool sqlite_watch_quiet(const struct sqlite3 *db);

/* sqlite_binding.c */
int  sqlite_binding_lookup(struct list *bindings, const char *aor,
			   int64_t now);
int  sqlite_binding_list(struct list *bindings, const char *aor,
			 int64_t now);
int  sqlite_binding_scan(struct list *bindings, int64_t after_id,
			 uint32_t limit, int64_t now);
int  sqlite_binding_save(const char *aor, const struct list *upserts,
			 const struct list *removes);
int  sqlite_binding_expired(struct list *bindings, int64_t now,
			    uint32_t limit);
int  sqlite_binding_expire(const struct list *bindings, int64_t now);
int  sqlite_binding_count(uint64_t *n, int64_t now);

/* sqlite_account.c */
int  sqlite_account_ha1(const char *user, const char *domain,
			enum digest_alg alg, uint8_t *ha1, size_t *len);
int  sqlite_account_write(const struct store_account *acc,
			  enum store_write how);
int  sqlite_account_import(const struct list *accounts);
int  sqlite_account_delete(const char *user, const char *domain);
int  sqlite_account_list(struct list *accounts, int64_t now);

/* sqlite_forward.c */
int  sqlite_account_busy_limit(const char *user, const char *domain,
			       uint32_t *limit);
int  sqlite_account_busy_limit_set(const char *user, const char *domain,
				   uint32_t limit);
int  sqlite_forward_set(const char *aor, enum store_forward_kind kind,
			const char *target, uint32_t after, int64_t now);
int  sqlite_forward_del(const char *aor, enum store_forward_kind kind);
int  sqlite_forward_list(struct list *fwds, const char *aor);
int  sqlite_callee_rules(const char *user, const char *domain,
			 const char *aor, uint32_t *busy_limit,
			 struct list *fwds);

/* sqlite_presence.c */
int  sqlite_rule_get(char *rule, size_t size, const char *presentity,
		     const char *watcher);
int  sqlite_rule_set(const char *presentity, const char *watcher,
		     const char *rule, int64_t now);
int  sqlite_rule_list(struct list *rules, const char *presentity);
int  sqlite_pub_find(int64_t *id, char *presentity, size_t size,
		     const struct pl *etag, int64_t now);
int  sqlite_pub_add(int64_t *id, const char *presentity, const char *etag,
		    int64_t expires, const char *ctype, const struct pl *body,
		    const char *source, int64_t now);
int  sqlite_pub_modify(int64_t id, const char *etag, int64_t expires,
		       const char *ctype, const struct pl *body, int64_t now);
int  sqlite_pub_delete(int64_t id);
int  sqlite_pub_list(struct list *pubs, const char *presentity, int64_t now,
		     bool newest_first);
int  sqlite_pub_count(uint64_t *n, int64_t now);
int  sqlite_pub_expired(struct list *pubs, int64_t now, uint32_t limit);
int  sqlite_pstate_save(const char *presentity, const char *pidf,
			const char *sources, int64_t now);
int  sqlite_pstate_get(struct store_pstate **psp, const char *presentity);
int  sqlite_sub_save(struct store_sub *sub);
int  sqlite_sub_delete(int64_t id);
int  sqlite_sub_purge(int64_t now);
int  sqlite_sub_list(struct list *subs, const char *presentity, int64_t now,
		     bool live);
int  sqlite_sub_expired(struct list *ids, int64_t now, uint32_t limit);
