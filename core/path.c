/**
 * @file path.c  File names of the configuration, relative to where sipd
 *               started
 *
 * A relative path in the configuration (db, eventlog_file,
 * control_socket) names a file in the directory sipd was started in. A
 * daemon changes to / once started, so that directory is remembered at
 * start and a reload resolves paths the same way.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <re.h>
#include "core.h"


static char start_dir[512];


/**
 * Remember the current directory as the one relative paths start from
 *
 * @return 0 if success, otherwise errorcode
 */
int path_init(void)
{
	if (!getcwd(start_dir, sizeof(start_dir))) {
		start_dir[0] = '\0';
		return errno;
	}

	return 0;
}


/**
 * Make a path of the configuration absolute
 *
 * @param pathp Set to a new absolute path
 * @param path  Absolute, or relative to the directory sipd started in
 *
 * @return 0 if success, otherwise errorcode
 */
int path_absolute(char **pathp, const char *path)
{
	char cwd[512];
	const char *dir = start_dir;

	if (!pathp || !path)
		return EINVAL;

	if (path[0] == '/')
		return str_dup(pathp, path);

	if (!dir[0]) {
		if (!getcwd(cwd, sizeof(cwd)))
			return errno;
		dir = cwd;
	}

	return re_sdprintf(pathp, "%s/%s", dir, path);
}


/**
 * Create the directory a file goes in, when missing: its parents with
 * mode 0755, itself with the mode given
 *
 * @param file File name
 * @param mode Mode of the directory itself
 *
 * @return 0 if it exists now, otherwise errorcode
 */
int path_mkdir(const char *file, unsigned mode)
{
	char dir[512], *slash, *p;

	str_ncpy(dir, file, sizeof(dir));
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;

	*slash = '\0';

	for (p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		(void)mkdir(dir, 0755);
		*p = '/';
	}

	if (mkdir(dir, (mode_t)mode) && errno != EEXIST)
		return errno;

	return 0;
}
