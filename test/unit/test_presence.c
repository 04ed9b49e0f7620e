/**
 * @file test_presence.c  PIDF checks and composition, dialog-info from
 *                        call events, XML escaping
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include "core.h"
#include "../../modules/presence/presence.h"
#include "test.h"


static const char *pidf_away =
	"<?xml version=\"1.0\"?>"
	"<presence xmlns=\"urn:ietf:params:xml:ns:pidf\""
	" xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\""
	" xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\""
	" entity=\"sip:alice@example.com\">"
	"<tuple id=\"phone\"><status><basic>open</basic></status></tuple>"
	"<dm:person id=\"p\"><rpid:activities><rpid:away/>"
	"</rpid:activities></dm:person>"
	"</presence>";

static const char *pidf_laptop =
	"<presence xmlns=\"urn:ietf:params:xml:ns:pidf\""
	" entity=\"sip:alice@example.com\">"
	"<tuple id=\"laptop\"><status><basic>closed</basic></status>"
	"<note>gone home</note></tuple></presence>";


static void body_add(struct list *l, const char *text)
{
	struct pub_body *pb = mem_zalloc(sizeof(*pb), NULL);

	ck_assert_ptr_nonnull(pb);
	pl_set_str(&pb->pl, text);
	list_append(l, &pb->le, pb);
}


START_TEST(test_pidf_check)
{
	static char big[40000];
	struct pl pl;

	pl_set_str(&pl, pidf_away);
	ck_assert_int_eq(0, pidf_check(&pl));

	pl_set_str(&pl, "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\">"
		   "<tuple id=\"a\">");                 /* not closed */
	ck_assert_int_eq(EBADMSG, pidf_check(&pl));

	pl_set_str(&pl, "<presence><tuple id=\"a\"/></presence>"); /* no ns */
	ck_assert_int_eq(EBADMSG, pidf_check(&pl));

	pl_set_str(&pl, "<html xmlns=\"urn:ietf:params:xml:ns:pidf\"/>");
	ck_assert_int_eq(EBADMSG, pidf_check(&pl));

	pl_set_str(&pl, "");
	ck_assert_int_eq(EBADMSG, pidf_check(&pl));

	/* an entity bomb is refused, not expanded */
	pl_set_str(&pl, "<?xml version=\"1.0\"?><!DOCTYPE p [<!ENTITY a"
		   " \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">"
		   "]><presence xmlns=\"urn:ietf:params:xml:ns:pidf\">&b;"
		   "</presence>");
	ck_assert_int_eq(EBADMSG, pidf_check(&pl));

	/* too large to store: EFBIG, whatever it holds */
	memset(big, ' ', sizeof(big));
	pl.p = big;
	pl.l = sizeof(big);
	ck_assert_int_eq(EFBIG, pidf_check(&pl));
}
END_TEST


START_TEST(test_compose_registration)
{
	char *doc = NULL;

	ck_assert_int_eq(0, pidf_compose(&doc, "alice@example.com", NULL,
					 true, false));
	ck_assert(strstr(doc, "entity=\"sip:alice@example.com\""));
	ck_assert(strstr(doc, "<basic>open</basic>"));
	ck_assert(!strstr(doc, "on-the-phone"));
	doc = mem_deref(doc);

	ck_assert_int_eq(0, pidf_compose(&doc, "alice@example.com", NULL,
					 false, false));
	ck_assert(strstr(doc, "<basic>closed</basic>"));
	mem_deref(doc);
}
END_TEST


START_TEST(test_compose_publications)
{
	struct list bodies = LIST_INIT;
	char *doc = NULL;

	body_add(&bodies, pidf_away);
	body_add(&bodies, pidf_laptop);

	/* both devices, the activity kept, no registration tuple */
	ck_assert_int_eq(0, pidf_compose(&doc, "alice@example.com", &bodies,
					 true, false));
	ck_assert(strstr(doc, "id=\"phone\""));
	ck_assert(strstr(doc, "id=\"laptop\""));
	ck_assert(strstr(doc, "gone home"));
	ck_assert(strstr(doc, "away"));
	ck_assert(!strstr(doc, "sipd-reg"));
	doc = mem_deref(doc);

	/* in a call: on-the-phone joins the published activities */
	ck_assert_int_eq(0, pidf_compose(&doc, "alice@example.com", &bodies,
					 true, true));
	ck_assert(strstr(doc, "on-the-phone"));
	ck_assert(strstr(doc, "away"));
	doc = mem_deref(doc);

	list_flush(&bodies);

	/* registered, no publication, in a call */
	ck_assert_int_eq(0, pidf_compose(&doc, "alice@example.com", NULL,
					 true, true));
	ck_assert(strstr(doc, "on-the-phone"));
	ck_assert(strstr(doc, "<basic>open</basic>"));
	mem_deref(doc);
}
END_TEST


static void call(const char *aor, enum call_state state, bool initiator)
{
	struct call_event ce;

	memset(&ce, 0, sizeof(ce));
	ce.aor = aor;
	ce.state = state;
	ce.initiator = initiator;
	ce.call_id = "call-1";
	ce.local_tag = "lt";
	ce.remote_tag = state == CALL_TRYING ? "" : "rt";
	ce.peer = "sip:bob@example.com";
	ce.local_uri = "sip:alice@example.com";

	callstate_event(&ce);
}


static char *dialoginfo(const char *aor, uint32_t version)
{
	struct mbuf *mb = mbuf_alloc(1024);
	char *s = NULL;

	ck_assert_int_eq(0, dialoginfo_print(mb, aor, version));
	mb->pos = 0;
	ck_assert_int_eq(0, mbuf_strdup(mb, &s, mb->end));
	mem_deref(mb);

	return s;
}


START_TEST(test_dialog_info)
{
	char *doc;

	doc = dialoginfo("alice@example.com", 1);
	ck_assert(strstr(doc, "version=\"1\" state=\"full\""));
	ck_assert(!strstr(doc, "<dialog "));
	mem_deref(doc);

	call("alice@example.com", CALL_TRYING, true);
	call("alice@example.com", CALL_EARLY, true);
	ck_assert(!callstate_busy("alice@example.com"));
	doc = dialoginfo("alice@example.com", 2);
	ck_assert(strstr(doc, "direction=\"initiator\""));
	ck_assert(strstr(doc, "<state>proceeding</state>"));
	ck_assert(strstr(doc, "remote-tag=\"rt\""));
	mem_deref(doc);

	call("alice@example.com", CALL_CONFIRMED, true);
	ck_assert(callstate_busy("alice@example.com"));
	ck_assert(!callstate_busy("bob@example.com"));
	doc = dialoginfo("alice@example.com", 3);
	ck_assert(strstr(doc, "<state>confirmed</state>"));
	mem_deref(doc);

	/* terminated: listed once more, then gone */
	call("alice@example.com", CALL_TERMINATED, true);
	ck_assert(!callstate_busy("alice@example.com"));
	doc = dialoginfo("alice@example.com", 4);
	ck_assert(strstr(doc, "<state>terminated</state>"));
	mem_deref(doc);
	callstate_prune("alice@example.com");
	doc = dialoginfo("alice@example.com", 5);
	ck_assert(!strstr(doc, "<dialog "));
	mem_deref(doc);

	callstate_close();
}
END_TEST


START_TEST(test_xml_escape)
{
	char buf[128];

	re_snprintf(buf, sizeof(buf), "%H", xml_escape,
		    "sip:a&b@x.com;p=\"<1>\"'");
	ck_assert_str_eq("sip:a&amp;b@x.com;p=&quot;&lt;1&gt;&quot;&apos;",
			 buf);
	re_snprintf(buf, sizeof(buf), "[%H]", xml_escape, "plain");
	ck_assert_str_eq("[plain]", buf);
}
END_TEST


Suite *suite_presence(void)
{
	Suite *s = suite_create("presence");
	TCase *tc = tcase_create("presence");

	tcase_add_test(tc, test_pidf_check);
	tcase_add_test(tc, test_compose_registration);
	tcase_add_test(tc, test_compose_publications);
	tcase_add_test(tc, test_dialog_info);
	tcase_add_test(tc, test_xml_escape);
	suite_add_tcase(s, tc);

	return s;
}
