/**
 * @file part.c  The database as a part of the daemon's core: its keys
 *               (db, db_sync), its file opened once the modules are
 *               loaded, its checkpoint thread, its close
 *
 * Copyright (C) 2026 sipd developers
 */

#include <re.h>
#include "core.h"
#include "db/db.h"


#ifndef SIPD_DB_PATH
#define SIPD_DB_PATH "/var/lib/sipd/sipd.db"
#endif


static struct {
	char *path;
	bool full_sync;
} dbp;


static int part_config(bool apply)
{
	const struct config_line *line;
	bool full_sync = false;
	char *path = NULL;
	int err;

	line = config_find("db");
	err = path_absolute(&path, line ? line->val : SIPD_DB_PATH);
	if (err)
		return err;

	line = config_find("db_sync");
	if (line) {
		if (!str_casecmp(line->val, "full"))
			full_sync = true;
		else if (str_casecmp(line->val, "normal"))
			err = config_fail(line, "'%s' is not normal or full",
					  line->val);
	}

	if (!err && apply) {
		mem_deref(dbp.path);
		dbp.path = path;
		path = NULL;
		dbp.full_sync = full_sync;
	}

	mem_deref(path);

	return err;
}


/* Modules first: a missing service stops sipd before the file is
   created; modules touch the database only once running */
static int part_open(bool check_only)
{
	int err;

	if (check_only)
		return 0;

	/* SQLite would only say "unable to open database file" */
	err = db_dir_check(dbp.path, "create it, or run 'sipctl db init'");
	if (err)
		return err;

	err = db_open(dbp.path, true, false);
	if (err)
		return err;

	return db_set_sync(dbp.full_sync);
}


/* A failure is logged; SQLite's own checkpoints then stay on */
static int part_start(void)
{
	(void)checkpoint_start(dbp.path);

	return 0;
}


/* Statements live in module memory: released before dlclose */
static void part_unload(void)
{
	checkpoint_stop();
	db_stmts_release();
}


static void part_close(void)
{
	db_close();
	dbp.path = mem_deref(dbp.path);
}


static struct core_part db_part = {
	.name = "db",
	.configh = part_config,
	.starth = part_start,
	.openh = part_open,
	.unloadh = part_unload,
	.closeh = part_close,
};


/**
 * Register the database with the core (before core_init)
 */
void db_part_register(void)
{
	checkpoint_init();
	core_part_register(&db_part);
}


/**
 * Open the database again in a worker process (the master closed its
 * connection before it forked: a connection is never shared)
 *
 * @return 0 if success, otherwise errorcode (reported)
 */
int db_reopen(void)
{
	int err;

	db_close();

	err = db_open(dbp.path, false, false);
	if (err)
		return err;

	return db_set_sync(dbp.full_sync);
}
