/**
 * @file test_scan.c  core/libre's scanners give what libre's give
 *
 * Every input of the table, and every prefix and suffix of it, goes
 * through sipd's scanners and libre's regular-expression decoders
 * (scandiff.c); a few results are also checked by value.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include "core.h"
#include "test.h"
#include "scandiff.h"


static const char *inputs[] = {
	"",
	" ",
	";",
	";;;",
	":",
	"@",
	"<>",
	"sip:alice@example.com",
	"sip:alice@example.com:5060;transport=tcp?subject=x&priority=1",
	"sips:alice:secret@example.com:5061;lr",
	"sip:example.com",
	"sip:example.com;lr;transport=udp",
	"sip:127.0.0.1:5070",
	"sip:[::1]:5060;transport=tcp",
	"sip:alice@[2001:db8::1]",
	"sip:alice@[2001:db8::1]:",
	"sip:alice@[2001:DB8::G]:5060",
	"sip:[::1",
	"sip:alice@[::1]x:5",
	"sip:alice@host:99999",
	"sip:alice@host:12ab",
	"sip::::",
	"sip:@",
	"sip:a@;x",
	"sip:a@b@c",
	"sip:a b@c",
	"sip:alice@example.com/path;p=1?h=2",
	"tel:+1-201-555-0123;phone-context=example.com",
	"alice@example.com",
	"example.com",
	"urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
	"http://example.com/x",
	"SIP:ALICE@EXAMPLE.COM",
	"<sip:alice@example.com>;tag=1928301774",
	"\"Alice\" <sip:alice@example.com>;tag=abc",
	"Alice Smith <sip:alice@example.com>",
	"\"A <b> c\" <sip:alice@example.com>",
	"\"A;b\" <sip:a@b>;tag=x",
	"A;b <sip:a@b>",
	"\"unterminated <sip:a@b>",
	"\"esc \\\" q\" <sip:a@b>",
	"\\<sip:a@b>",
	"\"\" <sip:a@b>",
	"\"a\"b\" <sip:a@b>",
	"<sip:a@b",
	"<>;tag=1",
	"< sip:a@b >",
	"x <y> z <sip:a@b>",
	"abc def <sip:x@y>",
	"sip:a@b;tag=1",
	"  \r\n\t<sip:a@b>",
	"\"Bob\"\r\n <sip:bob@biloxi.com>",
	"SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds",
	"SIP/2.0/TCP host.example.com;branch=z9hG4bKa;rport;received=1.2.3.4",
	"SIP/2.0/TLS [2001:db8::9]:5061;branch=z9hG4bKx",
	"SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bK",
	"SIP / 2.0 / UDP 10.0.0.1 ; branch = z9hG4bK1",
	"sip/2.0/udp 10.0.0.1;branch=x",
	"SIP/2.0/UDP 10.0.0.1;branch=\"quoted;val\"",
	"SIP/2.0/UDP 10.0.0.1;branch=\"\"",
	"SIP/2.0/UDP 10.0.0.1;branch",
	"SIP/2.0/UDP 10.0.0.1;branch=",
	"SIP/2.0/UDP 10.0.0.1;branchx=1;branch=2",
	"SIP/2.0/UDP ::::",
	"SIP/2.0/UDP",
	"SIP/2.0/UDP ;branch=1",
	"SIP/2.0/ 10.0.0.1",
	"SIP/2.1/UDP 10.0.0.1",
	"xSIP/2.0/UDP a",
	"SIP/SIP/2.0/UDP a",
	"SIP/2.0/UDP a\r\n\t;branch=b",
	"314159 INVITE",
	"1 ACK",
	"  1\tBYE",
	"4294967296 INVITE",
	"INVITE 1",
	"1INVITE",
	"1 ",
	"abc 12 OPTIONS x",
	"application/sdp",
	"  application / sdp ; charset=utf-8",
	"text/plain;charset=\"utf-8\"",
	"application/",
	"/sdp",
	"application sdp",
	"a/b/c",
	";a/b",
	"multipart/mixed;boundary=x",
	";lr",
	";lr;transport=tcp",
	";transport=tcp;lr",
	";Transport=TCP",
	";transportx=udp;transport=tcp",
	";lrx;lr",
	"; lr = x ;",
	";tag",
	";tag=",
	";tag=;tag=2",
	";expires=3600;q=0.5",
	";+sip.instance=\"<urn:uuid:1>\";reg-id=1",
	";a=b;;c=d",
	";=x;a=b",
	";a=\"x;y\";b",
	"?to=sip:bob%40b&subject=hi",
	"?to=&subject=x",
	"&to=a?to=b",
	"?subject=a&&subject=b",
	"?x=y;to=z",
	"\x80\xff;lr=\xc3\xa9",
	"sip:\xc3\xa9@\xc3\xa9",
	NULL
};


START_TEST(test_libre_found)
{
	ck_assert_msg(scandiff_ready(),
		      "libre's decoders not found, or not sipd's own");
}
END_TEST


START_TEST(test_table)
{
	unsigned diff = 0, n = 0;
	size_t i, j;

	for (i = 0; inputs[i]; i++) {

		const size_t len = strlen(inputs[i]);
		struct pl in;

		/* the whole, every prefix and every suffix */
		for (j = 0; j <= len; j++) {

			in.p = inputs[i];
			in.l = j;
			diff += scandiff_run(&in);

			in.p = inputs[i] + j;
			in.l = len - j;
			diff += scandiff_run(&in);

			n += 2;
		}
	}

	ck_assert_uint_gt(n, 2000);
	ck_assert_msg(!diff, "%u differences (stderr)", diff);
}
END_TEST


START_TEST(test_null)
{
	struct pl in = {NULL, 0};
	struct pl in5 = {NULL, 5};
	struct pl nul = {"a\0b;lr=\0", 9};

	ck_assert_uint_eq(scandiff_run(&in), 0);
	ck_assert_uint_eq(scandiff_run(&in5), 0);
	ck_assert_uint_eq(scandiff_run(&nul), 0);
}
END_TEST


START_TEST(test_values)
{
	struct sip_addr addr;
	struct sip_via via;
	struct sip_cseq cseq;
	struct msg_ctype ct;
	struct uri uri;
	struct pl pl, v;

	pl_set_str(&pl, "sips:alice:pw@[2001:db8::1]:5061;lr?h=1");
	ck_assert_int_eq(uri_decode(&uri, &pl), 0);
	ck_assert(!pl_strcmp(&uri.scheme, "sips"));
	ck_assert(!pl_strcmp(&uri.user, "alice"));
	ck_assert(!pl_strcmp(&uri.password, "pw"));
	ck_assert(!pl_strcmp(&uri.host, "2001:db8::1"));
	ck_assert_int_eq(uri.af, AF_INET6);
	ck_assert_uint_eq(uri.port, 5061);
	ck_assert(!pl_strcmp(&uri.params, ";lr"));
	ck_assert(!pl_strcmp(&uri.headers, "?h=1"));

	pl_set_str(&pl, "\"A <b>\" <sip:a@b>;tag=x");
	ck_assert_int_eq(sip_addr_decode(&addr, &pl), 0);
	ck_assert(!pl_strcmp(&addr.dname, "A <b>"));
	ck_assert(!pl_strcmp(&addr.auri, "sip:a@b"));
	ck_assert(!pl_strcmp(&addr.params, ";tag=x"));

	pl_set_str(&pl, ";;;");
	ck_assert_int_eq(sip_addr_decode(&addr, &pl), EBADMSG);

	pl_set_str(&pl, "SIP/2.0/TCP 10.0.0.1:5070;branch=\"z9\"");
	ck_assert_int_eq(sip_via_decode(&via, &pl), 0);
	ck_assert_int_eq(via.tp, SIP_TRANSP_TCP);
	ck_assert_uint_eq(sa_port(&via.addr), 5070);
	ck_assert(!pl_strcmp(&via.branch, "z9"));

	pl_set_str(&pl, "SIP/2.0/UDP 10.0.0.1");
	ck_assert_int_eq(sip_via_decode(&via, &pl), ENOENT);

	pl_set_str(&pl, "12 INVITE");
	ck_assert_int_eq(sip_cseq_decode(&cseq, &pl), 0);
	ck_assert_uint_eq(cseq.num, 12);
	ck_assert(!pl_strcmp(&cseq.met, "INVITE"));

	pl_set_str(&pl, " application/sdp");
	ck_assert_int_eq(msg_ctype_decode(&ct, &pl), 0);
	pl_set_str(&pl, "x;application/sdp");
	ck_assert_int_eq(msg_ctype_decode(&ct, &pl), EBADMSG);

	pl_set_str(&pl, ";transportx=udp");
	ck_assert_int_eq(uri_param_get(&pl, &(struct pl)PL("transport"), &v),
			 0);
	ck_assert(!pl_strcmp(&v, "x=udp"));

	pl_set_str(&pl, ";lrx;lr");
	ck_assert_int_eq(msg_param_exists(&pl, "lr", &v), ENOENT);
}
END_TEST


Suite *suite_scan(void)
{
	Suite *s = suite_create("scan");
	TCase *tc = tcase_create("scan");

	tcase_add_test(tc, test_libre_found);
	tcase_add_test(tc, test_table);
	tcase_add_test(tc, test_null);
	tcase_add_test(tc, test_values);
	suite_add_tcase(s, tc);

	return s;
}
