/**
 * @file test_integration.c  Integration tests: the real sipd on loopback
 *
 * The tests live in the Python files of test/integration; each is one
 * Check test here,
 * run in its own process with a time limit. They start sipd, SIPp,
 * baresip and the libre test client themselves and stop them by PID.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <re.h>
#include "test.h"


enum {
	MAX_TESTS = 512,
	TEST_TIMEOUT = 180,
};


static struct {
	char names[MAX_TESTS][96];
	int count;
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


START_TEST(test_run)
{
	char cmd[512];
	int status;

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
}
END_TEST


Suite *suite_integration(void)
{
	Suite *s = suite_create("integration");
	TCase *tc = tcase_create("integration");

	list_tests();

	tcase_set_timeout(tc, TEST_TIMEOUT);
	tcase_add_test(tc, test_listed);
	tcase_add_loop_test(tc, test_run, 0, it.count);
	suite_add_tcase(s, tc);

	return s;
}
