/**
 * @file pg_secret.c  Secrets kept in PostgreSQL (the keys of nonces and
 *                    flow tokens): every node sharing the database gets
 *                    the same
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <libpq-fe.h>
#include <re.h>
#include "core.h"
#include "db/db.h"


static struct pg_stmt st_secret_get = {
	.sql = "SELECT encode(value, 'hex') FROM secrets WHERE name = $1"
};

static struct pg_stmt st_secret_put = {
	.sql = "INSERT INTO secrets (name, value) VALUES ($1,"
	       " decode($2, 'hex')) ON CONFLICT (name) DO NOTHING"
};


static int secret_read(const char *name, uint8_t *key, size_t len,
		       bool *found)
{
	const char *v[1] = {name};
	PGresult *res;
	const char *hex;
	int err;

	*found = false;

	err = db_pg_query(&res, &st_secret_get, 1, v);
	if (err)
		return err;

	hex = PQntuples(res) ? PQgetvalue(res, 0, 0) : "";
	if (strlen(hex) == 2 * len) {
		struct pl pl;
		size_t i;

		for (i = 0; i < len; i++) {
			pl.p = hex + 2 * i;
			pl.l = 2;
			key[i] = (uint8_t)pl_x32(&pl);
		}
		*found = true;
	}

	PQclear(res);

	return 0;
}


/**
 * Get a secret kept in PostgreSQL, making it (random) the first time:
 * every node sharing the database gets the same
 *
 * @param name  Name of the secret
 * @param key   Buffer for it
 * @param len   Its length
 * @param fresh Random bytes to store if it is new
 *
 * @return 0 if success, otherwise errorcode
 */
int db_pg_secret(const char *name, uint8_t *key, size_t len,
		 const uint8_t *fresh)
{
	char hex[129];
	const char *v[2] = {name, hex};
	PGresult *res;
	bool found;
	size_t i;
	int err;

	if (len * 2 >= sizeof(hex))
		return EINVAL;

	err = secret_read(name, key, len, &found);
	if (err || found)
		return err;

	for (i = 0; i < len; i++)
		(void)re_snprintf(hex + 2 * i, 3, "%02x", fresh[i]);

	err = db_pg_query(&res, &st_secret_put, 2, v);
	if (err)
		return err;
	PQclear(res);

	/* another node may have won the race: use what is stored */
	err = secret_read(name, key, len, &found);
	if (!err && !found)
		err = EIO;

	return err;
}
