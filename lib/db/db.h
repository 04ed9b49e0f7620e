/**
 * @file db.h  The SQLite file of the daemon and of sipctl: open, schema,
 *             checkpoints (the statements' API is in sipd.h)
 *
 * Linked once into sipd (its symbols exported to the modules) and into
 * sipctl; lib/store's SQLite engine works on this connection. The daemon
 * registers the database as a part of the core (db_part_register()).
 *
 * Copyright (C) 2026 sipd developers
 */

#ifndef DB_H
#define DB_H

#include <sipd.h>


/* db.c */
int  db_open(const char *path, bool create, bool upgrade);
void db_close(void);
int  db_schema_version(void);
int  db_set_sync(bool full);
int  db_upgrade(void);
/* the store's begin, commit and rollback while a group is open */
struct db_tx {
	int  (*begin)(void);
	int  (*commit)(void);
	void (*rollback)(void);
	int  (*flush)(void);     /* commit now (db_close()) */
};
void db_tx_set(const struct db_tx *tx);
int  db_begin_plain(void);
int  db_commit_plain(void);
void db_rollback_plain(void);
extern const char db_schema_sql[];
extern const int db_schema_ver;
extern const char *const db_migrations[];


/* pg.c */
/** What happened to the PostgreSQL connection */
enum db_pg_event {
	DB_PG_UP = 0,     /* opened, or back after a loss              */
	DB_PG_LOST,       /* lost (the server went away)                */
	DB_PG_CLOSED,     /* closed on purpose                          */
	DB_PG_READ,       /* a result read (a query)                    */
	DB_PG_WROTE,      /* a result read (a command that may write)   */
	DB_PG_COMMITTED,  /* the outermost transaction committed        */
	DB_PG_ROLLED_BACK,/* ... or rolled back                         */
};
typedef void (db_pg_event_h)(enum db_pg_event ev);
struct pg_conn;

int  db_pg_open(const char *uri, bool create, char *msg, size_t size);
int  db_pg_open_older(const char *uri, bool create, char *msg,
		      size_t size);
int  db_pg_upgrade(void);
int  db_pg_ready(void);
void db_pg_event_handler(db_pg_event_h *eh);
struct pg_conn *db_pg_conn(void);
bool db_pg_in_transaction(void);
void db_pg_close(void);
void db_pg_stmts_release(void);
int  db_pg_schema_version(void);
int  db_pg_secret(const char *name, uint8_t *key, size_t len,
		 const uint8_t *fresh);
extern const char pg_schema_sql[];
extern const int pg_schema_base;
extern const int pg_schema_ver;
extern const char *const pg_migrations[];


struct pg_result;
struct pg_stmt;
/* a statement sent ahead: handled (0 or an error), or ESRCH; settles what
   was sent ahead when resp is NULL */
typedef int (db_pg_pipe_h)(struct pg_result **resp, struct pg_stmt *st,
			   int n, const char *const *v);
void db_pg_pipe_handler(db_pg_pipe_h *h);
int  db_pg_exec(const char *sql, const char *want_status);
int  db_pg_prepared(struct pg_stmt *st, char *name, size_t size);
int  db_pg_fail(struct pg_result *res);
void db_pg_result_read(const struct pg_result *res);
void db_pg_give_up(uint32_t ms);
uint32_t db_pg_wait_ms(void);
int  db_pg_schema_read(int *ver);
int  db_pg_migrate(int ver);


/* pg_pipe.c */
int  db_pg_query_then(struct pg_result **resp, struct pg_stmt *st, int n,
		      const char *const *v, struct pg_stmt *then, int tn,
		      const char *const *tv);


/* pg_wait.c */
int  db_pg_wait_next(struct pg_result **resp, struct pg_conn *conn,
		     uint64_t deadline);
int  db_pg_wait(struct pg_result **resp, struct pg_conn *conn,
		uint32_t timeout);
void db_pg_msg_clean(char *buf, size_t size, const char *msg);
int  db_pg_result_errno(const struct pg_result *res);


/* pg_notify.c */
int  db_pg_listen(void);
void db_pg_unlisten(void);


/* checkpoint.c */
int  checkpoint_start(const char *path);
void checkpoint_stop(void);
void checkpoint_init(void);


/* dir.c */
int  db_key_fail(const char *fmt, ...);
int  db_dir_check(const char *path, const char *hint);


/* part.c */
void db_part_register(void);
int  db_reopen(void);
int  db_pg_use(const char *uri, bool create, bool older, bool check_only);
bool db_is_uri(const char *val);

#endif
