/**
 * @file test_libre.c  The libre layer: the version check, missing
 *                     originals, every shim in front of the original,
 *                     and what a finished server transaction keeps
 *
 * Copyright (C) 2026 sipd developers
 */

#include <dlfcn.h>
#include <string.h>
#include <re.h>
#include "libre/libre.h"
#include "test.h"
#include "capture.h"


START_TEST(test_version_refused)
{
	capture_start();
	ck_assert_int_eq(0, libre_check_version("1.1.0"));
	ck_assert_int_eq(ENOTSUP, libre_check_version("1.2.0"));
	ck_assert(capture_has("libre 1.2.0 is not libre 1.1.0"));
	ck_assert(capture_has("refusing to start"));
	ck_assert_int_eq(ENOTSUP, libre_check_version("1.1.0-rc1"));
	ck_assert_int_eq(ENOTSUP, libre_check_version(NULL));
	capture_stop();

	/* the libre this test runs with is the one the shims fit */
	ck_assert_int_eq(0, libre_check());
}
END_TEST


START_TEST(test_missing_original_refused)
{
	static const char *const names[] = {
		"sip_msg_decode", "sipd_no_such_libre_function", NULL
	};

	capture_start();
	ck_assert_int_eq(ENOENT, libre_originals_find(names));
	ck_assert(capture_has("sipd_no_such_libre_function()"));
	ck_assert(!capture_has("sip_msg_decode()"));
	capture_stop();
}
END_TEST


/* The dynamic linker gives libre's calls sipd's definition of every shim
   (this binary is linked like sipd: -rdynamic, the whole core), and the
   original is another function behind it */
START_TEST(test_shims_interposed)
{
	const char *const *name;
	size_t n = 0;

	for (name = libre_shim_names(); *name; name++, n++) {
		void *ours = dlsym(RTLD_DEFAULT, *name);
		void *orig = libre_original(*name);

		ck_assert_msg(ours != NULL, "%s: not defined", *name);
		ck_assert_msg(orig != NULL, "%s: no original", *name);
		ck_assert_msg(ours != orig, "%s: the original is what libre"
			      " calls: the shim is not active", *name);
	}

	ck_assert_uint_eq(n, 31);
}
END_TEST


/* A worker's mark is the low byte of every rand_u64(), which libre
   draws a branch from; without a mark the byte is random */
START_TEST(test_rand_u64_marked)
{
	uint64_t (*libre_rand_u64)(void) =
		(uint64_t (*)(void))dlsym(RTLD_DEFAULT, "rand_u64");
	bool differ = false;
	uint64_t first;
	int i;

	ck_assert_ptr_nonnull(libre_rand_u64);

	libre_rand_mark(true, 0x2a);
	for (i = 0; i < 64; i++)
		ck_assert_uint_eq(libre_rand_u64() & 0xff, 0x2a);

	libre_rand_mark(false, 0);
	first = libre_rand_u64() & 0xff;
	for (i = 0; i < 64 && !differ; i++)
		differ = (libre_rand_u64() & 0xff) != first;
	ck_assert(differ);
}
END_TEST


/* libre's own prints go to the log at debug level once quiet */
START_TEST(test_prints_go_to_the_log)
{
	enum log_level level = LOG_LEVEL_WARNING;

	log_set_level(LOG_LEVEL_DEBUG);
	capture_start();
	quiet_libre();
	(void)re_printf("libre says %d\n", 42);
	(void)re_fprintf(stderr, "libre warns %s\n", "x");
	ck_assert(capture_has("libre says 42"));
	ck_assert(capture_has("libre warns x"));
	capture_stop();
	log_set_level(level);
}
END_TEST


/* A libre SIP stack on 127.0.0.1 answering BYE with 200, and a UDP
   socket that sends it the same BYE twice */
static struct {
	struct sip *sip;
	struct sip_lsnr *lsnr;
	struct udp_sock *us;
	struct sa sipaddr;
	const struct sip_msg *req;   /* as the handler saw it, no ref */
	struct sip_msg *held;        /* a reference the handler kept */
	bool hold;
	uint32_t requests;
	uint32_t answers;
} st;


static const char bye[] =
	"BYE sip:bob@127.0.0.1 SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 127.0.0.1:5999;rport;branch=z9hG4bKslim1\r\n"
	"Max-Forwards: 70\r\n"
	"From: <sip:alice@example.com>;tag=a1\r\n"
	"To: <sip:bob@example.com>;tag=b1\r\n"
	"Call-ID: slim-call@127.0.0.1\r\n"
	"CSeq: 2 BYE\r\n"
	"X-Kept: only while a reference is held\r\n"
	"Content-Length: 0\r\n\r\n";


static const char invite[] =
	"INVITE sip:bob@127.0.0.1 SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 127.0.0.1:5999;rport;branch=z9hG4bKslim2\r\n"
	"Max-Forwards: 70\r\n"
	"From: <sip:alice@example.com>;tag=a2\r\n"
	"To: <sip:bob@example.com>\r\n"
	"Call-ID: slim-invite@127.0.0.1\r\n"
	"CSeq: 1 INVITE\r\n"
	"Contact: <sip:alice@127.0.0.1:5999>\r\n"
	"Content-Length: 0\r\n\r\n";


/* answers BYE and INVITE with 200 */
static bool ok_handler(const struct sip_msg *msg, void *arg)
{
	(void)arg;

	++st.requests;
	st.req = msg;
	if (st.hold)
		st.held = mem_ref((void *)msg);
	(void)sip_treply(NULL, st.sip, msg, 200, "OK");

	return true;
}


static void answer_handler(const struct sa *src, struct mbuf *mb,
			   void *arg)
{
	(void)src;
	(void)arg;

	if (mbuf_get_left(mb) > 11 &&
	    !memcmp(mbuf_buf(mb), "SIP/2.0 200", 11))
		++st.answers;
	re_cancel();
}


static void loop_end(void *arg)
{
	(void)arg;
	re_cancel();
}


/* send a request, and run the loop until answered (or 500 ms without
   an answer if none is due) and a while after */
static void request_send(const char *text, bool answered)
{
	struct mbuf mb;
	struct tmr tmr;
	uint32_t answers = st.answers;

	mbuf_init(&mb);
	mb.buf = (uint8_t *)text;
	mb.size = mb.end = strlen(text);
	ck_assert_int_eq(0, udp_send(st.us, &st.sipaddr, &mb));

	tmr_init(&tmr);
	tmr_start(&tmr, answered ? 2000 : 500, loop_end, NULL);
	(void)re_main(NULL);
	ck_assert_uint_eq(st.answers, answers + (answered ? 1 : 0));

	tmr_start(&tmr, 20, loop_end, NULL);
	(void)re_main(NULL);
	tmr_cancel(&tmr);
}


static void bye_send(void)
{
	request_send(bye, true);
}


static void stack_start(bool hold)
{
	struct sa laddr;

	memset(&st, 0, sizeof(st));
	st.hold = hold;
	ck_assert_int_eq(0, libre_init());
	ck_assert_int_eq(0, libre_check());
	ck_assert_int_eq(0, sip_alloc(&st.sip, NULL, 16, 16, 16, "test",
				      NULL, NULL));
	ck_assert_int_eq(0, sa_set_str(&laddr, "127.0.0.1", 0));
	ck_assert_int_eq(0, sip_transp_add(st.sip, SIP_TRANSP_UDP, &laddr));
	ck_assert_int_eq(0, sip_transp_laddr(st.sip, &st.sipaddr,
					     SIP_TRANSP_UDP, NULL));
	ck_assert_int_eq(0, sip_listen(&st.lsnr, st.sip, true, ok_handler,
				       NULL));
	ck_assert_int_eq(0, udp_listen(&st.us, &laddr, answer_handler,
				       NULL));
}


/* Over UDP the transaction holds its request 32 s after the 200: at the
   end of that loop turn the request keeps its parsed fields but not its
   header index, and a retransmission still gets the 200 again without
   reaching the handler */
START_TEST(test_finished_transaction_slims_request)
{
	stack_start(false);

	bye_send();
	ck_assert_uint_eq(st.requests, 1);
	ck_assert(st.req->hdrht == NULL);
	ck_assert(list_isempty(&st.req->hdrl));
	ck_assert(sip_msg_hdr(st.req, SIP_HDR_CALL_ID) == NULL);
	ck_assert_int_eq(0, pl_strcmp(&st.req->via.branch, "z9hG4bKslim1"));
	ck_assert_int_eq(0, pl_strcmp(&st.req->cseq.met, "BYE"));
	ck_assert_int_eq(0, pl_strcmp(&st.req->callid,
				      "slim-call@127.0.0.1"));

	bye_send();
	ck_assert_uint_eq(st.requests, 1);
	ck_assert_uint_eq(st.answers, 2);
}
END_TEST


/* An INVITE answered 200 over UDP: its transaction (Accepted) absorbs
   a retransmission without an answer and without the handler, the
   response it no longer keeps */
START_TEST(test_answered_invite_absorbs_retransmission)
{
	stack_start(false);

	request_send(invite, true);
	ck_assert_uint_eq(st.requests, 1);
	ck_assert(st.req->hdrht == NULL);

	request_send(invite, false);
	ck_assert_uint_eq(st.requests, 1);
}
END_TEST


/* A request its handler still holds keeps every header */
START_TEST(test_held_request_keeps_headers)
{
	stack_start(true);

	bye_send();
	ck_assert_uint_eq(st.requests, 1);
	ck_assert(st.held != NULL);
	ck_assert(st.held->hdrht != NULL);
	ck_assert(sip_msg_xhdr(st.held, "X-Kept") != NULL);
	ck_assert(sip_msg_hdr(st.held, SIP_HDR_CALL_ID) != NULL);
}
END_TEST


Suite *suite_libre(void)
{
	Suite *s = suite_create("libre");
	TCase *tc = tcase_create("layer");

	tcase_add_test(tc, test_version_refused);
	tcase_add_test(tc, test_missing_original_refused);
	tcase_add_test(tc, test_shims_interposed);
	tcase_add_test(tc, test_prints_go_to_the_log);
	tcase_add_test(tc, test_rand_u64_marked);
	suite_add_tcase(s, tc);

	tc = tcase_create("strans");
	tcase_add_test(tc, test_finished_transaction_slims_request);
	tcase_add_test(tc, test_held_request_keeps_headers);
	tcase_add_test(tc, test_answered_invite_absorbs_retransmission);
	suite_add_tcase(s, tc);

	return s;
}
