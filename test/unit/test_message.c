/**
 * @file test_message.c  Request checks, Contact parsing, the
 *                       registrar's reading of a REGISTER (and whether
 *                       a contact is behind a NAT) and whom a
 *                       request may act for, on canned messages
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include "core.h"
#include "sipmsg/sipmsg.h"
#include "../../modules/registrar/registrar.h"
#include "test.h"


static struct sip_msg *decode(const char *text)
{
	struct sip_msg *msg = NULL;
	struct mbuf *mb;
	char *crlf;
	size_t i, n = 0;

	/* the canned text uses \n; SIP wants \r\n */
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


#define HDRS \
	"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK776\n" \
	"From: <sip:a@example.com>;tag=1\n" \
	"To: <sip:a@example.com>\n" \
	"Call-ID: c1\n"


static int check(const char *text, const char **reason)
{
	struct sip_msg *msg = decode(text);
	int scode = validate_request(msg, false, reason);

	mem_deref(msg);

	return scode;
}


START_TEST(test_validate)
{
	const char *reason = NULL;

	ck_assert_int_eq(0, check("OPTIONS sip:a@example.com SIP/2.0\n" HDRS
				  "CSeq: 1 OPTIONS\nMax-Forwards: 70\n"
				  "Content-Length: 0\n\n", &reason));

	ck_assert_int_eq(400, check("OPTIONS sip:a@example.com SIP/2.0\n"
				    HDRS "CSeq: 1 INVITE\n\n", &reason));
	ck_assert_str_eq("CSeq Method Does Not Match", reason);

	ck_assert_int_eq(501, check("FOO sip:a@example.com SIP/2.0\n" HDRS
				    "CSeq: 1 BAR\n\n", &reason));

	ck_assert_int_eq(400, check("OPTIONS sip:a@example.com SIP/2.0\n"
				    HDRS "CSeq: 4294967296 OPTIONS\n\n",
				    &reason));

	ck_assert_int_eq(400, check("OPTIONS sip:a@example.com SIP/2.0\n"
				    HDRS "CSeq: 1 OPTIONS\n"
				    "Max-Forwards: 256\n\n", &reason));

	ck_assert_int_eq(400, check("OPTIONS sip:a@example.com SIP/2.0\n"
				    HDRS "CSeq: 1 OPTIONS\n"
				    "Content-Length: 10\n\nabc", &reason));

	ck_assert_int_eq(400, check("OPTIONS sip:a@example.com SIP/2.0\n"
				    HDRS "Call-ID: c2\nCSeq: 1 OPTIONS\n\n",
				    &reason));

	ck_assert_int_eq(400, check("OPTIONS sip:a@example.com SIP/2.0\n"
				    "Via: SIP/2.0/UDP 192.0.2.1;"
				    "branch=z9hG4bK\n"
				    "From: <sip:a@example.com>;tag=1\n"
				    "To: <sip:a@example.com>\n"
				    "Call-ID: c1\nCSeq: 1 OPTIONS\n\n",
				    &reason));

	ck_assert_int_eq(400, check("OPTIONS sip:a@example.com SIP/2.0\n"
				    "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\n"
				    "From: <sip:a@example.com>;tag=1\n"
				    "To: \"Unclosed <sip:a@example.com>\n"
				    "Call-ID: c1\nCSeq: 1 OPTIONS\n\n",
				    &reason));

	ck_assert_int_eq(416, check("OPTIONS tel:+15551234 SIP/2.0\n" HDRS
				    "CSeq: 1 OPTIONS\n\n", &reason));

	ck_assert_int_eq(400, check("OPTIONS sip:a@example.com?Route=x"
				    " SIP/2.0\n" HDRS "CSeq: 1 OPTIONS\n\n",
				    &reason));

	ck_assert_int_eq(400, check("OPTIONS sip:a@example.com SIP/2.0\n"
				    "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\n"
				    "From: <sip:a@example.com>;tag=1\n"
				    "Call-ID: c1\nCSeq: 1 OPTIONS\n\n",
				    &reason));
	ck_assert_str_eq("Missing Mandatory Header", reason);
}
END_TEST


START_TEST(test_contact)
{
	struct contact c;
	struct pl pl;

	pl_set_str(&pl, "\"Alice, A.\" <sip:a@192.0.2.1;transport=tcp>"
		   ";expires=60;q=0.5");
	ck_assert_int_eq(0, contact_decode(&c, &pl));
	ck_assert(c.angle);
	ck_assert_int_eq(0, pl_strcmp(&c.uri, "sip:a@192.0.2.1;transport="
				      "tcp"));
	ck_assert_int_eq(0, pl_strcmp(&c.params, ";expires=60;q=0.5"));

	/* without < > the parameters belong to the header */
	pl_set_str(&pl, "sip:+19725552222@gw1.example.net;unknownparam");
	ck_assert_int_eq(0, contact_decode(&c, &pl));
	ck_assert_int_eq(0, pl_strcmp(&c.uri, "sip:+19725552222@gw1.example"
				      ".net"));
	ck_assert_int_eq(0, pl_strcmp(&c.params, ";unknownparam"));

	pl_set_str(&pl, "*");
	ck_assert_int_eq(0, contact_decode(&c, &pl));
	ck_assert(c.star);

	/* headers need < > */
	pl_set_str(&pl, "sip:user@example.com?Route=%3Csip:x%3E");
	ck_assert_int_eq(EBADMSG, contact_decode(&c, &pl));
	pl_set_str(&pl, "<sip:user@example.com?Route=%3Csip:x%3E>");
	ck_assert_int_eq(0, contact_decode(&c, &pl));

	pl_set_str(&pl, "<sip:unclosed@example.com");
	ck_assert_int_eq(EBADMSG, contact_decode(&c, &pl));
}
END_TEST


static const struct registrar_conf rconf = {
	.min_expires = 60, .max_expires = 3600, .default_expires = 1800,
	.max_contacts = 2, .overflow = OVERFLOW_REJECT,
};


static int changes(struct list *l, const char *text, bool *star,
		   uint16_t *scode)
{
	struct sip_msg *msg = decode(text);
	const char *reason;
	int err;

	err = reg_changes_decode(l, msg, &rconf, star, scode, &reason);
	mem_deref(msg);

	return err;
}


#define REG \
	"REGISTER sip:example.com SIP/2.0\n" HDRS "CSeq: 2 REGISTER\n"


START_TEST(test_register_changes)
{
	struct list l = LIST_INIT;
	struct reg_change *c;
	uint16_t scode = 0;
	bool star;

	ck_assert_int_eq(0, changes(&l, REG "Contact: <sip:a@192.0.2.1>;"
				    "q=0.7, <sip:a@192.0.2.2>;expires=120\n"
				    "Expires: 300\n\n", &star, &scode));
	ck_assert_uint_eq(2, list_count(&l));
	c = l.head->data;
	ck_assert_uint_eq(700, c->q);
	ck_assert_uint_eq(300, c->expires);
	c = l.head->next->data;
	ck_assert_uint_eq(120, c->expires);
	ck_assert_uint_eq(1000, c->q);
	list_flush(&l);

	/* no Expires anywhere: the default */
	ck_assert_int_eq(0, changes(&l, REG "Contact: <sip:a@192.0.2.1>\n\n",
				    &star, &scode));
	ck_assert_uint_eq(1800, ((struct reg_change *)l.head->data)->expires);
	list_flush(&l);

	/* too brief */
	ck_assert_int_eq(ERANGE, changes(&l, REG "Contact: <sip:a@192.0.2.1>"
					 ";expires=30\n\n", &star, &scode));
	ck_assert_uint_eq(423, scode);
	list_flush(&l);

	/* zero removes, below Min-Expires or not */
	ck_assert_int_eq(0, changes(&l, REG "Contact: <sip:a@192.0.2.1>"
				    ";expires=0\n\n", &star, &scode));
	ck_assert_uint_eq(0, ((struct reg_change *)l.head->data)->expires);
	list_flush(&l);

	/* star */
	ck_assert_int_eq(0, changes(&l, REG "Contact: *\nExpires: 0\n\n",
				    &star, &scode));
	ck_assert(star);
	ck_assert_int_eq(EBADMSG, changes(&l, REG "Contact: *\n\n", &star,
					  &scode));
	ck_assert_int_eq(EBADMSG, changes(&l, REG "Contact: *\nContact: "
					  "<sip:a@192.0.2.1>\nExpires: 0\n\n",
					  &star, &scode));
	list_flush(&l);

	/* q out of range, garbage expires */
	ck_assert_int_eq(EBADMSG, changes(&l, REG "Contact: <sip:a@192.0.2.1>"
					  ";q=1.5\n\n", &star, &scode));
	list_flush(&l);
	ck_assert_int_eq(EBADMSG, changes(&l, REG "Contact: <sip:a@192.0.2.1>"
					  ";expires=soon\n\n", &star,
					  &scode));
	list_flush(&l);

	/* instance and reg-id */
	ck_assert_int_eq(0, changes(&l, REG "Contact: <sip:a@192.0.2.1>;"
				    "+sip.instance=\"<urn:uuid:00000000-0000-"
				    "1000-8000-000A95A0E128>\";reg-id=1\n\n",
				    &star, &scode));
	c = l.head->data;
	ck_assert_str_eq("<urn:uuid:00000000-0000-1000-8000-000A95A0E128>",
			 c->instance);
	ck_assert_uint_eq(1, c->reg_id);
	list_flush(&l);
}
END_TEST


START_TEST(test_register_apply)
{
	struct list l = LIST_INIT, cur = LIST_INIT, up = LIST_INIT,
		rm = LIST_INIT;
	const char *reason = NULL;
	struct binding *b;
	struct sip_msg *msg;
	uint16_t scode = 0;
	bool star;

	/* one binding of the same Call-ID with a higher CSeq exists */
	ck_assert_int_eq(0, binding_alloc(&b));
	ck_assert_int_eq(0, str_dup(&b->contact, "sip:a@192.0.2.1"));
	ck_assert_int_eq(0, str_dup(&b->callid, "c1"));
	b->cseq = 5;
	b->id = 1;
	list_append(&cur, &b->le, b);

	msg = decode(REG "Contact: <sip:a@192.0.2.1>\n\n");
	ck_assert_int_eq(0, reg_changes_decode(&l, msg, &rconf, &star,
						&scode, &reason));
	ck_assert_int_eq(EALREADY, reg_apply(&up, &rm, &cur, &l, msg,
					     "a@example.com", NULL, &rconf,
					     1000, &scode, &reason));
	ck_assert_uint_eq(400, scode);
	mem_deref(msg);
	list_flush(&l);

	/* a newer CSeq refreshes it, matched by URI comparison */
	b->cseq = 1;
	msg = decode(REG "Contact: <sip:%61@192.0.2.1>, <sip:b@192.0.2.3>\n\n");
	ck_assert_int_eq(0, reg_changes_decode(&l, msg, &rconf, &star,
						&scode, &reason));
	ck_assert_int_eq(0, reg_apply(&up, &rm, &cur, &l, msg,
				      "a@example.com", NULL, &rconf, 1000,
				      &scode, &reason));
	ck_assert_uint_eq(2, list_count(&up));
	ck_assert_ptr_eq(b, up.head->data);
	ck_assert_uint_eq(2, b->cseq);
	ck_assert(b->expires == 1000 + 1800);
	mem_deref(msg);
	list_flush(&l);

	/* a third contact is one too many with OVERFLOW_REJECT */
	list_unlink(&b->le);
	list_append(&cur, &b->le, b);
	b = up.head->data;
	list_unlink(&b->le);
	list_append(&cur, &b->le, b);
	msg = decode(REG "Contact: <sip:c@192.0.2.4>\n\n");
	ck_assert_int_eq(0, reg_changes_decode(&l, msg, &rconf, &star,
						&scode, &reason));
	ck_assert_int_eq(EDQUOT, reg_apply(&up, &rm, &cur, &l, msg,
					   "a@example.com", NULL, &rconf,
					   1000, &scode, &reason));
	ck_assert_uint_eq(403, scode);
	mem_deref(msg);

	list_flush(&l);
	list_flush(&cur);
	list_flush(&up);
	list_flush(&rm);
}
END_TEST


/* Is the contact of a REGISTER from src, with a top Via, behind a NAT? */
static bool nated(const char *via, const char *contact, const char *src,
		  enum sip_transp tp, enum sock_nat mode)
{
	char text[512];
	struct sip_msg *msg;
	struct pl pl;
	bool ret;

	re_snprintf(text, sizeof(text), "REGISTER sip:example.com SIP/2.0\n"
		    "Via: SIP/2.0/%s %s;branch=z9hG4bK1\n"
		    "From: <sip:a@example.com>;tag=1\nTo: <sip:a@example.com>\n"
		    "Call-ID: c1\nCSeq: 1 REGISTER\nContact: <%s>\n\n",
		    tp == SIP_TRANSP_UDP ? "UDP" : "TCP", via, contact);
	msg = decode(text);
	msg->tp = tp;
	ck_assert_int_eq(0, sa_decode(&msg->src, src, strlen(src)));

	pl_set_str(&pl, contact);
	ret = nat_detect(&pl, msg, mode);
	mem_deref(msg);

	return ret;
}


#define UDP SIP_TRANSP_UDP
#define AUTO SOCK_NAT_AUTO


START_TEST(test_nat_detect)
{
	struct binding *b;

	/* a third party: the Contact is another program's port */
	ck_assert(!nated("127.0.0.1:5080", "sip:b@127.0.0.1:5070",
			 "127.0.0.1:5080", UDP, AUTO));
	ck_assert(!nated("192.0.2.1:5080", "sip:b@198.51.100.7",
			 "192.0.2.1:5080", UDP, AUTO));
	/* a name in the Contact or the Via is not compared */
	ck_assert(!nated("pbx.example.com", "sip:b@phone.example.com",
			 "192.0.2.1:5060", UDP, AUTO));

	/* (a) a private or shared Contact other than the source */
	ck_assert(nated("127.0.0.1:5080", "sip:b@192.168.1.10:5060",
			"127.0.0.1:5080", UDP, AUTO));
	ck_assert(nated("192.0.2.1:5060", "sip:b@10.1.2.3",
			"192.0.2.1:5060", UDP, AUTO));
	ck_assert(nated("192.0.2.1:5060", "sip:b@172.31.255.1",
			"192.0.2.1:5060", UDP, AUTO));
	ck_assert(!nated("192.0.2.1:5060", "sip:b@172.32.0.1",
			 "192.0.2.1:5060", UDP, AUTO));
	ck_assert(nated("192.0.2.1:5060", "sip:b@100.127.0.1",
			"192.0.2.1:5060", UDP, AUTO));
	ck_assert(!nated("192.0.2.1:5060", "sip:b@100.128.0.1",
			 "192.0.2.1:5060", UDP, AUTO));
	ck_assert(nated("[2001:db8::1]:5060", "sip:b@[fd00::10]",
			"[2001:db8::1]:5060", UDP, AUTO));
	ck_assert(nated("[2001:db8::1]:5060", "sip:b@[fe80::1]:5062",
			"[2001:db8::1]:5060", UDP, AUTO));
	ck_assert(!nated("[2001:db8::1]:5060", "sip:b@[2001:db8::2]",
			 "[2001:db8::1]:5060", UDP, AUTO));
	/* a private network sipd is on: the Contact is the source */
	ck_assert(!nated("192.168.1.10:5060", "sip:b@192.168.1.10:5062",
			 "192.168.1.10:5060", UDP, AUTO));

	/* (b) the Via's sent-by is another address */
	ck_assert(nated("127.0.0.99:5060", "sip:b@127.0.0.99:5060",
			"127.0.0.1:40000", UDP, AUTO));
	ck_assert(nated("192.168.1.10:5060", "sip:b@phone.example.com",
			"192.0.2.1:5060", SIP_TRANSP_TCP, AUTO));

	/* (c) over UDP, rport and another port */
	ck_assert(nated("127.0.0.1:5060;rport", "sip:b@127.0.0.1:5060",
			"127.0.0.1:40000", UDP, AUTO));
	ck_assert(nated("127.0.0.1;rport", "sip:b@127.0.0.1",
			"127.0.0.1:40000", UDP, AUTO));
	ck_assert(!nated("127.0.0.1:40000;rport", "sip:b@127.0.0.1:5070",
			 "127.0.0.1:40000", UDP, AUTO));
	ck_assert(!nated("127.0.0.1:5060", "sip:b@127.0.0.1:5060",
			 "127.0.0.1:40000", UDP, AUTO));
	ck_assert(!nated("127.0.0.1:5060;rport", "sip:b@127.0.0.1:5060",
			 "127.0.0.1:40000", SIP_TRANSP_TCP, AUTO));
	ck_assert(!nated("127.0.0.1:5060;rportx", "sip:b@127.0.0.1:5060",
			 "127.0.0.1:40000", UDP, AUTO));

	/* nat= of the socket */
	ck_assert(nated("127.0.0.1:5080", "sip:b@127.0.0.1:5070",
			"127.0.0.1:5080", UDP, SOCK_NAT_ALWAYS));
	ck_assert(!nated("127.0.0.99:5060;rport", "sip:b@192.168.1.10",
			 "127.0.0.1:40000", UDP, SOCK_NAT_NEVER));

	/* a stored binding: its flag; without one (before schema 3) the
	   old rule, another address or UDP port than the source */
	ck_assert_int_eq(0, binding_alloc(&b));
	ck_assert_int_eq(0, str_dup(&b->contact, "sip:b@127.0.0.1:5070"));
	ck_assert_int_eq(0, sa_set_str(&b->received, "127.0.0.1", 5080));
	ck_assert_int_eq(BINDING_NAT_NO, b->nat);
	ck_assert(!binding_behind_nat(b));
	b->nat = BINDING_NAT_YES;
	ck_assert(binding_behind_nat(b));
	b->nat = BINDING_NAT_UNKNOWN;
	ck_assert(binding_behind_nat(b));
	b->tp = SIP_TRANSP_TCP;
	ck_assert(!binding_behind_nat(b));
	mem_deref(b);
}
END_TEST


/* An auth backend that authenticates everyone as stub.user */
static struct {
	const char *user;
	char realm[128];
	int err;
	unsigned calls;
} stub;


static int stub_check(struct auth_identity *id, struct sipd_sock *sock,
		      const struct sip_msg *msg, enum auth_kind kind,
		      const char *realm)
{
	(void)sock;
	(void)msg;
	(void)kind;

	++stub.calls;
	str_ncpy(stub.realm, realm, sizeof(stub.realm));
	if (stub.err)
		return stub.err;

	str_ncpy(id->user, stub.user, sizeof(id->user));
	str_ncpy(id->domain, realm, sizeof(id->domain));

	return 0;
}


static int require_from(const char *from)
{
	struct auth_identity id;
	struct sip_msg *msg;
	char text[512];
	int err;

	re_snprintf(text, sizeof(text),
		    "INVITE sip:bob@example.com SIP/2.0\n"
		    "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\n"
		    "From: <%s>;tag=1\n"
		    "To: <sip:bob@example.com>\n"
		    "Call-ID: c1\n"
		    "CSeq: 1 INVITE\n"
		    "Content-Length: 0\n\n", from);
	msg = decode(text);
	stub.realm[0] = '\0';
	err = auth_require(&id, NULL, msg, AUTH_PROXY, &msg->from.uri);
	mem_deref(msg);

	return err;
}


START_TEST(test_auth_require)
{
	struct auth_backend be = {.name = "stub", .check = stub_check};

	ck_assert_int_eq(0, test_config("domain example.com\n"));
	ck_assert_int_eq(0, domain_config(true));
	auth_register(&be);
	stub.user = "alice";

	/* the user part is case-sensitive, escapes undone first */
	ck_assert_int_eq(0, require_from("sip:alice@example.com"));
	ck_assert_str_eq("example.com", stub.realm);
	ck_assert_int_eq(0, require_from("sip:%61lice@example.com"));
	ck_assert_int_eq(EPERM, require_from("sip:Alice@example.com"));
	ck_assert_int_eq(EPERM, require_from("sip:ALICE@example.com"));
	ck_assert_int_eq(EPERM, require_from("sip:alic@example.com"));
	ck_assert_int_eq(EPERM, require_from("sip:alicee@example.com"));
	ck_assert_int_eq(EPERM, require_from("sip:bob@example.com"));

	/* the host is not: the realm is the served domain, lower case */
	ck_assert_int_eq(0, require_from("sip:alice@EXAMPLE.COM"));
	ck_assert_str_eq("example.com", stub.realm);

	/* no user, or another domain: nobody is challenged */
	stub.calls = 0;
	ck_assert_int_eq(EPERM, require_from("sip:example.com"));
	ck_assert_int_eq(EPERM, require_from("sip:alice@example.org"));
	ck_assert_uint_eq(0, stub.calls);

	/* a challenge is the backend's answer */
	stub.err = EAUTH;
	ck_assert_int_eq(EAUTH, require_from("sip:alice@example.com"));
	stub.err = 0;

	auth_unregister(&be);
	ck_assert_int_eq(ENOSYS, require_from("sip:alice@example.com"));

	domain_close();
	config_unload();
}
END_TEST


Suite *suite_message(void)
{
	Suite *s = suite_create("message");
	TCase *tc = tcase_create("message");

	tcase_add_test(tc, test_validate);
	tcase_add_test(tc, test_contact);
	tcase_add_test(tc, test_register_changes);
	tcase_add_test(tc, test_register_apply);
	tcase_add_test(tc, test_nat_detect);
	tcase_add_test(tc, test_auth_require);
	suite_add_tcase(s, tc);

	return s;
}
