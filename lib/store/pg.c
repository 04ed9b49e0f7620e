/**
 * @file pg.c  The store's PostgreSQL engine: parameters, columns, and the
 *             calls to the process's connection
 *
 * The connection is lib/db's (lib/db/pg.c), one per process, linked once
 * into sipd: every module's copy of this engine runs its statements on
 * it. Statements are named after their address, so copies never collide.
 *
 * The data version (store_version()) is lib/db's (lib/db/pg_notify.c):
 * it moves with every change any node or sipctl commits, as PostgreSQL's
 * triggers tell it (LISTEN/NOTIFY).
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include <re.h>
#include <sipd.h>
#include "store.h"
#include "pg.h"


/** Add a text parameter; NULL is SQL NULL */
void pg_arg_str(struct pg_args *a, const char *s)
{
	if (a->n < PG_ARGS_MAX)
		a->v[a->n++] = s;
}


/** Add an integer parameter */
void pg_arg_i64(struct pg_args *a, int64_t v)
{
	if (a->n >= PG_ARGS_MAX)
		return;

	(void)re_snprintf(a->num[a->n], sizeof(a->num[a->n]), "%lld",
			  (long long)v);
	a->v[a->n] = a->num[a->n];
	++a->n;
}


/**
 * Run a statement on the process's connection
 *
 * @param resp Set to its result (PQclear() it) if success
 * @param st   Statement
 * @param a    Its parameters, NULL for none
 *
 * @return 0 if success, otherwise errorcode (store_pg_errmsg() says why)
 */
int pg_query(PGresult **resp, struct pg_stmt *st, const struct pg_args *a)
{
	return db_pg_query(resp, st, a ? a->n : 0, a ? a->v : NULL);
}


/**
 * Run a statement that changes a table, the other sipd processes told
 * of the change once committed (one round trip outside a transaction)
 *
 * @param resp  Set to its result (PQclear() it) if success
 * @param st    Statement
 * @param a     Its parameters
 * @param table Table changed
 * @param key   Key of the change
 *
 * @return 0 if success, otherwise errorcode
 */
int pg_query_told(PGresult **resp, struct pg_stmt *st,
		  const struct pg_args *a, const char *table, const char *key)
{
	return db_pg_query_told((struct pg_result **)resp, st, a->n, a->v,
				table, key);
}


/**
 * Run a statement that returns no rows
 *
 * @param st      Statement
 * @param a       Its parameters
 * @param changes Set to the rows it changed, if not NULL
 *
 * @return 0 if success, otherwise errorcode
 */
int pg_do(struct pg_stmt *st, const struct pg_args *a, uint64_t *changes)
{
	PGresult *res;
	int err;

	err = pg_query(&res, st, a);
	if (err)
		return err;

	if (changes)
		*changes = strtoull(PQcmdTuples(res), NULL, 10);

	PQclear(res);

	return 0;
}


/** A column as text, NULL for SQL NULL */
const char *pg_text(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return NULL;

	return PQgetvalue(res, row, col);
}


/** A column as an integer, 0 for SQL NULL */
int64_t pg_i64(const PGresult *res, int row, int col)
{
	const char *s = pg_text(res, row, col);

	return s ? strtoll(s, NULL, 10) : 0;
}


/** Copy a column, SQL NULL left NULL */
int pg_str(char **dst, const PGresult *res, int row, int col)
{
	const char *s = pg_text(res, row, col);

	return s ? str_dup(dst, s) : 0;
}


/** Copy a column, SQL NULL as "" */
int pg_str_empty(char **dst, const PGresult *res, int row, int col)
{
	const char *s = pg_text(res, row, col);

	return str_dup(dst, s ? s : "");
}


/** Begin a transaction; one begun inside another is part of it */
int pg_begin(void)
{
	return db_pg_begin();
}


/** Commit the transaction (rolled back if it fails or an inner one was) */
int pg_commit(void)
{
	return db_pg_commit();
}


/** Undo the transaction (an inner one: the whole, at its end) */
void pg_rollback(void)
{
	db_pg_rollback();
}


/** The check of the database: the schema this sipd was built for */
int pg_check(char *problem, size_t size)
{
	return db_pg_check(problem, size);
}


/** How long a statement waits for a lock another session holds */
int pg_lock_wait(uint32_t ms)
{
	return db_pg_lock_wait(ms);
}


/**
 * The data version: moves with every commit of any node or of sipctl
 * (the notifications of the schema's triggers, read by lib/db)
 *
 * @param version Set to the version
 *
 * @return 0 if success, ENOSYS outside sipd (no LISTEN), ENOTCONN while
 *         the connection is lost
 */
int pg_version(uint64_t *version)
{
	return db_pg_version(version);
}


/**
 * The last error message of the server or of libpq
 *
 * @return Message, "" if none
 */
const char *store_pg_errmsg(void)
{
	return db_pg_errmsg();
}
