/**
 * @file event_line.c  A call event as one line of text, for another
 *                     process: the nodes (PostgreSQL NOTIFY) and the
 *                     workers of a set (a local datagram)
 *
 * Its fields in the order of struct call_event, separated by tabs:
 * aor, state, initiator, Call-ID, local tag, remote tag, peer, local URI,
 * final status. A field that holds a tab or a line end is refused.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <stdlib.h>
#include <re.h>
#include "core.h"


enum {
	CALL_FIELDS = 9,
};


static const char *str(const char *s)
{
	return s ? s : "";
}


static bool plain(const char *s)
{
	return !s || !strpbrk(s, "\t\r\n");
}


/**
 * Print a call event as a line (without its line end)
 *
 * @param mb Buffer, written at its position
 * @param ce The event
 *
 * @return 0 if success, EINVAL if a field cannot go in a line
 */
int call_event_encode(struct mbuf *mb, const struct call_event *ce)
{
	if (!ce || !ce->aor || !plain(ce->aor) || !plain(ce->call_id) ||
	    !plain(ce->local_tag) || !plain(ce->remote_tag) ||
	    !plain(ce->peer) || !plain(ce->local_uri))
		return EINVAL;

	return mbuf_printf(mb, "%s\t%u\t%u\t%s\t%s\t%s\t%s\t%s\t%u",
			   ce->aor, ce->state, ce->initiator,
			   str(ce->call_id), str(ce->local_tag),
			   str(ce->remote_tag), str(ce->peer),
			   str(ce->local_uri), ce->code);
}


/**
 * Read a call event from a line, which is split in place (the event
 * points into it)
 *
 * @param ce   The event, set
 * @param line The line, without its line end
 *
 * @return True if it is a whole event with an AOR, a Call-ID and a state
 */
bool call_event_decode(struct call_event *ce, char *line)
{
	char *f[CALL_FIELDS];
	int i;

	for (i = 0; i < CALL_FIELDS; i++) {
		f[i] = line;
		line = strchr(line, '\t');
		if (!line && i < CALL_FIELDS - 1)
			return false;
		if (line)
			*line++ = '\0';
	}

	memset(ce, 0, sizeof(*ce));
	ce->aor        = f[0];
	ce->state      = (enum call_state)atoi(f[1]);
	ce->initiator  = atoi(f[2]) != 0;
	ce->call_id    = f[3];
	ce->local_tag  = f[4];
	ce->remote_tag = f[5];
	ce->peer       = f[6];
	ce->local_uri  = f[7];
	ce->code       = (uint16_t)atoi(f[8]);

	return *ce->aor && *ce->call_id && ce->state <= CALL_TERMINATED;
}
