/**
 * @file test_store.c  The store's operations on each engine: SQLite on a
 *                     temporary file, PostgreSQL on the test server
 *                     (SIPD_TEST_PG); the same tests, the same answers
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libpq-fe.h>
#include <re.h>
#include "core.h"
#include "digest/digest.h"
#include <db/db.h>
#include <store/store.h>
#include "test.h"


static char dir[256];
static char path[300];


static void sqlite_setup(void)
{
	ck_assert_int_eq(0, test_tmpdir(dir, sizeof(dir)));
	re_snprintf(path, sizeof(path), "%s/sipd.db", dir);
	ck_assert_int_eq(0, db_open(path, true, false));
	store_engine_set(NULL);
}


static void sqlite_teardown(void)
{
	db_close();
	test_db_remove(path, dir);
}


static struct binding *make(const char *contact, int64_t expires,
			    uint16_t q)
{
	struct binding *b;

	ck_assert_int_eq(0, binding_alloc(&b));
	ck_assert_int_eq(0, str_dup(&b->contact, contact));
	ck_assert_int_eq(0, str_dup(&b->callid, "call-1"));
	ck_assert_int_eq(0, str_dup(&b->sock, "udp:127.0.0.1:5060"));
	sa_set_str(&b->received, "192.0.2.7", 40000);
	b->expires = expires;
	b->q = q;
	b->cseq = 1;
	b->created = b->updated = 1000;

	return b;
}


START_TEST(test_bindings)
{
	struct list up = LIST_INIT, rm = LIST_INIT, found = LIST_INIT;
	const int64_t now = 100000;
	struct binding *a, *b;
	uint64_t n = 0;

	a = make("sip:a@192.0.2.7:5060", now + 60, 500);
	list_append(&up, &a->le, a);
	b = make("sip:a@[2001:db8::1]:5070;transport=tcp", now + 120, 1000);
	b->tp = SIP_TRANSP_TCP;
	b->nat = BINDING_NAT_YES;
	b->reg_id = 2;
	sa_set_str(&b->received, "2001:db8::1", 5070);
	ck_assert_int_eq(0, str_dup(&b->params, ";+sip.ice"));
	ck_assert_int_eq(0, str_dup(&b->path, "<sip:edge;lr>"));
	ck_assert_int_eq(0, str_dup(&b->instance, "<urn:uuid:1>"));
	ck_assert_int_eq(0, str_dup(&b->user_agent, "unit 'quoted' \\"));
	list_append(&up, &b->le, b);

	ck_assert_int_eq(0, store_binding_save("a@example.com", &up, NULL));
	ck_assert(a->id > 0 && b->id > 0 && a->id != b->id);

	/* best q first, every field back */
	ck_assert_int_eq(0, store_binding_lookup(&found, "a@example.com",
						 now));
	ck_assert_uint_eq(2, list_count(&found));
	b = found.head->data;
	ck_assert_str_eq("sip:a@[2001:db8::1]:5070;transport=tcp",
			 b->contact);
	ck_assert_str_eq("a@example.com", b->aor);
	ck_assert_str_eq(";+sip.ice", b->params);
	ck_assert_str_eq("<sip:edge;lr>", b->path);
	ck_assert_str_eq("<urn:uuid:1>", b->instance);
	ck_assert_str_eq("unit 'quoted' \\", b->user_agent);
	ck_assert_str_eq("udp:127.0.0.1:5060", b->sock);
	ck_assert_str_eq("call-1", b->callid);
	ck_assert_int_eq(SIP_TRANSP_TCP, b->tp);
	ck_assert_int_eq(BINDING_NAT_YES, b->nat);
	ck_assert_uint_eq(2, b->reg_id);
	ck_assert_uint_eq(1000, b->q);
	ck_assert_uint_eq(5070, sa_port(&b->received));
	ck_assert_int_eq(AF_INET6, sa_af(&b->received));
	ck_assert(b->expires == now + 120);
	ck_assert(b->created == 1000 && b->updated == 1000);
	a = found.head->next->data;
	ck_assert_int_eq(BINDING_NAT_NO, a->nat);
	ck_assert_ptr_null(a->path);
	ck_assert_ptr_null(a->instance);
	ck_assert_int_eq(SIP_TRANSP_UDP, a->tp);
	list_flush(&found);

	/* a later time: the first one expired */
	ck_assert_int_eq(0, store_binding_lookup(&found, "a@example.com",
						 now + 60));
	ck_assert_uint_eq(1, list_count(&found));
	list_flush(&found);
	ck_assert_int_eq(0, store_binding_lookup(&found, "b@example.com",
						 now));
	ck_assert(list_isempty(&found));

	ck_assert_int_eq(0, store_binding_count(&n, now));
	ck_assert_uint_eq(2, n);

	/* another user; the list by aor, then q */
	list_flush(&up);
	a = make("sip:c@192.0.2.9", now + 60, 1000);
	list_append(&up, &a->le, a);
	ck_assert_int_eq(0, store_binding_save("c@example.com", &up, NULL));
	ck_assert_int_eq(0, store_binding_list(&found, NULL, now));
	ck_assert_uint_eq(3, list_count(&found));
	ck_assert_str_eq("a@example.com",
			 ((struct binding *)found.head->data)->aor);
	ck_assert_uint_eq(1000, ((struct binding *)found.head->data)->q);
	ck_assert_str_eq("c@example.com",
			 ((struct binding *)found.tail->data)->aor);
	list_flush(&found);
	ck_assert_int_eq(0, store_binding_list(&found, "c@example.com", now));
	ck_assert_uint_eq(1, list_count(&found));
	list_flush(&found);

	/* the scan, in id order, a batch at a time */
	ck_assert_int_eq(0, store_binding_scan(&found, 0, 2, now));
	ck_assert_uint_eq(2, list_count(&found));
	b = found.tail->data;
	n = (uint64_t)b->id;
	list_flush(&found);
	ck_assert_int_eq(0, store_binding_scan(&found, (int64_t)n, 2, now));
	ck_assert_uint_eq(1, list_count(&found));
	ck_assert_int_eq(a->id, ((struct binding *)found.head->data)->id);
	list_flush(&found);

	/* refresh: same id, new CSeq; then removed */
	a->cseq = 7;
	a->nat = BINDING_NAT_NO;
	ck_assert_int_eq(0, store_binding_save("c@example.com", &up, NULL));
	ck_assert_int_eq(0, store_binding_lookup(&found, "c@example.com",
						 now));
	ck_assert_uint_eq(1, list_count(&found));
	ck_assert_uint_eq(7, ((struct binding *)found.head->data)->cseq);
	ck_assert_int_eq(a->id, ((struct binding *)found.head->data)->id);
	list_flush(&found);

	list_unlink(&a->le);
	list_append(&rm, &a->le, a);
	ck_assert_int_eq(0, store_binding_save("c@example.com", NULL, &rm));
	ck_assert_int_eq(0, store_binding_lookup(&found, "c@example.com",
						 now));
	ck_assert(list_isempty(&found));

	list_flush(&rm);
	list_flush(&up);
}
END_TEST


START_TEST(test_binding_expire)
{
	struct list up = LIST_INIT, gone = LIST_INIT, found = LIST_INIT;
	const int64_t now = 100000;
	struct binding *b;
	uint64_t n = 0;
	int i;

	for (i = 0; i < 5; i++) {
		char c[64];

		re_snprintf(c, sizeof(c), "sip:x%d@192.0.2.9", i);
		b = make(c, i < 3 ? now - 10 + i : now + 100, 1000);
		list_append(&up, &b->le, b);
	}
	ck_assert_int_eq(0, store_binding_save("x@example.com", &up, NULL));

	/* soonest expiry first, a batch at a time */
	ck_assert_int_eq(0, store_binding_expired(&gone, now, 2));
	ck_assert_uint_eq(2, list_count(&gone));
	ck_assert(((struct binding *)gone.head->data)->expires == now - 10);

	/* one refreshed since it was read stays */
	b = up.head->data;
	b->expires = now + 500;
	list_unlink(&b->le);
	list_append(&found, &b->le, b);
	ck_assert_int_eq(0, store_binding_save("x@example.com", &found,
					       NULL));
	list_unlink(&b->le);
	list_append(&up, &b->le, b);

	ck_assert_int_eq(0, store_binding_expire(&gone, now));
	list_flush(&gone);

	ck_assert_int_eq(0, store_binding_count(&n, now));
	ck_assert_uint_eq(3, n);
	ck_assert_int_eq(0, store_binding_expired(&gone, now, 10));
	ck_assert_uint_eq(1, list_count(&gone));
	ck_assert_int_eq(0, store_binding_expire(&gone, now));
	list_flush(&gone);
	ck_assert_int_eq(0, store_binding_expired(&gone, now, 10));
	ck_assert(list_isempty(&gone));

	/* list with now 0: every binding */
	ck_assert_int_eq(0, store_binding_list(&found, NULL, 0));
	ck_assert_uint_eq(3, list_count(&found));

	list_flush(&found);
	list_flush(&up);
}
END_TEST


static void account(struct store_account *a, const char *user,
		    const char *domain, const char *password)
{
	memset(a, 0, sizeof(*a));
	str_ncpy(a->user, user, sizeof(a->user));
	str_ncpy(a->domain, domain, sizeof(a->domain));
	ck_assert_int_eq(0, digest_ha1(a->ha1_md5, DIGEST_MD5, user, domain,
				       password));
	ck_assert_int_eq(0, digest_ha1(a->ha1_sha256, DIGEST_SHA256, user,
				       domain, password));
	a->created = 500;
}


START_TEST(test_accounts)
{
	struct list accs = LIST_INIT, up = LIST_INIT;
	uint8_t ha1[DIGEST_MAX_SIZE];
	struct store_account a, b, *l;
	struct binding *bd;
	bool exists = false;
	uint32_t limit = 9;
	size_t len = 0;

	account(&a, "alice", "example.com", "secret");
	ck_assert_int_eq(0, store_account_write(&a, STORE_ADD));
	ck_assert_int_eq(EEXIST, store_account_write(&a, STORE_ADD));

	ck_assert_int_eq(0, store_account_ha1("alice", "example.com",
					      DIGEST_MD5, ha1, &len));
	ck_assert_uint_eq(16, len);
	ck_assert(!memcmp(ha1, a.ha1_md5, 16));
	ck_assert_int_eq(0, store_account_ha1("alice", "example.com",
					      DIGEST_SHA256, ha1, &len));
	ck_assert_uint_eq(32, len);
	ck_assert(!memcmp(ha1, a.ha1_sha256, 32));
	ck_assert_int_eq(ENOENT, store_account_ha1("Alice", "example.com",
						   DIGEST_MD5, ha1, &len));
	ck_assert_int_eq(0, store_account_exists("alice", "example.com",
						 &exists));
	ck_assert(exists);

	/* update: the HA1s change, created stays */
	account(&b, "alice", "example.com", "other");
	b.created = 999;
	ck_assert_int_eq(0, store_account_write(&b, STORE_UPDATE));
	ck_assert_int_eq(0, store_account_ha1("alice", "example.com",
					      DIGEST_MD5, ha1, &len));
	ck_assert(!memcmp(ha1, b.ha1_md5, 16));
	account(&b, "bob", "example.com", "x");
	ck_assert_int_eq(ENOENT, store_account_write(&b, STORE_UPDATE));
	ck_assert_int_eq(0, store_account_write(&b, STORE_UPSERT));
	ck_assert_int_eq(0, store_account_write(&b, STORE_UPSERT));

	/* import: both written at once */
	account(&a, "carol", "example.org", "c");
	account(&b, "alice", "example.com", "again");
	list_append(&up, &a.le, &a);
	list_append(&up, &b.le, &b);
	ck_assert_int_eq(0, store_account_import(&up));
	list_clear(&up);
	ck_assert_int_eq(0, store_account_ha1("alice", "example.com",
					      DIGEST_SHA256, ha1, &len));
	ck_assert(!memcmp(ha1, b.ha1_sha256, 32));

	/* a binding and a busy limit in the list */
	bd = make("sip:alice@192.0.2.1", 200000, 1000);
	list_append(&up, &bd->le, bd);
	ck_assert_int_eq(0, store_binding_save("alice@example.com", &up,
					       NULL));
	list_flush(&up);
	ck_assert_int_eq(0, store_account_busy_limit_set("alice",
							 "example.com", 2));
	ck_assert_int_eq(0, store_account_busy_limit("alice", "example.com",
						     &limit));
	ck_assert_uint_eq(2, limit);

	ck_assert_int_eq(0, store_account_list(&accs, 100000));
	ck_assert_uint_eq(3, list_count(&accs));
	l = accs.head->data;
	ck_assert_str_eq("alice", l->user);
	ck_assert_str_eq("example.com", l->domain);
	ck_assert_uint_eq(1, l->bindings);
	ck_assert_uint_eq(2, l->busy_limit);
	ck_assert(l->created == 500);
	l = accs.tail->data;
	ck_assert_str_eq("example.org", l->domain);
	ck_assert_uint_eq(0, l->bindings);
	list_flush(&accs);

	/* delete: its bindings go with it */
	ck_assert_int_eq(0, store_account_delete("alice", "example.com"));
	ck_assert_int_eq(ENOENT, store_account_delete("alice",
						      "example.com"));
	ck_assert_int_eq(0, store_binding_lookup(&up, "alice@example.com",
						 100000));
	ck_assert(list_isempty(&up));
	ck_assert_int_eq(0, store_account_exists("alice", "example.com",
						 &exists));
	ck_assert(!exists);
}
END_TEST


START_TEST(test_rules)
{
	struct list rules = LIST_INIT;
	struct store_rule *r;
	char rule[16];

	strcpy(rule, "none");
	ck_assert_int_eq(0, store_rule_get(rule, sizeof(rule),
					   "sip:a@example.com",
					   "sip:b@example.com"));
	ck_assert_str_eq("", rule);

	ck_assert_int_eq(0, store_rule_set("sip:a@example.com",
					   "sip:b@example.com", "allow", 1));
	ck_assert_int_eq(0, store_rule_set("sip:a@example.com",
					   "sip:c@example.com", "allow", 1));
	ck_assert_int_eq(0, store_rule_set("sip:a@example.com",
					   "sip:b@example.com", "block", 2));
	ck_assert_int_eq(0, store_rule_set("sip:z@example.com",
					   "sip:b@example.com", "allow", 2));
	ck_assert_int_eq(0, store_rule_get(rule, sizeof(rule),
					   "sip:a@example.com",
					   "sip:b@example.com"));
	ck_assert_str_eq("block", rule);

	ck_assert_int_eq(0, store_rule_list(&rules, "sip:a@example.com"));
	ck_assert_uint_eq(2, list_count(&rules));
	r = rules.head->data;
	ck_assert_str_eq("sip:b@example.com", r->watcher);
	ck_assert_str_eq("block", r->rule);
	list_flush(&rules);
	ck_assert_int_eq(0, store_rule_list(&rules, NULL));
	ck_assert_uint_eq(3, list_count(&rules));
	list_flush(&rules);

	ck_assert_int_eq(0, store_rule_set("sip:a@example.com",
					   "sip:b@example.com", NULL, 3));
	ck_assert_int_eq(ENOENT, store_rule_set("sip:a@example.com",
						"sip:b@example.com", NULL,
						3));
}
END_TEST


START_TEST(test_publications)
{
	const struct pl body1 = PL("<presence>1</presence>");
	const struct pl body2 = PL("<presence>2 'q' \\</presence>");
	const struct pl etag1 = PL("e1"), etag3 = PL("e3");
	struct list pubs = LIST_INIT;
	struct store_pstate *ps = NULL;
	const int64_t now = 100000;
	struct store_pub *p;
	int64_t id1 = 0, id2 = 0, id = 0;
	char pres[64];
	uint64_t n = 0;

	ck_assert_int_eq(0, store_pub_add(&id1, "sip:a@example.com", "e1",
					  now + 60, "application/pidf+xml",
					  &body1, "publish", now - 5));
	ck_assert_int_eq(0, store_pub_add(&id2, "sip:a@example.com", "e2",
					  now + 30, "application/pidf+xml",
					  &body2, "", now));
	ck_assert(id1 > 0 && id2 > 0 && id1 != id2);
	ck_assert_int_eq(EEXIST, store_pub_add(&id, "sip:b@example.com",
					       "e1", now + 60, "text/plain",
					       &body1, "", now));

	ck_assert_int_eq(0, store_pub_find(&id, pres, sizeof(pres), &etag1,
					   now));
	ck_assert(id == id1);
	ck_assert_str_eq("sip:a@example.com", pres);
	ck_assert_int_eq(ENOENT, store_pub_find(&id, pres, sizeof(pres),
						&etag1, now + 60));
	ck_assert_int_eq(ENOENT, store_pub_find(&id, pres, sizeof(pres),
						&etag3, now));

	/* newest first */
	ck_assert_int_eq(0, store_pub_list(&pubs, "sip:a@example.com", now,
					   true));
	ck_assert_uint_eq(2, list_count(&pubs));
	p = pubs.head->data;
	ck_assert(p->id == id2);
	ck_assert_str_eq("<presence>2 'q' \\</presence>", p->body);
	ck_assert_str_eq("e2", p->etag);
	list_flush(&pubs);

	/* a refresh keeps the body, a modify changes it */
	ck_assert_int_eq(0, store_pub_modify(id1, "e3", now + 90, NULL, NULL,
					     now + 1));
	ck_assert_int_eq(0, store_pub_find(&id, pres, sizeof(pres), &etag3,
					   now + 60));
	ck_assert(id == id1);
	ck_assert_int_eq(0, store_pub_modify(id2, "e4", now + 90,
					     "application/pidf+xml", &body1,
					     now + 2));
	ck_assert_int_eq(0, store_pub_list(&pubs, NULL, now, false));
	ck_assert_uint_eq(2, list_count(&pubs));
	p = pubs.head->data;
	ck_assert(p->id == id1);
	ck_assert_str_eq("<presence>1</presence>", p->body);
	ck_assert_str_eq("publish", p->source);
	ck_assert(p->expires == now + 90 && p->updated == now + 1);
	p = pubs.tail->data;
	ck_assert_str_eq("<presence>1</presence>", p->body);
	ck_assert_str_eq("e4", p->etag);
	list_flush(&pubs);

	ck_assert_int_eq(0, store_pub_count(&n, now));
	ck_assert_uint_eq(2, n);
	ck_assert_int_eq(0, store_pub_expired(&pubs, now + 90, 10));
	ck_assert_uint_eq(2, list_count(&pubs));
	list_flush(&pubs);
	ck_assert_int_eq(0, store_pub_expired(&pubs, now, 10));
	ck_assert(list_isempty(&pubs));

	ck_assert_int_eq(0, store_pub_delete(id1));
	ck_assert_int_eq(0, store_pub_count(&n, now));
	ck_assert_uint_eq(1, n);

	/* the composed document */
	ck_assert_int_eq(ENOENT, store_pstate_get(&ps, "sip:a@example.com"));
	ck_assert_int_eq(0, store_pstate_save("sip:a@example.com", "<p1/>",
					      "publish", now));
	ck_assert_int_eq(0, store_pstate_save("sip:a@example.com", "<p2/>",
					      "registration", now + 1));
	ck_assert_int_eq(0, store_pstate_get(&ps, "sip:a@example.com"));
	ck_assert_str_eq("<p2/>", ps->pidf);
	ck_assert_str_eq("registration", ps->sources);
	ck_assert(ps->updated == now + 1);
	mem_deref(ps);
}
END_TEST


static void sub_fill(struct store_sub *s, const char *tag, int64_t expires)
{
	memset(s, 0, sizeof(*s));
	s->event = "presence";
	s->presentity = "sip:a@example.com";
	s->watcher = "sip:w@example.com";
	s->state = "active";
	s->expires = expires;
	s->call_id = "sub-call";
	s->local_tag = (char *)tag;
	s->remote_tag = "rt";
	s->local_uri = "sip:a@example.com";
	s->remote_uri = "sip:w@example.com";
	s->contact = "sip:w@192.0.2.5";
	s->sock = "udp:127.0.0.1:5060";
	s->local_cseq = 1;
	s->remote_cseq = 10;
	s->updated = 1;
}


START_TEST(test_subscriptions)
{
	struct list subs = LIST_INIT, ids = LIST_INIT;
	const int64_t now = 100000;
	struct store_sub s1, s2, s3, *l;

	sub_fill(&s1, "t1", now + 60);
	s1.route_set = "<sip:p1;lr>";
	s1.accept = "application/pidf+xml";
	ck_assert_int_eq(0, store_sub_save(&s1));
	ck_assert(s1.id > 0);
	sub_fill(&s2, "t2", now + 30);
	ck_assert_int_eq(0, store_sub_save(&s2));
	sub_fill(&s3, "t1", now + 60);
	ck_assert_int_eq(EEXIST, store_sub_save(&s3));
	ck_assert(s3.id == 0);

	ck_assert_int_eq(0, store_sub_list(&subs, "sip:a@example.com", now,
					   false));
	ck_assert_uint_eq(2, list_count(&subs));
	l = subs.head->data;
	ck_assert_str_eq("sip:w@example.com", l->watcher);
	list_flush(&subs);

	/* an update: the state, the CSeqs, the version */
	s1.state = "terminated";
	s1.local_cseq = 5;
	s1.version = 3;
	s1.received = "192.0.2.5:5060";
	s1.transport = "tcp";
	s1.updated = 2;
	ck_assert_int_eq(0, store_sub_save(&s1));

	ck_assert_int_eq(0, store_sub_list(&subs, NULL, now, true));
	ck_assert_uint_eq(1, list_count(&subs));
	l = subs.head->data;
	ck_assert(l->id == s2.id);
	ck_assert_str_eq("", l->route_set);
	list_flush(&subs);

	ck_assert_int_eq(0, store_sub_list(&subs, NULL, now, false));
	ck_assert_uint_eq(2, list_count(&subs));
	for (l = subs.head->data; l->id != s1.id;
	     l = subs.head->next->data)
		;
	ck_assert_str_eq("terminated", l->state);
	ck_assert_uint_eq(5, l->local_cseq);
	ck_assert_uint_eq(10, l->remote_cseq);
	ck_assert_uint_eq(3, l->version);
	ck_assert_str_eq("<sip:p1;lr>", l->route_set);
	ck_assert_str_eq("application/pidf+xml", l->accept);
	ck_assert_str_eq("192.0.2.5:5060", l->received);
	ck_assert_str_eq("tcp", l->transport);
	ck_assert_str_eq("t1", l->local_tag);
	ck_assert(l->expires == now + 60 && l->updated == 2);
	list_flush(&subs);

	/* expired: live ones only */
	ck_assert_int_eq(0, store_sub_expired(&ids, now + 30, 10));
	ck_assert_uint_eq(1, list_count(&ids));
	ck_assert(((struct store_id *)ids.head->data)->id == s2.id);
	list_flush(&ids);

	/* purge: the terminated and the expired go */
	ck_assert_int_eq(0, store_sub_purge(now));
	ck_assert_int_eq(0, store_sub_list(&subs, NULL, 0, false));
	ck_assert_uint_eq(1, list_count(&subs));
	list_flush(&subs);

	ck_assert_int_eq(0, store_sub_delete(s2.id));
	ck_assert_int_eq(0, store_sub_list(&subs, NULL, 0, false));
	ck_assert(list_isempty(&subs));
}
END_TEST


START_TEST(test_transactions)
{
	char rule[16] = "";
	char problem[128];

	ck_assert_int_eq(0, store_begin());
	ck_assert_int_eq(0, store_rule_set("sip:a@example.com",
					   "sip:b@example.com", "allow", 1));
	store_rollback();
	ck_assert_int_eq(0, store_rule_get(rule, sizeof(rule),
					   "sip:a@example.com",
					   "sip:b@example.com"));
	ck_assert_str_eq("", rule);

	ck_assert_int_eq(0, store_begin());
	ck_assert_int_eq(0, store_rule_set("sip:a@example.com",
					   "sip:b@example.com", "allow", 1));
	ck_assert_int_eq(0, store_commit());
	ck_assert_int_eq(0, store_rule_get(rule, sizeof(rule),
					   "sip:a@example.com",
					   "sip:b@example.com"));
	ck_assert_str_eq("allow", rule);

	ck_assert_int_eq(0, store_check(problem, sizeof(problem)));
	ck_assert_int_eq(0, store_lock_wait(2000));
}
END_TEST


/* A statement on a connection of its own, as another node or psql */
static void pg_exec(const char *sql)
{
	PGconn *conn = PQconnectdb(test_pg_uri());
	PGresult *res;

	ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "%s",
		      PQerrorMessage(conn));
	res = PQexec(conn, "SET client_min_messages = warning");
	PQclear(res);
	res = PQexec(conn, sql);
	ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK ||
		      PQresultStatus(res) == PGRES_TUPLES_OK, "%s",
		      PQresultErrorMessage(res));
	PQclear(res);
	PQfinish(conn);
}


/* PostgreSQL: what db_pg_open() refuses, and a lost connection */
START_TEST(test_pg_open)
{
	struct list found = LIST_INIT;
	char msg[256], uri[512], want[64];
	const char *at;
	uint64_t n = 9;
	int i, err = 0;

	ck_assert_str_eq("postgresql", store_engine()->name);

	/* a wrong password: the server's message */
	at = strrchr(test_pg_uri(), '@');
	ck_assert_ptr_nonnull(at);
	re_snprintf(uri, sizeof(uri), "postgresql://sipd_test:wrong%s", at);
	ck_assert_int_eq(ECONNREFUSED, db_pg_open(uri, true, msg,
						     sizeof(msg)));
	ck_assert_msg(strstr(msg, "password authentication failed"), "%s",
		      msg);

	/* a schema of another version, and none */
	pg_exec("UPDATE version SET version = 99");
	ck_assert_int_eq(EPROTO, db_pg_open(test_pg_uri(), true, msg,
					       sizeof(msg)));
	re_snprintf(want, sizeof(want), "schema version 99, not %d",
		    pg_schema_ver);
	ck_assert_str_eq(want, msg);
	pg_exec("DROP TABLE version");
	ck_assert_int_eq(ENOENT, db_pg_open(test_pg_uri(), false, msg,
					       sizeof(msg)));
	re_snprintf(want, sizeof(want), "no sipd schema (version %d wanted)",
		    pg_schema_ver);
	ck_assert_str_eq(want, msg);
	pg_exec("DROP SCHEMA public CASCADE; CREATE SCHEMA public");
	ck_assert_int_eq(0, db_pg_open(test_pg_uri(), true, msg,
					  sizeof(msg)));
	ck_assert_int_eq(0, store_binding_count(&n, 0));
	ck_assert_uint_eq(0, n);

	/* the server ends the session (a restart): the call that finds it
	   gone fails, the next one reconnects and prepares again */
	pg_exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
		" WHERE pid != pg_backend_pid() AND usename = current_user");
	ck_assert_int_eq(ENOTCONN, store_binding_lookup(&found, "a@b", 0));

	/* the calls after it take the reconnection a step further each,
	   none blocks: ENOTCONN until it is done */
	for (i = 0; i < 200; i++) {
		err = store_binding_lookup(&found, "a@b", 0);
		if (err != ENOTCONN)
			break;
		usleep(10000);
	}
	ck_assert_int_eq(0, err);
	ck_assert_int_eq(0, store_binding_count(&n, 0));
}
END_TEST


/* PostgreSQL: a failed statement dooms its transaction; nested ones are
   part of the outer; a row another session holds is EBUSY */
START_TEST(test_pg_transactions)
{
	struct list up = LIST_INIT, found = LIST_INIT;
	struct store_sub s1, s2;
	struct store_account a;
	struct binding *b;
	char rule[16] = "";
	PGconn *other;
	PGresult *res;

	sub_fill(&s1, "t1", 200000);
	ck_assert_int_eq(0, store_sub_save(&s1));

	ck_assert_int_eq(0, store_begin());
	ck_assert_int_eq(0, store_rule_set("sip:a@example.com",
					   "sip:b@example.com", "allow", 1));
	sub_fill(&s2, "t1", 200000);
	ck_assert_int_eq(EEXIST, store_sub_save(&s2));
	ck_assert_int_eq(EIO, store_commit());
	ck_assert_int_eq(0, store_rule_get(rule, sizeof(rule),
					   "sip:a@example.com",
					   "sip:b@example.com"));
	ck_assert_str_eq("", rule);

	/* a binding save inside a transaction is undone with it */
	ck_assert_int_eq(0, store_begin());
	b = make("sip:n@192.0.2.1", 200000, 1000);
	list_append(&up, &b->le, b);
	ck_assert_int_eq(0, store_binding_save("n@example.com", &up, NULL));
	store_rollback();
	list_flush(&up);
	ck_assert_int_eq(0, store_binding_lookup(&found, "n@example.com",
						 100000));
	ck_assert(list_isempty(&found));

	/* another session holds the account's row */
	memset(&a, 0, sizeof(a));
	str_ncpy(a.user, "alice", sizeof(a.user));
	str_ncpy(a.domain, "example.com", sizeof(a.domain));
	ck_assert_int_eq(0, store_account_write(&a, STORE_ADD));

	other = PQconnectdb(test_pg_uri());
	ck_assert(PQstatus(other) == CONNECTION_OK);
	res = PQexec(other, "BEGIN; UPDATE accounts SET busy_limit = 5");
	ck_assert_int_eq(PGRES_COMMAND_OK, PQresultStatus(res));
	PQclear(res);

	ck_assert_int_eq(0, store_lock_wait(100));
	ck_assert_int_eq(EBUSY, store_account_busy_limit_set("alice",
							     "example.com",
							     2));
	PQfinish(other);
	ck_assert_int_eq(0, store_account_busy_limit_set("alice",
							 "example.com", 2));
}
END_TEST


/* A query's one value, read on a connection of its own */
static int pg_int(const char *sql)
{
	PGconn *conn = PQconnectdb(test_pg_uri());
	PGresult *res;
	int v;

	ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "%s",
		      PQerrorMessage(conn));
	res = PQexec(conn, sql);
	ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK &&
		      PQntuples(res) == 1, "%s", PQresultErrorMessage(res));
	v = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(conn);

	return v;
}


/* PostgreSQL: a database at the first version (db/pg/schema.sql alone)
   is refused by sipd, accepted for an upgrade, and upgraded by the
   migrations: their tables, columns and triggers */
START_TEST(test_pg_upgrade)
{
	char msg[256];

	pg_exec("DROP SCHEMA public CASCADE; CREATE SCHEMA public");
	pg_exec(pg_schema_sql);
	ck_assert_int_eq(pg_schema_base,
			 pg_int("SELECT version FROM version"));

	ck_assert_int_eq(EPROTO, db_pg_open(test_pg_uri(), true, msg,
					       sizeof(msg)));
	ck_assert_msg(strstr(msg, "run 'sipctl db upgrade'"), "%s", msg);

	ck_assert_int_eq(0, db_pg_open_older(test_pg_uri(), false, msg,
						sizeof(msg)));
	ck_assert_int_eq(0, db_upgrade());
	ck_assert_int_eq(pg_schema_ver,
			 pg_int("SELECT version FROM version"));
	ck_assert_int_eq(1, pg_int("SELECT count(*) FROM information_schema"
				   ".columns WHERE table_name = 'bindings'"
				   " AND column_name = 'node'"));
	ck_assert_int_eq(5, pg_int("SELECT count(*) FROM pg_trigger"
				   " WHERE tgname LIKE '%_changed'"));

	/* again: nothing to do */
	ck_assert_int_eq(0, db_upgrade());
	ck_assert_int_eq(0, db_pg_open(test_pg_uri(), false, msg,
					  sizeof(msg)));
}
END_TEST


/* The version once it moved from v, or v after a second: the server
   tells a listening session of a commit a moment after it */
static uint64_t version_after(uint64_t v)
{
	uint64_t now = v;
	int i;

	for (i = 0; i < 100 && now == v; i++) {
		ck_assert_int_eq(0, store_version(&now));
		if (now == v)
			usleep(10000);
	}

	return now;
}


/* PostgreSQL: the data version moves with a commit of another session
   (the triggers' NOTIFY, read by the LISTEN of db_pg_listen()), with
   this session's own, and stands while nothing is committed */
START_TEST(test_pg_version)
{
	uint64_t v1, v2, v3, n;
	int i;

	ck_assert_int_eq(ENOSYS, store_version(&v1));

	ck_assert_int_eq(0, db_pg_listen());
	ck_assert_int_eq(0, store_version(&v1));
	ck_assert_int_eq(0, store_version(&v2));
	ck_assert_uint_eq(v1, v2);

	pg_exec("INSERT INTO accounts (username, domain, ha1_md5,"
		" ha1_sha256, created) VALUES ('zed', 'example.com', '',"
		" '', 0)");
	v2 = version_after(v1);
	ck_assert_uint_gt(v2, v1);
	ck_assert_int_eq(0, store_version(&v3));
	ck_assert_uint_eq(v2, v3);

	/* a read: no move */
	ck_assert_int_eq(0, store_binding_count(&n, 0));
	ck_assert_int_eq(0, store_version(&v3));
	ck_assert_uint_eq(v2, v3);

	/* sipctl's or psql's delete */
	pg_exec("DELETE FROM accounts WHERE username = 'zed'");
	v3 = version_after(v2);
	ck_assert_uint_gt(v3, v2);

	/* the connection lost: no version to trust */
	pg_exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
		" WHERE pid != pg_backend_pid() AND usename = current_user");
	for (i = 0; i < 100 && !store_version(&v1); i++)
		usleep(10000);
	ck_assert_int_eq(ENOTCONN, store_version(&v1));

	db_pg_unlisten();
	ck_assert_int_eq(ENOSYS, store_version(&v1));
}
END_TEST


/* PostgreSQL: a lookup sent ahead goes with the next statement and is
   taken by the lookup after it (what another session wrote between is
   not in it); a binding saved alone is told to the other sessions in
   the same round trip, once committed */
START_TEST(test_pg_pipeline)
{
	struct list up = LIST_INIT, found = LIST_INIT;
	uint8_t ha1[DIGEST_MAX_SIZE];
	const int64_t now = 100000;
	PGconn *other;
	PGnotify *nt;
	PGresult *res;
	struct binding *b;
	size_t len;
	int i;

	other = PQconnectdb(test_pg_uri());
	ck_assert_int_eq(CONNECTION_OK, PQstatus(other));
	res = PQexec(other, "LISTEN sipd");
	PQclear(res);

	/* saved alone: told once committed */
	b = make("sip:p@192.0.2.9:5060", now + 60, 1000);
	list_append(&up, &b->le, b);
	ck_assert_int_eq(0, store_binding_save("p@example.com", &up, NULL));
	ck_assert(b->id > 0);
	list_flush(&up);
	for (i = 0, nt = NULL; i < 200 && !nt; i++) {
		ck_assert_int_eq(1, PQconsumeInput(other));
		nt = PQnotifies(other);
		if (!nt)
			usleep(5000);
	}
	ck_assert_ptr_nonnull(nt);
	ck_assert_str_eq("bindings p@example.com", nt->extra);
	PQfreemem(nt);

	/* asked ahead, sent with the HA1's query */
	ck_assert_int_eq(0, store_binding_ahead("p@example.com", now));
	ck_assert_int_eq(ENOENT, store_account_ha1("nobody", "example.com",
						   DIGEST_MD5, ha1, &len));
	pg_exec("INSERT INTO bindings (aor, contact, expires, callid, cseq,"
		" received, transport, socket, created, updated) VALUES"
		" ('p@example.com', 'sip:p@192.0.2.10', 200000, 'c', 1, '',"
		" 'udp', '', 1, 1)");

	/* another lookup does not take it; the same one does */
	ck_assert_int_eq(0, store_binding_lookup(&found, "q@example.com",
						 now));
	ck_assert_uint_eq(0, list_count(&found));
	ck_assert_int_eq(0, store_binding_lookup(&found, "p@example.com",
						 now));
	ck_assert_uint_eq(1, list_count(&found));
	list_flush(&found);

	/* once: the next lookup reads the table */
	ck_assert_int_eq(0, store_binding_lookup(&found, "p@example.com",
						 now));
	ck_assert_uint_eq(2, list_count(&found));
	list_flush(&found);

	/* asked ahead, then a transaction: dropped, nothing stale */
	ck_assert_int_eq(0, store_binding_ahead("p@example.com", now));
	ck_assert_int_eq(0, store_begin());
	ck_assert_int_eq(0, store_commit());
	pg_exec("DELETE FROM bindings WHERE contact = 'sip:p@192.0.2.10'");
	ck_assert_int_eq(0, store_binding_lookup(&found, "p@example.com",
						 now));
	ck_assert_uint_eq(1, list_count(&found));
	list_flush(&found);

	PQfinish(other);
}
END_TEST


/* PostgreSQL: the statements released (a module unloads), then run
   again: prepared anew, no clash with the old names; the engine is the
   one of the process's database */
START_TEST(test_pg_release)
{
	struct list found = LIST_INIT;
	uint64_t n = 9;

	ck_assert_int_eq(0, store_binding_count(&n, 0));
	ck_assert_int_eq(0, store_binding_lookup(&found, "a@b", 0));

	db_stmts_release();
	ck_assert_int_eq(0, store_binding_count(&n, 0));
	ck_assert_int_eq(0, store_binding_lookup(&found, "a@b", 0));

	/* no engine chosen: lib/db holds PostgreSQL */
	store_engine_set(NULL);
	ck_assert_str_eq("postgresql", store_engine()->name);
	db_pg_close();
	ck_assert_str_eq("sqlite", store_engine()->name);
}
END_TEST


static void add_tests(TCase *tc)
{
	tcase_add_test(tc, test_bindings);
	tcase_add_test(tc, test_binding_expire);
	tcase_add_test(tc, test_accounts);
	tcase_add_test(tc, test_rules);
	tcase_add_test(tc, test_publications);
	tcase_add_test(tc, test_subscriptions);
	tcase_add_test(tc, test_transactions);
}


Suite *suite_store(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("sqlite");

	tcase_add_checked_fixture(tc, sqlite_setup, sqlite_teardown);
	add_tests(tc);
	suite_add_tcase(s, tc);

	if (test_pg_uri()) {
		tc = tcase_create("postgresql");
		tcase_add_checked_fixture(tc, test_pg_setup,
					  test_pg_teardown);
		add_tests(tc);
		tcase_add_test(tc, test_pg_open);
		tcase_add_test(tc, test_pg_transactions);
		tcase_add_test(tc, test_pg_release);
		tcase_add_test(tc, test_pg_upgrade);
		tcase_add_test(tc, test_pg_version);
		tcase_add_test(tc, test_pg_pipeline);
		suite_add_tcase(s, tc);
	}

	return s;
}
