/**
 * @file test_digest.c  Digest vectors of RFC 2617 and RFC 7616
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include "core.h"
#include "digest/digest.h"
#include "test.h"


static void response_hex(char *out, size_t size, enum digest_alg alg,
			 const char *user, const char *realm,
			 const char *password, const char *hval,
			 const char *method)
{
	uint8_t ha1[DIGEST_MAX_SIZE], resp[DIGEST_MAX_SIZE];
	struct digest_cred cred;
	struct pl pl, met;

	pl_set_str(&pl, hval);
	pl_set_str(&met, method);

	ck_assert_int_eq(0, digest_cred_decode(&cred, &pl));
	ck_assert_int_eq(0, digest_ha1(ha1, alg, user, realm, password));
	ck_assert_int_eq(0, digest_response(resp, alg, ha1, &cred, &met));

	re_snprintf(out, size, "%w", resp, digest_size(alg));
}


START_TEST(test_rfc2617)
{
	static const char *hval =
		"Digest username=\"Mufasa\", realm=\"testrealm@host.com\","
		" nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\","
		" uri=\"/dir/index.html\", qop=auth, nc=00000001,"
		" cnonce=\"0a4f113b\","
		" response=\"6629fae49393a05397450978507c4ef1\","
		" opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
	uint8_t ha1[DIGEST_MAX_SIZE];
	struct digest_cred cred;
	struct pl pl, met = PL("GET");
	char hex[80];

	response_hex(hex, sizeof(hex), DIGEST_MD5, "Mufasa",
		     "testrealm@host.com", "Circle Of Life", hval, "GET");
	ck_assert_str_eq("6629fae49393a05397450978507c4ef1", hex);

	pl_set_str(&pl, hval);
	ck_assert_int_eq(0, digest_cred_decode(&cred, &pl));
	ck_assert_int_eq(0, pl_strcmp(&cred.username, "Mufasa"));
	ck_assert_int_eq(0, pl_strcmp(&cred.nc, "00000001"));
	ck_assert_int_eq(0, pl_strcmp(&cred.qop, "auth"));

	ck_assert_int_eq(0, digest_ha1(ha1, DIGEST_MD5, "Mufasa",
				       "testrealm@host.com",
				       "Circle Of Life"));
	ck_assert(digest_verify(&cred, DIGEST_MD5, ha1, &met));

	ck_assert_int_eq(0, digest_ha1(ha1, DIGEST_MD5, "Mufasa",
				       "testrealm@host.com",
				       "Circle of Life"));
	ck_assert(!digest_verify(&cred, DIGEST_MD5, ha1, &met));
}
END_TEST


START_TEST(test_rfc7616)
{
	/* section 3.9.1 of RFC 7616, same request for both algorithms */
	static const char *hval =
		"Digest username=\"Mufasa\","
		" realm=\"http-auth@example.org\", uri=\"/dir/index.html\","
		" algorithm=SHA-256,"
		" nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\","
		" nc=00000001,"
		" cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\","
		" qop=auth, response=\"x\","
		" opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
	struct digest_cred cred;
	enum digest_alg alg;
	struct pl pl;
	char hex[80];

	response_hex(hex, sizeof(hex), DIGEST_SHA256, "Mufasa",
		     "http-auth@example.org", "Circle of Life", hval, "GET");
	ck_assert_str_eq("753927fa0e85d155564e2e272a28d180"
			 "2ca10daf4496794697cf8db5856cb6c1", hex);

	response_hex(hex, sizeof(hex), DIGEST_MD5, "Mufasa",
		     "http-auth@example.org", "Circle of Life", hval, "GET");
	ck_assert_str_eq("8ca523f5e9506fed4657c9700eebdbec", hex);

	pl_set_str(&pl, hval);
	ck_assert_int_eq(0, digest_cred_decode(&cred, &pl));
	ck_assert_int_eq(0, digest_alg_decode(&alg, &cred.algorithm));
	ck_assert_int_eq(DIGEST_SHA256, alg);
}
END_TEST


START_TEST(test_decode_errors)
{
	struct digest_cred cred;
	struct pl pl;
	enum digest_alg alg;

	pl_set_str(&pl, "Basic dXNlcjpwYXNz");
	ck_assert_int_eq(ENOTSUP, digest_cred_decode(&cred, &pl));

	pl_set_str(&pl, "Digest username=\"a\", realm=\"b\"");
	ck_assert_int_eq(EBADMSG, digest_cred_decode(&cred, &pl));

	pl_set_str(&pl, "Digest username=\"a, realm=\"b\", nonce=\"c\","
		   " uri=\"d\", response=\"e");
	ck_assert_int_eq(EBADMSG, digest_cred_decode(&cred, &pl));

	/* qop without nc and cnonce */
	pl_set_str(&pl, "Digest username=\"a\", realm=\"b\", nonce=\"c\","
		   " uri=\"d\", response=\"e\", qop=auth");
	ck_assert_int_eq(EBADMSG, digest_cred_decode(&cred, &pl));

	pl_set_str(&pl, "SHA-512-256");
	ck_assert_int_eq(ENOTSUP, digest_alg_decode(&alg, &pl));
}
END_TEST


Suite *suite_digest(void)
{
	Suite *s = suite_create("digest");
	TCase *tc = tcase_create("digest");

	tcase_add_test(tc, test_rfc2617);
	tcase_add_test(tc, test_rfc7616);
	tcase_add_test(tc, test_decode_errors);
	suite_add_tcase(s, tc);

	return s;
}
