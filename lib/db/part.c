/**
 * @file part.c  The database as a part of the daemon's core: its keys
 *               (db, db_sync), its file (or PostgreSQL server) opened
 *               once the modules are loaded, its checkpoint thread, its
 *               close
 *
 * "db" is a path (SQLite) or a libpq connection URI, postgresql://...
 * (PostgreSQL, for several nodes on one database). Like a missing SQLite
 * file, an empty PostgreSQL database gets the schema at start: the same
 * first start on both engines, one transaction, and a node that races
 * another to create it takes the other's. sipd -t connects and checks
 * the schema, creating nothing.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <errno.h>
#include <libpq-fe.h>
#include <re.h>
#include "core.h"
#include "db/db.h"


#ifndef SIPD_DB_PATH
#define SIPD_DB_PATH "/var/lib/sipd/sipd.db"
#endif


static struct {
	char *path;
	char *uri;             /* PostgreSQL, instead of path */
	bool full_sync;
} dbp;


/* libpq's check of the URI's form (no connection) */
static int uri_check(const struct config_line *line)
{
	PQconninfoOption *opts;
	char *msg = NULL;
	int err = 0;

	opts = PQconninfoParse(line->val, &msg);
	if (!opts) {
		char why[256];

		str_ncpy(why, msg ? msg : "out of memory", sizeof(why));
		why[strcspn(why, "\n")] = '\0';
		err = config_fail(line, "not a valid PostgreSQL connection"
				  " URI: %s", why);
	}

	PQfreemem(msg);
	PQconninfoFree(opts);

	return err;
}


static int part_config(bool apply)
{
	const struct config_line *line;
	bool full_sync = false;
	char *path = NULL, *uri = NULL;
	int err;

	line = config_find("db");
	if (line && db_is_uri(line->val)) {
		err = uri_check(line);
		if (!err)
			err = str_dup(&uri, line->val);
	}
	else {
		err = path_absolute(&path, line ? line->val : SIPD_DB_PATH);
	}
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
		mem_deref(dbp.uri);
		dbp.path = path;
		dbp.uri = uri;
		path = NULL;
		uri = NULL;
		dbp.full_sync = full_sync;
	}

	mem_deref(path);
	mem_deref(uri);

	return err;
}


/**
 * Open the PostgreSQL database of the db line, its problems said as
 * problems of that line with the server's message
 *
 * @param uri        libpq connection URI
 * @param create     Create the schema in an empty database
 * @param older      Accept an older schema, to upgrade it
 * @param check_only Only check (sipd -t): connect, check, close
 *
 * @return 0 if success, otherwise errorcode (reported)
 */
int db_pg_use(const char *uri, bool create, bool older, bool check_only)
{
	char msg[256] = "";
	int err;

	if (older)
		err = db_pg_open_older(uri, create, msg, sizeof(msg));
	else
		err = db_pg_open(uri, create && !check_only, msg,
				 sizeof(msg));
	if (check_only && err == ENOENT) {
		log_info("db: no sipd schema in the PostgreSQL database yet:"
			 " sipd creates it at start\n");
		err = 0;
	}

	switch (err) {

	case 0:
		break;

	case ECONNREFUSED:
		return db_key_fail("cannot connect to PostgreSQL: %s", msg);

	case EPROTO:
		if (strstr(msg, "sipctl db upgrade"))
			return db_key_fail("PostgreSQL database has %s", msg);
		return db_key_fail("PostgreSQL database has %s (another"
				   " sipd's): use a database of this"
				   " version", msg);

	case ENOENT:
		return db_key_fail("PostgreSQL database has no sipd schema"
				   " (start sipd once, or run 'sipctl db"
				   " init')");

	default:
		return db_key_fail("PostgreSQL database unusable: %s", msg);
	}

	if (check_only)
		db_pg_close();

	return 0;
}


/**
 * Whether a "db" value is a PostgreSQL connection URI
 *
 * @param val Value of the db key
 *
 * @return True for postgresql://... or postgres://...
 */
bool db_is_uri(const char *val)
{
	return val && (!strncmp(val, "postgresql://", 13) ||
		       !strncmp(val, "postgres://", 11));
}


/* Modules first: a missing service stops sipd before the file is
   created; modules touch the database only once running */
static int part_open(bool check_only)
{
	int err;

	if (dbp.uri)
		return db_pg_use(dbp.uri, true, false, check_only);

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
	/* the changes other nodes and sipctl commit (pg_notify.c) */
	if (dbp.uri)
		return db_pg_listen();

	(void)checkpoint_start(dbp.path);

	return 0;
}


/* Before the sockets close: the REGISTERs of an open group are
   committed and answered while their sockets are there */
static void part_stop(void)
{
	(void)db_group_commit();
}


/* Statements live in module memory: released before dlclose */
static void part_unload(void)
{
	checkpoint_stop();
	db_stmts_release();
}


static void part_close(void)
{
	db_pg_unlisten();
	db_close();
	dbp.path = mem_deref(dbp.path);
	dbp.uri = mem_deref(dbp.uri);
}


static struct core_part db_part = {
	.name = "db",
	.configh = part_config,
	.starth = part_start,
	.stoph = part_stop,
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

	if (dbp.uri)
		return db_pg_use(dbp.uri, false, false, false);

	err = db_open(dbp.path, false, false);
	if (err)
		return err;

	return db_set_sync(dbp.full_sync);
}

