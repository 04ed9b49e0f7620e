/**
 * @file test_libre.c  The libre layer: the version check, missing
 *                     originals, and every shim in front of the original
 *
 * Copyright (C) 2026 sipd developers
 */

#include <dlfcn.h>
#include <string.h>
#include <re.h>
#include "libre/libre.h"
#include "test.h"
#include "capture.h"


START_TEST(test_version_refused)
{
	capture_start();
	ck_assert_int_eq(0, libre_check_version("1.1.0"));
	ck_assert_int_eq(ENOTSUP, libre_check_version("1.2.0"));
	ck_assert(capture_has("libre 1.2.0 is not libre 1.1.0"));
	ck_assert(capture_has("refusing to start"));
	ck_assert_int_eq(ENOTSUP, libre_check_version("1.1.0-rc1"));
	ck_assert_int_eq(ENOTSUP, libre_check_version(NULL));
	capture_stop();

	/* the libre this test runs with is the one the shims fit */
	ck_assert_int_eq(0, libre_check());
}
END_TEST


START_TEST(test_missing_original_refused)
{
	static const char *const names[] = {
		"sip_msg_decode", "sipd_no_such_libre_function", NULL
	};

	capture_start();
	ck_assert_int_eq(ENOENT, libre_originals_find(names));
	ck_assert(capture_has("sipd_no_such_libre_function()"));
	ck_assert(!capture_has("sip_msg_decode()"));
	capture_stop();
}
END_TEST


/* The dynamic linker gives libre's calls sipd's definition of every shim
   (this binary is linked like sipd: -rdynamic, the whole core), and the
   original is another function behind it */
START_TEST(test_shims_interposed)
{
	const char *const *name;
	size_t n = 0;

	for (name = libre_shim_names(); *name; name++, n++) {
		void *ours = dlsym(RTLD_DEFAULT, *name);
		void *orig = libre_original(*name);

		ck_assert_msg(ours != NULL, "%s: not defined", *name);
		ck_assert_msg(orig != NULL, "%s: no original", *name);
		ck_assert_msg(ours != orig, "%s: the original is what libre"
			      " calls: the shim is not active", *name);
	}

	ck_assert_uint_eq(n, 29);
}
END_TEST


/* libre's own prints go to the log at debug level once quiet */
START_TEST(test_prints_go_to_the_log)
{
	enum log_level level = LOG_LEVEL_WARNING;

	log_set_level(LOG_LEVEL_DEBUG);
	capture_start();
	quiet_libre();
	(void)re_printf("libre says %d\n", 42);
	(void)re_fprintf(stderr, "libre warns %s\n", "x");
	ck_assert(capture_has("libre says 42"));
	ck_assert(capture_has("libre warns x"));
	capture_stop();
	log_set_level(level);
}
END_TEST


Suite *suite_libre(void)
{
	Suite *s = suite_create("libre");
	TCase *tc = tcase_create("layer");

	tcase_add_test(tc, test_version_refused);
	tcase_add_test(tc, test_missing_original_refused);
	tcase_add_test(tc, test_shims_interposed);
	tcase_add_test(tc, test_prints_go_to_the_log);
	suite_add_tcase(s, tc);

	return s;
}
