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
#include <stdlib.h>
#include <re.h>
#include <sipd.h>
#include <node/node.h>
#include "presence.h"


enum {
	PAYLOAD_MAX = 7900,        /* PostgreSQL's limit is 8000 bytes */
	FIELDS = 9,
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


static const char *str(const char *s)
{
	return s ? s : "";
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
	if (mbuf_printf(sh.mb, "\n%s\t%u\t%u\t%s\t%s\t%s\t%s\t%s\t%u",
			ce->aor, ce->state, ce->initiator, str(ce->call_id),
			str(ce->local_tag), str(ce->remote_tag),
			str(ce->peer), str(ce->local_uri), ce->code) ||
	    sh.mb->end > PAYLOAD_MAX) {
		/* too much for one notification: this one goes next */
		sh.mb->end = start;
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
	char *f[FIELDS];
	struct call_event ce;
	int i;

	for (i = 0; i < FIELDS; i++) {
		f[i] = line;
		line = strchr(line, '\t');
		if (!line && i < FIELDS - 1)
			return;
		if (line)
			*line++ = '\0';
	}

	memset(&ce, 0, sizeof(ce));
	ce.aor        = f[0];
	ce.state      = (enum call_state)atoi(f[1]);
	ce.initiator  = atoi(f[2]) != 0;
	ce.call_id    = f[3];
	ce.local_tag  = f[4];
	ce.remote_tag = f[5];
	ce.peer       = f[6];
	ce.local_uri  = f[7];
	ce.code       = (uint16_t)atoi(f[8]);

	if (!*ce.aor || !*ce.call_id || ce.state > CALL_TERMINATED)
		return;

	if (callstate_known(&ce))
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
