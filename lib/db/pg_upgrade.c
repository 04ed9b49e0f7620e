/**
 * @file pg_upgrade.c  The PostgreSQL schema of the database open: its
 *                     version, its check, its upgrade (sipctl db upgrade)
 *
 * The migrations themselves (db/pg/migrations, embedded) run in pg.c,
 * which also creates the schema of an empty database when it opens it.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <re.h>
#include "core.h"
#include "db/db.h"


/**
 * The schema version of the PostgreSQL database
 *
 * @return Version, 0 without a schema, -1 on error
 */
int db_pg_schema_version(void)
{
	int ver = 0;

	if (db_pg_ready() || db_pg_schema_read(&ver))
		return -1;

	return ver;
}


/**
 * The check of the database: its schema is the one this sipd was built
 * for (PostgreSQL checks its own pages)
 *
 * @param problem Set to what is wrong
 * @param size    Its size
 *
 * @return 0 if sound, EILSEQ with a problem, otherwise errorcode
 */
int db_pg_check(char *problem, size_t size)
{
	int ver = 0, err;

	err = db_pg_ready();
	if (!err)
		err = db_pg_schema_read(&ver);
	if (err) {
		str_ncpy(problem, db_pg_errmsg(), size);
		return err;
	}

	if (ver != pg_schema_ver) {
		re_snprintf(problem, size, "schema version %d, not %d", ver,
			    pg_schema_ver);
		return EILSEQ;
	}

	return 0;
}


/**
 * Upgrade the PostgreSQL schema to this sipd's version (sipctl db
 * upgrade; the database was opened with db_pg_open_older())
 *
 * @return 0 if success (or already there), EPROTO for a version this
 *         sipd cannot upgrade, otherwise errorcode
 */
int db_pg_upgrade(void)
{
	int ver = 0, err;

	err = db_pg_ready();
	if (!err)
		err = db_pg_schema_read(&ver);
	if (err)
		return err;

	if (ver == pg_schema_ver)
		return 0;

	if (ver < pg_schema_base || ver > pg_schema_ver)
		return EPROTO;

	err = db_pg_migrate(ver);
	if (!err)
		log_info("db: PostgreSQL schema upgraded from version %d to"
			 " %d\n", ver, pg_schema_ver);

	return err;
}
