/**
 * @file test_stats.c  The statistics registry: counts, module figures,
 *                     status and metrics output
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include "ops.h"
#include "test.h"
#include "capture.h"


struct find {
	const char *name;
	const char *lval;
	uint64_t value;
	bool known;
	unsigned found;
};


static int find_handler(const struct stat_value *v, void *arg)
{
	struct find *f = arg;

	if (strcmp(v->name, f->name))
		return 0;

	if (f->lval && (!v->lval || strcmp(v->lval, f->lval)))
		return 0;

	f->value = v->value;
	f->known = v->known;
	++f->found;

	return 0;
}


static uint64_t figure(const char *name, const char *lval, bool *known)
{
	struct find f = {name, lval, 0, false, 0};

	ck_assert_int_eq(0, stats_walk(find_handler, &f));
	ck_assert_msg(f.found == 1, "figure %s %s found %u times", name,
		      lval ? lval : "", f.found);
	if (known)
		*known = f.known;

	return f.value;
}


static struct sip_msg *decode(const char *text)
{
	struct sip_msg *msg = NULL;
	struct mbuf *mb = mbuf_alloc(512);

	ck_assert_ptr_nonnull(mb);
	ck_assert_int_eq(0, mbuf_write_str(mb, text));
	mb->pos = 0;
	ck_assert_int_eq(0, sip_msg_decode(&msg, mb));
	mem_deref(mb);

	return msg;
}


static void sent(const char *text)
{
	struct mbuf *mb = mbuf_alloc(512);

	ck_assert_ptr_nonnull(mb);
	ck_assert_int_eq(0, mbuf_write_str(mb, text));
	mb->pos = 0;
	stats_sent(mb);
	ck_assert_uint_eq(0, mb->pos);
	mem_deref(mb);
}


static uint64_t seven(void *arg)
{
	(void)arg;
	return 7;
}


static uint64_t value_of(void *arg)
{
	return *(uint64_t *)arg;
}


static uint64_t bindings = 5, more_bindings = 2, watchers = 3;

static struct stat_figure fig_a = {
	.name = STAT_REGISTRATIONS, .help = "a", .kind = STAT_GAUGE,
	.readh = value_of, .arg = &bindings,
};
static struct stat_figure fig_b = {
	.name = STAT_REGISTRATIONS, .help = "b", .kind = STAT_GAUGE,
	.readh = value_of, .arg = &more_bindings,
};
static struct stat_figure fig_other = {
	.name = "watchers", .help = "Watchers of a test", .kind = STAT_GAUGE,
	.readh = value_of, .arg = &watchers,
};
static struct stat_figure fig_bad = {
	.name = "Bad-Name", .help = "x", .kind = STAT_COUNTER,
	.readh = seven,
};


static void setup(void)
{
	capture_start();
	stats_init();
	wire_init();        /* as listen_start(): decoded messages counted */
}


static void teardown(void)
{
	stats_unregister(&fig_a);
	stats_unregister(&fig_b);
	stats_unregister(&fig_other);
	stats_close();
	capture_stop();
}


static const char invite[] =
	"INVITE sip:bob@example.com SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n"
	"Max-Forwards: 70\r\n"
	"From: <sip:alice@example.com>;tag=1\r\n"
	"To: <sip:bob@example.com>\r\n"
	"Call-ID: stats-1\r\n"
	"CSeq: 1 INVITE\r\n"
	"Content-Length: 0\r\n\r\n";

static const char not_found[] =
	"SIP/2.0 404 Not Found\r\n"
	"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n"
	"From: <sip:alice@example.com>;tag=1\r\n"
	"To: <sip:bob@example.com>;tag=2\r\n"
	"Call-ID: stats-1\r\n"
	"CSeq: 1 INVITE\r\n"
	"Content-Length: 0\r\n\r\n";


START_TEST(test_messages_counted)
{
	struct sip_msg *req, *resp;

	/* sipd's decoder counts what it decodes */
	req = decode(invite);
	resp = decode(not_found);
	mem_deref(decode(invite));

	ck_assert_uint_eq(2, figure("requests_received", "INVITE", NULL));
	ck_assert_uint_eq(0, figure("requests_received", "BYE", NULL));
	ck_assert_uint_eq(1, figure("responses_received", "4xx", NULL));

	stats_unreceived(resp);
	ck_assert_uint_eq(0, figure("responses_received", "4xx", NULL));

	sent("SIP/2.0 180 Ringing\r\nContent-Length: 0\r\n\r\n");
	sent("SIP/2.0 603 Decline\r\n\r\n");
	sent("OPTIONS sip:bob@example.com SIP/2.0\r\n\r\n");
	sent("FROB sip:bob@example.com SIP/2.0\r\n\r\n");
	sent("\r\n\r\n");                 /* a keepalive: not a message */
	sent("SIP/2.0");

	ck_assert_uint_eq(1, figure("responses_sent", "1xx", NULL));
	ck_assert_uint_eq(1, figure("responses_sent", "6xx", NULL));
	ck_assert_uint_eq(1, figure("requests_sent", "OPTIONS", NULL));
	ck_assert_uint_eq(1, figure("requests_sent", "other", NULL));
	ck_assert_uint_eq(0, figure("requests_received", "other", NULL));

	stats_count(STATS_MALFORMED);
	stats_count(STATS_MALFORMED);
	stats_count(STATS_SEND_ERRORS);
	ck_assert_uint_eq(2, figure("malformed", NULL, NULL));
	ck_assert_uint_eq(1, figure("send_errors", NULL, NULL));

	mem_deref(req);
	mem_deref(resp);
}
END_TEST


START_TEST(test_module_figures)
{
	bool known = true;

	/* nothing provides them yet */
	ck_assert_uint_eq(0, figure(STAT_REGISTRATIONS, NULL, &known));
	ck_assert(!known);
	ck_assert_uint_eq(0, figure(STAT_SUBSCRIPTIONS, NULL, &known));
	ck_assert(!known);

	stats_register(&fig_a);
	ck_assert_uint_eq(5, figure(STAT_REGISTRATIONS, NULL, &known));
	ck_assert(known);

	/* figures of one name add up; read when asked */
	stats_register(&fig_b);
	bindings = 6;
	ck_assert_uint_eq(8, figure(STAT_REGISTRATIONS, NULL, NULL));

	/* a figure the status does not name comes at the end, once */
	stats_register(&fig_other);
	ck_assert_uint_eq(3, figure("watchers", NULL, &known));
	ck_assert(known);

	/* not a metric name: refused */
	stats_register(&fig_bad);
	ck_assert(capture_has("stats: a figure without a valid name"));
	ck_assert_ptr_null(fig_bad.le.list);

	stats_unregister(&fig_a);
	ck_assert_uint_eq(2, figure(STAT_REGISTRATIONS, NULL, NULL));
	bindings = 5;
}
END_TEST


static int print_status(struct re_printf *pf, void *arg)
{
	return status_print(pf, *(bool *)arg);
}


START_TEST(test_status_output)
{
	bool json = false;
	char *text = NULL;

	stats_register(&fig_a);
	mem_deref(decode(invite));

	ck_assert_int_eq(0, re_sdprintf(&text, "%H", print_status, &json));
	ck_assert_msg(strstr(text, "registrations        5\n"), "%s", text);
	ck_assert_msg(strstr(text, "subscriptions        -\n"), "%s", text);
	ck_assert_msg(strstr(text, "requests received    1 (INVITE 1)\n"),
		      "%s", text);
	ck_assert_msg(strstr(text, "sipd " SIPD_VERSION), "%s", text);
	text = mem_deref(text);

	json = true;
	ck_assert_int_eq(0, re_sdprintf(&text, "%H", print_status, &json));
	ck_assert_msg(strstr(text, "\"registrations\": 5,"), "%s", text);
	ck_assert_msg(strstr(text, "\"subscriptions\": null,"), "%s", text);
	ck_assert_msg(strstr(text, "\"requests_received\": {\"INVITE\": 1,"
			     " \"ACK\": 0,"), "%s", text);
	ck_assert_msg(strstr(text, "\"responses_sent\": {\"1xx\": 0,"),
		      "%s", text);
	ck_assert_msg(text[0] == '{' && !strcmp(text + strlen(text) - 2,
						"}\n"), "%s", text);
	text = mem_deref(text);
}
END_TEST


static int print_metrics(struct re_printf *pf, void *arg)
{
	(void)arg;
	return metrics_print(pf);
}


START_TEST(test_metrics_output)
{
	char *text = NULL;
	const char *p;

	stats_register(&fig_a);
	mem_deref(decode(invite));
	stats_count(STATS_JUNK);

	ck_assert_int_eq(0, re_sdprintf(&text, "%H", print_metrics, NULL));

	ck_assert_msg(strstr(text, "# TYPE sipd_registrations gauge\n"
			     "sipd_registrations 5\n"), "%s", text);
	ck_assert_msg(strstr(text, "# TYPE sipd_requests_received_total"
			     " counter\n"
			     "sipd_requests_received_total{method=\"INVITE\"}"
			     " 1\n"), "%s", text);
	ck_assert_msg(strstr(text, "sipd_responses_sent_total{class=\"6xx\"}"
			     " 0\n"), "%s", text);
	ck_assert_msg(strstr(text, "sipd_junk_drops_total 1\n"), "%s", text);
	ck_assert_msg(strstr(text, "# HELP sipd_uptime_seconds "), "%s",
		      text);

	/* no series for what no module provides; one HELP a family */
	ck_assert_msg(!strstr(text, "sipd_subscriptions"), "%s", text);
	p = strstr(text, "# HELP sipd_requests_sent_total");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_null(strstr(p + 1, "# HELP sipd_requests_sent_total"));

	text = mem_deref(text);
}
END_TEST


static void member_values(stat_label_h *h, void *ctx, void *arg)
{
	(void)arg;
	h("gw", "sip:10.0.0.1", 1, ctx);
	h("gw", "sip:10.0.0.2", 0, ctx);
}


static struct stat_figure fig_labelled = {
	.name = "member_up", .help = "Members up", .kind = STAT_GAUGE,
	.label = "pool", .label2 = "member", .labelsh = member_values,
};


START_TEST(test_labelled_figure)
{
	char *text = NULL;
	bool json = true;

	stats_register(&fig_labelled);
	ck_assert_ptr_nonnull(fig_labelled.le.list);

	ck_assert_int_eq(0, re_sdprintf(&text, "%H", print_metrics, NULL));
	ck_assert_msg(strstr(text, "# TYPE sipd_member_up gauge\n"
			     "sipd_member_up{pool=\"gw\",member="
			     "\"sip:10.0.0.1\"} 1\n"
			     "sipd_member_up{pool=\"gw\",member="
			     "\"sip:10.0.0.2\"} 0\n"), "%s", text);
	text = mem_deref(text);

	ck_assert_int_eq(0, re_sdprintf(&text, "%H", print_status, &json));
	ck_assert_msg(strstr(text, "\"member_up\": {\"gw/sip:10.0.0.1\": 1,"
			     " \"gw/sip:10.0.0.2\": 0}"), "%s", text);
	text = mem_deref(text);

	json = false;
	ck_assert_int_eq(0, re_sdprintf(&text, "%H", print_status, &json));
	ck_assert_msg(strstr(text, "member up            1"
			     " (gw/sip:10.0.0.1 1)\n"), "%s", text);
	text = mem_deref(text);

	stats_unregister(&fig_labelled);
}
END_TEST


Suite *suite_stats(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("stats");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_messages_counted);
	tcase_add_test(tc, test_module_figures);
	tcase_add_test(tc, test_status_output);
	tcase_add_test(tc, test_metrics_output);
	tcase_add_test(tc, test_labelled_figure);
	suite_add_tcase(s, tc);

	return s;
}
