/**
 * @file pgtest.c  The PostgreSQL server of the unit tests
 *
 * SIPD_TEST_PG is a connection URI of a server the tests may empty
 * (make test starts one with test/pg/pgserver.py). Unset, the suites
 * leave out their PostgreSQL cases and say so once.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdio.h>
#include <stdlib.h>
#include <libpq-fe.h>
#include <re.h>
#include "core.h"
#include <db/db.h>
#include <store/store.h>
#include "test.h"


/**
 * The URI of the test server
 *
 * @return URI, NULL when there is none (the case noted on stderr once)
 */
const char *test_pg_uri(void)
{
	static bool noted;
	const char *uri = getenv("SIPD_TEST_PG");

	if (uri && *uri)
		return uri;

	if (!noted) {
		fprintf(stderr, "note: SIPD_TEST_PG unset: the PostgreSQL "
			"cases of the store's tests are skipped\n");
		noted = true;
	}

	return NULL;
}


/** Fixture: an empty database with the schema, the engine set to it */
void test_pg_setup(void)
{
	char msg[256] = "";
	PGconn *conn;
	PGresult *res;

	conn = PQconnectdb(test_pg_uri());
	ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "%s",
		      PQerrorMessage(conn));
	res = PQexec(conn, "SET client_min_messages = warning;"
		     " DROP SCHEMA public CASCADE; CREATE SCHEMA public");
	ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "%s",
		      PQresultErrorMessage(res));
	PQclear(res);
	PQfinish(conn);

	ck_assert_msg(0 == db_pg_open(test_pg_uri(), true, msg,
					 sizeof(msg)), "%s", msg);
	store_engine_set(&store_pg);
}


/** Fixture: back to SQLite */
void test_pg_teardown(void)
{
	store_engine_set(NULL);
	db_pg_close();
}
