/**
 * @file accounts.c  Accounts in SQLite: existence and HA1 values
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <sqlite3.h>
#include <re.h>
#include <sipd.h>
#include "location.h"


static struct db_stmt st_ha1 = {
	.sql = "SELECT ha1_md5, ha1_sha256 FROM accounts"
	       " WHERE username = ?1 AND domain = ?2"
};


/**
 * Check whether an account exists
 *
 * @param user   User part
 * @param domain Domain
 * @param exists Set to the answer
 *
 * @return 0 if success, otherwise errorcode
 */
int accounts_exists(const char *user, const char *domain, bool *exists)
{
	uint8_t ha1[DIGEST_MAX_SIZE];
	size_t len;
	int err;

	err = accounts_ha1(user, domain, DIGEST_MD5, ha1, &len);
	if (err == ENOENT) {
		*exists = false;
		return 0;
	}
	else if (err)
		return err;

	*exists = true;

	return 0;
}


/**
 * Get the HA1 of an account
 *
 * @param user   User part
 * @param domain Domain
 * @param alg    Digest algorithm
 * @param ha1    Buffer of DIGEST_MAX_SIZE bytes
 * @param len    Set to the length
 *
 * @return 0 if found, ENOENT if there is no such account
 */
int accounts_ha1(const char *user, const char *domain, enum digest_alg alg,
		 uint8_t *ha1, size_t *len)
{
	sqlite3_stmt *stmt = db_stmt(&st_ha1);
	int col = alg == DIGEST_SHA256 ? 1 : 0;
	size_t n;
	int rc, err = 0;

	if (!stmt)
		return db_error();

	sqlite3_bind_text(stmt, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, domain, -1, SQLITE_STATIC);

	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		n = (size_t)sqlite3_column_bytes(stmt, col);
		if (n != digest_size(alg)) {
			err = EILSEQ;
		}
		else {
			memcpy(ha1, sqlite3_column_blob(stmt, col), n);
			*len = n;
		}
	}
	else if (rc == SQLITE_DONE) {
		err = ENOENT;
	}
	else {
		err = rc == SQLITE_BUSY ? EBUSY : EIO;
	}

	sqlite3_reset(stmt);

	return err;
}
