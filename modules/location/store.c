/**
 * @file store.c  Bindings in SQLite: look up and save atomically
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <sqlite3.h>
#include <re.h>
#include <sipd.h>
#include "location.h"


#define COLUMNS "id, aor, contact, params, expires, q, callid, cseq," \
	" received, transport, socket, path, user_agent, instance," \
	" reg_id, created, updated"

const char store_columns[] = COLUMNS;


static struct db_stmt st_lookup = {
	.sql = "SELECT " COLUMNS " FROM bindings"
	       " WHERE aor = ?1 AND expires > ?2"
};

static struct db_stmt st_scan = {
	.sql = "SELECT " COLUMNS " FROM bindings"
	       " WHERE id > ?1 AND expires > ?2 ORDER BY id LIMIT ?3"
};

static struct db_stmt st_insert = {
	.sql = "INSERT INTO bindings (aor, contact, params, expires, q,"
	       " callid, cseq, received, transport, socket, path,"
	       " user_agent, instance, reg_id, created, updated)"
	       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
	       " ?13, ?14, ?15, ?16)"
};

static struct db_stmt st_update = {
	.sql = "UPDATE bindings SET aor = ?1, contact = ?2, params = ?3,"
	       " expires = ?4, q = ?5, callid = ?6, cseq = ?7, received = ?8,"
	       " transport = ?9, socket = ?10, path = ?11, user_agent = ?12,"
	       " instance = ?13, reg_id = ?14, created = ?15, updated = ?16"
	       " WHERE id = ?17"
};

static struct db_stmt st_count = {
	.sql = "SELECT count(*) FROM bindings WHERE expires > ?1"
};

static struct db_stmt st_delete = {
	.sql = "DELETE FROM bindings WHERE id = ?1"
};


static const char *tp_name(enum sip_transp tp)
{
	switch (tp) {

	case SIP_TRANSP_TCP: return "tcp";
	case SIP_TRANSP_TLS: return "tls";
	case SIP_TRANSP_WS:  return "ws";
	case SIP_TRANSP_WSS: return "wss";
	default:             return "udp";
	}
}


static enum sip_transp tp_decode(const char *name)
{
	if (!name)
		return SIP_TRANSP_UDP;
	if (!strcmp(name, "tcp"))
		return SIP_TRANSP_TCP;
	if (!strcmp(name, "tls"))
		return SIP_TRANSP_TLS;
	if (!strcmp(name, "ws"))
		return SIP_TRANSP_WS;
	if (!strcmp(name, "wss"))
		return SIP_TRANSP_WSS;

	return SIP_TRANSP_UDP;
}


static int col_str(char **dst, sqlite3_stmt *stmt, int col)
{
	const char *s = (const char *)sqlite3_column_text(stmt, col);

	if (!s)
		return 0;

	return str_dup(dst, s);
}


/**
 * Read a binding from a row with the columns of store_columns
 *
 * @param bp   Pointer to allocated binding
 * @param stmt Statement positioned on a row
 *
 * @return 0 if success, otherwise errorcode
 */
int store_binding_read(struct binding **bp, sqlite3_stmt *stmt)
{
	struct binding *b;
	const char *recv;
	int err;

	err = binding_alloc(&b);
	if (err)
		return err;

	b->id      = sqlite3_column_int64(stmt, 0);
	b->expires = sqlite3_column_int64(stmt, 4);
	b->q       = (uint16_t)sqlite3_column_int(stmt, 5);
	b->cseq    = (uint32_t)sqlite3_column_int64(stmt, 7);
	b->tp      = tp_decode((const char *)sqlite3_column_text(stmt, 9));
	b->reg_id  = (uint32_t)sqlite3_column_int64(stmt, 14);
	b->created = sqlite3_column_int64(stmt, 15);
	b->updated = sqlite3_column_int64(stmt, 16);

	recv = (const char *)sqlite3_column_text(stmt, 8);
	if (recv)
		(void)sa_decode(&b->received, recv, strlen(recv));

	err  = col_str(&b->aor, stmt, 1);
	err |= col_str(&b->contact, stmt, 2);
	err |= col_str(&b->params, stmt, 3);
	err |= col_str(&b->callid, stmt, 6);
	err |= col_str(&b->sock, stmt, 10);
	err |= col_str(&b->path, stmt, 11);
	err |= col_str(&b->user_agent, stmt, 12);
	err |= col_str(&b->instance, stmt, 13);

	if (err) {
		mem_deref(b);
		return ENOMEM;
	}

	*bp = b;

	return 0;
}


/**
 * Count the bindings that have not expired
 *
 * @param n   The count
 * @param now Current time, epoch seconds
 *
 * @return 0 if success, otherwise errorcode
 */
int store_count(uint64_t *n, int64_t now)
{
	sqlite3_stmt *stmt = db_stmt(&st_count);
	int err = 0;

	if (!stmt)
		return db_error();

	sqlite3_bind_int64(stmt, 1, now);

	if (sqlite3_step(stmt) == SQLITE_ROW)
		*n = (uint64_t)sqlite3_column_int64(stmt, 0);
	else
		err = EIO;

	sqlite3_reset(stmt);

	return err;
}


/**
 * Get the unexpired bindings of an address-of-record, best q first
 *
 * Answered from the cache (cache.c) while the database is unchanged.
 *
 * @param bindings List to append to
 * @param aor      Address-of-record
 * @param now      Current time
 *
 * @return 0 if success, otherwise errorcode
 */
int store_lookup(struct list *bindings, const char *aor, int64_t now)
{
	struct list found = LIST_INIT;
	struct cache_mark mark;
	sqlite3_stmt *stmt;
	int rc, err = 0;

	if (cache_get(bindings, aor, now, &mark))
		return 0;

	stmt = db_stmt(&st_lookup);
	if (!stmt)
		return db_error();

	sqlite3_bind_text(stmt, 1, aor, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, now);

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct binding *b;

		err = store_binding_read(&b, stmt);
		if (err)
			break;

		list_append(&found, &b->le, b);
	}

	if (!err && rc != SQLITE_DONE && rc != SQLITE_ROW)
		err = EIO;

	sqlite3_reset(stmt);

	/* sorted here: an ORDER BY made SQLite build a temporary b-tree
	   for the few rows of every lookup */
	list_sort(&found, binding_before, NULL);

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
 * Get a batch of unexpired bindings in id order
 *
 * @param bindings List to append to
 * @param after_id Only bindings with a larger id
 * @param limit    Most bindings
 * @param now      Current time
 *
 * @return 0 if success, otherwise errorcode
 */
int store_scan(struct list *bindings, int64_t after_id, uint32_t limit,
	       int64_t now)
{
	sqlite3_stmt *stmt = db_stmt(&st_scan);
	int rc, err = 0;

	if (!stmt)
		return db_error();

	sqlite3_bind_int64(stmt, 1, after_id);
	sqlite3_bind_int64(stmt, 2, now);
	sqlite3_bind_int64(stmt, 3, limit);

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct binding *b;

		err = store_binding_read(&b, stmt);
		if (err)
			break;

		list_append(bindings, &b->le, b);
	}

	if (!err && rc != SQLITE_DONE && rc != SQLITE_ROW)
		err = EIO;

	sqlite3_reset(stmt);

	return err;
}


static void bind_text(sqlite3_stmt *stmt, int col, const char *s)
{
	if (s)
		sqlite3_bind_text(stmt, col, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(stmt, col);
}


static int write_binding(const char *aor, struct binding *b)
{
	sqlite3_stmt *stmt = db_stmt(b->id ? &st_update : &st_insert);
	char recv[64];
	int rc;

	if (!stmt)
		return db_error();

	if (sa_isset(&b->received, SA_ALL))
		re_snprintf(recv, sizeof(recv), "%J", &b->received);
	else
		recv[0] = '\0';

	bind_text(stmt, 1, aor);
	bind_text(stmt, 2, b->contact);
	bind_text(stmt, 3, b->params ? b->params : "");
	sqlite3_bind_int64(stmt, 4, b->expires);
	sqlite3_bind_int(stmt, 5, b->q);
	bind_text(stmt, 6, b->callid ? b->callid : "");
	sqlite3_bind_int64(stmt, 7, b->cseq);
	bind_text(stmt, 8, recv);
	bind_text(stmt, 9, tp_name(b->tp));
	bind_text(stmt, 10, b->sock ? b->sock : "");
	bind_text(stmt, 11, b->path);
	bind_text(stmt, 12, b->user_agent);
	bind_text(stmt, 13, b->instance);
	sqlite3_bind_int64(stmt, 14, b->reg_id);
	sqlite3_bind_int64(stmt, 15, b->created);
	sqlite3_bind_int64(stmt, 16, b->updated);
	if (b->id)
		sqlite3_bind_int64(stmt, 17, b->id);

	rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE)
		return rc == SQLITE_BUSY ? EBUSY : EIO;

	if (!b->id)
		b->id = sqlite3_last_insert_rowid(db_handle());

	return 0;
}


static int delete_binding(int64_t id)
{
	sqlite3_stmt *stmt = db_stmt(&st_delete);
	int rc;

	if (!stmt)
		return db_error();

	sqlite3_bind_int64(stmt, 1, id);
	rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);

	return rc == SQLITE_DONE ? 0 : (rc == SQLITE_BUSY ? EBUSY : EIO);
}


/**
 * Apply the changes of one registration in one transaction
 *
 * @param aor     Address-of-record
 * @param upserts Bindings to insert (id 0, set on return) or update
 * @param removes Bindings to delete
 *
 * @return 0 once committed, otherwise errorcode (nothing changed)
 */
int store_save(const char *aor, const struct list *upserts,
	       const struct list *removes)
{
	int64_t *ids;
	struct le *le;
	size_t i = 0;
	int err;

	/* ids of new bindings are set on insert; undone if nothing commits */
	ids = mem_zalloc(sizeof(*ids) * (list_count(upserts) + 1), NULL);
	if (!ids)
		return ENOMEM;

	for (le = upserts ? upserts->head : NULL; le; le = le->next) {
		const struct binding *b = le->data;
		ids[i++] = b->id;
	}

	err = db_begin();
	if (err)
		goto out;

	for (le = removes ? removes->head : NULL; le && !err; le = le->next) {
		const struct binding *b = le->data;
		err = delete_binding(b->id);
	}

	for (le = upserts ? upserts->head : NULL; le && !err; le = le->next)
		err = write_binding(aor, le->data);

	if (err)
		db_rollback();
	else
		err = db_commit();

 out:
	if (err) {
		i = 0;
		for (le = upserts ? upserts->head : NULL; le; le = le->next) {
			struct binding *b = le->data;
			b->id = ids[i++];
		}
	}

	mem_deref(ids);

	return err;
}
