/**
 * @file sqlite_binding.c  The store's SQLite engine: bindings
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <sqlite3.h>
#include <re.h>
#include <sipd.h>
#include "store.h"
#include "sqlite.h"


#define COLUMNS "id, aor, contact, params, expires, q, callid, cseq," \
	" received, transport, socket, path, user_agent, instance," \
	" reg_id, created, updated, nat"


static struct db_stmt st_lookup = {
	.sql = "SELECT " COLUMNS " FROM bindings"
	       " WHERE aor = ?1 AND expires > ?2"
};

static struct db_stmt st_list = {
	.sql = "SELECT " COLUMNS " FROM bindings"
	       " WHERE expires > ?1 AND (?2 IS NULL OR aor = ?2)"
	       " ORDER BY aor, q DESC, id"
};

static struct db_stmt st_scan = {
	.sql = "SELECT " COLUMNS " FROM bindings"
	       " WHERE id > ?1 AND expires > ?2 ORDER BY id LIMIT ?3"
};

static struct db_stmt st_insert = {
	.sql = "INSERT INTO bindings (aor, contact, params, expires, q,"
	       " callid, cseq, received, transport, socket, path,"
	       " user_agent, instance, reg_id, created, updated, nat)"
	       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
	       " ?13, ?14, ?15, ?16, ?18)"
};

static struct db_stmt st_update = {
	.sql = "UPDATE bindings SET aor = ?1, contact = ?2, params = ?3,"
	       " expires = ?4, q = ?5, callid = ?6, cseq = ?7, received = ?8,"
	       " transport = ?9, socket = ?10, path = ?11, user_agent = ?12,"
	       " instance = ?13, reg_id = ?14, created = ?15, updated = ?16,"
	       " nat = ?18 WHERE id = ?17"
};

static struct db_stmt st_count = {
	.sql = "SELECT count(*) FROM bindings WHERE expires > ?1"
};

static struct db_stmt st_delete = {
	.sql = "DELETE FROM bindings WHERE id = ?1"
};

static struct db_stmt st_expired = {
	.sql = "SELECT " COLUMNS " FROM bindings WHERE expires <= ?1"
	       " ORDER BY expires LIMIT ?2"
};

static struct db_stmt st_expire = {
	.sql = "DELETE FROM bindings WHERE id = ?1 AND expires <= ?2"
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


/* The nat column: NULL in the rows saved before schema 3 */
static enum binding_nat nat_read(sqlite3_stmt *stmt, int col)
{
	if (sqlite3_column_type(stmt, col) == SQLITE_NULL)
		return BINDING_NAT_UNKNOWN;

	return sqlite3_column_int(stmt, col) ? BINDING_NAT_YES :
		BINDING_NAT_NO;
}


/* A binding from a row of COLUMNS */
static int binding_read(struct binding **bp, sqlite3_stmt *stmt)
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
	b->nat     = nat_read(stmt, 17);

	recv = (const char *)sqlite3_column_text(stmt, 8);
	if (recv)
		(void)sa_decode(&b->received, recv, strlen(recv));

	err  = sqlite_col_str(&b->aor, stmt, 1);
	err |= sqlite_col_str(&b->contact, stmt, 2);
	err |= sqlite_col_str(&b->params, stmt, 3);
	err |= sqlite_col_str(&b->callid, stmt, 6);
	err |= sqlite_col_str(&b->sock, stmt, 10);
	err |= sqlite_col_str(&b->path, stmt, 11);
	err |= sqlite_col_str(&b->user_agent, stmt, 12);
	err |= sqlite_col_str(&b->instance, stmt, 13);

	if (err) {
		mem_deref(b);
		return ENOMEM;
	}

	*bp = b;

	return 0;
}


/* Append the rows of a bound statement to a list, and reset it */
static int read_rows(struct list *bindings, sqlite3_stmt *stmt)
{
	int rc, err = 0;

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct binding *b;

		err = binding_read(&b, stmt);
		if (err)
			break;

		list_append(bindings, &b->le, b);
	}

	if (!err && rc != SQLITE_DONE && rc != SQLITE_ROW)
		err = sqlite_errno(rc);

	sqlite3_reset(stmt);

	return err;
}


int sqlite_binding_count(uint64_t *n, int64_t now)
{
	sqlite3_stmt *stmt = db_stmt(&st_count);
	int rc, err = 0;

	if (!stmt)
		return db_error();

	sqlite3_bind_int64(stmt, 1, now);

	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*n = (uint64_t)sqlite3_column_int64(stmt, 0);
	else
		err = sqlite_errno(rc == SQLITE_DONE ? SQLITE_ERROR : rc);

	sqlite3_reset(stmt);

	return err;
}


int sqlite_binding_lookup(struct list *bindings, const char *aor,
			  int64_t now)
{
	struct list found = LIST_INIT;
	sqlite3_stmt *stmt;
	int err;

	stmt = db_stmt(&st_lookup);
	if (!stmt)
		return db_error();

	sqlite3_bind_text(stmt, 1, aor, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, now);

	err = read_rows(&found, stmt);

	/* sorted here: an ORDER BY made SQLite build a temporary b-tree
	   for the few rows of every lookup */
	list_sort(&found, binding_before, NULL);

	while (found.head) {
		struct binding *b = found.head->data;

		list_unlink(&b->le);
		list_append(bindings, &b->le, b);
	}

	return err;
}


int sqlite_binding_list(struct list *bindings, const char *aor,
			int64_t now)
{
	sqlite3_stmt *stmt = db_stmt(&st_list);

	if (!stmt)
		return db_error();

	sqlite3_bind_int64(stmt, 1, now);
	sqlite_bind_text(stmt, 2, aor);

	return read_rows(bindings, stmt);
}


int sqlite_binding_scan(struct list *bindings, int64_t after_id,
			uint32_t limit, int64_t now)
{
	sqlite3_stmt *stmt = db_stmt(&st_scan);

	if (!stmt)
		return db_error();

	sqlite3_bind_int64(stmt, 1, after_id);
	sqlite3_bind_int64(stmt, 2, now);
	sqlite3_bind_int64(stmt, 3, limit);

	return read_rows(bindings, stmt);
}


int sqlite_binding_expired(struct list *bindings, int64_t now,
			   uint32_t limit)
{
	sqlite3_stmt *stmt = db_stmt(&st_expired);

	if (!stmt)
		return db_error();

	sqlite3_bind_int64(stmt, 1, now);
	sqlite3_bind_int64(stmt, 2, limit);

	return read_rows(bindings, stmt);
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

	sqlite_bind_text(stmt, 1, aor);
	sqlite_bind_text(stmt, 2, b->contact);
	sqlite_bind_text(stmt, 3, b->params ? b->params : "");
	sqlite3_bind_int64(stmt, 4, b->expires);
	sqlite3_bind_int(stmt, 5, b->q);
	sqlite_bind_text(stmt, 6, b->callid ? b->callid : "");
	sqlite3_bind_int64(stmt, 7, b->cseq);
	sqlite_bind_text(stmt, 8, recv);
	sqlite_bind_text(stmt, 9, tp_name(b->tp));
	sqlite_bind_text(stmt, 10, b->sock ? b->sock : "");
	sqlite_bind_text(stmt, 11, b->path);
	sqlite_bind_text(stmt, 12, b->user_agent);
	sqlite_bind_text(stmt, 13, b->instance);
	sqlite3_bind_int64(stmt, 14, b->reg_id);
	sqlite3_bind_int64(stmt, 15, b->created);
	sqlite3_bind_int64(stmt, 16, b->updated);
	if (b->id)
		sqlite3_bind_int64(stmt, 17, b->id);
	if (b->nat != BINDING_NAT_UNKNOWN)
		sqlite3_bind_int(stmt, 18, b->nat == BINDING_NAT_YES);

	rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE)
		return rc == SQLITE_BUSY ? EBUSY : EIO;

	if (!b->id)
		b->id = sqlite3_last_insert_rowid(db_handle());

	return 0;
}


static int delete_binding(struct db_stmt *st, int64_t id, int64_t now)
{
	sqlite3_stmt *stmt = db_stmt(st);
	int rc;

	if (!stmt)
		return db_error();

	sqlite3_bind_int64(stmt, 1, id);
	if (now)
		sqlite3_bind_int64(stmt, 2, now);
	rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);

	return rc == SQLITE_DONE ? 0 : (rc == SQLITE_BUSY ? EBUSY : EIO);
}


int sqlite_binding_save(const char *aor, const struct list *upserts,
			const struct list *removes)
{
	struct le *le;
	int err;

	err = db_begin();
	if (err)
		return err;

	for (le = removes ? removes->head : NULL; le && !err; le = le->next) {
		const struct binding *b = le->data;
		err = delete_binding(&st_delete, b->id, 0);
	}

	for (le = upserts ? upserts->head : NULL; le && !err; le = le->next)
		err = write_binding(aor, le->data);

	if (err) {
		db_rollback();
		return err;
	}

	return db_commit();
}


int sqlite_binding_expire(const struct list *bindings, int64_t now)
{
	struct le *le;
	int err;

	err = db_begin();
	if (err)
		return err;

	for (le = bindings->head; le && !err; le = le->next) {
		const struct binding *b = le->data;

		err = delete_binding(&st_expire, b->id, now);
	}

	if (err) {
		db_rollback();
		return err;
	}

	return db_commit();
}
