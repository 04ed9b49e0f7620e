/**
 * @file test_location.c  Location store on a temporary database: add,
 *                        refresh, remove, expire; accounts; upgrades
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <unistd.h>
#include <sqlite3.h>
#include <re.h>
#include "core.h"
#include "digest/digest.h"
#include <db/db.h>
#include <store/store.h>
#include "../../modules/location/location.h"
#include "test.h"


static char dir[256];
static char path[300];
static unsigned events[4];


static void event_handler(const struct sipd_event *ev, void *arg)
{
	(void)arg;

	if (ev->type < ARRAY_SIZE(events))
		++events[ev->type];
}


static struct event_listener listener = {.h = event_handler};

static struct location_backend backend = {
	.name = "test", .lookup = cache_lookup, .save = store_binding_save,
};


static void setup(void)
{
	ck_assert_int_eq(0, test_tmpdir(dir, sizeof(dir)));
	re_snprintf(path, sizeof(path), "%s/sipd.db", dir);
	ck_assert_int_eq(0, db_open(path, true, false));
	memset(events, 0, sizeof(events));
	event_listen(&listener);
	location_register(&backend);
}


static void teardown(void)
{
	location_unregister(&backend);
	event_unlisten(&listener);
	db_close();
	test_db_remove(path, dir);
}


/* The location module on PostgreSQL's engine */
static void pg_setup(void)
{
	test_pg_setup();
	memset(events, 0, sizeof(events));
	event_listen(&listener);
	location_register(&backend);
}


static void pg_teardown(void)
{
	location_unregister(&backend);
	event_unlisten(&listener);
	test_pg_teardown();
}


static struct binding *make(const char *contact, int64_t expires,
			    uint16_t q)
{
	struct binding *b;

	ck_assert_int_eq(0, binding_alloc(&b));
	ck_assert_int_eq(0, str_dup(&b->contact, contact));
	ck_assert_int_eq(0, str_dup(&b->callid, "call-1"));
	ck_assert_int_eq(0, str_dup(&b->sock, "udp:127.0.0.1:5060"));
	ck_assert_int_eq(0, str_dup(&b->user_agent, "unit"));
	sa_set_str(&b->received, "192.0.2.7", 40000);
	b->expires = expires;
	b->q = q;
	b->cseq = 1;
	b->created = b->updated = time_now();

	return b;
}


START_TEST(test_schema)
{
	ck_assert_int_eq(db_schema_ver, db_schema_version());
	db_close();

	/* reopening does not recreate */
	ck_assert_int_eq(0, db_open(path, false, false));
	ck_assert_int_eq(db_schema_ver, db_schema_version());
}
END_TEST


START_TEST(test_version_mismatch)
{
	ck_assert_int_eq(0, db_exec("UPDATE version SET version = 99"));
	db_close();
	ck_assert_int_eq(EPROTO, db_open(path, false, false));
}
END_TEST


START_TEST(test_upgrade)
{
	/* a database of schema version 1 */
	ck_assert_int_eq(0, db_exec("DROP TABLE subscriptions;"
				    " DROP TABLE publications;"
				    " DROP TABLE presence_rules;"
				    " DROP TABLE presence_state;"
				    " ALTER TABLE bindings DROP COLUMN nat;"
				    " DROP TABLE forwards;"
				    " ALTER TABLE accounts DROP COLUMN busy_limit;"
				    " UPDATE version SET version = 1"));
	db_close();

	ck_assert_int_eq(EPROTO, db_open(path, false, false));
	ck_assert_int_eq(0, db_open(path, false, true));
	ck_assert_int_eq(1, db_schema_version());
	ck_assert_int_eq(0, db_upgrade());
	ck_assert_int_eq(db_schema_ver, db_schema_version());
	ck_assert_int_eq(0, db_exec("SELECT count(*) FROM subscriptions"));
	ck_assert_int_eq(0, db_exec("SELECT nat FROM bindings"));
	ck_assert_int_eq(0, db_exec("SELECT busy_limit FROM accounts"));
	ck_assert_int_eq(0, db_exec("SELECT count(*) FROM forwards"));
}
END_TEST


/* The nat column of a binding's row: -1 for NULL */
static int nat_column(int64_t id)
{
	sqlite3_stmt *stmt;
	int nat = -2;

	ck_assert_int_eq(SQLITE_OK, sqlite3_prepare_v2(db_handle(),
		"SELECT nat FROM bindings WHERE id = ?1", -1, &stmt, NULL));
	sqlite3_bind_int64(stmt, 1, id);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		nat = sqlite3_column_type(stmt, 0) == SQLITE_NULL ? -1 :
			sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);

	return nat;
}


START_TEST(test_upgrade_nat)
{
	struct list up = LIST_INIT, found = LIST_INIT;
	int64_t now = time_now();
	struct binding *b;

	/* a database of schema version 2 with a binding: no nat column */
	ck_assert_int_eq(0, db_exec("ALTER TABLE bindings DROP COLUMN nat;"
				    " DROP TABLE forwards;"
				    " ALTER TABLE accounts DROP COLUMN busy_limit;"
				    " UPDATE version SET version = 2"));
	ck_assert_int_eq(0, db_exec(
		"INSERT INTO bindings (aor, contact, expires, callid, cseq,"
		" received, transport, socket, created, updated) VALUES"
		" ('o@example.com', 'sip:o@127.0.0.1:5070', strftime('%s',"
		"'now') + 600, 'c', 1, '127.0.0.1:5080', 'udp',"
		" 'udp:127.0.0.1:5060', 0, 0)"));
	db_close();

	ck_assert_int_eq(EPROTO, db_open(path, false, false));
	ck_assert_int_eq(0, db_open(path, false, true));
	ck_assert_int_eq(0, db_upgrade());
	ck_assert_int_eq(db_schema_ver, db_schema_version());
	db_close();
	ck_assert_int_eq(0, db_open(path, false, false));

	/* the old row is unknown: the old rule, another port over UDP */
	ck_assert_int_eq(0, location_lookup(&found, "o@example.com"));
	ck_assert_uint_eq(1, list_count(&found));
	b = found.head->data;
	ck_assert_int_eq(BINDING_NAT_UNKNOWN, b->nat);
	ck_assert_int_eq(-1, nat_column(b->id));

	/* written again as it is (sipctl reg add of its contact): unknown */
	list_unlink(&b->le);
	list_append(&up, &b->le, b);
	b->expires = now + 900;
	ck_assert_int_eq(0, location_save("o@example.com", &up, NULL));
	ck_assert_int_eq(-1, nat_column(b->id));

	/* a REGISTER decides: the flag is kept */
	b->nat = BINDING_NAT_NO;
	ck_assert_int_eq(0, location_save("o@example.com", &up, NULL));
	ck_assert_int_eq(0, nat_column(b->id));
	b->nat = BINDING_NAT_YES;
	ck_assert_int_eq(0, location_save("o@example.com", &up, NULL));
	ck_assert_int_eq(1, nat_column(b->id));
	list_flush(&up);

	ck_assert_int_eq(0, location_lookup(&found, "o@example.com"));
	ck_assert_int_eq(BINDING_NAT_YES,
			 ((struct binding *)found.head->data)->nat);
	list_flush(&found);
}
END_TEST


START_TEST(test_add_lookup)
{
	struct list up = LIST_INIT, found = LIST_INIT;
	int64_t now = time_now();
	struct binding *b;

	b = make("sip:a@192.0.2.7:5060", now + 60, 500);
	list_append(&up, &b->le, b);
	b = make("sip:a@192.0.2.8:5060", now + 120, 1000);
	b->nat = BINDING_NAT_YES;
	list_append(&up, &b->le, b);

	ck_assert_int_eq(0, location_save("a@example.com", &up, NULL));
	ck_assert_uint_eq(2, events[EVENT_BINDING_ADDED]);
	ck_assert(((struct binding *)up.head->data)->id > 0);

	ck_assert_int_eq(0, location_lookup(&found, "a@example.com"));
	ck_assert_uint_eq(2, list_count(&found));

	/* best q first, with every field back */
	b = found.head->data;
	ck_assert_str_eq("sip:a@192.0.2.8:5060", b->contact);
	ck_assert_uint_eq(1000, b->q);
	ck_assert_str_eq("udp:127.0.0.1:5060", b->sock);
	ck_assert_str_eq("unit", b->user_agent);
	ck_assert_uint_eq(40000, sa_port(&b->received));
	ck_assert_int_eq(BINDING_NAT_YES, b->nat);
	ck_assert_int_eq(BINDING_NAT_NO,
			 ((struct binding *)found.head->next->data)->nat);

	list_flush(&found);
	ck_assert_int_eq(0, location_lookup(&found, "b@example.com"));
	ck_assert(list_isempty(&found));

	list_flush(&up);
}
END_TEST


START_TEST(test_refresh_remove)
{
	struct list up = LIST_INIT, rm = LIST_INIT, found = LIST_INIT;
	int64_t now = time_now();
	struct binding *b;

	b = make("sip:a@192.0.2.7", now + 60, 1000);
	list_append(&up, &b->le, b);
	ck_assert_int_eq(0, location_save("a@example.com", &up, NULL));

	/* refresh: same id, new expiry and CSeq */
	b->expires = now + 600;
	b->cseq = 2;
	ck_assert_int_eq(0, location_save("a@example.com", &up, NULL));
	ck_assert_uint_eq(1, events[EVENT_BINDING_REFRESHED]);

	ck_assert_int_eq(0, location_lookup(&found, "a@example.com"));
	ck_assert_uint_eq(1, list_count(&found));
	b = found.head->data;
	ck_assert_uint_eq(2, b->cseq);
	ck_assert(b->expires == now + 600);

	/* remove */
	list_unlink(&b->le);
	list_append(&rm, &b->le, b);
	ck_assert_int_eq(0, location_save("a@example.com", NULL, &rm));
	ck_assert_uint_eq(1, events[EVENT_BINDING_REMOVED]);

	list_flush(&found);
	ck_assert_int_eq(0, location_lookup(&found, "a@example.com"));
	ck_assert(list_isempty(&found));

	list_flush(&up);
	list_flush(&rm);
}
END_TEST


START_TEST(test_expire)
{
	struct list up = LIST_INIT, found = LIST_INIT;
	int64_t now = time_now();
	uint32_t removed = 0;
	int i;

	for (i = 0; i < 5; i++) {
		char c[64];
		struct binding *b;

		re_snprintf(c, sizeof(c), "sip:x%d@192.0.2.9", i);
		b = make(c, i < 3 ? now - 1 : now + 100, 1000);
		list_append(&up, &b->le, b);
	}
	ck_assert_int_eq(0, location_save("x@example.com", &up, NULL));

	/* expired bindings are invisible before they are removed */
	ck_assert_int_eq(0, location_lookup(&found, "x@example.com"));
	ck_assert_uint_eq(2, list_count(&found));
	list_flush(&found);

	/* removed a batch at a time */
	ck_assert_int_eq(0, expire_run(now, 2, &removed));
	ck_assert_uint_eq(2, removed);
	ck_assert_int_eq(0, expire_run(now, 2, &removed));
	ck_assert_uint_eq(1, removed);
	ck_assert_int_eq(0, expire_run(now, 2, &removed));
	ck_assert_uint_eq(0, removed);
	ck_assert_uint_eq(3, events[EVENT_BINDING_EXPIRED]);

	/* the live ones stay */
	ck_assert_int_eq(0, expire_run(now + 50, 100, &removed));
	ck_assert_uint_eq(0, removed);
	ck_assert_int_eq(0, location_lookup(&found, "x@example.com"));
	ck_assert_uint_eq(2, list_count(&found));

	list_flush(&found);
	list_flush(&up);
}
END_TEST


START_TEST(test_accounts)
{
	uint8_t ha1[DIGEST_MAX_SIZE], want[DIGEST_MAX_SIZE];
	sqlite3_stmt *stmt;
	bool exists = true;
	size_t len = 0;

	ck_assert_int_eq(0, digest_ha1(want, DIGEST_SHA256, "alice",
				       "example.com", "secret"));

	ck_assert_int_eq(SQLITE_OK, sqlite3_prepare_v2(db_handle(),
		"INSERT INTO accounts (username, domain, ha1_md5, ha1_sha256,"
		" created) VALUES ('alice', 'example.com', zeroblob(16), ?1,"
		" 0)", -1, &stmt, NULL));
	sqlite3_bind_blob(stmt, 1, want, 32, SQLITE_STATIC);
	ck_assert_int_eq(SQLITE_DONE, sqlite3_step(stmt));
	sqlite3_finalize(stmt);

	ck_assert_int_eq(0, store_account_ha1("alice", "example.com",
					      DIGEST_SHA256, ha1, &len));
	ck_assert_uint_eq(32, len);
	ck_assert(!memcmp(ha1, want, 32));

	ck_assert_int_eq(ENOENT, store_account_ha1("bob", "example.com",
						   DIGEST_MD5, ha1, &len));
	ck_assert_int_eq(ENOENT, store_account_ha1("alice", "example.org",
						   DIGEST_MD5, ha1, &len));

	ck_assert_int_eq(0, store_account_exists("alice", "example.com",
						 &exists));
	ck_assert(exists);
	ck_assert_int_eq(0, store_account_exists("Alice", "example.com",
						 &exists));
	ck_assert(!exists);
}
END_TEST


START_TEST(test_kill_survival)
{
	struct list up = LIST_INIT, found = LIST_INIT;
	struct binding *b;

	/* what is committed is on disk for another connection to see */
	b = make("sip:k@192.0.2.10", time_now() + 3600, 1000);
	list_append(&up, &b->le, b);
	ck_assert_int_eq(0, location_save("k@example.com", &up, NULL));
	list_flush(&up);

	db_close();
	ck_assert_int_eq(0, db_open(path, false, false));
	ck_assert_int_eq(0, location_lookup(&found, "k@example.com"));
	ck_assert_uint_eq(1, list_count(&found));
	list_flush(&found);
}
END_TEST


Suite *suite_location(void)
{
	Suite *s = suite_create("location");
	TCase *tc = tcase_create("location");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_schema);
	tcase_add_test(tc, test_version_mismatch);
	tcase_add_test(tc, test_upgrade);
	tcase_add_test(tc, test_upgrade_nat);
	tcase_add_test(tc, test_add_lookup);
	tcase_add_test(tc, test_refresh_remove);
	tcase_add_test(tc, test_expire);
	tcase_add_test(tc, test_accounts);
	tcase_add_test(tc, test_kill_survival);
	suite_add_tcase(s, tc);

	/* the same on PostgreSQL, SQLite's schema and files aside */
	if (test_pg_uri()) {
		tc = tcase_create("location-postgresql");
		tcase_add_checked_fixture(tc, pg_setup, pg_teardown);
		tcase_add_test(tc, test_add_lookup);
		tcase_add_test(tc, test_refresh_remove);
		tcase_add_test(tc, test_expire);
		suite_add_tcase(s, tc);
	}

	return s;
}
