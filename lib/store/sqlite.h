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
