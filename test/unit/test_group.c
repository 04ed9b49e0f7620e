/**
 * @file test_group.c  Group commit (lib/db/group.c): saves of several
 *                     requests in one SQLite transaction, each told only
 *                     once it is committed
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <unistd.h>
#include <sqlite3.h>
#include <re.h>
#include "core.h"
#include <db/db.h>
#include "test.h"
#include "capture.h"


static char dir[256];
static char path[300];
static int told[8];
static uint32_t ntold;


static void setup(void)
{
	ck_assert_int_eq(0, test_tmpdir(dir, sizeof(dir)));
	re_snprintf(path, sizeof(path), "%s/sipd.db", dir);
	ck_assert_int_eq(0, db_open(path, true, false));
	ck_assert_int_eq(0, db_exec("CREATE TABLE t (x INTEGER UNIQUE)"));
	ntold = 0;
}


static void teardown(void)
{
	db_close();
	test_db_remove(path, dir);
}


/* rows of t another connection sees: what is committed */
static int committed_rows(void)
{
	sqlite3 *other;
	sqlite3_stmt *stmt;
	int n = -1;

	ck_assert_int_eq(SQLITE_OK, sqlite3_open(path, &other));
	ck_assert_int_eq(SQLITE_OK, sqlite3_prepare_v2(other,
		"SELECT count(*) FROM t", -1, &stmt, NULL));
	if (sqlite3_step(stmt) == SQLITE_ROW)
		n = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(other);

	return n;
}


static void committed_h(int err, void *arg)
{
	(void)arg;

	if (ntold < ARRAY_SIZE(told))
		told[ntold++] = err;
}


/* one request's save, as the store makes it: begin, write, commit */
static int member_save(int x)
{
	char sql[64];
	int err;

	err = db_group_enter();
	if (err)
		return err;

	err = db_begin();
	if (!err) {
		re_snprintf(sql, sizeof(sql), "INSERT INTO t VALUES (%d)", x);
		err = db_exec(sql);
		if (err)
			db_rollback();
		else
			err = db_commit();
	}
	db_group_leave();

	if (!err)
		ck_assert_int_eq(0, db_group_after(committed_h, NULL));

	return err;
}


static void loop_end(void *arg)
{
	(void)arg;
	re_cancel();
}


/* Three saves in one transaction: none committed, none told, until the
   group commits; a member that fails is rolled back alone */
START_TEST(test_members_told_after_commit)
{
	ck_assert_int_eq(0, member_save(1));
	ck_assert_int_eq(0, member_save(2));
	capture_start();
	ck_assert_int_ne(0, member_save(2));       /* UNIQUE: fails alone */
	ck_assert(capture_has("UNIQUE constraint failed"));
	capture_stop();
	ck_assert_int_eq(0, member_save(3));

	ck_assert_int_eq(0, committed_rows());
	ck_assert_uint_eq(0, ntold);

	ck_assert_int_eq(0, db_group_commit());
	ck_assert_int_eq(3, committed_rows());
	ck_assert_uint_eq(3, ntold);
	ck_assert_int_eq(0, told[0]);
	ck_assert_int_eq(0, told[2]);

	/* nothing open: nothing to wait for */
	ck_assert_int_eq(ENOENT, db_group_after(committed_h, NULL));

	{
		uint64_t commits, saves;

		db_group_counts(&commits, &saves);
		ck_assert_uint_eq(1, commits);
		ck_assert_uint_eq(3, saves);
	}
}
END_TEST


/* Another writer commits the group first, then writes alone */
START_TEST(test_other_writer_commits_group_first)
{
	ck_assert_int_eq(0, member_save(1));
	ck_assert_int_eq(0, db_begin());
	ck_assert_uint_eq(1, ntold);
	ck_assert_int_eq(1, committed_rows());
	ck_assert_int_eq(0, db_exec("INSERT INTO t VALUES (9)"));
	db_rollback();
	ck_assert_int_eq(1, committed_rows());
	ck_assert_int_eq(ENOENT, db_group_after(committed_h, NULL));
}
END_TEST


/* The loop commits the group in the first turn that brings nothing */
START_TEST(test_idle_turn_commits)
{
	struct tmr tmr;

	ck_assert_int_eq(0, libre_init());
	ck_assert_int_eq(0, member_save(1));

	tmr_init(&tmr);
	tmr_start(&tmr, 50, loop_end, NULL);
	(void)re_main(NULL);

	ck_assert_uint_eq(1, ntold);
	ck_assert_int_eq(1, committed_rows());
	libre_close();
}
END_TEST


Suite *suite_group(void)
{
	Suite *s = suite_create("group");
	TCase *tc = tcase_create("sqlite");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_members_told_after_commit);
	tcase_add_test(tc, test_other_writer_commits_group_first);
	tcase_add_test(tc, test_idle_turn_commits);
	suite_add_tcase(s, tc);

	return s;
}
