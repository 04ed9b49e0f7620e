/**
 * @file test_config.c  Configuration errors name file, line and problem
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <unistd.h>
#include <re.h>
#include "core.h"
#include "test.h"
#include "capture.h"


static void setup(void)
{
	capture_start();
}


static void teardown(void)
{
	capture_stop();
	listen_close();
	domain_close();
	config_unload();
}


START_TEST(test_values)
{
	uint32_t v = 7;
	bool b = false;
	char *s = NULL;

	ck_assert_int_eq(0, test_config("# comment\n"
					"a_number 42   # trailing comment\n"
					"a_bool on\n"
					"a_string hello\n"
					"a_number 43\n"));
	ck_assert_int_eq(0, config_errors());

	ck_assert_int_eq(0, config_u32("a_number", &v, 0, 100));
	ck_assert_uint_eq(43, v);      /* the last line wins */
	ck_assert_int_eq(0, config_bool("a_bool", &b));
	ck_assert(b);
	ck_assert_int_eq(0, config_str("a_string", &s));
	ck_assert_str_eq("hello", s);
	mem_deref(s);

	v = 5;
	ck_assert_int_eq(0, config_u32("missing", &v, 0, 10));
	ck_assert_uint_eq(5, v);

	ck_assert_int_eq(0, config_check_unused(NULL));
}
END_TEST


START_TEST(test_range)
{
	uint32_t v = 0;

	ck_assert_int_eq(0, test_config("\n\nregistrar_max_expires 0\n"));
	ck_assert_int_eq(EINVAL, config_u32("registrar_max_expires", &v,
					    1, 86400));
	ck_assert_msg(capture_has("test.conf:3: registrar_max_expires: '0'"
				  " is not a number from 1 to 86400"),
		      "got: %s", capture_text());

	ck_assert_int_eq(0, test_config("x -5\ny 12abc\nz 99999999999\n"));
	ck_assert_int_eq(EINVAL, config_u32("x", &v, 0, 10));
	ck_assert_int_eq(EINVAL, config_u32("y", &v, 0, 100));
	ck_assert_int_eq(EINVAL, config_u32("z", &v, 0, 0xffffffff));
}
END_TEST


START_TEST(test_syntax)
{
	ck_assert_int_eq(0, test_config("domain\nlisten a b\n"));
	ck_assert_int_eq(2, config_errors());
	ck_assert(capture_has("test.conf:1: domain: missing value"));
	ck_assert(capture_has("test.conf:2: listen: the value must be one"
			      " token"));
}
END_TEST


START_TEST(test_unknown_key)
{
	ck_assert_int_eq(0, test_config("domain example.com\n"
					"registar_max_expires 60\n"));
	ck_assert_int_eq(0, domain_config(true));
	ck_assert_int_eq(EINVAL, config_check_unused(NULL));
	ck_assert(capture_has("test.conf:2: unknown key"
			      " 'registar_max_expires'"));
}
END_TEST


START_TEST(test_domains)
{
	struct pl pl;

	ck_assert_int_eq(0, test_config("domain example.com\n"
					"domain Example.org\n"));
	ck_assert_int_eq(0, domain_config(true));

	pl_set_str(&pl, "EXAMPLE.COM");
	ck_assert(domain_is_served(&pl));
	pl_set_str(&pl, "example.org");
	ck_assert(domain_is_served(&pl));
	pl_set_str(&pl, "example.net");
	ck_assert(!domain_is_served(&pl));
	ck_assert_str_eq("example.com", domain_default());

	domain_close();
	ck_assert_int_eq(0, test_config("domain a/b\ndomain x.com\n"
					"domain x.com\n"));
	ck_assert_int_eq(EINVAL, domain_config(true));
	ck_assert(capture_has("test.conf:1: domain: 'a/b' is not a domain"));
	ck_assert(capture_has("test.conf:3: domain: 'x.com' is listed"
			      " twice"));
}
END_TEST


static void listen_fails(const char *line, const char *message)
{
	char conf[256];

	re_snprintf(conf, sizeof(conf), "\nlisten %s\n", line);
	capture_stop();
	capture_start();
	listen_close();

	ck_assert_int_eq(0, test_config(conf));
	ck_assert_int_eq(EINVAL, listen_config(true));
	ck_assert_msg(capture_has(message), "listen %s: expected '%s', got"
		      " '%s'", line, message, capture_text());
	ck_assert_msg(capture_has("test.conf:2: listen: "), "no line in '%s'",
		      capture_text());
}


START_TEST(test_listen_errors)
{
	listen_fails("sctp:127.0.0.1:5060;roles=registrar",
		     "unknown transport 'sctp'");
	listen_fails("udp:127.0.0.300:5060;roles=registrar",
		     "is not an IP address");
	listen_fails("udp:example.com:5060;roles=registrar",
		     "is not an IP address");
	listen_fails("udp:127.0.0.1:70000;roles=registrar",
		     "port out of range");
	listen_fails("udp:127.0.0.1:5060", "missing roles=");
	listen_fails("udp:127.0.0.1:5060;roles=", "bad role list");
	listen_fails("udp:127.0.0.1:5060;roles=a,,b", "bad role list");
	listen_fails("udp:127.0.0.1:5060;roles=registrar;auth=maybe",
		     "auth must be on or off");
	listen_fails("udp:127.0.0.1:5060;roles=registrar;color=blue",
		     "unknown parameter 'color'");
	listen_fails("udp127.0.0.1", "expected TRANSPORT:IP:PORT");
}
END_TEST


START_TEST(test_listen_ok)
{
	ck_assert_int_eq(0, test_config(
			 "listen udp:127.0.0.1:5060;roles=registrar,redirect\n"
			 "listen tcp:127.0.0.1:5060;roles=registrar\n"
			 "listen udp:[::1]:5070;roles=redirect\n"
			 "listen udp:0.0.0.0;roles=registrar;auth=off\n"));
	ck_assert_int_eq(0, listen_config(true));
	ck_assert_int_eq(0, config_errors());
}
END_TEST


START_TEST(test_listen_duplicate)
{
	ck_assert_int_eq(0, test_config(
			 "listen udp:127.0.0.1:5060;roles=registrar\n"
			 "listen udp:127.0.0.1:5060;roles=redirect\n"));
	ck_assert_int_eq(EINVAL, listen_config(true));
	ck_assert(capture_has("test.conf:2: listen: udp 127.0.0.1:5060 is"
			      " already used on line 1"));
}
END_TEST


START_TEST(test_no_listen)
{
	ck_assert_int_eq(0, test_config("domain example.com\n"));
	ck_assert_int_eq(EINVAL, listen_config(true));
	ck_assert(capture_has("test.conf: no 'listen' line"));
}
END_TEST


START_TEST(test_workers)
{
	ck_assert_int_eq(0, test_config("workers 4\n"));
	ck_assert_int_eq(0, workers_config(true));
	ck_assert_uint_eq(4, workers_count());

	ck_assert_int_eq(0, test_config("workers auto\n"));
	ck_assert_int_eq(0, workers_config(true));
	ck_assert_uint_eq(MIN(sysconf(_SC_NPROCESSORS_ONLN), 64),
			  workers_count());

	ck_assert_int_eq(0, test_config("\nworkers 0\n"));
	ck_assert_int_eq(EINVAL, workers_config(true));
	ck_assert_msg(capture_has("test.conf:2: workers: '0' is not a number"
				  " from 1 to 64"), "got: %s", capture_text());

	ck_assert_int_eq(0, test_config("workers 65\n"));
	ck_assert_int_eq(EINVAL, workers_config(false));

	/* a failed check changes nothing; the default is one process */
	ck_assert_int_eq(0, test_config("domain example.com\n"));
	ck_assert_int_eq(0, workers_config(true));
	ck_assert_uint_eq(1, workers_count());
	ck_assert_int_eq(0, worker_index());
}
END_TEST


Suite *suite_config(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_values);
	tcase_add_test(tc, test_range);
	tcase_add_test(tc, test_syntax);
	tcase_add_test(tc, test_unknown_key);
	tcase_add_test(tc, test_domains);
	tcase_add_test(tc, test_listen_errors);
	tcase_add_test(tc, test_listen_ok);
	tcase_add_test(tc, test_listen_duplicate);
	tcase_add_test(tc, test_no_listen);
	tcase_add_test(tc, test_workers);
	suite_add_tcase(s, tc);

	return s;
}
