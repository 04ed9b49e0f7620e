/**
 * @file dir.c  Problems of the "db" key, said as problems of its line:
 *              a missing directory, a missing file
 *
 * SQLite says only "unable to open database file" when the directory of
 * the file is missing; sipd and sipctl check it first and name the file
 * and line of the key, the key and the directory.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <re.h>
#include "core.h"
#include "db/db.h"


/**
 * Report a problem of the database key: "FILE:LINE: db: PROBLEM", or
 * "FILE: no 'db' line: PROBLEM" when the path is the default
 *
 * @param fmt Formatted description of the problem
 *
 * @return EINVAL, for the caller to return
 */
int db_key_fail(const char *fmt, ...)
{
	const struct config_line *line = config_find("db");
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	(void)re_vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	if (line)
		return config_fail(line, "%s", msg);

	return config_fail(NULL, "no 'db' line: %s", msg);
}


/**
 * Check that the directory of the database file is there
 *
 * @param path Absolute path of the database file
 * @param hint What to do when it is missing, or NULL
 *
 * @return 0 if it is a directory, otherwise errorcode (reported as a
 *         problem of the db key)
 */
int db_dir_check(const char *path, const char *hint)
{
	const char *slash = path ? strrchr(path, '/') : NULL;
	char dir[512];
	struct stat st;
	size_t n;
	int err;

	if (!slash)
		return 0;

	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= sizeof(dir))
		return 0;               /* SQLite will say what it can */

	memcpy(dir, path, n);
	dir[n] = '\0';

	if (!stat(dir, &st))
		err = S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
	else
		err = errno;

	if (!err)
		return 0;

	if (err == ENOENT)
		(void)db_key_fail("directory %s does not exist%s%s%s", dir,
				  hint ? " (" : "", hint ? hint : "",
				  hint ? ")" : "");
	else
		(void)db_key_fail("directory %s: %m", dir, err);

	return err;
}
