/**
 * @file shared.c  The calls of other nodes (and other workers): busy
 *                 lamps that follow calls proxied anywhere
 *
 * With several nodes on PostgreSQL (node_name), the call events of this
 * process's proxy are told to every other sipd process of the database
 * through PostgreSQL's NOTIFY on the channel "sipd" (lib/db's
 * db_pg_notify_after_commit(): "calls", then one event a line, its fields separated by tabs), gathered for one turn
 * of the loop into one notification. Those of the others come back
 * through lib/db's LISTEN (presence.c's db_changed()) and count as this
 * process's own: the dialog package lists them, the presence package
 * shows on-the-phone. A call proxied by two nodes (one routing to the
 * other) is told twice; what callstate.c already knows changes nothing.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include <sipd.h>
#include <node/node.h>
#include "presence.h"


enum {
	PAYLOAD_MAX = 7900,        /* PostgreSQL's limit is 8000 bytes */
};


static struct {
	struct mbuf *mb;           /* lines waiting for the next turn */
	struct tmr tmr;
} sh;


static void flush(void *arg)
{
	(void)arg;

	if (!sh.mb || !sh.mb->end)
		return;

	(void)mbuf_write_u8(sh.mb, 0);
	db_pg_notify_after_commit("calls", (const char *)sh.mb->buf);

	sh.mb = mem_deref(sh.mb);
}


/**
 * Tell the other sipd processes of the database of a call event
 *
 * @param ce The event, of this process's proxy
 */
void shared_call_send(const struct call_event *ce)
{
	size_t start;

	if (!node_self() || !db_pg_on())
		return;

	if (!sh.mb) {
		sh.mb = mbuf_alloc(512);
		if (!sh.mb)
			return;
	}

	start = sh.mb->end;
	if (mbuf_write_u8(sh.mb, '\n') || call_event_encode(sh.mb, ce) ||
	    sh.mb->end > PAYLOAD_MAX) {
		/* too much for one notification: this one goes next */
		sh.mb->pos = sh.mb->end = start;
		flush(NULL);
		if (start)
			shared_call_send(ce);
		return;
	}

	if (!tmr_isrunning(&sh.tmr))
		tmr_start(&sh.tmr, 0, flush, NULL);
}


/* One line of another process: its event, if it tells anything new */
static void line_take(char *line, shared_call_h *h)
{
	struct call_event ce;

	if (!call_event_decode(&ce, line) || callstate_known(&ce))
		return;

	h(&ce);
}


/**
 * Take the call events another process told
 *
 * @param key The notification after "calls": one event a line
 * @param h   Handler of each event that tells something new
 */
void shared_call_told(const char *key, shared_call_h *h)
{
	char *copy, *line, *next;

	if (str_dup(&copy, key))
		return;

	for (line = copy; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (*line)
			line_take(line, h);
	}

	mem_deref(copy);
}


/** Forget what waits (the module closes) */
void shared_close(void)
{
	tmr_cancel(&sh.tmr);
	sh.mb = mem_deref(sh.mb);
}
