/**
 * @file test_reload.c  Reload: check before apply, what applies live, what
 *                      needs a restart, and the configuration comparison
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include "ops.h"
#include "digest/digest.h"
#include "proxy/engine.h"
#include "test.h"
#include "capture.h"


static const char *methods[] = {"MESSAGE", NULL};

static bool request_handler(struct sipd_sock *sock, const struct sip_msg *msg)
{
	(void)sock;
	(void)msg;
	return false;
}

static struct role test_role = {
	.name = "testrole",
	.methods = methods,
	.requesth = request_handler,
};


/* A module's hook: reads test_value, counts its calls */
static struct {
	uint32_t value;
	unsigned checks;
	unsigned applies;
} mod;


static int hook_handler(bool apply)
{
	uint32_t v = 1;

	if (config_u32("test_value", &v, 1, 100))
		return EINVAL;

	if (apply) {
		mod.value = v;
		++mod.applies;
	}
	else {
		++mod.checks;
	}

	return 0;
}

static struct reload_hook hook = {
	.name = "test",
	.h = hook_handler,
};


static const char boot_conf[] =
	"domain example.com\n"
	"listen udp:127.0.0.1:5060;roles=testrole\n"
	"route example.net>192.0.2.1:5060\n"
	"test_value 5\n"
	"legacy_key 1\n"
	"control_socket off\n";


static struct mbuf *report;


static void setup(void)
{
	capture_start();
	role_register(&test_role);

	ck_assert_int_eq(0, test_config(boot_conf));
	ck_assert_int_eq(0, core_config(CONFIG_START));
	ck_assert_int_eq(0, proxy_engine_init());
	ck_assert_int_eq(0, hook_handler(true));
	(void)config_find("legacy_key");   /* a module without a hook */
	ck_assert_int_eq(0, config_check_unused(NULL));
	ck_assert_int_eq(0, reload_init("test.conf", core_config,
					 core_restart_keys()));

	memset(&mod, 0, sizeof(mod));
	mod.value = 5;
	reload_register(&hook);

	report = mbuf_alloc(512);
	ck_assert_ptr_nonnull(report);
}


static void teardown(void)
{
	report = mem_deref(report);
	reload_unregister(&hook);
	reload_close();
	proxy_engine_close();
	listen_close();
	domain_close();
	config_unload();
	role_unregister(&test_role);
	capture_stop();
}


static int reload_text(const char *text)
{
	struct config *fresh = NULL;
	int err;

	mbuf_reset(report);
	config_capture(report);         /* as reload_run() does */
	ck_assert_int_eq(0, config_read_buf(&fresh, "new.conf", text));
	config_capture(NULL);
	err = reload_config(fresh, report);
	(void)mbuf_write_u8(report, 0);

	return err;
}


static bool reported(const char *s)
{
	return strstr((const char *)report->buf, s) != NULL;
}


static bool served(const char *domain)
{
	struct pl pl;

	pl_set_str(&pl, domain);

	return domain_is_served(&pl);
}


START_TEST(test_differs)
{
	struct config *a = NULL, *b = NULL;

	ck_assert_int_eq(0, config_read_buf(&a, "a", "listen x\nlisten y\n"
					    "db one\nkey 1\n"));

	ck_assert_int_eq(0, config_read_buf(&b, "b", "LISTEN x\nlisten y\n"
					    "# a comment\n\ndb one\n"
					    "other 2\n"));
	ck_assert(!config_differs(a, b, "listen"));
	ck_assert(!config_differs(a, b, "db"));
	ck_assert(config_differs(a, b, "key"));      /* removed */
	ck_assert(config_differs(a, b, "other"));    /* added */
	ck_assert(!config_differs(a, b, "absent"));
	b = mem_deref(b);

	/* order, number and value of a repeated key count */
	ck_assert_int_eq(0, config_read_buf(&b, "b", "listen y\nlisten x\n"
					    "db one\nkey 1\n"));
	ck_assert(config_differs(a, b, "listen"));
	b = mem_deref(b);
	ck_assert_int_eq(0, config_read_buf(&b, "b", "listen x\nlisten y\n"
					    "listen z\ndb one\nkey 1\n"));
	ck_assert(config_differs(a, b, "listen"));
	b = mem_deref(b);
	ck_assert_int_eq(0, config_read_buf(&b, "b", "listen x\nlisten y\n"
					    "db two\nkey 1\n"));
	ck_assert(config_differs(a, b, "db"));
	ck_assert(!config_differs(a, b, "listen"));

	mem_deref(a);
	mem_deref(b);
}
END_TEST


START_TEST(test_live_keys_applied)
{
	const struct static_route *old, *r;
	struct pl pl;

	pl_set_str(&pl, "example.net");
	old = mem_ref((void *)routes_domain(&pl));
	ck_assert_ptr_nonnull(old);

	ck_assert_int_eq(0, reload_text(
		"domain example.com\n"
		"domain example.org\n"
		"listen udp:127.0.0.1:5060;roles=testrole\n"
		"route example.net>192.0.2.2:5070\n"
		"test_value 9\n"
		"legacy_key 1\n"
		"log_level debug\n"
		"control_socket off\n"));

	ck_assert(served("example.org"));
	ck_assert(served("example.com"));
	ck_assert(log_enabled(LOG_LEVEL_DEBUG));
	ck_assert_uint_eq(9, mod.value);
	ck_assert_uint_eq(1, mod.checks);
	ck_assert_uint_eq(1, mod.applies);
	ck_assert_str_eq("", reload_pending());
	ck_assert_uint_eq(1, reload_count(NULL));

	r = routes_domain(&pl);
	ck_assert_str_eq("sip:192.0.2.2:5070", routes_uri(r));

	/* a request in progress keeps the route it took */
	ck_assert_str_eq("sip:192.0.2.1:5060", routes_uri(old));
	mem_deref((void *)old);

	/* a removed line goes back to its default */
	ck_assert_int_eq(0, reload_text(
		"domain example.com\n"
		"listen udp:127.0.0.1:5060;roles=testrole\n"
		"legacy_key 1\n"
		"control_socket off\n"));
	ck_assert(!served("example.org"));
	ck_assert_ptr_null(routes_domain(&pl));
	ck_assert_uint_eq(1, mod.value);
	ck_assert(!log_enabled(LOG_LEVEL_DEBUG));
	ck_assert_uint_eq(2, reload_count(NULL));
	log_set_level(LOG_LEVEL_WARNING);
}
END_TEST


START_TEST(test_restart_keys_named)
{
	ck_assert_int_eq(0, reload_text(
		"domain example.com\n"
		"listen udp:127.0.0.1:5062;roles=testrole\n"
		"route example.net>192.0.2.1:5060\n"
		"test_value 5\n"
		"legacy_key 2\n"
		"db /tmp/other.db\n"
		"control_socket off\n"));

	ck_assert_msg(reported("listen changed: it needs a restart"), "%s",
		      report->buf);
	ck_assert(reported("db changed"));
	ck_assert(reported("legacy_key changed"));
	ck_assert(!reported("control_socket"));
	ck_assert(capture_has("listen changed: it needs a restart, not"
			      " applied"));
	ck_assert_str_eq("listen db legacy_key", reload_pending());

	/* compared with the start, not with the last reload */
	ck_assert_int_eq(0, reload_text(
		"domain example.com\n"
		"listen udp:127.0.0.1:5062;roles=testrole\n"
		"test_value 5\n"
		"legacy_key 1\n"
		"control_socket off\n"));
	ck_assert_str_eq("listen", reload_pending());

	ck_assert_int_eq(0, reload_text(boot_conf));
	ck_assert_str_eq("", reload_pending());
}
END_TEST


START_TEST(test_errors_keep_config)
{
	ck_assert_int_eq(EINVAL, reload_text(
		"domain example.com\n"
		"domain example.org\n"
		"listen udp:127.0.0.1:5060;roles=nosuchrole\n"
		"test_value 500\n"
		"unknwon_key 1\n"
		"log_level loud\n"
		"did 123>alice@example.net\n"
		"control_socket off\n"));

	ck_assert_msg(reported("new.conf:3: listen: unknown role"
			       " 'nosuchrole'"), "%s", report->buf);
	ck_assert(reported("new.conf:4: test_value: '500' is not a number"));
	ck_assert(reported("new.conf:5: unknown key 'unknwon_key'"));
	ck_assert(reported("new.conf:6: log_level: 'loud'"));
	ck_assert(reported("new.conf:7: did: example.net is not a served"
			   " domain"));

	/* nothing applied: not even the good lines */
	ck_assert(!served("example.org"));
	ck_assert_uint_eq(5, mod.value);
	ck_assert_uint_eq(0, mod.applies);
	ck_assert_uint_eq(0, reload_count(NULL));
	ck_assert_str_eq("test.conf", config_path());

	/* a did may name a domain of the same reload */
	ck_assert_int_eq(0, reload_text(
		"domain example.com\n"
		"domain example.net\n"
		"listen udp:127.0.0.1:5060;roles=testrole\n"
		"did 123>alice@example.net\n"
		"legacy_key 1\n"
		"control_socket off\n"));
	ck_assert_str_eq("new.conf", config_path());

	/* a syntax error is a problem too */
	ck_assert_int_eq(EINVAL, reload_text(
		"domain example.com two\n"
		"listen udp:127.0.0.1:5060;roles=testrole\n"
		"control_socket off\n"));
	ck_assert(reported("new.conf:1: domain: the value must be one"
			   " token"));
	ck_assert(served("example.net"));
}
END_TEST


Suite *suite_reload(void)
{
	Suite *s = suite_create("reload");
	TCase *tc = tcase_create("reload");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_differs);
	tcase_add_test(tc, test_live_keys_applied);
	tcase_add_test(tc, test_restart_keys_named);
	tcase_add_test(tc, test_errors_keep_config);
	suite_add_tcase(s, tc);

	return s;
}
