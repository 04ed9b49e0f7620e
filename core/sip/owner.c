/**
 * @file owner.c  Responses for another worker's transaction, handed to it
 *
 * Every worker of a set sends its requests from the shared UDP listen
 * port, so that a phone behind a NAT sees them come from the port it
 * registered with. The kernel gives a datagram to the worker that the
 * hash of its addresses picks, and a response to a request of worker 1
 * may reach worker 0. The branch of every request a worker sends ends
 * with the worker's index (workers.c), so the worker that reads a
 * response looks at the branch of its top Via, before libre decodes it,
 * and hands a response for another worker to it, through the hook the
 * daemon registers (daemon/handoff.c). What cannot be read as one of
 * the set's branches stays here, as before.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <strings.h>
#include <re.h>
#include "core.h"


static owner_handoff_h *handoffh;


/* The first value of the first Via header of a raw message, up to its
   comma or the end of its line */
static bool top_via(struct pl *via, const struct pl *msg)
{
	const char *p = msg->p, *end = msg->p + msg->l;

	for (;;) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *line, *colon, *name_end, *v;

		if (!eol)
			return false;

		line = eol + 1;
		if (line >= end || *line == '\r' || *line == '\n')
			return false;        /* the end of the headers */

		p = line;
		colon = memchr(line, ':', (size_t)(end - line));
		eol = memchr(line, '\n', (size_t)(end - line));
		if (!colon || (eol && colon > eol))
			continue;

		name_end = colon;
		while (name_end > line && (name_end[-1] == ' ' ||
					   name_end[-1] == '\t'))
			--name_end;

		if (!((name_end - line == 3 && !strncasecmp(line, "Via", 3)) ||
		      (name_end - line == 1 && (*line == 'v' || *line == 'V'))))
			continue;

		v = colon + 1;
		eol = eol ? eol : end;
		via->p = v;
		via->l = (size_t)(eol - v);
		v = memchr(via->p, ',', via->l);
		if (v)
			via->l = (size_t)(v - via->p);

		return true;
	}
}


/**
 * Hand a UDP response to the worker whose request it answers, if that
 * is another worker (wire.c, for every datagram before libre reads it)
 *
 * @param sock The socket it arrived on
 * @param src  Its source
 * @param mb   The datagram, at its start
 *
 * @return True if handed over (this worker drops it)
 */
bool owner_elsewhere(const struct sipd_sock *sock, const struct sa *src,
		     const struct mbuf *mb)
{
	struct pl msg, via, params, branch;
	const char *semi;
	int w, err;

	if (!handoffh)
		return false;

	msg.p = (const char *)mbuf_buf(mb);
	msg.l = mbuf_get_left(mb);
	if (msg.l < 8 || memcmp(msg.p, "SIP/2.0 ", 8) || !top_via(&via, &msg))
		return false;

	semi = memchr(via.p, ';', via.l);
	if (!semi)
		return false;

	params.p = semi;
	params.l = (size_t)(via.p + via.l - semi);
	while (params.l && (params.p[params.l - 1] == '\r' ||
			    params.p[params.l - 1] == ' '))
		--params.l;

	if (msg_param_decode(&params, "branch", &branch))
		return false;

	w = worker_of_branch(&branch);
	if (w < 0 || w == worker_index())
		return false;

	err = handoffh((uint32_t)w, sock, src, mb);
	if (err) {
		log_debug("owner: a response for worker %d kept: %m\n", w,
			  err);
		return false;
	}

	return true;
}


/**
 * Set how a response goes to another worker (the daemon's hand-off)
 *
 * @param h Handler, or NULL for none (responses stay where they arrive)
 */
void owner_handoff_set(owner_handoff_h *h)
{
	handoffh = h;
}

