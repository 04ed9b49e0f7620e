/**
 * @file share.c  The events of each worker of a set told to the others
 *
 * A worker sees the REGISTERs and calls that the kernel gives it, but
 * presence (worker 0's subscriptions: the reg and dialog packages, busy
 * lamps, open/closed from a registration) and the availability service
 * (a user's calls for busy_limit and forward-busy) need all of them.
 * Each worker therefore tells its call events to every other worker
 * (each counts a user's calls) and its binding events to worker 0 (the
 * only one with subscriptions): gathered for SHARE_DELAY ms, or until a
 * batch is full, one line an event, its fields separated by tabs, in one
 * local message to each (the daemon's transport, handoff.c). A worker that
 * reads a batch emits each event again, marked told, to its own
 * listeners: presence and availability take it as their own; the event
 * log leaves it to the worker that logged it; nothing told is told on.
 * A binding is told once committed: while the registrar's group
 * transaction is open (lib/db's group.c) the batch waits, so that the
 * worker told reads in the database what it is told.
 *
 * A part of the daemon: handoff.c carries the batches.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <stdlib.h>
#include <re.h>
#include "ops.h"


enum {
	SHARE_DELAY = 10,          /* ms an event waits for others   */
	BATCH_MAX = 48000,         /* bytes of a batch (a datagram)  */
	BINDING_FIELDS = 11,
};


static struct {
	share_send_h *sendh;
	struct mbuf *calls;        /* lines waiting, for every other worker */
	struct mbuf *bindings;     /* lines waiting, for worker 0 */
	struct tmr tmr;
	uint64_t sent, told;
} sh;


static const char *str(const char *s)
{
	return s ? s : "";
}


/* A value that a line can carry: no tab, no line end */
static bool plain(const char *s)
{
	return !s || !strpbrk(s, "\t\r\n");
}


static void batch_send(uint32_t worker, struct mbuf *mb)
{
	if (sh.sendh(worker, mb->buf, mb->end))
		log_debug("share: a batch for worker %u lost\n", worker);
}


static void flush(void *arg)
{
	uint32_t i;
	(void)arg;

	if (!sh.sendh)
		return;

	/* what the group writes is told once committed */
	if (db_group_open()) {
		tmr_start(&sh.tmr, 1, flush, NULL);
		return;
	}

	if (sh.bindings && sh.bindings->end) {
		batch_send(0, sh.bindings);
		mbuf_reset(sh.bindings);
		++sh.sent;
	}

	if (sh.calls && sh.calls->end) {
		for (i = 0; i < workers_count(); i++) {
			if ((int)i != worker_index())
				batch_send(i, sh.calls);
		}
		mbuf_reset(sh.calls);
		++sh.sent;
	}
}


static int binding_line(struct mbuf *mb, enum sipd_event_type type,
			const struct binding *b)
{
	if (!b->aor || !plain(b->aor) || !plain(b->contact) ||
	    !plain(b->callid) || !plain(b->instance) || !plain(b->params))
		return EINVAL;

	return mbuf_printf(mb, "B\t%u\t%s\t%s\t%lld\t%lld\t%u\t%s\t%u\t%s"
			   "\t%u\t%s\n", type, b->aor, str(b->contact),
			   (long long)b->id, (long long)b->expires, b->q,
			   str(b->callid), b->cseq, str(b->instance),
			   b->reg_id, str(b->params));
}


static int call_line(struct mbuf *mb, const struct call_event *ce)
{
	int err = mbuf_write_str(mb, "C\t");

	err |= call_event_encode(mb, ce);

	return err ? err : mbuf_write_u8(mb, '\n');
}


static void event_handler(const struct sipd_event *ev, void *arg)
{
	struct mbuf **mbp;
	size_t start;
	int err;
	(void)arg;

	if (ev->told || (!ev->binding && !ev->call))
		return;

	/* worker 0's bindings are for nobody else */
	if (ev->binding && worker_index() == 0)
		return;

	mbp = ev->binding ? &sh.bindings : &sh.calls;
	if (!*mbp) {
		*mbp = mbuf_alloc(1024);
		if (!*mbp)
			return;
	}

	start = (*mbp)->end;
	(*mbp)->pos = start;
	err = ev->binding ? binding_line(*mbp, ev->type, ev->binding) :
		call_line(*mbp, ev->call);
	if (err) {
		(*mbp)->end = start;
		return;
	}

	if ((*mbp)->end >= BATCH_MAX) {
		tmr_cancel(&sh.tmr);
		flush(NULL);
		return;
	}

	if (!tmr_isrunning(&sh.tmr))
		tmr_start(&sh.tmr, SHARE_DELAY, flush, NULL);
}


static struct event_listener listener = {
	.h = event_handler,
};


/* Split a line at its tabs: true if it has exactly n fields */
static bool fields(char **f, size_t n, char *line)
{
	size_t i;

	for (i = 0; i < n; i++) {
		f[i] = line;
		line = strchr(line, '\t');
		if (!line)
			return i == n - 1;
		*line++ = '\0';
	}

	return false;
}


static void binding_told(char *line)
{
	struct sipd_event ev;
	struct binding b;
	char *f[BINDING_FIELDS];

	if (!fields(f, BINDING_FIELDS, line))
		return;

	memset(&b, 0, sizeof(b));
	b.aor      = f[1];
	b.contact  = f[2];
	b.id       = strtoll(f[3], NULL, 10);
	b.expires  = strtoll(f[4], NULL, 10);
	b.q        = (uint16_t)atoi(f[5]);
	b.callid   = f[6];
	b.cseq     = (uint32_t)strtoul(f[7], NULL, 10);
	b.instance = *f[8] ? f[8] : NULL;
	b.reg_id   = (uint32_t)strtoul(f[9], NULL, 10);
	b.params   = f[10];

	memset(&ev, 0, sizeof(ev));
	ev.type = (enum sipd_event_type)atoi(f[0]);
	if (!*b.aor || ev.type > EVENT_BINDING_EXPIRED)
		return;

	ev.binding = &b;
	ev.told = true;
	event_emit(&ev);
}


static void call_told(char *line)
{
	struct sipd_event ev;
	struct call_event ce;

	if (!call_event_decode(&ce, line))
		return;

	memset(&ev, 0, sizeof(ev));
	ev.type = EVENT_CALL;
	ev.call = &ce;
	ev.told = true;
	event_emit(&ev);
}


/**
 * The events another worker told (the daemon's transport): each is
 * emitted to this worker's listeners, marked told
 *
 * @param p Batch, lines of "B" (binding) or "C" (call) and tabs
 * @param n Its length
 */
void share_told(const uint8_t *p, size_t n)
{
	char *copy, *line, *next;

	if (!n || n > BATCH_MAX * 2)
		return;

	copy = mem_alloc(n + 1, NULL);
	if (!copy)
		return;

	memcpy(copy, p, n);
	copy[n] = '\0';
	++sh.told;

	for (line = copy; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';

		if (line[0] == 'B' && line[1] == '\t')
			binding_told(line + 2);
		else if (line[0] == 'C' && line[1] == '\t')
			call_told(line + 2);
	}

	mem_deref(copy);
}


/**
 * Set how a batch goes to another worker (the daemon, when it runs a
 * set of workers), and start telling; NULL stops
 *
 * @param h Send handler, or NULL
 */
void share_transport(share_send_h *h)
{
	if (h && !sh.sendh)
		event_listen(&listener);
	else if (!h && sh.sendh)
		event_unlisten(&listener);

	sh.sendh = h;
	if (!h) {
		tmr_cancel(&sh.tmr);
		sh.calls = mem_deref(sh.calls);
		sh.bindings = mem_deref(sh.bindings);
	}
}


/**
 * Batches this worker sent and was told
 *
 * @param sent Set to the batches sent (each to every other worker)
 * @param told Set to the batches told by the others
 */
void share_counts(uint64_t *sent, uint64_t *told)
{
	*sent = sh.sent;
	*told = sh.told;
}
