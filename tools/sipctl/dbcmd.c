/**
 * @file dbcmd.c  sipctl db: create and check the database
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdio.h>
#include <string.h>
#include <sqlite3.h>
#include <re.h>
#include "core.h"
#include "sipctl.h"


static int db_check(void)
{
	sqlite3_stmt *stmt;
	const char *res = NULL;
	int rc;

	if (db_use(false))
		return 1;

	rc = sqlite3_prepare_v2(db_handle(), "PRAGMA quick_check", -1, &stmt,
				NULL);
	if (rc != SQLITE_OK)
		return fail("database: %s", sqlite3_errmsg(db_handle()));

	if (sqlite3_step(stmt) == SQLITE_ROW)
		res = (const char *)sqlite3_column_text(stmt, 0);

	if (!res || strcmp(res, "ok")) {
		rc = fail("database check: %s", res ? res : "failed");
	}
	else {
		(void)printf("database OK, schema version %d\n",
			     db_schema_version());
		rc = 0;
	}

	sqlite3_finalize(stmt);

	return rc;
}


/**
 * sipctl db ...
 *
 * @param argc Argument count after "db"
 * @param argv Arguments after "db"
 *
 * @return Exit status
 */
int cmd_db(int argc, char *argv[])
{
	if (argc == 1 && (!strcmp(argv[0], "init") ||
			  !strcmp(argv[0], "upgrade"))) {
		bool init = !strcmp(argv[0], "init");

		if (db_use_upgrade(init, true))
			return 1;
		if (db_upgrade())
			return fail("db %s: the upgrade failed", argv[0]);
		(void)printf("database ready, schema version %d\n",
			     db_schema_version());
		return 0;
	}

	if (argc == 1 && !strcmp(argv[0], "check"))
		return db_check();

	(void)fail("usage: sipctl db init|upgrade|check");

	return EXIT_USAGE;
}
