/**
 * @file driver.c  Replays inputs through a harness built without libFuzzer
 *
 *   fuzz-NAME FILE|DIR...
 *
 * Every file given, and every file in a directory given, goes through
 * LLVMFuzzerTestOneInput() once, as libFuzzer would run it. make test
 * replays the seeds and the regression inputs this way, in a build with
 * the normal compiler (and with the sanitizers under SANITIZE=1).
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <re.h>
#include "harness.h"


void fuzz_core_stop(void) __attribute__((weak));


static int run_file(const char *path, unsigned *count)
{
	uint8_t *buf;
	size_t n;
	long size;
	FILE *f;

	f = fopen(path, "rb");
	if (!f)
		return errno;

	if (fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET)) {
		(void)fclose(f);
		return EIO;
	}

	/* exactly the file's bytes: a read past them is caught */
	buf = malloc(size ? (size_t)size : 1);
	if (!buf) {
		(void)fclose(f);
		return ENOMEM;
	}

	n = fread(buf, 1, (size_t)size, f);
	(void)fclose(f);

	if (n != (size_t)size) {
		free(buf);
		return EIO;
	}

	if (getenv("FUZZ_VERBOSE"))
		(void)fprintf(stderr, "replay %s\n", path);

	(void)LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	++*count;

	return 0;
}


static int run_path(const char *path, unsigned *count)
{
	struct dirent **names;
	struct stat st;
	int i, n, err = 0;

	if (stat(path, &st))
		return errno;

	if (!S_ISDIR(st.st_mode))
		return run_file(path, count);

	n = scandir(path, &names, NULL, alphasort);
	if (n < 0)
		return errno;

	for (i = 0; i < n; i++) {
		char sub[1024];

		if (names[i]->d_name[0] != '.' && !err) {
			(void)snprintf(sub, sizeof(sub), "%s/%s", path,
				       names[i]->d_name);
			err = run_path(sub, count);
		}
		free(names[i]);
	}
	free(names);

	return err;
}


int main(int argc, char *argv[])
{
	unsigned count = 0;
	int i, err = 0;

	(void)LLVMFuzzerInitialize(&argc, &argv);

	for (i = 1; i < argc && !err; i++) {
		err = run_path(argv[i], &count);
		if (err)
			(void)fprintf(stderr, "%s: %s: %s\n", argv[0],
				      argv[i], strerror(err));
	}

	if (fuzz_core_stop)
		fuzz_core_stop();

	(void)printf("%s: %u input%s replayed\n", argv[0], count,
		     count == 1 ? "" : "s");

	return err ? 1 : 0;
}
