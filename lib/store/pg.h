/**
 * @file pg.h  Internal interface of the store's PostgreSQL engine
 *
 * Copyright (C) 2026 sipd developers
 */

#include <libpq-fe.h>


enum { PG_ARGS_MAX = 24 };

/** The parameters of a statement, every one as text */
struct pg_args {
	const char *v[PG_ARGS_MAX];
	char num[PG_ARGS_MAX][24];
	int n;
};

/* pg.c */
void pg_arg_str(struct pg_args *a, const char *s);
void pg_arg_i64(struct pg_args *a, int64_t v);
int  pg_query(PGresult **resp, struct pg_stmt *st, const struct pg_args *a);
int  pg_query_told(PGresult **resp, struct pg_stmt *st,
		   const struct pg_args *a, const char *table,
		   const char *key);
int  pg_do(struct pg_stmt *st, const struct pg_args *a, uint64_t *changes);
const char *pg_text(const PGresult *res, int row, int col);
int64_t pg_i64(const PGresult *res, int row, int col);
int  pg_str(char **dst, const PGresult *res, int row, int col);
int  pg_str_empty(char **dst, const PGresult *res, int row, int col);
int  pg_begin(void);
int  pg_commit(void);
void pg_rollback(void);
int  pg_check(char *problem, size_t size);
int  pg_lock_wait(uint32_t ms);
int  pg_version(uint64_t *version);

/* pg_binding.c */
int  pg_binding_lookup(struct list *bindings, const char *aor, int64_t now);
int  pg_binding_list(struct list *bindings, const char *aor, int64_t now);
int  pg_binding_scan(struct list *bindings, int64_t after_id,
		     uint32_t limit, int64_t now);
int  pg_binding_save(const char *aor, const struct list *upserts,
		     const struct list *removes);
int  pg_binding_expired(struct list *bindings, int64_t now, uint32_t limit);
int  pg_binding_expire(const struct list *bindings, int64_t now);
int  pg_binding_count(uint64_t *n, int64_t now);
int  pg_binding_ahead(const char *aor, int64_t now);

/* pg_account.c */
int  pg_account_ha1(const char *user, const char *domain,
		    enum digest_alg alg, uint8_t *ha1, size_t *len);
int  pg_account_write(const struct store_account *acc, enum store_write how);
int  pg_account_import(const struct list *accounts);
int  pg_account_delete(const char *user, const char *domain);
int  pg_account_list(struct list *accounts, int64_t now);

/* pg_forward.c */
int  pg_account_busy_limit(const char *user, const char *domain,
			   uint32_t *limit);
int  pg_account_busy_limit_set(const char *user, const char *domain,
			       uint32_t limit);
int  pg_forward_set(const char *aor, enum store_forward_kind kind,
		    const char *target, uint32_t after, int64_t now);
int  pg_forward_del(const char *aor, enum store_forward_kind kind);
int  pg_forward_list(struct list *fwds, const char *aor);
int  pg_callee_rules(const char *user, const char *domain, const char *aor,
		     uint32_t *busy_limit, struct list *fwds);

/* pg_presence.c */
int  pg_rule_get(char *rule, size_t size, const char *presentity,
		 const char *watcher);
int  pg_rule_set(const char *presentity, const char *watcher,
		 const char *rule, int64_t now);
int  pg_rule_list(struct list *rules, const char *presentity);
int  pg_pub_find(int64_t *id, char *presentity, size_t size,
		 const struct pl *etag, int64_t now);
int  pg_pub_add(int64_t *id, const char *presentity, const char *etag,
		int64_t expires, const char *ctype, const struct pl *body,
		const char *source, int64_t now);
int  pg_pub_modify(int64_t id, const char *etag, int64_t expires,
		   const char *ctype, const struct pl *body, int64_t now);
int  pg_pub_delete(int64_t id);
int  pg_pub_list(struct list *pubs, const char *presentity, int64_t now,
		 bool newest_first);
int  pg_pub_count(uint64_t *n, int64_t now);
int  pg_pub_expired(struct list *pubs, int64_t now, uint32_t limit);
int  pg_pstate_save(const char *presentity, const char *pidf,
		    const char *sources, int64_t now);
int  pg_pstate_get(struct store_pstate **psp, const char *presentity);

/* pg_sub.c */
int  pg_sub_save(struct store_sub *sub);
int  pg_sub_delete(int64_t id);
int  pg_sub_purge(int64_t now);
int  pg_sub_list(struct list *subs, const char *presentity, int64_t now,
		 bool live);
int  pg_sub_expired(struct list *ids, int64_t now, uint32_t limit);
int  pg_sub_adopt(struct list *subs, const char *node, int64_t now);
