/**
 * @file owner.c  Responses for another worker's transaction, handed to it
 *
 * Every worker of a set sends its requests from the shared UDP listen
 * port, so that a phone behind a NAT sees them come from the port it
 * registered with. The kernel gives a datagram to the worker that the
 * hash of its addresses picks, and a response to a request of worker 1
 * may reach worker 0. The branch of every request a worker sends ends
 * with the worker's index (workers.c), so the worker that reads a
 * response looks at the branch of its top Via (raw.c's scan) before
 * libre decodes it, and hands a response for another worker to it,
 * through the hook the daemon registers (daemon/handoff.c). What cannot
 * be read as one of the set's branches stays here, as before.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include "core.h"


static owner_handoff_h *handoffh;


enum {
	HEADERS_MAX = 32,      /* header lines looked at */
};


/* The first value of the first Via header of a raw message, up to its
   comma */
static bool top_via(struct pl *via, const struct mbuf *mb)
{
	struct raw_hdr hv[HEADERS_MAX];
	const struct raw_hdr *h;
	const char *comma;
	size_t hc, end;

	hc = raw_headers(hv, ARRAY_SIZE(hv), (const char *)mbuf_buf(mb),
			 mbuf_get_left(mb), &end);
	h = raw_find(hv, hc, "Via", 'v');
	if (!h)
		return false;

	*via = h->val;
	comma = pl_strchr(via, ',');
	if (comma)
		via->l = (size_t)(comma - via->p);

	return true;
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
	struct pl via, params, branch;
	const char *semi;
	int w, err;

	if (!handoffh || mbuf_get_left(mb) < 8 ||
	    memcmp(mbuf_buf(mb), "SIP/2.0 ", 8) || !top_via(&via, mb))
		return false;

	semi = pl_strchr(&via, ';');
	if (!semi)
		return false;

	params.p = semi;
	params.l = (size_t)(via.p + via.l - semi);
	while (params.l && params.p[params.l - 1] == ' ')
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

