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
#include <signal.h>
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


/*
 * Start run.py --lanes in a session of its own, its output discarded.
 * Check kills the process group of a test when it ends: this one waits
 * until the runner has left it (setsid, then exec closes the pipe), and
 * writes the runner's pid for the tests after it.
 */
static void lanes_start(void)
{
	char n[8], path[128];
	int fds[2], fd;
	FILE *f;
	pid_t pid;

	re_snprintf(n, sizeof(n), "%d", it.lanes);

	/* the runner stops once the test program is gone */
	re_snprintf(path, sizeof(path), "%d", (int)getppid());
	(void)setenv("SIPD_LANES_OWNER", path, 1);

	ck_assert_msg(!pipe(fds), "pipe: %s", strerror(errno));
	(void)fcntl(fds[1], F_SETFD, FD_CLOEXEC);

	pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (!pid) {
		(void)close(fds[0]);
		(void)setsid();
		fd = open("/dev/null", O_RDWR);
		if (fd >= 0) {
			(void)dup2(fd, STDOUT_FILENO);
			(void)dup2(fd, STDERR_FILENO);
		}
		execlp("python3", "python3", "test/integration/run.py",
		       "--lanes", n, "--results", it.dir, (char *)NULL);
		_exit(127);
	}

	(void)close(fds[1]);
	while (read(fds[0], n, sizeof(n)) > 0)
		;
	(void)close(fds[0]);

	re_snprintf(path, sizeof(path), "%s/runner.pid", it.dir);
	f = fopen(path, "w");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	(void)fprintf(f, "%d\n", (int)pid);
	(void)fclose(f);
}


/* Whether the runner still runs */
static bool runner_alive(void)
{
	char path[128];
	FILE *f;
	int pid = 0;

	re_snprintf(path, sizeof(path), "%s/runner.pid", it.dir);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (fscanf(f, "%d", &pid) != 1)
		pid = 0;
	(void)fclose(f);

	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
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
		bool alive = runner_alive();

		f = fopen(path, "r");
		if (f) {
			if (fscanf(f, "%d", &rc) != 1)
				rc = -1;
			(void)fclose(f);
			break;
		}

		/* no result will come: the runner is gone */
		if (!alive) {
			rc = -2;
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
		char pidfile[128];

		status = lanes_result(it.names[_i]);
		if (_i == it.count - 1) {
			re_snprintf(pidfile, sizeof(pidfile), "%s/runner.pid",
				    it.dir);
			(void)unlink(pidfile);
			(void)rmdir(it.dir);
		}
		ck_assert_msg(status != -2, "integration test %s: no result,"
			      " run.py --lanes is gone", it.names[_i]);
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
