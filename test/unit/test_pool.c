/**
 * @file test_pool.c  Server pools: configuration errors and the order
 *                    in which each algorithm offers the members
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include "core.h"
#include "pool/pools.h"
#include "test.h"
#include "capture.h"


static void setup(void)
{
	capture_start();
}


static void teardown(void)
{
	capture_stop();
	pool_close();
	config_unload();
}


static int load(const char *text)
{
	ck_assert_int_eq(0, test_config(text));
	ck_assert_int_eq(0, config_errors());

	return pool_config(true);
}


static void fails(const char *text, const char *message)
{
	capture_stop();
	capture_start();

	ck_assert_int_eq(0, test_config(text));
	ck_assert_int_eq(EINVAL, pool_config(false));
	ck_assert_msg(capture_has(message), "'%s': expected '%s', got '%s'",
		      text, message, capture_text());
	config_unload();
}


START_TEST(test_pool_errors)
{
	fails("\npool gw\n", "test.conf:2: pool: pool 'gw' has no members");
	fails("pool gw sip:10.0.0.1;weight=0\n",
	      "test.conf:1: pool: 'sip:10.0.0.1;weight=0': weight must be a"
	      " number >= 1");
	fails("pool gw sip:10.0.0.1;weight=-2\n", "weight must be a number");
	fails("pool gw sip:10.0.0.1;max=0\n",
	      "test.conf:1: pool: 'sip:10.0.0.1;max=0': max must be a number"
	      " >= 1");
	fails("pool gw algorithm=fastest sip:10.0.0.1\n",
	      "test.conf:1: pool: pool 'gw': unknown algorithm 'fastest'");
	fails("pool gw algorithm=hash sip:10.0.0.1\n"
	      "pool gw algorithm=weighted sip:10.0.0.2\n",
	      "test.conf:2: pool: pool 'gw': algorithm=weighted disagrees"
	      " with algorithm=hash of line 1");
	fails("pool gw http://10.0.0.1\n",
	      "test.conf:1: pool: 'http://10.0.0.1' is not a member URI");
	fails("pool gw sip:10.0.0.1:99999\n", "the port must be 1 to 65535");
	fails("pool gw sip:bad/host\n", "'sip:bad/host' is not a member URI");
	fails("pool gw sip:[::1\n", "'sip:[::1' is not a member URI");
	fails("pool gw sip:alice@10.0.0.1\n", "a member is a server");
	fails("pool gw sips:10.0.0.1\n",
	      "sips: is not allowed (libre refuses it): use"
	      " sip:...;transport=tls");
	fails("pool gw sip:10.0.0.1;transport=sctp\n",
	      "transport must be udp, tcp or tls");
	fails("pool gw sip:10.0.0.1;color=red\n",
	      "test.conf:1: pool: 'sip:10.0.0.1;color=red': unknown parameter"
	      " 'color'");
	fails("pool gw sip:10.0.0.1 sip:10.0.0.2\npool gw sip:10.0.0.1\n",
	      "test.conf:2: pool: pool 'gw': sip:10.0.0.1 is listed twice");
	fails("pool g/w sip:10.0.0.1\n", "'g/w' is not a pool name");
	fails("pool_probe_interval 0\npool gw sip:10.0.0.1\n",
	      "test.conf:1: pool_probe_interval: '0' is not a number");

	/* other keys keep their one-token rule */
	ck_assert_int_eq(0, test_config("registrar_max_expires 60 70\n"
					"pool gw sip:10.0.0.1 sip:10.0.0.2"
					"\n"));
	ck_assert_int_eq(1, config_errors());
	ck_assert(capture_has("test.conf:1: registrar_max_expires: the value"
			      " must be one token"));
}
END_TEST


START_TEST(test_pool_ok)
{
	struct pool *p;
	struct pool_member *m;

	ck_assert_int_eq(0, load("pool gw sip:10.0.0.1;weight=3;max=5\n"
				 "pool gw algorithm=round-robin"
				 " sip:GW.example.com:5080;transport=TCP\n"
				 "pool_probe_interval 2\n"));
	ck_assert(pool_exists("gw"));
	ck_assert(!pool_exists("other"));

	p = pool_find(pool_list(), "gw");
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(POOL_ROUND_ROBIN, p->alg);
	ck_assert_uint_eq(2, list_count(&p->members));

	m = p->members.head->data;
	ck_assert_str_eq("sip:10.0.0.1", pool_member_uri(m));
	ck_assert_str_eq("gw", pool_member_pool(m));
	ck_assert_uint_eq(3, m->weight);
	ck_assert_uint_eq(5, m->max);

	m = p->members.tail->data;
	ck_assert_str_eq("sip:gw.example.com:5080;transport=tcp", m->uri);
	ck_assert_uint_eq(1, m->weight);
	ck_assert_uint_eq(2, pool_settings()->interval);

	ck_assert_int_eq(0, load("pool v6 sip:[::1]:5070;transport=tls\n"));
	p = pool_find(pool_list(), "v6");
	m = p->members.head->data;
	ck_assert_str_eq("sip:[::1]:5070;transport=tls", m->uri);
	ck_assert_int_eq(SIP_TRANSP_TLS, m->tp);
}
END_TEST


static struct pool_member *member(const char *uri)
{
	struct pool *p = pool_find(pool_list(), "gw");
	struct le *le;

	for (le = p->members.head; le; le = le->next) {
		struct pool_member *m = le->data;

		if (!strcmp(m->uri, uri))
			return m;
	}

	ck_abort_msg("no member %s", uri);
	return NULL;
}


/* the picks as "a b c" (the last digit of each member's address) */
static int order(char *buf, size_t size, const char *key, enum pool_use use)
{
	struct list picks = LIST_INIT;
	struct pl pl;
	uint32_t ra = 0;
	struct le *le;
	size_t len = 0;
	int err;

	if (key)
		pl_set_str(&pl, key);

	buf[0] = '\0';
	err = pool_choose(&picks, "gw", key ? &pl : NULL, use, &ra);

	for (le = picks.head; le; le = le->next) {
		const struct pool_pick *pk = le->data;
		const char *uri = pool_member_uri(pk->m);

		(void)re_snprintf(buf + len, size - len, "%s%c",
				  len ? " " : "", uri[strlen(uri) - 1]);
		len = strlen(buf);
	}

	list_flush(&picks);

	if (err == EBUSY)
		ck_assert_uint_ge(ra, 1);

	return err;
}


START_TEST(test_pool_least_busy)
{
	char buf[64];

	ck_assert_int_eq(0, load("pool gw sip:10.0.0.1 sip:10.0.0.2;weight=2"
				 " sip:10.0.0.3 sip:10.0.0.4;max=1\n"));

	pool_member_call(member("sip:10.0.0.1"), +1);
	pool_member_call(member("sip:10.0.0.2"), +1);
	pool_member_call(member("sip:10.0.0.4"), +1);

	/* 3 idle; 2 at 1/2; 1 at 1/1; 4 at its max */
	ck_assert_int_eq(0, order(buf, sizeof(buf), NULL, POOL_USE_PROXY));
	ck_assert_str_eq("3 2 1", buf);

	pool_member_call(member("sip:10.0.0.3"), +1);
	pool_member_call(member("sip:10.0.0.3"), +1);
	ck_assert_int_eq(0, order(buf, sizeof(buf), NULL, POOL_USE_PROXY));
	ck_assert_str_eq("2 1 3", buf);

	/* ties: weight first, then spread */
	pool_member_call(member("sip:10.0.0.3"), -2);
	pool_member_call(member("sip:10.0.0.1"), -1);
	pool_member_call(member("sip:10.0.0.2"), -1);
	ck_assert_int_eq(0, order(buf, sizeof(buf), NULL, POOL_USE_PROXY));
	ck_assert_uint_eq('2', buf[0]);
	{
		char first[64];

		str_ncpy(first, buf, sizeof(first));
		ck_assert_int_eq(0, order(buf, sizeof(buf), NULL,
					  POOL_USE_PROXY));
		ck_assert_uint_eq('2', buf[0]);
		ck_assert_str_ne(first, buf);
	}

	/* the redirect role counts redirections, not calls */
	pool_member_redirected(member("sip:10.0.0.2"));
	pool_member_redirected(member("sip:10.0.0.2"));
	pool_member_redirected(member("sip:10.0.0.2"));
	pool_member_redirected(member("sip:10.0.0.1"));
	pool_member_redirected(member("sip:10.0.0.3"));
	ck_assert_int_eq(0, order(buf, sizeof(buf), NULL,
				  POOL_USE_REDIRECT));
	ck_assert_uint_eq('4', buf[0]);
	ck_assert_uint_eq('2', buf[strlen(buf) - 1]);
}
END_TEST


START_TEST(test_pool_max)
{
	char buf[64];

	ck_assert_int_eq(0, load("pool gw sip:10.0.0.1;max=1"
				 " sip:10.0.0.2;max=2\n"));

	pool_member_call(member("sip:10.0.0.1"), +1);
	ck_assert_int_eq(0, order(buf, sizeof(buf), NULL, POOL_USE_PROXY));
	ck_assert_str_eq("2", buf);

	pool_member_call(member("sip:10.0.0.2"), +2);
	ck_assert_int_eq(EBUSY, order(buf, sizeof(buf), NULL,
				      POOL_USE_PROXY));
	ck_assert_str_eq("", buf);

	pool_member_call(member("sip:10.0.0.2"), -1);
	ck_assert_int_eq(0, order(buf, sizeof(buf), NULL, POOL_USE_PROXY));
	ck_assert_str_eq("2", buf);

	/* redirections count against max= for the redirect role */
	pool_member_redirected(member("sip:10.0.0.1"));
	pool_member_redirected(member("sip:10.0.0.2"));
	pool_member_redirected(member("sip:10.0.0.2"));
	ck_assert_int_eq(EBUSY, order(buf, sizeof(buf), NULL,
				      POOL_USE_REDIRECT));

	ck_assert_int_eq(ENOENT, pool_choose(&(struct list)LIST_INIT, "nope",
					     NULL, POOL_USE_PROXY, NULL));
}
END_TEST


START_TEST(test_pool_hash)
{
	char first[64], buf[64];
	struct pool_member *m;

	ck_assert_int_eq(0, load("pool gw algorithm=hash sip:10.0.0.1"
				 " sip:10.0.0.2 sip:10.0.0.3 sip:10.0.0.4\n"));

	ck_assert_int_eq(0, order(first, sizeof(first), "sip:alice@a.example",
				  POOL_USE_PROXY));
	ck_assert_uint_eq(7, strlen(first));
	ck_assert_int_eq(0, order(buf, sizeof(buf), "sip:alice@a.example",
				  POOL_USE_PROXY));
	ck_assert_str_eq(first, buf);

	/* its member down: another; up again: the same as before */
	m = member(first[0] == '1' ? "sip:10.0.0.1" :
		   first[0] == '2' ? "sip:10.0.0.2" :
		   first[0] == '3' ? "sip:10.0.0.3" : "sip:10.0.0.4");
	m->state = MEMBER_DOWN;
	ck_assert_int_eq(0, order(buf, sizeof(buf), "sip:alice@a.example",
				  POOL_USE_PROXY));
	ck_assert_str_eq(first + 2, buf);   /* the rest follow */
	m->state = MEMBER_UP;
	ck_assert_int_eq(0, order(buf, sizeof(buf), "sip:alice@a.example",
				  POOL_USE_PROXY));
	ck_assert_str_eq(first, buf);

	/* keys spread */
	{
		int seen[5] = {0}, i, n = 0;

		for (i = 0; i < 64; i++) {
			char key[32];

			re_snprintf(key, sizeof(key), "sip:u%d@x", i);
			ck_assert_int_eq(0, order(buf, sizeof(buf), key,
						  POOL_USE_PROXY));
			seen[buf[0] - '0'] = 1;
		}
		for (i = 1; i < 5; i++)
			n += seen[i];
		ck_assert_int_ge(n, 3);
	}
}
END_TEST


START_TEST(test_pool_round_robin)
{
	char buf[64];

	ck_assert_int_eq(0, load("pool gw algorithm=round-robin sip:10.0.0.1"
				 " sip:10.0.0.2 sip:10.0.0.3\n"));

	ck_assert_int_eq(0, order(buf, sizeof(buf), NULL, POOL_USE_PROXY));
	ck_assert_str_eq("1 2 3", buf);
	ck_assert_int_eq(0, order(buf, sizeof(buf), NULL, POOL_USE_PROXY));
	ck_assert_str_eq("2 3 1", buf);
	ck_assert_int_eq(0, order(buf, sizeof(buf), NULL, POOL_USE_PROXY));
	ck_assert_str_eq("3 1 2", buf);
	ck_assert_int_eq(0, order(buf, sizeof(buf), NULL, POOL_USE_PROXY));
	ck_assert_str_eq("1 2 3", buf);
}
END_TEST


START_TEST(test_pool_weighted)
{
	char buf[64];
	int first[4] = {0}, i;

	ck_assert_int_eq(0, load("pool gw algorithm=weighted"
				 " sip:10.0.0.1;weight=1"
				 " sip:10.0.0.2;weight=9\n"));

	for (i = 0; i < 400; i++) {
		ck_assert_int_eq(0, order(buf, sizeof(buf), NULL,
					  POOL_USE_PROXY));
		ck_assert_uint_eq(3, strlen(buf));
		++first[buf[0] - '0'];
	}

	ck_assert_int_gt(first[2], 300);
	ck_assert_int_gt(first[1], 5);
}
END_TEST


START_TEST(test_pool_drained)
{
	char buf[64];

	ck_assert_int_eq(0, load("pool gw algorithm=round-robin sip:10.0.0.1"
				 " sip:10.0.0.2\n"));

	pool_member_unavailable(member("sip:10.0.0.1"), 30);
	ck_assert_str_eq("drained",
			 member_state_name(member("sip:10.0.0.1")));
	ck_assert_int_eq(0, order(buf, sizeof(buf), NULL, POOL_USE_PROXY));
	ck_assert_str_eq("2", buf);

	member("sip:10.0.0.2")->state = MEMBER_DOWN;
	ck_assert_int_eq(ENODEV, order(buf, sizeof(buf), NULL,
				       POOL_USE_PROXY));

	/* the drain ends */
	member("sip:10.0.0.1")->drained_until = tmr_jiffies();
	ck_assert_int_eq(0, order(buf, sizeof(buf), NULL, POOL_USE_PROXY));
	ck_assert_str_eq("1", buf);
}
END_TEST


START_TEST(test_pool_reload)
{
	struct pool_member *kept, *gone;
	struct list picks = LIST_INIT;
	struct pool_pick *pk;

	ck_assert_int_eq(0, load("pool gw algorithm=round-robin sip:10.0.0.1"
				 " sip:10.0.0.2\n"));
	kept = member("sip:10.0.0.1");
	pool_member_call(kept, +1);
	kept->state = MEMBER_UP;

	/* a request in progress holds the member that goes */
	ck_assert_int_eq(0, pool_choose(&picks, "gw", NULL, POOL_USE_PROXY,
					NULL));
	ck_assert_uint_eq(2, list_count(&picks));

	ck_assert_int_eq(0, load("pool gw algorithm=round-robin"
				 " sip:10.0.0.3 sip:10.0.0.1;weight=4\n"));
	ck_assert_ptr_eq(kept, member("sip:10.0.0.1"));
	ck_assert_uint_eq(1, kept->calls);
	ck_assert_uint_eq(4, kept->weight);
	ck_assert_int_eq(MEMBER_UP, kept->state);
	ck_assert_ptr_eq(kept, pool_find(pool_list(), "gw")->members.tail
			 ->data);

	pk = picks.tail->data;
	gone = pk->m == kept ? ((struct pool_pick *)picks.head->data)->m :
		pk->m;
	ck_assert_str_eq("sip:10.0.0.2", pool_member_uri(gone));
	ck_assert_str_eq("gw", pool_member_pool(gone));
	pool_member_call(gone, -1);

	list_flush(&picks);

	/* a pool removed */
	ck_assert_int_eq(0, load("pool other sip:10.0.0.9\n"));
	ck_assert(!pool_exists("gw"));
}
END_TEST


Suite *suite_pool(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("pool");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pool_errors);
	tcase_add_test(tc, test_pool_ok);
	tcase_add_test(tc, test_pool_least_busy);
	tcase_add_test(tc, test_pool_max);
	tcase_add_test(tc, test_pool_hash);
	tcase_add_test(tc, test_pool_round_robin);
	tcase_add_test(tc, test_pool_weighted);
	tcase_add_test(tc, test_pool_drained);
	tcase_add_test(tc, test_pool_reload);
	suite_add_tcase(s, tc);

	return s;
}
