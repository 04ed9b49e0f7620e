/**
 * @file helpers.c  Shared helpers of the unit tests
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <re.h>
#include "core.h"
#include "test.h"


/**
 * The build directory (SIPD_BUILD, set by make test)
 *
 * @return Directory
 */
const char *test_build_dir(void)
{
	const char *b = getenv("SIPD_BUILD");

	return b && *b ? b : "build";
}


/**
 * Make a fresh temporary directory
 *
 * @param buf  Buffer for its name
 * @param size Buffer size
 *
 * @return 0 if success, otherwise errorcode
 */
int test_tmpdir(char *buf, size_t size)
{
	const char *base = getenv("TMPDIR");

	re_snprintf(buf, size, "%s/sipd-unit-XXXXXX", base ? base : "/tmp");

	return mkdtemp(buf) ? 0 : errno;
}


/**
 * Remove a test's SQLite file, its WAL and shared memory, and its folder
 *
 * @param path The database file
 * @param dir  The folder test_tmpdir() made for it
 */
void test_db_remove(const char *path, const char *dir)
{
	char f[320];

	(void)unlink(path);
	re_snprintf(f, sizeof(f), "%s-wal", path);
	(void)unlink(f);
	re_snprintf(f, sizeof(f), "%s-shm", path);
	(void)unlink(f);
	(void)rmdir(dir);
}


/**
 * Load configuration text as if it were a file named "test.conf"
 *
 * @param text Configuration
 *
 * @return 0 if loaded (syntax errors are counted), otherwise errorcode
 */
int test_config(const char *text)
{
	return config_load_buf("test.conf", text);
}
