/**
 * @file test_avail.c  The availability service: calls counted from call
 *                     events, the presence role's busy decision, the
 *                     registrar's failed keep-alives, the sources
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include "core.h"
#include "avail/avail.h"
#include "../../modules/presence/presence.h"
#include "../../modules/registrar/registrar.h"
#include "test.h"


enum {
	T0 = 1700000000,
	HOUR = 3600,
};


static void ev(const char *aor, enum call_state state, bool initiator,
	       const char *call_id, const char *ltag, const char *rtag,
	       int64_t now)
{
	struct call_event ce;

	memset(&ce, 0, sizeof(ce));
	ce.aor = aor;
	ce.state = state;
	ce.initiator = initiator;
	ce.call_id = call_id;
	ce.local_tag = ltag;
	ce.remote_tag = rtag;
	ce.peer = "sip:peer@example.com";
	ce.local_uri = "sip:x@example.com";

	avail_calls_event(&ce, now);
}


/* Both parties of a call, as the proxy reports them (calls.c both()) */
static void both(const char *caller, const char *callee,
		 enum call_state state, const char *call_id,
		 const char *ftag, const char *ttag, int64_t now)
{
	ev(caller, state, true, call_id, ftag, ttag, now);
	ev(callee, state, false, call_id, ttag, ftag, now);
}


static uint32_t calls(const char *aor, int64_t now)
{
	return avail_calls_at(aor, now);
}


START_TEST(test_calls_sequence)
{
	const char *a = "alice@example.com", *b = "bob@example.com";

	both(a, b, CALL_TRYING, "c1", "ft", "", T0);
	ck_assert_uint_eq(1, calls(a, T0));     /* dialling out: busy */
	ck_assert_uint_eq(0, calls(b, T0));

	both(a, b, CALL_EARLY, "c1", "ft", "tt", T0 + 1);
	ck_assert_uint_eq(1, calls(a, T0 + 1));
	ck_assert_uint_eq(0, calls(b, T0 + 1)); /* ringing: not yet */

	both(a, b, CALL_CONFIRMED, "c1", "ft", "tt", T0 + 2);
	ck_assert_uint_eq(1, calls(a, T0 + 2));
	ck_assert_uint_eq(1, calls(b, T0 + 2));

	/* a retransmitted 2xx changes nothing */
	both(a, b, CALL_CONFIRMED, "c1", "ft", "tt", T0 + 3);
	ck_assert_uint_eq(1, calls(a, T0 + 3));
	ck_assert_uint_eq(1, calls(b, T0 + 3));
	ck_assert_uint_eq(2, avail_calls_entries());

	/* the BYE */
	both(a, b, CALL_TERMINATED, "c1", "ft", "tt", T0 + 60);
	ck_assert_uint_eq(0, calls(a, T0 + 60));
	ck_assert_uint_eq(0, calls(b, T0 + 60));
	ck_assert_uint_eq(0, avail_calls_entries());

	/* no one, no AOR, no Call-ID */
	ck_assert_uint_eq(0, calls("nobody@example.com", T0));
	ck_assert_uint_eq(0, calls(NULL, T0));
	ev("", CALL_TRYING, true, "c2", "x", "", T0);
	ev(a, CALL_TRYING, true, NULL, "x", "", T0);
	ev(a, CALL_TRYING, true, "", "x", "", T0);
	ck_assert_uint_eq(0, avail_calls_entries());

	avail_calls_flush();
}
END_TEST


START_TEST(test_calls_two)
{
	const char *a = "alice@example.com", *b = "bob@example.com",
		*c = "carol@example.com";

	both(a, b, CALL_TRYING, "c1", "f1", "", T0);
	both(a, b, CALL_CONFIRMED, "c1", "f1", "t1", T0);
	both(c, b, CALL_TRYING, "c2", "f2", "", T0 + 5);
	both(c, b, CALL_CONFIRMED, "c2", "f2", "t2", T0 + 6);

	ck_assert_uint_eq(2, calls(b, T0 + 10));
	ck_assert_uint_eq(1, calls(a, T0 + 10));
	ck_assert_uint_eq(1, calls(c, T0 + 10));

	both(c, b, CALL_TERMINATED, "c2", "f2", "t2", T0 + 20);
	ck_assert_uint_eq(1, calls(b, T0 + 20));
	ck_assert_uint_eq(0, calls(c, T0 + 20));

	/* bob ends the first (his BYE: the proxy names the parties the
	   same way) */
	both(a, b, CALL_TERMINATED, "c1", "f1", "t1", T0 + 30);
	ck_assert_uint_eq(0, calls(b, T0 + 30));
	ck_assert_uint_eq(0, calls(a, T0 + 30));

	/* a user calling itself is on two calls */
	both(a, a, CALL_TRYING, "c3", "f3", "", T0 + 40);
	both(a, a, CALL_CONFIRMED, "c3", "f3", "t3", T0 + 41);
	ck_assert_uint_eq(2, calls(a, T0 + 42));
	both(a, a, CALL_TERMINATED, "c3", "f3", "t3", T0 + 43);
	ck_assert_uint_eq(0, calls(a, T0 + 43));

	avail_calls_flush();
}
END_TEST


START_TEST(test_calls_forked)
{
	const char *a = "alice@example.com", *b = "bob@example.com";

	/* bob's two phones ring: two early dialogs */
	both(a, b, CALL_TRYING, "c1", "ft", "", T0);
	both(a, b, CALL_EARLY, "c1", "ft", "ta", T0 + 1);
	both(a, b, CALL_EARLY, "c1", "ft", "tb", T0 + 1);
	ck_assert_uint_eq(1, calls(a, T0 + 2));
	ck_assert_uint_eq(0, calls(b, T0 + 2));
	ck_assert_uint_eq(1, avail_calls_entries());

	/* one answers */
	both(a, b, CALL_CONFIRMED, "c1", "ft", "tb", T0 + 3);
	ck_assert_uint_eq(1, calls(a, T0 + 3));
	ck_assert_uint_eq(1, calls(b, T0 + 3));

	/* the other answers too: two dialogs, one call each */
	both(a, b, CALL_CONFIRMED, "c1", "ft", "ta", T0 + 4);
	ck_assert_uint_eq(1, calls(a, T0 + 4));
	ck_assert_uint_eq(1, calls(b, T0 + 4));
	ck_assert_uint_eq(4, avail_calls_entries());

	/* alice hangs up the second answer: the first goes on */
	both(a, b, CALL_TERMINATED, "c1", "ft", "ta", T0 + 5);
	ck_assert_uint_eq(1, calls(a, T0 + 5));
	ck_assert_uint_eq(1, calls(b, T0 + 5));

	both(a, b, CALL_TERMINATED, "c1", "ft", "tb", T0 + 6);
	ck_assert_uint_eq(0, calls(a, T0 + 6));
	ck_assert_uint_eq(0, calls(b, T0 + 6));
	ck_assert_uint_eq(0, avail_calls_entries());

	avail_calls_flush();
}
END_TEST


START_TEST(test_calls_failed)
{
	const char *a = "alice@example.com", *b = "bob@example.com";

	/* 486 from bob: terminated, never confirmed (no To tag in the
	   event of the final failure) */
	both(a, b, CALL_TRYING, "c1", "ft", "", T0);
	both(a, b, CALL_EARLY, "c1", "ft", "tt", T0 + 1);
	ck_assert_uint_eq(1, calls(a, T0 + 1));
	both(a, b, CALL_TERMINATED, "c1", "ft", "", T0 + 2);
	ck_assert_uint_eq(0, calls(a, T0 + 2));
	ck_assert_uint_eq(0, calls(b, T0 + 2));
	ck_assert_uint_eq(0, avail_calls_entries());

	/* a terminated nothing began: ignored */
	both(a, b, CALL_TERMINATED, "c9", "fx", "tx", T0 + 3);
	ck_assert_uint_eq(0, avail_calls_entries());

	/* a From without a tag (RFC 2543): the Call-ID alone */
	both(a, b, CALL_TRYING, "c2", "", "", T0 + 4);
	ck_assert_uint_eq(1, calls(a, T0 + 4));
	both(a, b, CALL_CONFIRMED, "c2", "", "tt", T0 + 5);
	ck_assert_uint_eq(1, calls(a, T0 + 5));
	ck_assert_uint_eq(1, calls(b, T0 + 5));
	both(a, b, CALL_TERMINATED, "c2", "", "tt", T0 + 6);
	ck_assert_uint_eq(0, calls(a, T0 + 6));
	ck_assert_uint_eq(0, calls(b, T0 + 6));

	avail_calls_flush();
}
END_TEST


START_TEST(test_calls_expiry)
{
	const char *a = "alice@example.com", *b = "bob@example.com";
	char cid[32];
	int i;

	/* a BYE that never passes: 12 h after the answer */
	both(a, b, CALL_TRYING, "c1", "ft", "", T0);
	both(a, b, CALL_CONFIRMED, "c1", "ft", "tt", T0 + 30);
	ck_assert_uint_eq(1, calls(b, T0 + 30 + 12 * HOUR - 1));
	ck_assert_uint_eq(1, calls(a, T0 + 30 + 12 * HOUR - 1));
	ck_assert_uint_eq(0, calls(b, T0 + 30 + 12 * HOUR));
	ck_assert_uint_eq(0, calls(a, T0 + 30 + 12 * HOUR));
	ck_assert_uint_eq(0, avail_calls_entries());

	/* a final response that never passes: an hour after the INVITE */
	ev(a, CALL_TRYING, true, "c2", "ft", "", T0);
	ck_assert_uint_eq(1, calls(a, T0 + HOUR - 1));
	ck_assert_uint_eq(0, calls(a, T0 + HOUR));

	/* stale entries of others go when one is added */
	ev(a, CALL_TRYING, true, "c3", "ft", "", T0);
	ck_assert_uint_eq(1, avail_calls_entries());
	ev(b, CALL_TRYING, true, "c4", "ft", "", T0 + HOUR);
	ck_assert_uint_eq(1, avail_calls_entries());

	/* one user keeps a bounded number */
	for (i = 0; i < 100; i++) {
		re_snprintf(cid, sizeof(cid), "flood%d", i);
		ev(a, CALL_TRYING, true, cid, "ft", "", T0 + HOUR + i);
	}
	ck_assert_uint_eq(32, calls(a, T0 + HOUR + 100));
	ck_assert_uint_eq(1, calls(b, T0 + HOUR + 100));

	avail_calls_flush();
	ck_assert_uint_eq(0, avail_calls_entries());
}
END_TEST


/* --- presence: what the user published --------------------------------- */

#define PIDF_HEAD \
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>" \
	"<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"" \
	" xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\"" \
	" xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\"" \
	" entity=\"sip:alice@example.com\">"

/* baresip's publisher (modules/presence/publisher.c), "closed" */
static const char *baresip_closed = PIDF_HEAD
	"  <dm:person id=\"p4159\"><rpid:activities/></dm:person>\r\n"
	"  <tuple id=\"t4109\">\r\n"
	"    <status>\r\n"
	"      <basic>closed</basic>\r\n"
	"    </status>\r\n"
	"    <contact>sip:alice@example.com</contact>\r\n"
	"  </tuple>\r\n"
	"</presence>\r\n";

static const char *baresip_open = PIDF_HEAD
	"  <dm:person id=\"p4159\"><rpid:activities/></dm:person>\r\n"
	"  <tuple id=\"t4109\"><status><basic>open</basic></status>"
	"<contact>sip:alice@example.com</contact></tuple></presence>";

static const char *rpid_busy = PIDF_HEAD
	"<tuple id=\"t1\"><status><basic>open</basic></status></tuple>"
	"<dm:person id=\"p1\"><rpid:activities><rpid:busy/>"
	"</rpid:activities></dm:person></presence>";

static const char *rpid_on_the_phone = PIDF_HEAD
	"<tuple id=\"t1\"><status><basic>open</basic></status></tuple>"
	"<dm:person id=\"p1\"><rpid:activities><rpid:on-the-phone/>"
	"</rpid:activities></dm:person></presence>";

static const char *rpid_away = PIDF_HEAD
	"<tuple id=\"t1\"><status><basic>open</basic></status></tuple>"
	"<dm:person id=\"p1\"><rpid:activities><rpid:away/>"
	"</rpid:activities></dm:person></presence>";

/* do not disturb as a note, and as an activity other */
static const char *dnd_note = PIDF_HEAD
	"<tuple id=\"t1\"><status><basic>open</basic></status></tuple>"
	"<dm:person id=\"p1\"><rpid:activities><rpid:unknown/>"
	"</rpid:activities><dm:note> Do not disturb </dm:note>"
	"</dm:person></presence>";

static const char *dnd_other = PIDF_HEAD
	"<tuple id=\"t1\"><status><basic>open</basic></status></tuple>"
	"<dm:person id=\"p1\"><rpid:activities><rpid:other>DND</rpid:other>"
	"</rpid:activities></dm:person></presence>";

static const char *one_open_one_closed = PIDF_HEAD
	"<tuple id=\"t1\"><status><basic>open</basic></status></tuple>"
	"<tuple id=\"t2\"><status><basic>closed</basic></status></tuple>"
	"</presence>";

static const char *all_closed = PIDF_HEAD
	"<tuple id=\"t1\"><status><basic>closed</basic></status></tuple>"
	"<tuple id=\"t2\"><status><basic> closed </basic></status></tuple>"
	"</presence>";

/* an older RPID form */
static const char *es_busy =
	"<presence xmlns=\"urn:ietf:params:xml:ns:pidf\""
	" xmlns:es=\"urn:ietf:params:xml:ns:pidf:status:rpid-status:rpid-es\""
	" entity=\"sip:alice@example.com\">"
	"<tuple id=\"t1\"><status><basic>open</basic>"
	"<es:activities><es:activity>busy</es:activity></es:activities>"
	"</status></tuple></presence>";


static bool decide(const char *b1, const char *b2)
{
	struct pub_body pb1, pb2;
	struct list l = LIST_INIT;
	bool busy;

	memset(&pb1, 0, sizeof(pb1));
	memset(&pb2, 0, sizeof(pb2));

	if (b1) {
		pl_set_str(&pb1.pl, b1);
		list_append(&l, &pb1.le, &pb1);
	}
	if (b2) {
		pl_set_str(&pb2.pl, b2);
		list_append(&l, &pb2.le, &pb2);
	}

	busy = busy_decide(&l);
	list_clear(&l);

	return busy;
}


START_TEST(test_presence_busy)
{
	ck_assert(decide(baresip_closed, NULL));
	ck_assert(!decide(baresip_open, NULL));
	ck_assert(decide(rpid_busy, NULL));
	ck_assert(decide(rpid_on_the_phone, NULL));
	ck_assert(!decide(rpid_away, NULL));
	ck_assert(decide(dnd_note, NULL));
	ck_assert(decide(dnd_other, NULL));
	ck_assert(decide(es_busy, NULL));
	ck_assert(decide(all_closed, NULL));
	ck_assert(!decide(one_open_one_closed, NULL));

	/* two devices: one closed, one open; busy on either counts */
	ck_assert(!decide(baresip_closed, baresip_open));
	ck_assert(decide(baresip_open, rpid_busy));

	/* nothing published, nothing readable: not busy */
	ck_assert(!decide(NULL, NULL));
	ck_assert(!decide("not xml", NULL));
	ck_assert(!decide("<presence xmlns=\"urn:other\"><tuple>"
			  "<status><basic>closed</basic></status></tuple>"
			  "</presence>", NULL));
	ck_assert(!decide(PIDF_HEAD "<dm:person id=\"p\"/></presence>",
			  NULL));
}
END_TEST


/* --- the registrar: failed keep-alives ------------------------------- */

START_TEST(test_keepalive_failed)
{
	struct binding *b;

	ck_assert_int_eq(0, binding_alloc(&b));
	b->id = 42;
	ck_assert_int_eq(0, str_dup(&b->aor, "alice@example.com"));
	ck_assert_int_eq(0, str_dup(&b->contact, "sip:alice@192.0.2.1"));

	/* never pinged: usable */
	ck_assert(!keepalive_failed(b));

	keepalive_answer(b, ETIMEDOUT);
	ck_assert(keepalive_failed(b));

	keepalive_answer(b, 0);
	ck_assert(!keepalive_failed(b));

	keepalive_answer(b, ETIMEDOUT);
	ck_assert(keepalive_failed(b));
	b->id = 43;
	ck_assert(!keepalive_failed(b));   /* another binding */
	b->id = 42;
	keepalive_answer(b, 0);

	ck_assert(!keepalive_failed(NULL));

	mem_deref(b);
}
END_TEST


/* --- the sources ------------------------------------------------------ */

static bool fake_failed(const struct binding *b)
{
	return b->id == 7;
}


static int fake_busy(bool *busy, const char *aor)
{
	if (!strcmp(aor, "busy@example.com")) {
		*busy = true;
		return 0;
	}

	if (!strcmp(aor, "free@example.com")) {
		*busy = false;
		return 0;
	}

	return ENOENT;
}


START_TEST(test_sources)
{
	struct avail_source src = {
		.name = "fake",
		.binding_failedh = fake_failed,
		.presence_busyh = fake_busy,
	};
	struct avail_source empty = {.name = "empty"};
	struct binding b;

	memset(&b, 0, sizeof(b));
	b.id = 7;

	/* nothing known: available */
	ck_assert(avail_binding_usable(&b));
	ck_assert(!avail_published_busy("busy@example.com"));

	avail_register(&empty);
	avail_register(&src);
	avail_register(&src);   /* once */
	ck_assert(!avail_binding_usable(&b));
	b.id = 8;
	ck_assert(avail_binding_usable(&b));
	ck_assert(!avail_binding_usable(NULL));

	ck_assert(avail_published_busy("busy@example.com"));
	ck_assert(!avail_published_busy("free@example.com"));
	ck_assert(!avail_published_busy("other@example.com"));
	ck_assert(!avail_published_busy(""));
	ck_assert(!avail_published_busy(NULL));

	avail_unregister(&src);
	avail_unregister(&empty);
	ck_assert(!avail_published_busy("busy@example.com"));
	b.id = 7;
	ck_assert(avail_binding_usable(&b));
}
END_TEST


Suite *suite_avail(void)
{
	Suite *s = suite_create("avail");
	TCase *tc = tcase_create("avail");

	tcase_add_test(tc, test_calls_sequence);
	tcase_add_test(tc, test_calls_two);
	tcase_add_test(tc, test_calls_forked);
	tcase_add_test(tc, test_calls_failed);
	tcase_add_test(tc, test_calls_expiry);
	tcase_add_test(tc, test_presence_busy);
	tcase_add_test(tc, test_keepalive_failed);
	tcase_add_test(tc, test_sources);
	suite_add_tcase(s, tc);

	return s;
}
