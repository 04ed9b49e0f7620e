/**
 * @file sqlite_presence.c  The store's SQLite engine: presence rules,
 *                          publications, composed documents, subscriptions
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <sqlite3.h>
#include <re.h>
#include <sipd.h>
#include "store.h"
#include "sqlite.h"


static struct db_stmt st_rule_get = {
	.sql = "SELECT rule FROM presence_rules WHERE presentity = ?1"
	       " AND watcher = ?2"
};

static struct db_stmt st_rule_set = {
	.sql = "INSERT INTO presence_rules (presentity, watcher, rule,"
	       " created) VALUES (?1, ?2, ?3, ?4) ON CONFLICT"
	       " (presentity, watcher) DO UPDATE SET rule = excluded.rule"
};

static struct db_stmt st_rule_unset = {
	.sql = "DELETE FROM presence_rules WHERE presentity = ?1 AND"
	       " watcher = ?2"
};

static struct db_stmt st_rule_list = {
	.sql = "SELECT presentity, watcher, rule FROM presence_rules"
	       " WHERE ?1 IS NULL OR presentity = ?1"
	       " ORDER BY presentity, watcher"
};

static struct db_stmt st_pub_find = {
	.sql = "SELECT id, presentity FROM publications WHERE etag = ?1"
	       " AND event = 'presence' AND expires > ?2"
};

static struct db_stmt st_pub_add = {
	.sql = "INSERT INTO publications (presentity, event, etag, expires,"
	       " content_type, body, source, created, updated)"
	       " VALUES (?1, 'presence', ?2, ?3, ?4, ?5, ?6, ?7, ?7)"
};

static struct db_stmt st_pub_refresh = {
	.sql = "UPDATE publications SET etag = ?2, expires = ?3, updated = ?4"
	       " WHERE id = ?1"
};

static struct db_stmt st_pub_modify = {
	.sql = "UPDATE publications SET etag = ?2, expires = ?3, updated = ?4,"
	       " content_type = ?5, body = ?6 WHERE id = ?1"
};

static struct db_stmt st_pub_delete = {
	.sql = "DELETE FROM publications WHERE id = ?1"
};

#define PUB_COLUMNS "id, presentity, etag, expires, source, body, updated," \
	" content_type"

static struct db_stmt st_pub_list = {
	.sql = "SELECT " PUB_COLUMNS " FROM publications WHERE expires > ?2"
	       " AND event = 'presence' AND (?1 IS NULL OR presentity = ?1)"
	       " ORDER BY presentity, id"
};

static struct db_stmt st_pub_newest = {
	.sql = "SELECT " PUB_COLUMNS " FROM publications WHERE presentity = ?1"
	       " AND event = 'presence' AND expires > ?2"
	       " ORDER BY updated DESC, id DESC"
};

static struct db_stmt st_pub_count = {
	.sql = "SELECT COUNT(*) FROM publications WHERE expires > ?1"
};

static struct db_stmt st_pub_expired = {
	.sql = "SELECT " PUB_COLUMNS " FROM publications WHERE expires <= ?1"
	       " LIMIT ?2"
};

static struct db_stmt st_pstate_save = {
	.sql = "INSERT INTO presence_state (presentity, pidf, sources,"
	       " updated) VALUES (?1, ?2, ?3, ?4)"
	       " ON CONFLICT (presentity) DO UPDATE SET"
	       " pidf = excluded.pidf, sources = excluded.sources,"
	       " updated = excluded.updated"
};

static struct db_stmt st_pstate_get = {
	.sql = "SELECT pidf, sources, updated FROM presence_state"
	       " WHERE presentity = ?1"
};

#define SUB_COLUMNS "id, event, presentity, watcher, state, expires," \
	" call_id, local_tag, remote_tag, local_uri, remote_uri, contact," \
	" route_set, socket, received, transport, local_cseq, remote_cseq," \
	" version, accept, updated"

static struct db_stmt st_sub_insert = {
	.sql = "INSERT INTO subscriptions (event, presentity, watcher, state,"
	       " expires, call_id, local_tag, remote_tag, local_uri,"
	       " remote_uri, contact, route_set, socket, received, transport,"
	       " local_cseq, remote_cseq, version, accept, created, updated)"
	       " VALUES (?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
	       " ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?21)"
};

static struct db_stmt st_sub_update = {
	.sql = "UPDATE subscriptions SET state = ?5, expires = ?6,"
	       " contact = ?12, route_set = ?13, socket = ?14,"
	       " received = ?15, transport = ?16, local_cseq = ?17,"
	       " remote_cseq = ?18, version = ?19, accept = ?20,"
	       " updated = ?21 WHERE id = ?1"
};

static struct db_stmt st_sub_delete = {
	.sql = "DELETE FROM subscriptions WHERE id = ?1"
};

static struct db_stmt st_sub_live = {
	.sql = "SELECT " SUB_COLUMNS " FROM subscriptions WHERE expires > ?2"
	       " AND state != 'terminated'"
	       " AND (?1 IS NULL OR presentity = ?1)"
};

static struct db_stmt st_sub_list = {
	.sql = "SELECT " SUB_COLUMNS " FROM subscriptions WHERE expires > ?2"
	       " AND (?1 IS NULL OR presentity = ?1)"
	       " ORDER BY presentity, event, watcher"
};

static struct db_stmt st_sub_expired = {
	.sql = "SELECT id FROM subscriptions WHERE expires <= ?1"
	       " AND state != 'terminated' LIMIT ?2"
};

static struct db_stmt st_sub_purge = {
	.sql = "DELETE FROM subscriptions WHERE expires <= ?1"
	       " OR state = 'terminated'"
};


/* Step a statement that returns no row, and reset it */
static int step_done(sqlite3_stmt *stmt)
{
	int rc = sqlite3_step(stmt);

	sqlite3_reset(stmt);

	return rc == SQLITE_DONE ? 0 : sqlite_errno(rc);
}


/* A string never NULL, for the columns that hold "" for none */
static void bind_str(sqlite3_stmt *stmt, int col, const char *s)
{
	sqlite3_bind_text(stmt, col, s ? s : "", -1, SQLITE_STATIC);
}


int sqlite_rule_get(char *rule, size_t size, const char *presentity,
		    const char *watcher)
{
	sqlite3_stmt *stmt = db_stmt(&st_rule_get);
	int rc, err = 0;

	if (!stmt)
		return db_error();

	sqlite3_bind_text(stmt, 1, presentity, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, watcher, -1, SQLITE_STATIC);

	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		const char *r = (const char *)sqlite3_column_text(stmt, 0);

		str_ncpy(rule, r ? r : "", size);
	}
	else if (rc != SQLITE_DONE) {
		err = sqlite_errno(rc);
	}

	sqlite3_reset(stmt);

	return err;
}


int sqlite_rule_set(const char *presentity, const char *watcher,
		    const char *rule, int64_t now)
{
	sqlite3_stmt *stmt = db_stmt(rule ? &st_rule_set : &st_rule_unset);
	int err;

	if (!stmt)
		return db_error();

	sqlite3_bind_text(stmt, 1, presentity, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, watcher, -1, SQLITE_STATIC);
	if (rule) {
		sqlite3_bind_text(stmt, 3, rule, -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 4, now);
	}

	err = step_done(stmt);
	if (!err && !rule && !sqlite3_changes(db_handle()))
		err = ENOENT;

	return err;
}


static void rule_destructor(void *arg)
{
	struct store_rule *r = arg;

	mem_deref(r->presentity);
	mem_deref(r->watcher);
	mem_deref(r->rule);
}


int sqlite_rule_list(struct list *rules, const char *presentity)
{
	sqlite3_stmt *stmt = db_stmt(&st_rule_list);
	int rc, err = 0;

	if (!stmt)
		return db_error();

	sqlite_bind_text(stmt, 1, presentity);

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct store_rule *r;

		r = mem_zalloc(sizeof(*r), rule_destructor);
		if (!r) {
			err = ENOMEM;
			break;
		}

		list_append(rules, &r->le, r);

		err  = sqlite_col_str(&r->presentity, stmt, 0);
		err |= sqlite_col_str(&r->watcher, stmt, 1);
		err |= sqlite_col_str(&r->rule, stmt, 2);
		if (err) {
			err = ENOMEM;
			break;
		}
	}

	if (!err && rc != SQLITE_DONE && rc != SQLITE_ROW)
		err = sqlite_errno(rc);

	sqlite3_reset(stmt);

	return err;
}


int sqlite_pub_find(int64_t *id, char *presentity, size_t size,
		    const struct pl *etag, int64_t now)
{
	sqlite3_stmt *stmt = db_stmt(&st_pub_find);
	int rc, err = 0;

	if (!stmt)
		return db_error();

	sqlite3_bind_text(stmt, 1, etag->p, (int)etag->l, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, now);

	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		const char *p = (const char *)sqlite3_column_text(stmt, 1);

		*id = sqlite3_column_int64(stmt, 0);
		str_ncpy(presentity, p ? p : "", size);
	}
	else {
		err = rc == SQLITE_DONE ? ENOENT : sqlite_errno(rc);
	}

	sqlite3_reset(stmt);

	return err;
}


int sqlite_pub_add(int64_t *id, const char *presentity, const char *etag,
		   int64_t expires, const char *ctype, const struct pl *body,
		   const char *source, int64_t now)
{
	sqlite3_stmt *stmt = db_stmt(&st_pub_add);
	int err;

	if (!stmt)
		return db_error();

	sqlite3_bind_text(stmt, 1, presentity, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, etag, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, expires);
	sqlite3_bind_text(stmt, 4, ctype, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 5, body->p, (int)body->l, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 6, source, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 7, now);

	err = step_done(stmt);
	if (!err)
		*id = sqlite3_last_insert_rowid(db_handle());

	return err;
}


int sqlite_pub_modify(int64_t id, const char *etag, int64_t expires,
		      const char *ctype, const struct pl *body, int64_t now)
{
	sqlite3_stmt *stmt = db_stmt(body ? &st_pub_modify : &st_pub_refresh);

	if (!stmt)
		return db_error();

	sqlite3_bind_int64(stmt, 1, id);
	sqlite3_bind_text(stmt, 2, etag, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, expires);
	sqlite3_bind_int64(stmt, 4, now);
	if (body) {
		sqlite3_bind_text(stmt, 5, ctype, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 6, body->p, (int)body->l,
				  SQLITE_STATIC);
	}

	return step_done(stmt);
}


static int delete_id(struct db_stmt *st, int64_t id)
{
	sqlite3_stmt *stmt = db_stmt(st);

	if (!stmt)
		return db_error();

	sqlite3_bind_int64(stmt, 1, id);

	return step_done(stmt);
}


int sqlite_pub_delete(int64_t id)
{
	return delete_id(&st_pub_delete, id);
}


static void pub_destructor(void *arg)
{
	struct store_pub *p = arg;

	mem_deref(p->presentity);
	mem_deref(p->etag);
	mem_deref(p->source);
	mem_deref(p->body);
	mem_deref(p->ctype);
}


/* Append the rows of PUB_COLUMNS of a bound statement, and reset it */
static int pub_rows(struct list *pubs, sqlite3_stmt *stmt)
{
	int rc, err = 0;

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct store_pub *p;

		p = mem_zalloc(sizeof(*p), pub_destructor);
		if (!p) {
			err = ENOMEM;
			break;
		}

		list_append(pubs, &p->le, p);

		p->id = sqlite3_column_int64(stmt, 0);
		p->expires = sqlite3_column_int64(stmt, 3);
		p->updated = sqlite3_column_int64(stmt, 6);

		err  = sqlite_col_str(&p->presentity, stmt, 1);
		err |= sqlite_col_str(&p->etag, stmt, 2);
		err |= sqlite_col_str(&p->source, stmt, 4);
		err |= sqlite_col_str(&p->body, stmt, 5);
		err |= sqlite_col_str(&p->ctype, stmt, 7);
		if (err) {
			err = ENOMEM;
			break;
		}
	}

	if (!err && rc != SQLITE_DONE && rc != SQLITE_ROW)
		err = sqlite_errno(rc);

	sqlite3_reset(stmt);

	return err;
}


int sqlite_pub_list(struct list *pubs, const char *presentity, int64_t now,
		    bool newest_first)
{
	sqlite3_stmt *stmt;

	if (newest_first && !presentity)
		return EINVAL;

	stmt = db_stmt(newest_first ? &st_pub_newest : &st_pub_list);
	if (!stmt)
		return db_error();

	sqlite_bind_text(stmt, 1, presentity);
	sqlite3_bind_int64(stmt, 2, now);

	return pub_rows(pubs, stmt);
}


int sqlite_pub_count(uint64_t *n, int64_t now)
{
	sqlite3_stmt *stmt = db_stmt(&st_pub_count);
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


int sqlite_pub_expired(struct list *pubs, int64_t now, uint32_t limit)
{
	sqlite3_stmt *stmt = db_stmt(&st_pub_expired);

	if (!stmt)
		return db_error();

	sqlite3_bind_int64(stmt, 1, now);
	sqlite3_bind_int64(stmt, 2, limit);

	return pub_rows(pubs, stmt);
}


int sqlite_pstate_save(const char *presentity, const char *pidf,
		       const char *sources, int64_t now)
{
	sqlite3_stmt *stmt = db_stmt(&st_pstate_save);

	if (!stmt)
		return db_error();

	sqlite3_bind_text(stmt, 1, presentity, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, pidf, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, sources, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, now);

	return step_done(stmt);
}


static void pstate_destructor(void *arg)
{
	struct store_pstate *ps = arg;

	mem_deref(ps->pidf);
	mem_deref(ps->sources);
}


int sqlite_pstate_get(struct store_pstate **psp, const char *presentity)
{
	sqlite3_stmt *stmt = db_stmt(&st_pstate_get);
	struct store_pstate *ps = NULL;
	int rc, err = 0;

	if (!stmt)
		return db_error();

	sqlite3_bind_text(stmt, 1, presentity, -1, SQLITE_STATIC);

	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		ps = mem_zalloc(sizeof(*ps), pstate_destructor);
		if (!ps) {
			err = ENOMEM;
			goto out;
		}

		ps->updated = sqlite3_column_int64(stmt, 2);
		err  = sqlite_col_str(&ps->pidf, stmt, 0);
		err |= sqlite_col_str(&ps->sources, stmt, 1);
		if (err)
			err = ENOMEM;
	}
	else {
		err = rc == SQLITE_DONE ? ENOENT : sqlite_errno(rc);
	}

 out:
	sqlite3_reset(stmt);

	if (err)
		mem_deref(ps);
	else
		*psp = ps;

	return err;
}


int sqlite_sub_save(struct store_sub *sub)
{
	sqlite3_stmt *stmt = db_stmt(sub->id ? &st_sub_update :
				     &st_sub_insert);
	int err;

	if (!stmt)
		return db_error();

	if (sub->id)
		sqlite3_bind_int64(stmt, 1, sub->id);
	bind_str(stmt, 2, sub->event);
	bind_str(stmt, 3, sub->presentity);
	bind_str(stmt, 4, sub->watcher);
	bind_str(stmt, 5, sub->state);
	sqlite3_bind_int64(stmt, 6, sub->expires);
	bind_str(stmt, 7, sub->call_id);
	bind_str(stmt, 8, sub->local_tag);
	bind_str(stmt, 9, sub->remote_tag);
	bind_str(stmt, 10, sub->local_uri);
	bind_str(stmt, 11, sub->remote_uri);
	bind_str(stmt, 12, sub->contact);
	bind_str(stmt, 13, sub->route_set);
	bind_str(stmt, 14, sub->sock);
	bind_str(stmt, 15, sub->received);
	bind_str(stmt, 16, sub->transport);
	sqlite3_bind_int64(stmt, 17, sub->local_cseq);
	sqlite3_bind_int64(stmt, 18, sub->remote_cseq);
	sqlite3_bind_int64(stmt, 19, sub->version);
	bind_str(stmt, 20, sub->accept);
	sqlite3_bind_int64(stmt, 21, sub->updated);

	err = step_done(stmt);
	if (!err && !sub->id)
		sub->id = sqlite3_last_insert_rowid(db_handle());

	return err;
}


int sqlite_sub_delete(int64_t id)
{
	return delete_id(&st_sub_delete, id);
}


int sqlite_sub_purge(int64_t now)
{
	sqlite3_stmt *stmt = db_stmt(&st_sub_purge);

	if (!stmt)
		return db_error();

	sqlite3_bind_int64(stmt, 1, now);

	return step_done(stmt);
}


static void sub_destructor(void *arg)
{
	struct store_sub *s = arg;

	mem_deref(s->event);
	mem_deref(s->presentity);
	mem_deref(s->watcher);
	mem_deref(s->state);
	mem_deref(s->call_id);
	mem_deref(s->local_tag);
	mem_deref(s->remote_tag);
	mem_deref(s->local_uri);
	mem_deref(s->remote_uri);
	mem_deref(s->contact);
	mem_deref(s->route_set);
	mem_deref(s->sock);
	mem_deref(s->received);
	mem_deref(s->transport);
	mem_deref(s->accept);
}


/* A text column as a string, "" for NULL */
static int col_dup(char **dst, sqlite3_stmt *stmt, int col)
{
	const char *s = (const char *)sqlite3_column_text(stmt, col);

	return str_dup(dst, s ? s : "");
}


int sqlite_sub_list(struct list *subs, const char *presentity, int64_t now,
		    bool live)
{
	sqlite3_stmt *stmt = db_stmt(live ? &st_sub_live : &st_sub_list);
	int rc, err = 0;

	if (!stmt)
		return db_error();

	sqlite_bind_text(stmt, 1, presentity);
	sqlite3_bind_int64(stmt, 2, now);

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct store_sub *s;

		s = mem_zalloc(sizeof(*s), sub_destructor);
		if (!s) {
			err = ENOMEM;
			break;
		}

		list_append(subs, &s->le, s);

		s->id          = sqlite3_column_int64(stmt, 0);
		s->expires     = sqlite3_column_int64(stmt, 5);
		s->local_cseq  = (uint32_t)sqlite3_column_int64(stmt, 16);
		s->remote_cseq = (uint32_t)sqlite3_column_int64(stmt, 17);
		s->version     = (uint32_t)sqlite3_column_int64(stmt, 18);
		s->updated     = sqlite3_column_int64(stmt, 20);

		err  = col_dup(&s->event, stmt, 1);
		err |= col_dup(&s->presentity, stmt, 2);
		err |= col_dup(&s->watcher, stmt, 3);
		err |= col_dup(&s->state, stmt, 4);
		err |= col_dup(&s->call_id, stmt, 6);
		err |= col_dup(&s->local_tag, stmt, 7);
		err |= col_dup(&s->remote_tag, stmt, 8);
		err |= col_dup(&s->local_uri, stmt, 9);
		err |= col_dup(&s->remote_uri, stmt, 10);
		err |= col_dup(&s->contact, stmt, 11);
		err |= col_dup(&s->route_set, stmt, 12);
		err |= col_dup(&s->sock, stmt, 13);
		err |= col_dup(&s->received, stmt, 14);
		err |= col_dup(&s->transport, stmt, 15);
		err |= col_dup(&s->accept, stmt, 19);
		if (err) {
			err = ENOMEM;
			break;
		}
	}

	if (!err && rc != SQLITE_DONE && rc != SQLITE_ROW)
		err = sqlite_errno(rc);

	sqlite3_reset(stmt);

	return err;
}


int sqlite_sub_expired(struct list *ids, int64_t now, uint32_t limit)
{
	sqlite3_stmt *stmt = db_stmt(&st_sub_expired);
	int rc, err = 0;

	if (!stmt)
		return db_error();

	sqlite3_bind_int64(stmt, 1, now);
	sqlite3_bind_int64(stmt, 2, limit);

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct store_id *id = mem_zalloc(sizeof(*id), NULL);

		if (!id) {
			err = ENOMEM;
			break;
		}

		id->id = sqlite3_column_int64(stmt, 0);
		list_append(ids, &id->le, id);
	}

	if (!err && rc != SQLITE_DONE && rc != SQLITE_ROW)
		err = sqlite_errno(rc);

	sqlite3_reset(stmt);

	return err;
}
