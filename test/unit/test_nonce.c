/**
 * @file test_nonce.c  Nonces, their expiry, the nonce of a retransmission,
 *                     nonce-count replays, throttling
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include "core.h"
#include "../../modules/auth/auth.h"
#include "../../modules/guard/guard.h"
#include "test.h"


static const uint8_t key[] = "0123456789abcdef0123456789abcdef";


/* the bans throttle.c makes, kept as the guard module keeps them */
static const struct filter guard = {
	.bannedh  = bans_check,
	.banh     = bans_add,
	.floodh   = flood_check,
	.requesth = scanner_check,
};


static void setup(void)
{
	ck_assert_int_eq(0, nonce_set_key(key, 32));
	filter_register(&guard);
}


static void teardown(void)
{
	replay_flush();
	recall_flush();
	throttle_flush();
	filter_unregister(&guard);
	bans_close();
}


START_TEST(test_nonce_valid)
{
	char nonce[NONCE_SIZE + 1];
	struct pl pl;

	ck_assert_int_eq(0, nonce_make(nonce, sizeof(nonce), 1000000,
				       "example.com"));
	ck_assert_uint_eq(NONCE_SIZE, strlen(nonce));
	pl_set_str(&pl, nonce);

	ck_assert_int_eq(0, nonce_check(&pl, "example.com", 1000000, 300));
	ck_assert_int_eq(0, nonce_check(&pl, "example.com", 1000300, 300));
}
END_TEST


START_TEST(test_nonce_expiry)
{
	char nonce[NONCE_SIZE + 1];
	struct pl pl;

	ck_assert_int_eq(0, nonce_make(nonce, sizeof(nonce), 1000000,
				       "example.com"));
	pl_set_str(&pl, nonce);

	ck_assert_int_eq(ETIMEDOUT, nonce_check(&pl, "example.com", 1000301,
						300));
	/* made in the future: not trusted either */
	ck_assert_int_eq(ETIMEDOUT, nonce_check(&pl, "example.com", 999000,
						300));
}
END_TEST


START_TEST(test_nonce_forged)
{
	char nonce[NONCE_SIZE + 1];
	struct pl pl;

	ck_assert_int_eq(0, nonce_make(nonce, sizeof(nonce), 1000000,
				       "example.com"));
	pl_set_str(&pl, nonce);

	/* another realm */
	ck_assert_int_eq(EINVAL, nonce_check(&pl, "example.org", 1000000,
					     300));

	/* a changed time stamp */
	nonce[15] = nonce[15] == '0' ? '1' : '0';
	ck_assert_int_eq(EINVAL, nonce_check(&pl, "example.com", 1000000,
					     300));

	pl_set_str(&pl, "abc");
	ck_assert_int_eq(EINVAL, nonce_check(&pl, "example.com", 1000000,
					     300));

	/* another key: a restart with a new secret */
	ck_assert_int_eq(0, nonce_make(nonce, sizeof(nonce), 1000000,
				       "example.com"));
	pl_set_str(&pl, nonce);
	ck_assert_int_eq(0, nonce_set_key((const uint8_t *)"other", 5));
	ck_assert_int_eq(EINVAL, nonce_check(&pl, "example.com", 1000000,
					     300));
}
END_TEST


static struct sip_msg *register_msg(const char *branch, uint32_t cseq)
{
	struct sip_msg *msg = NULL;
	struct mbuf *mb = mbuf_alloc(512);

	ck_assert_ptr_nonnull(mb);
	ck_assert_int_eq(0, mbuf_printf(mb,
		"REGISTER sip:example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=%s\r\n"
		"From: <sip:a@example.com>;tag=1\r\n"
		"To: <sip:a@example.com>\r\n"
		"Call-ID: c1\r\n"
		"CSeq: %u REGISTER\r\n"
		"Content-Length: 0\r\n\r\n", branch, cseq));
	mb->pos = 0;
	ck_assert_int_eq(0, sip_msg_decode(&msg, mb));
	mem_deref(mb);

	return msg;
}


START_TEST(test_recall)
{
	struct sip_msg *first = register_msg("z9hG4bK1", 1);
	struct sip_msg *again = register_msg("z9hG4bK1", 1);
	struct sip_msg *next = register_msg("z9hG4bK2", 2);
	char a[NONCE_SIZE + 1], b[NONCE_SIZE + 1], c[NONCE_SIZE + 1];
	struct pl pl;

	/* a retransmission within the window: the same nonce */
	ck_assert_int_eq(0, recall_nonce(a, sizeof(a), first, 1000000, 30,
					 "example.com"));
	ck_assert_int_eq(0, recall_nonce(b, sizeof(b), again, 1000004, 30,
					 "example.com"));
	ck_assert_str_eq(a, b);
	pl_set_str(&pl, b);
	ck_assert_int_eq(0, nonce_check(&pl, "example.com", 1000004, 300));

	/* another request: another nonce */
	ck_assert_int_eq(0, recall_nonce(c, sizeof(c), next, 1000004, 30,
					 "example.com"));
	ck_assert_str_ne(a, c);

	/* past the window: a new nonce, of the time it is given */
	ck_assert_int_eq(0, recall_nonce(b, sizeof(b), again, 1000031, 30,
					 "example.com"));
	ck_assert_str_ne(a, b);
	pl_set_str(&pl, b);
	ck_assert_int_eq(0, nonce_check(&pl, "example.com", 1000031 + 300,
					 300));

	/* forgotten when the module closes */
	ck_assert_int_eq(0, recall_nonce(a, sizeof(a), first, 1000040, 30,
					 "example.com"));
	recall_flush();
	ck_assert_int_eq(0, recall_nonce(b, sizeof(b), first, 1000040, 30,
					 "example.com"));
	ck_assert_str_ne(a, b);

	mem_deref(first);
	mem_deref(again);
	mem_deref(next);
}
END_TEST


START_TEST(test_replay)
{
	char nonce[NONCE_SIZE + 1];
	struct pl n, nc;
	int64_t exp = time_now() + 300;

	ck_assert_int_eq(0, nonce_make(nonce, sizeof(nonce), time_now(),
				       "example.com"));
	pl_set_str(&n, nonce);

	pl_set_str(&nc, "00000001");
	ck_assert_int_eq(0, replay_check(&n, &nc, 11, exp));
	/* the same count from another request: a replay */
	ck_assert_int_eq(EALREADY, replay_check(&n, &nc, 12, exp));
	/* the same count and branch: a retransmission */
	ck_assert_int_eq(0, replay_check(&n, &nc, 11, exp));

	pl_set_str(&nc, "00000003");
	ck_assert_int_eq(0, replay_check(&n, &nc, 13, exp));
	/* a count skipped before may still come, once */
	pl_set_str(&nc, "00000002");
	ck_assert_int_eq(0, replay_check(&n, &nc, 14, exp));
	ck_assert_int_eq(EALREADY, replay_check(&n, &nc, 15, exp));

	/* far below the highest count: refused */
	pl_set_str(&nc, "00000100");
	ck_assert_int_eq(0, replay_check(&n, &nc, 16, exp));
	pl_set_str(&nc, "00000004");
	ck_assert_int_eq(EALREADY, replay_check(&n, &nc, 17, exp));

	pl_set_str(&nc, "0000000g");
	ck_assert_int_eq(EINVAL, replay_check(&n, &nc, 18, exp));
	pl_set_str(&nc, "00000000");
	ck_assert_int_eq(EINVAL, replay_check(&n, &nc, 19, exp));

	ck_assert_uint_eq(1, replay_count());
}
END_TEST


START_TEST(test_throttle_ban)
{
	struct throttle_conf conf = {3, 5, 60, 600};
	struct sa src, other;
	uint64_t t = 1000000;
	int i;

	throttle_configure(&conf);
	sa_set_str(&src, "192.0.2.1", 5060);
	sa_set_str(&other, "192.0.2.2", 5060);

	for (i = 0; i < 3; i++) {
		ck_assert(!throttle_blocked(&src, t));
		ck_assert(!throttle_fail(&src, t));
		t += 100;
	}

	/* three failures: one try a second */
	ck_assert(throttle_blocked(&src, t));
	ck_assert(!throttle_blocked(&other, t));
	t += 1000;
	ck_assert(!throttle_blocked(&src, t));

	ck_assert(!throttle_fail(&src, t));
	ck_assert(!ban_check(&src));
	t += 1000;
	ck_assert(throttle_fail(&src, t));     /* the fifth: banned */
	ck_assert(ban_check(&src));
	ck_assert(!ban_check(&other));
}
END_TEST


START_TEST(test_throttle_window)
{
	struct throttle_conf conf = {3, 5, 60, 600};
	struct sa src;
	uint64_t t = 5000000;
	int i;

	throttle_configure(&conf);
	sa_set_str(&src, "192.0.2.3", 5060);

	/* failures older than the window do not count */
	for (i = 0; i < 10; i++) {
		ck_assert(!throttle_fail(&src, t));
		t += 40000;
		if (i % 2)
			t += 61000;
	}
	ck_assert(!ban_check(&src));
}
END_TEST


Suite *suite_nonce(void)
{
	Suite *s = suite_create("nonce");
	TCase *tc = tcase_create("nonce");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_nonce_valid);
	tcase_add_test(tc, test_nonce_expiry);
	tcase_add_test(tc, test_nonce_forged);
	tcase_add_test(tc, test_recall);
	tcase_add_test(tc, test_replay);
	tcase_add_test(tc, test_throttle_ban);
	tcase_add_test(tc, test_throttle_window);
	suite_add_tcase(s, tc);

	return s;
}
