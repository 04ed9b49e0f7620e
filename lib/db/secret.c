/**
 * @file secret.c  Server secrets kept in the database
 *
 * Keys that must survive a restart (the nonce key of digest auth, the
 * key of the flow tokens in Record-Route) are random bytes in the secrets
 * table, made the first time they are asked for; in PostgreSQL, shared
 * by every node of the database (a nonce of one node holds on another).
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <sqlite3.h>
#include <openssl/rand.h>
#include <re.h>
#include "core.h"
#include "db/db.h"


static struct db_stmt st_get = {
	.sql = "SELECT value FROM secrets WHERE name = ?1"
};

static struct db_stmt st_put = {
	.sql = "INSERT OR IGNORE INTO secrets (name, value) VALUES (?1, ?2)"
};


static int secret_read(const char *name, uint8_t *key, size_t len,
		       bool *found)
{
	sqlite3_stmt *stmt = db_stmt(&st_get);
	int rc;

	if (!stmt)
		return db_error();

	*found = false;

	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);

	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW &&
	    (size_t)sqlite3_column_bytes(stmt, 0) == len) {
		memcpy(key, sqlite3_column_blob(stmt, 0), len);
		*found = true;
	}

	sqlite3_reset(stmt);

	return (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0 : EIO;
}


/**
 * Get a secret, making it (random) the first time
 *
 * @param name Name of the secret
 * @param key  Buffer for it
 * @param len  Its length
 *
 * @return 0 if success, otherwise errorcode
 */
int db_secret(const char *name, uint8_t *key, size_t len)
{
	sqlite3_stmt *stmt;
	uint8_t fresh[64];
	bool found;
	int err, rc;

	if (len > sizeof(fresh))
		return EINVAL;

	if (db_pg_on()) {
		if (RAND_bytes(fresh, (int)len) != 1)
			return EIO;
		return db_pg_secret(name, key, len, fresh);
	}

	err = secret_read(name, key, len, &found);
	if (err || found)
		return err;

	if (RAND_bytes(fresh, (int)len) != 1)
		return EIO;

	stmt = db_stmt(&st_put);
	if (!stmt)
		return db_error();

	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(stmt, 2, fresh, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE)
		return rc == SQLITE_BUSY ? EBUSY : EIO;

	/* another process may have won the race: use what is stored */
	err = secret_read(name, key, len, &found);
	if (!err && !found)
		err = EIO;

	return err;
}
