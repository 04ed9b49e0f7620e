/**
 * @file test_uri.c  URI comparison (RFC 3261 section 19.1.4) and AORs
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include "core.h"
#include "sipmsg/sipmsg.h"
#include "test.h"


static bool eq(const char *a, const char *b)
{
	struct pl pa, pb;

	pl_set_str(&pa, a);
	pl_set_str(&pb, b);

	return uri_equal_str(&pa, &pb) && uri_equal_str(&pb, &pa);
}


START_TEST(test_equivalent)
{
	/* the examples of RFC 3261 section 19.1.4 */
	ck_assert(eq("sip:%61lice@atlanta.com;transport=TCP",
		     "sip:alice@AtLanTa.CoM;Transport=tcp"));
	ck_assert(eq("sip:carol@chicago.com",
		     "sip:carol@chicago.com;newparam=5"));
	ck_assert(eq("sip:carol@chicago.com",
		     "sip:carol@chicago.com;security=on"));
	ck_assert(eq("sip:carol@chicago.com;newparam=5",
		     "sip:carol@chicago.com;security=on"));
	ck_assert(eq("sip:biloxi.com;transport=tcp;method=REGISTER"
		     "?to=sip:bob%40biloxi.com",
		     "sip:biloxi.com;method=REGISTER;transport=tcp"
		     "?to=sip:bob%40biloxi.com"));
	ck_assert(eq("sip:alice@atlanta.com"
		     "?subject=project%20x&priority=urgent",
		     "sip:alice@atlanta.com"
		     "?priority=urgent&subject=project%20x"));
}
END_TEST


START_TEST(test_not_equivalent)
{
	ck_assert(!eq("SIP:ALICE@AtLanTa.CoM;Transport=udp",
		      "sip:alice@AtLanTa.CoM;Transport=UDP"));
	ck_assert(!eq("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"));
	ck_assert(!eq("sip:bob@biloxi.com",
		      "sip:bob@biloxi.com;transport=udp"));
	ck_assert(!eq("sip:bob@biloxi.com",
		      "sip:bob@biloxi.com:6000;transport=tcp"));
	ck_assert(!eq("sip:carol@chicago.com",
		      "sip:carol@chicago.com?Subject=next%20meeting"));
	ck_assert(!eq("sip:bob@phone21.boxesbybob.com",
		      "sip:bob@192.0.2.4"));
	ck_assert(!eq("sip:carol@chicago.com;security=on",
		      "sip:carol@chicago.com;security=off"));
	ck_assert(!eq("sip:alice@atlanta.com", "sips:alice@atlanta.com"));
	ck_assert(!eq("sip:alice@atlanta.com;maddr=239.255.255.1",
		      "sip:alice@atlanta.com"));
}
END_TEST


static const char *aor(const char *uri)
{
	static char buf[256];
	struct uri u;
	struct pl pl;

	pl_set_str(&pl, uri);
	if (uri_decode(&u, &pl) || msg_aor(buf, sizeof(buf), &u))
		return "(error)";

	return buf;
}


START_TEST(test_aor)
{
	ck_assert_str_eq("alice@example.com", aor("sip:alice@Example.COM"));
	ck_assert_str_eq("alice@example.com",
			 aor("sip:%61lice@example.com:5070;transport=tcp"));
	ck_assert_str_eq("Alice@example.com", aor("sip:Alice@example.com"));
	ck_assert_str_eq("null-%00-null@example.com",
			 aor("sip:null-%00-null@example.com"));
	ck_assert_str_eq("a%3Bb@example.com", aor("sip:a%3bb@example.com"));
	ck_assert_str_eq("(error)", aor("sip:example.com"));
}
END_TEST


Suite *suite_uri(void)
{
	Suite *s = suite_create("uri");
	TCase *tc = tcase_create("uri");

	tcase_add_test(tc, test_equivalent);
	tcase_add_test(tc, test_not_equivalent);
	tcase_add_test(tc, test_aor);
	suite_add_tcase(s, tc);

	return s;
}
