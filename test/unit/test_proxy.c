/**
 * @file test_proxy.c  Forwarding helpers and static routes of the proxies
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include "core.h"
#include "digest/digest.h"
#include "proxy/engine.h"
#include "test.h"
#include "capture.h"


static struct sip_msg *decode(const char *text)
{
	struct sip_msg *msg = NULL;
	struct mbuf *mb;
	size_t i, n = 0;
	char *crlf;

	crlf = mem_zalloc(2 * strlen(text) + 1, NULL);
	ck_assert_ptr_nonnull(crlf);
	for (i = 0; text[i]; i++) {
		if (text[i] == '\n')
			crlf[n++] = '\r';
		crlf[n++] = text[i];
	}

	mb = mbuf_alloc(n);
	ck_assert_int_eq(0, mbuf_write_mem(mb, (uint8_t *)crlf, n));
	mb->pos = 0;
	ck_assert_int_eq(0, sip_msg_decode(&msg, mb));
	msg->tp = SIP_TRANSP_UDP;

	mem_deref(mb);
	mem_deref(crlf);

	return msg;
}


static void setup(void)
{
	capture_start();
	ck_assert_int_eq(0, test_config("domain example.com\n"));
	ck_assert_int_eq(0, domain_config(true));
}


static void teardown(void)
{
	capture_stop();
	routes_close();
	domain_close();
	config_unload();
}


static char *headers(const struct sip_msg *msg, const struct fwd_opts *o)
{
	struct mbuf *mb = mbuf_alloc(1024);
	char *s = NULL;

	ck_assert_int_eq(0, fwd_headers(mb, msg, o));
	mb->pos = 0;
	ck_assert_int_eq(0, mbuf_strdup(mb, &s, mb->end));
	mem_deref(mb);

	return s;
}


static const char *invite =
	"INVITE sip:bob@example.com SIP/2.0\n"
	"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\n"
	"Via: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK0\n"
	"Route: <sip:proxy.example.com;lr>\n"
	"Route: <sip:next.example.net;lr>\n"
	"Record-Route: <sip:192.0.2.9;lr>\n"
	"Max-Forwards: 10\n"
	"From: <sip:alice@example.com>;tag=a\n"
	"To: <sip:bob@example.com>\n"
	"Call-ID: c1\n"
	"CSeq: 1 INVITE\n"
	"Proxy-Authorization: Digest username=\"alice\","
	" realm=\"example.com\", nonce=\"n\", uri=\"sip:bob@example.com\","
	" response=\"r\"\n"
	"Proxy-Authorization: Digest username=\"alice\","
	" realm=\"other.example\", nonce=\"n\", uri=\"sip:bob@example.com\","
	" response=\"r\"\n"
	"Content-Type: application/sdp\n"
	"Content-Length: 5\n"
	"\n"
	"v=0\n";


START_TEST(test_fwd_headers)
{
	struct sip_msg *msg = decode(invite);
	struct fwd_opts o;
	char *h;

	memset(&o, 0, sizeof(o));
	o.routes_popped = 1;
	o.record_route = "<sip:198.51.100.1;transport=tcp;lr>, "
		"<sip:198.51.100.1;lr>";
	o.routes = "<sip:edge.example.net;lr>";

	h = headers(msg, &o);

	/* the Vias in order, first */
	ck_assert_ptr_eq(h, strstr(h, "Via: SIP/2.0/UDP 192.0.2.1;branch="
				      "z9hG4bK1\r\nVia: SIP/2.0/UDP "
				      "192.0.2.9;branch=z9hG4bK0\r\n"));
	ck_assert(strstr(h, "Max-Forwards: 9\r\n"));
	ck_assert(!strstr(h, "Max-Forwards: 10"));

	/* our Route gone, the added one first, the next one kept */
	ck_assert(!strstr(h, "proxy.example.com"));
	ck_assert(strstr(h, "Route: <sip:edge.example.net;lr>\r\n"
			 "Route: <sip:next.example.net;lr>\r\n"));

	/* our two Record-Route values on top of the old one */
	ck_assert(strstr(h, "Record-Route: <sip:198.51.100.1;transport=tcp;"
			 "lr>\r\nRecord-Route: <sip:198.51.100.1;lr>\r\n"
			 "Record-Route: <sip:192.0.2.9;lr>\r\n"));

	/* credentials for our realm consumed, others passed on */
	ck_assert(!strstr(h, "realm=\"example.com\""));
	ck_assert(strstr(h, "realm=\"other.example\""));

	/* the body, with its length */
	ck_assert(strstr(h, "Content-Length: 5\r\n\r\nv=0\r\n"));

	mem_deref(h);
	mem_deref(msg);
}
END_TEST


START_TEST(test_fwd_strict)
{
	struct sip_msg *msg = decode(invite);
	struct fwd_opts o;
	char *h;

	memset(&o, 0, sizeof(o));
	o.drop_last_route = true;

	h = headers(msg, &o);
	ck_assert(strstr(h, "Route: <sip:proxy.example.com;lr>\r\n"));
	ck_assert(!strstr(h, "next.example.net"));

	mem_deref(h);
	mem_deref(msg);
}
END_TEST


START_TEST(test_fwd_response)
{
	struct sip_msg *msg = decode(
		"SIP/2.0 180 Ringing\n"
		"Via: SIP/2.0/UDP 198.51.100.1;branch=z9hG4bKours\n"
		"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1;rport=5070;"
		"received=192.0.2.5\n"
		"From: <sip:alice@example.com>;tag=a\n"
		"To: <sip:bob@example.com>;tag=b\n"
		"Call-ID: c1\n"
		"CSeq: 1 INVITE\n"
		"Content-Length: 0\n\n");
	struct mbuf *mb;
	char *s;

	ck_assert_int_eq(0, fwd_response(&mb, msg, false, 0, NULL));
	ck_assert_int_eq(0, mbuf_strdup(mb, &s, mb->end));

	ck_assert_ptr_eq(s, strstr(s, "SIP/2.0 180 Ringing\r\n"));
	ck_assert(!strstr(s, "z9hG4bKours"));
	ck_assert(strstr(s, "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1;"));

	mem_deref(s);
	mem_deref(mb);
	mem_deref(msg);
}
END_TEST


START_TEST(test_stateless_branch)
{
	struct sip_msg *inv = decode(invite);
	struct sip_msg *can = decode(
		"CANCEL sip:bob@example.com SIP/2.0\n"
		"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\n"
		"From: <sip:alice@example.com>;tag=a\n"
		"To: <sip:bob@example.com>\n"
		"Call-ID: c1\n"
		"CSeq: 1 CANCEL\n\n");
	struct sip_msg *other = decode(
		"INVITE sip:bob@example.com SIP/2.0\n"
		"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK2\n"
		"From: <sip:alice@example.com>;tag=a\n"
		"To: <sip:bob@example.com>\n"
		"Call-ID: c1\n"
		"CSeq: 2 INVITE\n\n");
	char a[48], b[48], c[48], d[48];
	struct pl ruri = PL("sip:bob@192.0.2.20:5060");
	struct pl ruri2 = PL("sip:bob@192.0.2.21:5060");

	fwd_stateless_branch(a, sizeof(a), inv, &ruri);
	fwd_stateless_branch(b, sizeof(b), can, &ruri);
	fwd_stateless_branch(c, sizeof(c), other, &ruri);
	fwd_stateless_branch(d, sizeof(d), inv, &ruri2);

	ck_assert(!strncmp(a, "z9hG4bK", 7));
	ck_assert_str_eq(a, b);     /* the CANCEL follows the INVITE */
	ck_assert_str_ne(a, c);     /* another transaction */
	ck_assert_str_ne(a, d);     /* another target */

	mem_deref(inv);
	mem_deref(can);
	mem_deref(other);
}
END_TEST


START_TEST(test_loop_hash)
{
	struct sip_msg *msg = decode(invite);
	struct pl same = PL("sip:bob@example.com");
	struct pl spiral = PL("sip:bob@192.0.2.20");

	ck_assert_uint_eq(fwd_loop_hash(msg, &msg->ruri),
			  fwd_loop_hash(msg, &same));
	ck_assert_uint_ne(fwd_loop_hash(msg, &msg->ruri),
			  fwd_loop_hash(msg, &spiral));

	mem_deref(msg);
}
END_TEST


START_TEST(test_challenge_answered)
{
	struct pl chall = PL("Digest realm=\"trunk.example\", nonce=\"abc\","
			     " algorithm=SHA-256, qop=\"auth,auth-int\","
			     " opaque=\"xyz\"");
	struct pl met = PL("INVITE"), uri = PL("sip:+4930@trunk.example");
	uint8_t ha1[DIGEST_MAX_SIZE];
	struct digest_chall ch;
	struct digest_cred cred;
	enum digest_alg alg;
	struct mbuf *mb = mbuf_alloc(256);
	struct pl written;

	ck_assert_int_eq(0, digest_chall_decode(&ch, &chall));
	ck_assert_int_eq(0, pl_strcmp(&ch.opaque, "xyz"));
	ck_assert_int_eq(0, digest_cred_write(mb, &ch, "trunkuser", "pw",
					      &met, &uri));

	written.p = (const char *)mb->buf;
	written.l = mb->end;
	ck_assert_int_eq(0, digest_cred_decode(&cred, &written));
	ck_assert_int_eq(0, pl_strcmp(&cred.opaque, "xyz"));
	ck_assert_int_eq(0, pl_strcmp(&cred.qop, "auth"));
	ck_assert_int_eq(0, digest_alg_decode(&alg, &cred.algorithm));
	ck_assert_int_eq(DIGEST_SHA256, alg);

	/* the server side agrees */
	ck_assert_int_eq(0, digest_ha1(ha1, alg, "trunkuser",
				       "trunk.example", "pw"));
	ck_assert(digest_verify(&cred, alg, ha1, &met));

	mem_deref(mb);
}
END_TEST


START_TEST(test_routes)
{
	const struct static_route *r;
	char buf[128];
	struct uri uri;
	struct pl pl;

	ck_assert_int_eq(0, test_config(
		"domain example.com\n"
		"route 0*>127.0.0.1:5099;transport=udp;user=t;password=p;"
		"strip=1;prefix=+49\n"
		"route 00*>127.0.0.1:5098\n"
		"route example.org>127.0.0.1:5097;transport=tcp\n"
		"route *>127.0.0.1:5096\n"
		"did 4930123>alice@example.com\n"));
	domain_close();
	ck_assert_int_eq(0, domain_config(true));
	ck_assert_int_eq(0, routes_config(true));

	/* the longest prefix wins */
	pl_set_str(&pl, "0049301234");
	r = routes_number(&pl);
	ck_assert_str_eq("sip:127.0.0.1:5098", routes_uri(r));
	pl_set_str(&pl, "0301234");
	r = routes_number(&pl);
	ck_assert_str_eq("sip:127.0.0.1:5099;transport=udp", routes_uri(r));

	/* strip one digit, add +49, host of the route */
	pl_set_str(&pl, "sip:0301234@example.com");
	ck_assert_int_eq(0, uri_decode(&uri, &pl));
	ck_assert_int_eq(0, routes_ruri(buf, sizeof(buf), r, &uri, NULL));
	ck_assert_str_eq("sip:+49301234@127.0.0.1:5099", buf);

	pl_set_str(&pl, "example.org");
	ck_assert_str_eq("sip:127.0.0.1:5097;transport=tcp",
			 routes_uri(routes_domain(&pl)));
	pl_set_str(&pl, "elsewhere.example");
	ck_assert_str_eq("sip:127.0.0.1:5096", routes_uri(routes_domain(&pl)));

	pl_set_str(&pl, "4930123");
	ck_assert_str_eq("alice@example.com", routes_did(&pl));
	pl_set_str(&pl, "4930124");
	ck_assert_ptr_null(routes_did(&pl));
}
END_TEST


static void route_fails(const char *line, const char *message)
{
	char conf[256];

	re_snprintf(conf, sizeof(conf), "domain example.com\n%s\n", line);
	capture_stop();
	capture_start();
	routes_close();
	domain_close();
	ck_assert_int_eq(0, test_config(conf));
	ck_assert_int_eq(0, domain_config(true));
	ck_assert_int_eq(EINVAL, routes_config(true));
	ck_assert_msg(capture_has(message), "%s: expected '%s', got '%s'",
		      line, message, capture_text());
	ck_assert_msg(capture_has("test.conf:2: "), "no line: %s",
		      capture_text());
}


START_TEST(test_route_errors)
{
	route_fails("route 0*", "expected PATTERN>HOST");
	route_fails("route 0x*>127.0.0.1", "is not a number prefix");
	route_fails("route 0*>127.0.0.1;transport=sctp", "transport must be");
	route_fails("route 0*>127.0.0.1;user=u", "user and password go");
	route_fails("route 0*>127.0.0.1;strip=x", "strip must be");
	route_fails("route 0*>127.0.0.1;color=red", "unknown parameter");
	route_fails("route 0*>127.0.0.1:99999", "is not HOST[:PORT]");
	route_fails("did 123>bob@example.net", "is not a served domain");
	route_fails("did abc>bob@example.com", "expected NUMBER>USER@DOMAIN");
}
END_TEST


START_TEST(test_flow_token)
{
	static const uint8_t key[32] = "flow-token-test-key-0123456789ab";
	struct flow a, b, a2, b2;
	char tok[200];
	struct pl pl;

	flow_set_key(key);

	a.sock = 3;
	a.tp = SIP_TRANSP_UDP;
	sa_set_str(&a.addr, "203.0.113.7", 41234);
	b.sock = 258;
	b.tp = SIP_TRANSP_TCP;
	sa_set_str(&b.addr, "2001:db8::5", 5060);

	ck_assert_int_eq(0, flow_token(tok, sizeof(tok), &a, &b));
	ck_assert(tok[0] == 'f');

	pl_set_str(&pl, tok);
	ck_assert_int_eq(0, flow_decode(&a2, &b2, &pl));
	ck_assert_uint_eq(3, a2.sock);
	ck_assert_int_eq(SIP_TRANSP_UDP, a2.tp);
	ck_assert(sa_cmp(&a.addr, &a2.addr, SA_ALL));
	ck_assert_uint_eq(258, b2.sock);
	ck_assert_int_eq(SIP_TRANSP_TCP, b2.tp);
	ck_assert(sa_cmp(&b.addr, &b2.addr, SA_ALL));

	/* one changed digit: forged */
	tok[5] = tok[5] == '0' ? '1' : '0';
	ck_assert_int_eq(EBADMSG, flow_decode(&a2, &b2, &pl));

	pl_set_str(&pl, "alice");
	ck_assert_int_eq(EBADMSG, flow_decode(&a2, &b2, &pl));
	pl_set_str(&pl, "f00");
	ck_assert_int_eq(EBADMSG, flow_decode(&a2, &b2, &pl));
}
END_TEST


/* A node token: the callee back from a genuine one; a changed digit, a
   dialog's token, a name too long or a NUL in it: refused */
START_TEST(test_flow_node_token)
{
	static const uint8_t key[32] = "flow-token-test-key-0123456789ab";
	char tok[600], aor[256], longname[300];
	struct flow a, b;
	struct pl pl;

	flow_set_key(key);

	ck_assert_int_eq(0, flow_node_token(tok, sizeof(tok),
					    "bob@example.com"));
	ck_assert(tok[0] == 'n');
	pl_set_str(&pl, tok);
	ck_assert_int_eq(0, flow_node_decode(aor, sizeof(aor), &pl));
	ck_assert_str_eq("bob@example.com", aor);

	/* too small a buffer for the callee */
	ck_assert_int_eq(EBADMSG, flow_node_decode(aor, 8, &pl));

	/* not a dialog's token, and a dialog's is not a node's */
	ck_assert_int_eq(EBADMSG, flow_decode(&a, &b, &pl));
	a.sock = 1;
	a.tp = SIP_TRANSP_UDP;
	sa_set_str(&a.addr, "203.0.113.7", 41234);
	b = a;
	ck_assert_int_eq(0, flow_token(longname, sizeof(longname), &a, &b));
	pl_set_str(&pl, longname);
	ck_assert_int_eq(EBADMSG, flow_node_decode(aor, sizeof(aor), &pl));

	/* one changed digit: forged */
	pl_set_str(&pl, tok);
	tok[3] = tok[3] == '0' ? '1' : '0';
	ck_assert_int_eq(EBADMSG, flow_node_decode(aor, sizeof(aor), &pl));

	/* a callee of 256 characters or more has no token */
	memset(longname, 'a', 256);
	longname[256] = '\0';
	ck_assert_int_eq(EINVAL, flow_node_token(tok, sizeof(tok),
						 longname));
	ck_assert_int_eq(ENOMEM, flow_node_token(tok, 10, "bob@x"));

	pl_set_str(&pl, "n");
	ck_assert_int_eq(EBADMSG, flow_node_decode(aor, sizeof(aor), &pl));
	pl_set_str(&pl, "nzz00112233445566778899");
	ck_assert_int_eq(EBADMSG, flow_node_decode(aor, sizeof(aor), &pl));
}
END_TEST


Suite *suite_proxy(void)
{
	Suite *s = suite_create("proxy");
	TCase *tc = tcase_create("proxy");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_fwd_headers);
	tcase_add_test(tc, test_fwd_strict);
	tcase_add_test(tc, test_fwd_response);
	tcase_add_test(tc, test_stateless_branch);
	tcase_add_test(tc, test_loop_hash);
	tcase_add_test(tc, test_challenge_answered);
	tcase_add_test(tc, test_routes);
	tcase_add_test(tc, test_route_errors);
	tcase_add_test(tc, test_flow_token);
	tcase_add_test(tc, test_flow_node_token);
	suite_add_tcase(s, tc);

	return s;
}
