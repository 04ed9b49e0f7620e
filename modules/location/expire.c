/**
 * @file expire.c  Remove expired bindings, a few at a time
 *
 * Copyright (C) 2026 sipd developers
 */

#include <sqlite3.h>
#include <re.h>
#include <sipd.h>
#include "location.h"


static struct db_stmt st_expired = {
	.sql = "SELECT id, aor, contact, params, expires, q, callid, cseq,"
	       " received, transport, socket, path, user_agent, instance,"
	       " reg_id, created, updated"
	       " FROM bindings WHERE expires <= ?1 ORDER BY expires LIMIT ?2"
};

static struct db_stmt st_delete = {
	.sql = "DELETE FROM bindings WHERE id = ?1 AND expires <= ?2"
};


/**
 * Remove at most a batch of expired bindings in one transaction and
 * report each as a core event
 *
 * @param now     Current time
 * @param batch   Most bindings to remove
 * @param removed Set to how many were removed
 *
 * @return 0 if success, otherwise errorcode
 */
int expire_run(int64_t now, uint32_t batch, uint32_t *removed)
{
	struct list gone = LIST_INIT;
	sqlite3_stmt *stmt;
	struct le *le;
	int rc, err = 0;

	*removed = 0;

	stmt = db_stmt(&st_expired);
	if (!stmt)
		return db_error();

	sqlite3_bind_int64(stmt, 1, now);
	sqlite3_bind_int64(stmt, 2, batch);

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct binding *b;

		err = store_binding_read(&b, stmt);
		if (err)
			break;

		list_append(&gone, &b->le, b);
	}

	sqlite3_reset(stmt);

	if (err || list_isempty(&gone))
		goto out;

	err = db_begin();
	if (err)
		goto out;

	for (le = gone.head; le && !err; le = le->next) {
		const struct binding *b = le->data;

		stmt = db_stmt(&st_delete);
		if (!stmt) {
			err = db_error();
			break;
		}

		sqlite3_bind_int64(stmt, 1, b->id);
		sqlite3_bind_int64(stmt, 2, now);
		rc = sqlite3_step(stmt);
		if (rc != SQLITE_DONE)
			err = rc == SQLITE_BUSY ? EBUSY : EIO;
		sqlite3_reset(stmt);
	}

	if (err) {
		db_rollback();
		goto out;
	}

	err = db_commit();
	if (err)
		goto out;

	for (le = gone.head; le; le = le->next) {
		location_expired(le->data);
		++*removed;
	}

 out:
	list_flush(&gone);

	return err;
}
