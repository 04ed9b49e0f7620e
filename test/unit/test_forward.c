/**
 * @file test_forward.c  Call forwarding rules and busy limits in the store
 *                       (on a temporary database), the upgrade from
 *                       schema 3, and the check of forwarding targets
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <unistd.h>
#include <re.h>
#include "core.h"
#include "digest/digest.h"
#include "sipmsg/sipmsg.h"
#include <db/db.h>
#include <store/store.h>
#include "test.h"


static char dir[256];
static char path[300];


static void setup(void)
{
	ck_assert_int_eq(0, test_tmpdir(dir, sizeof(dir)));
	re_snprintf(path, sizeof(path), "%s/sipd.db", dir);
	ck_assert_int_eq(0, db_open(path, true, false));
}


static void teardown(void)
{
	db_close();
	test_db_remove(path, dir);
}


static void account_add(const char *user, const char *domain)
{
	struct store_account a;

	memset(&a, 0, sizeof(a));
	str_ncpy(a.user, user, sizeof(a.user));
	str_ncpy(a.domain, domain, sizeof(a.domain));
	a.created = 1;
	ck_assert_int_eq(0, store_account_write(&a, STORE_ADD));
}


/* The rules listed, as "aor kind target after" lines */
static const char *listed(const char *aor)
{
	static char buf[1024];
	struct list fwds = LIST_INIT;
	struct le *le;
	size_t n = 0;

	buf[0] = '\0';
	ck_assert_int_eq(0, store_forward_list(&fwds, aor));

	for (le = fwds.head; le; le = le->next) {
		const struct store_forward *f = le->data;

		n += re_snprintf(buf + n, sizeof(buf) - n, "%s%s %s %s %u",
				 n ? "|" : "", f->aor,
				 store_forward_kind_name(f->kind), f->target,
				 f->after);
	}

	list_flush(&fwds);

	return buf;
}


START_TEST(test_kind_names)
{
	enum store_forward_kind k;
	unsigned i;

	for (i = 0; i < FORWARD_KINDS; i++) {
		ck_assert_int_eq(0, store_forward_kind_decode(&k,
			store_forward_kind_name((enum store_forward_kind)i)));
		ck_assert_int_eq(i, k);
	}

	ck_assert_str_eq("always", store_forward_kind_name(FORWARD_ALWAYS));
	ck_assert_str_eq("unavailable",
			 store_forward_kind_name(FORWARD_UNAVAILABLE));
	ck_assert_str_eq("?", store_forward_kind_name(FORWARD_KINDS));
	ck_assert_int_eq(0, store_forward_kind_decode(&k, "NoAnswer"));
	ck_assert_int_eq(FORWARD_NOANSWER, k);
	ck_assert_int_eq(EINVAL, store_forward_kind_decode(&k, "never"));
	ck_assert_int_eq(EINVAL, store_forward_kind_decode(&k, ""));
}
END_TEST


START_TEST(test_crud)
{
	struct list fwds = LIST_INIT;
	int64_t created;

	ck_assert_str_eq("", listed(NULL));

	ck_assert_int_eq(0, store_forward_set("bob@example.com",
					      FORWARD_UNAVAILABLE, "1234", 0));
	ck_assert_int_eq(0, store_forward_set("alice@example.com",
					      FORWARD_NOANSWER,
					      "sip:vm@example.com", 20));
	ck_assert_int_eq(0, store_forward_set("alice@example.com",
					      FORWARD_ALWAYS,
					      "sip:carol@example.org", 0));
	ck_assert_int_eq(0, store_forward_set("alice@example.com",
					      FORWARD_BUSY, "+4930123", 0));

	/* by user, then kind in its order */
	ck_assert_str_eq("alice@example.com always sip:carol@example.org 0|"
			 "alice@example.com busy +4930123 0|"
			 "alice@example.com noanswer sip:vm@example.com 20|"
			 "bob@example.com unavailable 1234 0", listed(NULL));
	ck_assert_str_eq("bob@example.com unavailable 1234 0",
			 listed("bob@example.com"));
	ck_assert_str_eq("", listed("carol@example.com"));

	ck_assert_int_eq(0, store_forward_list(&fwds, "bob@example.com"));
	created = ((struct store_forward *)fwds.head->data)->created;
	ck_assert(created > 0);
	list_flush(&fwds);

	/* one rule per kind: a new one replaces the old */
	ck_assert_int_eq(0, store_forward_set("alice@example.com",
					      FORWARD_NOANSWER, "555", 45));
	ck_assert_int_eq(0, store_forward_set("bob@example.com",
					      FORWARD_UNAVAILABLE,
					      "sips:bob@mobile.example", 0));
	ck_assert_str_eq("alice@example.com always sip:carol@example.org 0|"
			 "alice@example.com busy +4930123 0|"
			 "alice@example.com noanswer 555 45|"
			 "bob@example.com unavailable sips:bob@mobile.example 0",
			 listed(NULL));
	ck_assert_int_eq(0, store_forward_list(&fwds, "bob@example.com"));
	ck_assert_int_eq(created,
			 ((struct store_forward *)fwds.head->data)->created);
	list_flush(&fwds);

	ck_assert_int_eq(0, store_forward_del("alice@example.com",
					      FORWARD_BUSY));
	ck_assert_int_eq(ENOENT, store_forward_del("alice@example.com",
						   FORWARD_BUSY));
	ck_assert_int_eq(ENOENT, store_forward_del("carol@example.com",
						   FORWARD_ALWAYS));
	ck_assert_str_eq("alice@example.com always sip:carol@example.org 0|"
			 "alice@example.com noanswer 555 45",
			 listed("alice@example.com"));

	/* bad arguments */
	ck_assert_int_eq(EINVAL, store_forward_set("alice@example.com",
						   FORWARD_KINDS, "1", 0));
	ck_assert_int_eq(EINVAL, store_forward_set("alice@example.com",
						   FORWARD_BUSY, "", 0));
	ck_assert_int_eq(EINVAL, store_forward_set(NULL, FORWARD_BUSY, "1",
						   0));
	ck_assert_int_eq(EINVAL, store_forward_del("alice@example.com",
						   FORWARD_KINDS));
	ck_assert_int_eq(EINVAL, store_forward_list(NULL, NULL));
}
END_TEST


START_TEST(test_busy_limit)
{
	struct list accounts = LIST_INIT;
	uint32_t limit = 99;

	account_add("alice", "example.com");
	account_add("bob", "example.com");

	ck_assert_int_eq(0, store_account_busy_limit("alice", "example.com",
						     &limit));
	ck_assert_uint_eq(0, limit);

	ck_assert_int_eq(0, store_account_busy_limit_set("alice",
							 "example.com", 2));
	ck_assert_int_eq(0, store_account_busy_limit("alice", "example.com",
						     &limit));
	ck_assert_uint_eq(2, limit);
	ck_assert_int_eq(0, store_account_busy_limit("bob", "example.com",
						     &limit));
	ck_assert_uint_eq(0, limit);

	ck_assert_int_eq(ENOENT, store_account_busy_limit("carol",
							  "example.com",
							  &limit));
	ck_assert_int_eq(ENOENT, store_account_busy_limit_set("carol",
							      "example.com",
							      1));
	ck_assert_int_eq(ENOENT, store_account_busy_limit("Alice",
							  "example.com",
							  &limit));

	/* listed with the account */
	ck_assert_int_eq(0, store_account_list(&accounts, time_now()));
	ck_assert_uint_eq(2, list_count(&accounts));
	ck_assert_str_eq("alice",
			 ((struct store_account *)accounts.head->data)->user);
	ck_assert_uint_eq(2, ((struct store_account *)
			      accounts.head->data)->busy_limit);
	ck_assert_uint_eq(0, ((struct store_account *)
			      accounts.tail->data)->busy_limit);
	list_flush(&accounts);

	/* a new password keeps the limit */
	{
		struct store_account a;

		memset(&a, 0, sizeof(a));
		str_ncpy(a.user, "alice", sizeof(a.user));
		str_ncpy(a.domain, "example.com", sizeof(a.domain));
		ck_assert_int_eq(0, store_account_write(&a, STORE_UPSERT));
		ck_assert_int_eq(0, store_account_write(&a, STORE_UPDATE));
	}
	ck_assert_int_eq(0, store_account_busy_limit("alice", "example.com",
						     &limit));
	ck_assert_uint_eq(2, limit);
}
END_TEST


/* One look for a call: the account, its busy limit and its rules */
START_TEST(test_callee_rules)
{
	struct list fwds = LIST_INIT;
	const struct store_forward *f;
	uint32_t limit = 99;

	account_add("alice", "example.com");
	account_add("bob", "example.com");

	ck_assert_int_eq(ENOENT, store_callee_rules("carol", "example.com",
						    &limit, &fwds));
	ck_assert(list_isempty(&fwds));

	ck_assert_int_eq(0, store_callee_rules("alice", "example.com",
					       &limit, &fwds));
	ck_assert_uint_eq(0, limit);
	ck_assert(list_isempty(&fwds));

	ck_assert_int_eq(0, store_account_busy_limit_set("alice",
							 "example.com", 3));
	ck_assert_int_eq(0, store_forward_set("alice@example.com",
					      FORWARD_NOANSWER,
					      "sip:vm@example.com", 15));
	ck_assert_int_eq(0, store_forward_set("alice@example.com",
					      FORWARD_ALWAYS,
					      "sip:bob@example.com", 0));
	ck_assert_int_eq(0, store_forward_set("bob@example.com",
					      FORWARD_BUSY, "200", 0));

	ck_assert_int_eq(0, store_callee_rules("alice", "example.com",
					       &limit, &fwds));
	ck_assert_uint_eq(3, limit);
	ck_assert_uint_eq(2, list_count(&fwds));
	f = fwds.head->data;
	ck_assert_int_eq(FORWARD_ALWAYS, f->kind);
	ck_assert_str_eq("sip:bob@example.com", f->target);
	ck_assert_str_eq("alice@example.com", f->aor);
	f = fwds.tail->data;
	ck_assert_int_eq(FORWARD_NOANSWER, f->kind);
	ck_assert_uint_eq(15, f->after);
	list_flush(&fwds);
}
END_TEST


START_TEST(test_account_delete_removes_forwards)
{
	account_add("alice", "example.com");
	account_add("bob", "example.com");

	ck_assert_int_eq(0, store_forward_set("alice@example.com",
					      FORWARD_ALWAYS, "123", 0));
	ck_assert_int_eq(0, store_forward_set("alice@example.com",
					      FORWARD_BUSY, "456", 0));
	ck_assert_int_eq(0, store_forward_set("bob@example.com",
					      FORWARD_BUSY, "789", 0));

	ck_assert_int_eq(0, store_account_delete("alice", "example.com"));
	ck_assert_str_eq("", listed("alice@example.com"));
	ck_assert_str_eq("bob@example.com busy 789 0", listed(NULL));

	/* no account: nothing removed */
	ck_assert_int_eq(ENOENT, store_account_delete("alice",
						      "example.com"));
	ck_assert_str_eq("bob@example.com busy 789 0", listed(NULL));
}
END_TEST


START_TEST(test_upgrade_from_3)
{
	struct list accounts = LIST_INIT;
	uint32_t limit = 99;

	/* a database of schema version 3 with an account */
	ck_assert_int_eq(0, db_exec("DROP TABLE forwards;"
				    " ALTER TABLE accounts DROP COLUMN busy_limit;"
				    " UPDATE version SET version = 3"));
	ck_assert_int_eq(0, db_exec(
		"INSERT INTO accounts (username, domain, ha1_md5, ha1_sha256,"
		" created) VALUES ('old', 'example.com', zeroblob(16),"
		" zeroblob(32), 7)"));
	db_close();

	ck_assert_int_eq(EPROTO, db_open(path, false, false));
	ck_assert_int_eq(0, db_open(path, false, true));
	ck_assert_int_eq(3, db_schema_version());
	ck_assert_int_eq(0, db_upgrade());
	ck_assert_int_eq(4, db_schema_ver);
	ck_assert_int_eq(db_schema_ver, db_schema_version());
	db_close();
	ck_assert_int_eq(0, db_open(path, false, false));

	/* the account is kept, unlimited, and can have forwards */
	ck_assert_int_eq(0, store_account_list(&accounts, time_now()));
	ck_assert_uint_eq(1, list_count(&accounts));
	ck_assert_str_eq("old",
			 ((struct store_account *)accounts.head->data)->user);
	ck_assert_int_eq(7, ((struct store_account *)
			     accounts.head->data)->created);
	list_flush(&accounts);

	ck_assert_int_eq(0, store_account_busy_limit("old", "example.com",
						     &limit));
	ck_assert_uint_eq(0, limit);
	ck_assert_int_eq(0, store_forward_set("old@example.com",
					      FORWARD_ALWAYS, "100", 0));
	ck_assert_str_eq("old@example.com always 100 0", listed(NULL));

	/* the table checks the kind */
	ck_assert_int_ne(0, db_exec("INSERT INTO forwards (aor, kind, target,"
				    " created) VALUES ('old@example.com',"
				    " 'never', 'x', 0)"));
}
END_TEST


/* forward_target_norm(): the target, or "!" and the reason */
static const char *norm(const char *target)
{
	static char buf[300];
	char out[256], why[200] = "";

	if (forward_target_norm(out, sizeof(out), target, why, sizeof(why))) {
		ck_assert(why[0] != '\0');
		re_snprintf(buf, sizeof(buf), "!%s", why);
		return buf;
	}

	str_ncpy(buf, out, sizeof(buf));

	return buf;
}


START_TEST(test_target_norm)
{
	char longer[300], out[256], why[64];

	/* SIP URIs, kept as given */
	ck_assert_str_eq("sip:bob@example.com", norm("sip:bob@example.com"));
	ck_assert_str_eq("SIP:Bob@Example.COM:5070;transport=tcp",
			 norm("SIP:Bob@Example.COM:5070;transport=tcp"));
	ck_assert_str_eq("sips:bob@example.com", norm("sips:bob@example.com"));
	ck_assert_str_eq("sip:voicemail.example.com",
			 norm("sip:voicemail.example.com"));
	ck_assert_str_eq("sip:+4930123@gw.example.com",
			 norm("sip:+4930123@gw.example.com"));

	/* USER@DOMAIN */
	ck_assert_str_eq("sip:bob@example.com", norm("bob@example.com"));
	ck_assert_str_eq("sip:bob@192.0.2.1:5080", norm("bob@192.0.2.1:5080"));
	ck_assert_str_eq("sip:+49301@example.com", norm("+49301@example.com"));

	/* numbers */
	ck_assert_str_eq("1234", norm("1234"));
	ck_assert_str_eq("+4930123456", norm("+4930123456"));
	ck_assert_str_eq("*72#1", norm("*72#1"));

	/* refused */
	ck_assert_str_eq("!the target is empty", norm(""));
	ck_assert(norm("bob")[0] == '!');
	ck_assert(strstr(norm("bob"), "not a SIP URI, USER@DOMAIN or number"));
	ck_assert(norm("+")[0] == '!');
	ck_assert(norm("*#")[0] == '!');
	ck_assert(norm("12a4")[0] == '!');
	ck_assert(norm("++1")[0] == '!');
	ck_assert(strstr(norm("tel:+4930123"), "'tel:' is not a SIP URI"));
	ck_assert(strstr(norm("http://example.com"), "'http:' is not"));
	ck_assert(strstr(norm("mailto:bob@example.com"), "'mailto:'"));
	ck_assert(norm("sip:")[0] == '!');
	ck_assert(norm("sip:bob@")[0] == '!');
	ck_assert(norm("bob@")[0] == '!');
	ck_assert(norm("@example.com")[0] == '!');
	ck_assert(strstr(norm("sip:bob@example.com x"), "character"));
	ck_assert(strstr(norm("<sip:bob@example.com>"), "character"));
	ck_assert(strstr(norm("bob@example.com\r\nX: y"), "character"));
	ck_assert(strstr(norm("user:pw@example.com"), "'user:' is not"));

	/* too long for the buffer */
	memset(longer, 'a', sizeof(longer));
	memcpy(longer, "sip:", 4);
	memcpy(longer + 200, "@example.com", 12);
	longer[sizeof(longer) - 1] = '\0';
	ck_assert(strstr(norm(longer), "too long"));
	ck_assert_int_eq(EINVAL, forward_target_norm(out, 8, "sip:b@c.de",
						     why, sizeof(why)));
	ck_assert_int_eq(EINVAL, forward_target_norm(out, 4, "12345",
						     NULL, 0));
}
END_TEST


Suite *suite_forward(void)
{
	Suite *s = suite_create("forward");
	TCase *tc = tcase_create("store");
	TCase *tt = tcase_create("target");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_kind_names);
	tcase_add_test(tc, test_crud);
	tcase_add_test(tc, test_busy_limit);
	tcase_add_test(tc, test_callee_rules);
	tcase_add_test(tc, test_account_delete_removes_forwards);
	tcase_add_test(tc, test_upgrade_from_3);
	suite_add_tcase(s, tc);

	tcase_add_test(tt, test_target_norm);
	suite_add_tcase(s, tt);

	/* the same on PostgreSQL (the SQLite upgrade aside) */
	if (test_pg_uri()) {
		tc = tcase_create("store-postgresql");
		tcase_add_checked_fixture(tc, test_pg_setup,
					  test_pg_teardown);
		tcase_add_test(tc, test_crud);
		tcase_add_test(tc, test_busy_limit);
		tcase_add_test(tc, test_callee_rules);
		tcase_add_test(tc, test_account_delete_removes_forwards);
		suite_add_tcase(s, tc);
	}

	return s;
}
