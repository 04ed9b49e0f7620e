/**
 * @file test.h  The suites of the sipd test runner
 *
 * Copyright (C) 2026 sipd developers
 */

#include <check.h>

Suite *suite_config(void);
Suite *suite_uri(void);
Suite *suite_scan(void);
Suite *suite_digest(void);
Suite *suite_nonce(void);
Suite *suite_location(void);
Suite *suite_store(void);
Suite *suite_forward(void);
Suite *suite_message(void);
Suite *suite_proxy(void);
Suite *suite_presence(void);
Suite *suite_avail(void);
Suite *suite_stats(void);
Suite *suite_reload(void);
Suite *suite_pool(void);
Suite *suite_libre(void);
Suite *suite_group(void);
Suite *suite_integration(void);

/* helpers.c */
const char *test_build_dir(void);
const char *test_source_dir(void);
int  test_tmpdir(char *buf, size_t size);
void test_db_remove(const char *path, const char *dir);
int  test_config(const char *text);

/* pgtest.c */
const char *test_pg_uri(void);
void test_pg_setup(void);
void test_pg_teardown(void);
