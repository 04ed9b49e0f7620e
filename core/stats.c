/**
 * @file stats.c  The figures of the running server, for status and metrics
 *
 * The core counts what passes it: messages received (through its
 * decoder) and sent (through its sender, send.c) by method and status
 * class, malformed messages, send errors, junk. Modules provide the rest
 * by registering figures, read only when someone asks: the location
 * backend the registrations, the proxy its transactions and calls, auth
 * its failures, the guard its bans and drops. Figures of the same name
 * add up.
 *
 * Counting is a plain increment: no lock (one thread), no allocation.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <ctype.h>
#include <re.h>
#include "libre/libre.h"


enum {
	CLASSES = 6,           /* 1xx to 6xx */
};

struct msg_counts {
	uint64_t req[METHODS_KNOWN + 1];
	uint64_t resp[CLASSES];
};

static struct {
	struct msg_counts in;
	struct msg_counts out;
	uint64_t counters[STATS_COUNTERS];
	struct list figures;       /* struct stat_figure */
	int64_t started;           /* epoch seconds */
	uint64_t started_ms;       /* tmr_jiffies() */
} st;


/* Figures the status names even when no module provides them */
static const struct {
	const char *name;
	enum stat_kind kind;
	const char *help;
} well_known[] = {
	{STAT_REGISTRATIONS, STAT_GAUGE,
	 "Registered contacts (bindings) not expired"},
	{STAT_SUBSCRIPTIONS, STAT_GAUGE, "Active subscriptions"},
	{STAT_PUBLICATIONS,  STAT_GAUGE, "Active event publications"},
	{STAT_TRANSACTIONS,  STAT_GAUGE,
	 "Requests the stateful proxy is forwarding"},
	{STAT_CALLS,         STAT_GAUGE,
	 "Calls established through the proxy, until their BYE"},
};

static const struct {
	const char *name;
	const char *help;
} counter_info[STATS_COUNTERS] = {
	{"malformed",
	 "Messages that could not be decoded or broke the rules,"
	 " refused or dropped"},
	{"send_errors", "Messages that could not be sent"},
	{"junk_drops", "Datagrams dropped unparsed: not SIP"},
	{"over_limits",
	 "Requests refused for their size, header count or Via count"},
	{"message_timeouts",
	 "Connections closed: a message unfinished for tcp_message_timeout"},
};

/* Figures of a module that the status places among the core's, with the
   kind and help the module gives them */
static const char *const placed[] = {
	STAT_BANS_ACTIVE, STAT_BANS, STAT_BANNED_DROPS, STAT_FLOOD_DROPS,
	STAT_FLOOD_OPTIONS_DROPS, STAT_SCANNER_DROPS, STAT_CONNECTIONS_OPEN,
	STAT_CONNECTIONS_REFUSED,
};

static const char *class_names[CLASSES] = {
	"1xx", "2xx", "3xx", "4xx", "5xx", "6xx"
};


/**
 * Start counting: the time figures start now
 */
/* Every message libre sends, or its error (the libre layer's hook) */
static void sent_hook(const struct mbuf *mb, int err)
{
	if (err)
		stats_count(STATS_SEND_ERRORS);
	else
		stats_sent(mb);
}


void stats_init(void)
{
	libre_sent_hook(sent_hook);

	memset(&st.in, 0, sizeof(st.in));
	memset(&st.out, 0, sizeof(st.out));
	memset(st.counters, 0, sizeof(st.counters));
	st.started = time_now();
	st.started_ms = tmr_jiffies();
}


/**
 * Count an event of the core
 *
 * @param c Counter
 */
void stats_count(enum stats_counter c)
{
	if (c < STATS_COUNTERS)
		++st.counters[c];
}


/**
 * Count a message received (decoded)
 *
 * @param msg The message
 */
void stats_received(const struct sip_msg *msg)
{
	if (!msg)
		return;

	if (msg->req)
		++st.in.req[method_index(&msg->met)];
	else if (msg->scode >= 100 && msg->scode < 700)
		++st.in.resp[msg->scode / 100 - 1];
}


/**
 * Take back the count of a message received that was sipd's own (the
 * start-up probe of listen.c)
 *
 * @param msg The message
 */
void stats_unreceived(const struct sip_msg *msg)
{
	if (msg && !msg->req && msg->scode >= 100 && msg->scode < 700 &&
	    st.in.resp[msg->scode / 100 - 1])
		--st.in.resp[msg->scode / 100 - 1];
}


/**
 * Count a message sent, by its start line
 *
 * @param mb Buffer at the start of the message
 */
void stats_sent(const struct mbuf *mb)
{
	const char *p = (const char *)mbuf_buf(mb);
	size_t n = mbuf_get_left(mb);
	struct pl met;

	if (n >= 12 && !memcmp(p, "SIP/2.0 ", 8)) {
		if (p[8] >= '1' && p[8] <= '6')
			++st.out.resp[p[8] - '1'];
		return;
	}

	/* keepalives and the like are not SIP messages */
	met.p = p;
	for (met.l = 0; met.l < n && met.l < 16 && isupper((unsigned char)
							     p[met.l]);
	     met.l++)
		;

	if (!met.l || met.l >= n || p[met.l] != ' ')
		return;

	++st.out.req[method_index(&met)];
}


static bool valid_name(const char *name)
{
	const char *p;

	if (!name || !*name)
		return false;

	for (p = name; *p; p++) {
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p)
		    && *p != '_')
			return false;
	}

	return true;
}


/**
 * Register a figure of a module (in its init)
 *
 * @param fig Static figure; its name is lower-case letters, digits and
 *            '_', such as STAT_REGISTRATIONS; a reader (readh), or for a
 *            labelled figure its label(s) and labelsh
 */
void stats_register(struct stat_figure *fig)
{
	if (!fig || !(fig->readh || fig->labelsh) ||
	    !valid_name(fig->name)) {
		log_warning("stats: a figure without a valid name or reader"
			    " is ignored\n");
		return;
	}

	list_append(&st.figures, &fig->le, fig);
}


/**
 * Unregister a figure (in the module's close)
 *
 * @param fig Figure
 */
void stats_unregister(struct stat_figure *fig)
{
	if (fig)
		list_unlink(&fig->le);
}


/* The sum of the registered figures of a name; the first of them, NULL
   if there is none */
static const struct stat_figure *figure_read(const char *name,
					     uint64_t *value)
{
	const struct stat_figure *first = NULL;
	struct le *le;

	*value = 0;

	for (le = st.figures.head; le; le = le->next) {
		const struct stat_figure *fig = le->data;

		if (strcmp(fig->name, name))
			continue;

		if (fig->readh)
			*value += fig->readh(fig->arg);
		if (!first)
			first = fig;
	}

	return first;
}


static bool is_well_known(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(well_known); i++) {
		if (!strcmp(well_known[i].name, name))
			return true;
	}

	for (i = 0; i < ARRAY_SIZE(placed); i++) {
		if (!strcmp(placed[i], name))
			return true;
	}

	return !strcmp(name, STAT_AUTH_FAILURES) ||
		!strcmp(name, STAT_HANDOFFS_RECEIVED) ||
		!strcmp(name, STAT_DB_CHECKPOINTS);
}


struct walk {
	stat_value_h *h;
	void *arg;
	int err;
};


static void emit(struct walk *w, const char *name, enum stat_kind kind,
		 const char *help, const char *label, const char *lval,
		 uint64_t value, bool known)
{
	struct stat_value v;

	if (w->err)
		return;

	v.name  = name;
	v.kind  = kind;
	v.help  = help;
	v.label = label;
	v.lval  = lval;
	v.label2 = NULL;
	v.lval2 = NULL;
	v.value = value;
	v.known = known;

	w->err = w->h(&v, w->arg);
}


static void emit_module(struct walk *w, const char *name,
			enum stat_kind kind, const char *help)
{
	uint64_t value;
	bool known = figure_read(name, &value) != NULL;

	emit(w, name, kind, help, NULL, NULL, value, known);
}


/* A figure of placed[], as its module registered it ("-" without one) */
static void emit_placed(struct walk *w, const char *name)
{
	uint64_t value;
	const struct stat_figure *fig = figure_read(name, &value);

	emit(w, name, fig ? fig->kind : STAT_COUNTER, fig ? fig->help : "",
	     NULL, NULL, value, fig != NULL);
}


static void emit_messages(struct walk *w, const struct msg_counts *mc,
			  const char *dir)
{
	char name[32];
	char help[64];
	unsigned i;

	(void)re_snprintf(name, sizeof(name), "requests_%s", dir);
	(void)re_snprintf(help, sizeof(help), "SIP requests %s, by method",
			  dir);
	for (i = 0; i <= METHODS_KNOWN; i++)
		emit(w, name, STAT_COUNTER, help, "method", method_name(i),
		     mc->req[i], true);

	(void)re_snprintf(name, sizeof(name), "responses_%s", dir);
	(void)re_snprintf(help, sizeof(help), "SIP responses %s, by status"
			  " class", dir);
	for (i = 0; i < CLASSES; i++)
		emit(w, name, STAT_COUNTER, help, "class", class_names[i],
		     mc->resp[i], true);
}


static void emit_counter(struct walk *w, enum stats_counter c)
{
	emit(w, counter_info[c].name, STAT_COUNTER, counter_info[c].help,
	     NULL, NULL, st.counters[c], true);
}


struct labelled {
	struct walk *w;
	const struct stat_figure *fig;
};


static void label_handler(const char *lval, const char *lval2,
			  uint64_t value, void *ctx)
{
	struct labelled *l = ctx;
	const struct stat_figure *fig = l->fig;
	struct stat_value v;

	if (l->w->err)
		return;

	v.name   = fig->name;
	v.kind   = fig->kind;
	v.help   = fig->help;
	v.label  = fig->label;
	v.lval   = lval;
	v.label2 = lval2 ? fig->label2 : NULL;
	v.lval2  = lval2;
	v.value  = value;
	v.known  = true;

	l->w->err = l->w->h(&v, l->w->arg);
}


/* Figures of modules that the status does not name itself */
static void emit_others(struct walk *w)
{
	struct le *le, *prev;

	for (le = st.figures.head; le; le = le->next) {
		const struct stat_figure *fig = le->data;
		bool seen = false;

		if (is_well_known(fig->name))
			continue;

		if (fig->labelsh) {
			struct labelled l = {w, fig};

			fig->labelsh(label_handler, &l, fig->arg);
			continue;
		}

		for (prev = st.figures.head; prev != le; prev = prev->next) {
			const struct stat_figure *p = prev->data;
			if (!strcmp(p->name, fig->name))
				seen = true;
		}

		if (!seen)
			emit_module(w, fig->name, fig->kind, fig->help);
	}
}


/**
 * Walk every figure, in the order status shows them
 *
 * @param h   Handler, called for each value (each label of a labelled
 *            figure, in turn)
 * @param arg Handler argument
 *
 * @return 0 if every call returned 0, otherwise the first error
 */
int stats_walk(stat_value_h *h, void *arg)
{
	struct walk w = {h, arg, 0};
	size_t i;

	emit(&w, "uptime_seconds", STAT_GAUGE, "Seconds since sipd started",
	     NULL, NULL, (tmr_jiffies() - st.started_ms) / 1000, true);
	emit(&w, "start_time_seconds", STAT_GAUGE,
	     "When sipd started, in seconds since the epoch", NULL, NULL,
	     (uint64_t)st.started, true);
	emit(&w, "reloads", STAT_COUNTER, "Configuration reloads applied",
	     NULL, NULL, reload_count(NULL), true);

	for (i = 0; i < ARRAY_SIZE(well_known); i++)
		emit_module(&w, well_known[i].name, well_known[i].kind,
			    well_known[i].help);

	emit_messages(&w, &st.in, "received");
	emit_messages(&w, &st.out, "sent");

	emit_counter(&w, STATS_MALFORMED);
	emit_counter(&w, STATS_SEND_ERRORS);
	emit_module(&w, STAT_AUTH_FAILURES, STAT_COUNTER,
		    "Failed digest authentications");

	emit_placed(&w, STAT_BANS_ACTIVE);
	emit_placed(&w, STAT_BANS);
	emit_placed(&w, STAT_BANNED_DROPS);
	emit_placed(&w, STAT_FLOOD_DROPS);
	emit_placed(&w, STAT_FLOOD_OPTIONS_DROPS);
	emit_placed(&w, STAT_SCANNER_DROPS);
	emit_counter(&w, STATS_JUNK);
	emit_counter(&w, STATS_OVER_LIMITS);
	emit_placed(&w, STAT_CONNECTIONS_OPEN);
	emit_placed(&w, STAT_CONNECTIONS_REFUSED);
	emit_counter(&w, STATS_MESSAGE_TIMEOUTS);
	emit_module(&w, STAT_HANDOFFS_RECEIVED, STAT_COUNTER,
		    "Requests another worker handed over for a connection of"
		    " this one");
	emit_module(&w, STAT_DB_CHECKPOINTS, STAT_COUNTER,
		    "WAL checkpoints made by the checkpoint thread");

	emit_others(&w);

	return w.err;
}


/**
 * When sipd started
 *
 * @return Epoch seconds
 */
int64_t stats_started(void)
{
	return st.started;
}


void stats_close(void)
{
	list_clear(&st.figures);
}
