/**
 * @file test_integration.c  Integration tests: the real sipd on loopback
 *
 * The tests live in the Python files of test/integration; each is one
 * Check test here, run in its own process with a time limit. They start
 * sipd, SIPp, baresip and the libre test client themselves and stop them
 * by PID.
 *
 * Most of them wait on timers, so they run two at a time
 * (SIPD_TEST_LANES, 1 under valgrind): the first Check test makes a
 * folder and starts run.py --lanes, which runs them all in list order,
 * those that load the machine or measure times alone, and writes what
 * each printed and its exit status there; each Check test waits for its
 * own, prints it, and passes or fails by it.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <re.h>
#include "test.h"


enum {
	MAX_TESTS = 512,
	TEST_TIMEOUT = 180,
	LANES = 2,
};


static struct {
	char names[MAX_TESTS][96];
	int count;
	int lanes;             /* tests at a time, 1: each in its Check test */
	char dir[64];          /* run.py --lanes writes the results here     */
} it;


static void list_tests(void)
{
	char cmd[512], line[128];
	FILE *p;

	re_snprintf(cmd, sizeof(cmd), "python3 test/integration/run.py"
		    " --list");

	p = popen(cmd, "r");
	if (!p)
		return;

	while (it.count < MAX_TESTS && fgets(line, sizeof(line), p)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0])
			str_ncpy(it.names[it.count++], line,
				 sizeof(it.names[0]));
	}

	(void)pclose(p);
}


/* Start run.py --lanes in a session of its own, its output discarded */
static void lanes_start(void)
{
	char n[8];
	pid_t pid;
	int fd;

	re_snprintf(n, sizeof(n), "%d", it.lanes);

	pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid)
		return;

	(void)setsid();
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		(void)dup2(fd, STDOUT_FILENO);
		(void)dup2(fd, STDERR_FILENO);
	}
	execlp("python3", "python3", "test/integration/run.py", "--lanes", n,
	       "--results", it.dir, (char *)NULL);
	_exit(127);
}


/* Wait for a test's exit status from the lanes; print its output */
static int lanes_result(const char *name)
{
	char path[256], buf[4096];
	FILE *f;
	int rc = -1, i;
	size_t n;

	re_snprintf(path, sizeof(path), "%s/%s.rc", it.dir, name);
	for (i = 0; i < (TEST_TIMEOUT - 5) * 20; i++) {
		f = fopen(path, "r");
		if (f) {
			if (fscanf(f, "%d", &rc) != 1)
				rc = -1;
			(void)fclose(f);
			break;
		}
		(void)usleep(50000);
	}
	(void)unlink(path);

	re_snprintf(path, sizeof(path), "%s/%s.out", it.dir, name);
	f = fopen(path, "r");
	if (f) {
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
			(void)fwrite(buf, 1, n, stdout);
		(void)fclose(f);
		(void)fflush(stdout);
	}
	(void)unlink(path);

	return rc;
}


START_TEST(test_run)
{
	char cmd[512];
	int status;

	if (it.lanes > 1) {
		status = lanes_result(it.names[_i]);
		if (_i == it.count - 1)
			(void)rmdir(it.dir);
		ck_assert_msg(status != -1, "integration test %s: no result"
			      " from the lanes within %d s", it.names[_i],
			      TEST_TIMEOUT - 5);
		ck_assert_msg(status == 0, "integration test %s failed"
			      " (status %d)", it.names[_i], status);
		return;
	}

	re_snprintf(cmd, sizeof(cmd), "python3 test/integration/run.py %s",
		    it.names[_i]);

	status = system(cmd);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "integration test %s failed (status %d)", it.names[_i],
		      status);
}
END_TEST


START_TEST(test_listed)
{
	ck_assert_msg(it.count > 0, "test/integration/run.py --list gave no"
		      " test");

	if (it.lanes > 1) {
		ck_assert_msg(!mkdir(it.dir, 0700), "mkdir %s: %s", it.dir,
			      strerror(errno));
		lanes_start();
	}
}
END_TEST


/* How many at a time: SIPD_TEST_LANES, else 2 (1 under valgrind) */
static void lanes_choose(void)
{
	const char *env = getenv("SIPD_TEST_LANES");
	const char *vg = getenv("SIPD_VALGRIND");

	it.lanes = env && *env ? atoi(env) : vg && !strcmp(vg, "1") ? 1 :
		LANES;
	if (it.lanes < 1)
		it.lanes = 1;

	/* made by the first test, known to every test (forked from here) */
	re_snprintf(it.dir, sizeof(it.dir), "/tmp/sipd-lanes-%d",
		    (int)getpid());
}


Suite *suite_integration(void)
{
	Suite *s = suite_create("integration");
	TCase *tc = tcase_create("integration");

	list_tests();
	lanes_choose();

	tcase_set_timeout(tc, TEST_TIMEOUT);
	tcase_add_test(tc, test_listed);
	tcase_add_loop_test(tc, test_run, 0, it.count);
	suite_add_tcase(s, tc);

	return s;
}
