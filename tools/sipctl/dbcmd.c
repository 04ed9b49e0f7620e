/**
 * @file dbcmd.c  sipctl db: create and check the database
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdio.h>
#include <string.h>
#include <re.h>
#include "core.h"
#include <db/db.h>
#include <store/store.h>
#include "sipctl.h"


static int db_check(void)
{
	char problem[256];
	int err;

	if (db_use(false))
		return 1;

	err = store_check(problem, sizeof(problem));
	if (err)
		return fail("database check: %s", problem[0] ? problem :
			    "failed");

	(void)printf("database OK, schema version %d\n", db_schema_version());

	return 0;
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

	(void)fail("usage: sipctl db init|upgrade|check, sipctl db copy"
		   " [--force] FROM-CONF TO-CONF");

	return EXIT_USAGE;
}
