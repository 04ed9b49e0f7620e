/**
 * @file fwd.c  Building forwarded requests and responses (RFC 3261 16.6)
 *
 * libre has no forwarding helper: a proxy rebuilds the header block of a
 * request itself (pop its own Route values, decrement Max-Forwards, add
 * Record-Route, drop the credentials meant for it) and, for a response,
 * drops its own Via and sends it to the next one. Both proxy roles use
 * these functions.
 *
 * The Via sipd writes carries two extension parameters: "lh", a hash of
 * what identifies the request for loop detection (16.3 step 4), and "si",
 * the index of the socket the request arrived on, so that a response
 * relayed without state leaves from that socket (and TCP connection).
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <strings.h>
#include <re.h>
#include "engine.h"


/* Does a branch start with the RFC 3261 magic cookie? 0 if it does */
static int pl_strncmp_magic(const struct pl *branch)
{
	if (branch->l < 8 || memcmp(branch->p, "z9hG4bK", 7))
		return 1;

	return 0;
}


static bool proxy_auth_is_ours(const struct sip_hdr *hdr)
{
	struct digest_cred cred;

	if (digest_cred_decode(&cred, &hdr->val))
		return false;

	return domain_is_served(&cred.realm);
}


static int print_values(struct mbuf *mb, const char *name, const char *vals)
{
	struct pl rest, one;
	int err = 0;

	if (!vals || !*vals)
		return 0;

	pl_set_str(&rest, vals);

	/* one header line a value, split at commas outside < > */
	while (rest.l) {
		size_t i;
		bool angle = false;

		for (i = 0; i < rest.l; i++) {
			if (rest.p[i] == '<')
				angle = true;
			else if (rest.p[i] == '>')
				angle = false;
			else if (rest.p[i] == ',' && !angle)
				break;
		}

		one.p = rest.p;
		one.l = i;
		while (one.l && (one.p[0] == ' ' || one.p[0] == '\t')) {
			++one.p;
			--one.l;
		}

		if (one.l)
			err |= mbuf_printf(mb, "%s: %r\r\n", name, &one);

		if (i >= rest.l)
			break;

		rest.p += i + 1;
		rest.l -= i + 1;
	}

	return err;
}


/*
 * The top Via as the server transport leaves it (RFC 3261 18.2.1, RFC
 * 3581 4): an "rport" without a value gets the source port, and
 * "received" the source address when rport is there or the sent-by
 * host is not that address. Responses relayed without state go back by
 * these.
 */
static int print_top_via(struct mbuf *mb, const struct sip_msg *msg,
			 const struct sip_hdr *hdr)
{
	const char *p = hdr->val.p, *end = hdr->val.p + hdr->val.l;
	const char *rport = NULL, *q;
	struct pl val;
	bool received;
	int err;

	for (q = p; q + 6 <= end; q++) {
		if (!strncasecmp(q, ";rport", 6) &&
		    (q + 6 == end || q[6] == ';' || q[6] == ' ' ||
		     q[6] == '\t')) {
			rport = q + 6;
			break;
		}
	}

	if (!sa_isset(&msg->src, SA_ALL))   /* not from the network */
		return mbuf_printf(mb, "Via: %r\r\n", &hdr->val);

	received = msg_param_decode(&msg->via.params, "received", &val) &&
		(rport || !sa_isset(&msg->via.addr, SA_ADDR) ||
		 !sa_cmp(&msg->via.addr, &msg->src, SA_ADDR));

	if (rport)
		err = mbuf_printf(mb, "Via: %b=%u%b", p, (size_t)(rport - p),
				  sa_port(&msg->src), rport,
				  (size_t)(end - rport));
	else
		err = mbuf_printf(mb, "Via: %r", &hdr->val);

	if (received)
		err |= mbuf_printf(mb, ";received=%j", &msg->src);
	err |= mbuf_write_str(mb, "\r\n");

	return err;
}


/**
 * Write the header block and body of a request to forward, everything
 * after the Via that sip_request() writes
 *
 * @param mb   Buffer to write to
 * @param msg  The request as received
 * @param opts What to change
 *
 * @return 0 if success, otherwise errorcode
 */
int fwd_headers(struct mbuf *mb, const struct sip_msg *msg,
		const struct fwd_opts *opts)
{
	uint32_t routes = sip_msg_hdr_count(msg, SIP_HDR_ROUTE);
	uint32_t route_idx = 0, maxfwd = 71;   /* none: 70 (16.6 step 3) */
	bool top = true;
	struct pl body;
	struct le *le;
	int err = 0;

	if (pl_isset(&msg->maxfwd))
		maxfwd = pl_u32(&msg->maxfwd);

	/* the Vias, in order */
	for (le = msg->hdrl.head; le; le = le->next) {
		const struct sip_hdr *hdr = le->data;

		if (hdr->id != SIP_HDR_VIA)
			continue;

		if (top)
			err |= print_top_via(mb, msg, hdr);
		else
			err |= mbuf_printf(mb, "Via: %r\r\n", &hdr->val);
		top = false;
	}

	err |= mbuf_printf(mb, "Max-Forwards: %u\r\n",
			   maxfwd ? maxfwd - 1 : 0);

	/* Route: new values first, then those left after ours */
	err |= print_values(mb, "Route", opts->routes);

	for (le = msg->hdrl.head; le; le = le->next) {
		const struct sip_hdr *hdr = le->data;

		if (hdr->id != SIP_HDR_ROUTE)
			continue;

		++route_idx;
		if (route_idx <= opts->routes_popped)
			continue;
		if (opts->drop_last_route && route_idx == routes)
			continue;

		err |= mbuf_printf(mb, "Route: %r\r\n", &hdr->val);
	}

	/* Record-Route: ours on top of the others */
	err |= print_values(mb, "Record-Route", opts->record_route);

	for (le = msg->hdrl.head; le; le = le->next) {
		const struct sip_hdr *hdr = le->data;

		switch (hdr->id) {

		case SIP_HDR_VIA:
		case SIP_HDR_ROUTE:
		case SIP_HDR_MAX_FORWARDS:
		case SIP_HDR_CONTENT_LENGTH:
			continue;

		case SIP_HDR_CSEQ:
			if (!opts->cseq_delta)
				break;
			err |= mbuf_printf(mb, "CSeq: %u %r\r\n",
					   msg->cseq.num + opts->cseq_delta,
					   &msg->cseq.met);
			continue;

		case SIP_HDR_PROXY_AUTHORIZATION:
			if (!opts->keep_proxy_auth &&
			    proxy_auth_is_ours(hdr))
				continue;
			break;

		default:
			break;
		}

		err |= mbuf_printf(mb, "%r: %r\r\n", &hdr->name, &hdr->val);
	}

	if (opts->extra)
		err |= mbuf_write_str(mb, opts->extra);

	if (msg_body(msg, &body))
		body.l = 0;

	err |= mbuf_printf(mb, "Content-Length: %zu\r\n\r\n", body.l);
	if (body.l)
		err |= mbuf_write_mem(mb, (const uint8_t *)body.p, body.l);

	return err;
}


/**
 * Build a response to forward upstream: the one received without its
 * top Via (ours)
 *
 * @param mbp             Pointer to allocated buffer, at its start
 * @param msg             The response as received
 * @param drop_challenges Leave out its WWW-/Proxy-Authenticate headers
 * @param cseq_delta      Added to the CSeq number (a trunk's dialog)
 * @param extra           More header lines, or NULL
 *
 * @return 0 if success, otherwise errorcode
 */
int fwd_response(struct mbuf **mbp, const struct sip_msg *msg,
		 bool drop_challenges, int32_t cseq_delta, const char *extra)
{
	struct mbuf *mb;
	struct pl body;
	bool first_via = true;
	struct le *le;
	int err;

	mb = mbuf_alloc(512 + mbuf_get_left(msg->mb));
	if (!mb)
		return ENOMEM;

	err = mbuf_printf(mb, "SIP/2.0 %u %r\r\n", msg->scode, &msg->reason);

	for (le = msg->hdrl.head; le; le = le->next) {
		const struct sip_hdr *hdr = le->data;

		if (hdr->id == SIP_HDR_VIA && first_via) {
			first_via = false;
			continue;
		}

		if (hdr->id == SIP_HDR_CONTENT_LENGTH)
			continue;

		if (drop_challenges && (hdr->id == SIP_HDR_WWW_AUTHENTICATE ||
					hdr->id == SIP_HDR_PROXY_AUTHENTICATE))
			continue;

		if (hdr->id == SIP_HDR_CSEQ && cseq_delta) {
			err |= mbuf_printf(mb, "CSeq: %u %r\r\n",
					   msg->cseq.num + cseq_delta,
					   &msg->cseq.met);
			continue;
		}

		err |= mbuf_printf(mb, "%r: %r\r\n", &hdr->name, &hdr->val);
	}

	if (extra)
		err |= mbuf_write_str(mb, extra);

	if (msg_body(msg, &body))
		body.l = 0;

	err |= mbuf_printf(mb, "Content-Length: %zu\r\n\r\n", body.l);
	if (body.l)
		err |= mbuf_write_mem(mb, (const uint8_t *)body.p, body.l);

	if (err) {
		mem_deref(mb);
		return err;
	}

	mb->pos = 0;
	*mbp = mb;

	return 0;
}


static int rr_uri(char *buf, size_t size, enum sip_transp tp,
		  const struct sa *laddr, const char *token)
{
	const char *param = sip_transp_param(tp);

	return re_snprintf(buf, size, "<sip:%s%s%J%s;lr>", token,
			   *token ? "@" : "", laddr, param) < 0 ?
		ENOMEM : 0;
}


/**
 * The Record-Route values of a proxy: one when the request leaves from
 * the socket it came on, two when it changes socket or transport (the
 * first facing the next hop, the second facing the previous one)
 *
 * @param buf   Buffer
 * @param size  Buffer size
 * @param in    Socket the request came on
 * @param tp    Transport it leaves on
 * @param laddr Local address it leaves from
 * @param a     The flow it came on, for the token, or NULL
 * @param b     The flow it leaves on, for the token, or NULL
 *
 * @return 0 if success, otherwise errorcode
 */
int fwd_record_route(char *buf, size_t size, const struct sipd_sock *in,
		     enum sip_transp tp, const struct sa *laddr,
		     const struct flow *a, const struct flow *b)
{
	char out_rr[256], in_rr[256], token[128] = "";
	int err;

	/* without a token, in-dialog requests follow the Contacts */
	if (a && b && flow_token(token, sizeof(token), a, b))
		token[0] = '\0';

	err = rr_uri(out_rr, sizeof(out_rr), tp, laddr, token);
	if (err)
		return err;

	if (sock_transp(in) == tp && sa_cmp(sock_laddr(in), laddr, SA_ALL)) {
		str_ncpy(buf, out_rr, size);
		return 0;
	}

	err = rr_uri(in_rr, sizeof(in_rr), sock_transp(in), sock_laddr(in),
		     token);
	if (err)
		return err;

	return re_snprintf(buf, size, "%s, %s", out_rr, in_rr) < 0 ?
		ENOMEM : 0;
}


/**
 * The loop-detection hash of a request as it is forwarded (16.6 step 8)
 *
 * @param msg  The request
 * @param ruri Request-URI it is forwarded with
 *
 * @return Hash
 */
uint32_t fwd_loop_hash(const struct sip_msg *msg, const struct pl *ruri)
{
	uint32_t h;

	h  = hash_joaat_pl(ruri);
	h ^= hash_joaat_pl(&msg->callid) * 31;
	h ^= hash_joaat_pl(&msg->from.tag) * 17;
	h ^= hash_joaat_pl(&msg->to.tag) * 13;
	h ^= msg->cseq.num * 2654435761u;

	return h;
}


/**
 * Check whether a request has already passed this server unchanged: a
 * Via of ours whose loop hash matches (a spiral, with another
 * Request-URI, does not)
 *
 * @param msg The request
 *
 * @return True if it is a loop
 */
bool fwd_is_loop(const struct sip_msg *msg)
{
	uint32_t h = fwd_loop_hash(msg, &msg->ruri);
	struct le *le;
	char want[16];

	re_snprintf(want, sizeof(want), "%08x", h);

	for (le = msg->hdrl.head; le; le = le->next) {
		const struct sip_hdr *hdr = le->data;
		struct sip_via via;
		struct pl lh;

		if (hdr->id != SIP_HDR_VIA)
			continue;

		if (sip_via_decode(&via, &hdr->val))
			continue;

		if (msg_param_decode(&via.params, "lh", &lh))
			continue;

		if (!pl_strcmp(&lh, want) && via_is_ours(&via))
			return true;
	}

	return false;
}


/**
 * Check whether a Via names one of sipd's sockets
 *
 * @param via Decoded Via
 *
 * @return True if ours
 */
bool via_is_ours(const struct sip_via *via)
{
	struct sa addr = via->addr;

	if (!sa_isset(&addr, SA_ADDR))
		return false;

	if (!sa_port(&addr))
		sa_set_port(&addr, sip_transp_port(via->tp, 0));

	return sock_for_laddr(via->tp == SIP_TRANSP_NONE ? SIP_TRANSP_UDP :
			      via->tp, &addr) != NULL;
}


static int next_hop(struct sa *dst, const struct sip_via *via)
{
	struct pl host, port;
	uint16_t p;

	/* maddr, else received, else the sent-by host */
	if (!msg_param_decode(&via->params, "maddr", &host) ||
	    !msg_param_decode(&via->params, "received", &host)) {
		if (sa_set(dst, &host, 0))
			return EINVAL;
	}
	else {
		*dst = via->addr;
		if (!sa_isset(dst, SA_ADDR))
			return EDESTADDRREQ;
	}

	p = sa_port(&via->addr);
	if (!msg_param_decode(&via->params, "rport", &port) && port.l)
		p = (uint16_t)pl_u32(&port);

	sa_set_port(dst, sip_transp_port(via->tp, p));

	return 0;
}


/**
 * Relay a response without transaction state: drop our top Via and send
 * it to the next one (received, rport, maddr), from the socket the
 * request came on
 *
 * @param msg        The response
 * @param cseq_delta Added to its CSeq number (a trunk's dialog)
 *
 * @return 0 if sent, ENOENT if the top Via is not ours, otherwise error
 */
int fwd_relay_response(const struct sip_msg *msg, int32_t cseq_delta)
{
	const struct sip_hdr *second = NULL;
	struct sipd_sock *sock = NULL;
	struct sip_via via;
	struct mbuf *mb;
	struct sa dst;
	struct pl si;
	uint32_t n = 0;
	struct le *le;
	int err;

	if (!via_is_ours(&msg->via))
		return ENOENT;

	for (le = msg->hdrl.head; le; le = le->next) {
		const struct sip_hdr *hdr = le->data;

		if (hdr->id == SIP_HDR_VIA && n++ == 1) {
			second = hdr;
			break;
		}
	}

	if (!second || sip_via_decode(&via, &second->val))
		return EBADMSG;

	err = next_hop(&dst, &via);
	if (err)
		return err;

	/* no broadcast, no multicast, no "any" */
	if (sa_is_any(&dst) ||
	    (sa_af(&dst) == AF_INET &&
	     ((sa_in(&dst) & 0xff) == 0xff || (sa_in(&dst) >> 28) == 0xe)))
		return EINVAL;

	if (!msg_param_decode(&msg->via.params, "si", &si))
		sock = sock_by_index(pl_u32(&si));

	if (!sock || sock_transp(sock) != (via.tp == SIP_TRANSP_NONE ?
					   SIP_TRANSP_UDP : via.tp))
		sock = sock_choose(via.tp == SIP_TRANSP_NONE ? SIP_TRANSP_UDP :
				   via.tp, sa_af(&dst), sock);
	if (!sock)
		return EPROTONOSUPPORT;

	err = fwd_response(&mb, msg, false, cseq_delta, NULL);
	if (err)
		return err;

	err = sip_send(sock_sip(sock), NULL, sock_transp(sock), &dst, mb);
	mem_deref(mb);

	return err;
}


/**
 * Put sipd's parameters on the Via line that sip_request() just wrote
 * (called from a send handler): the loop hash, the index of the socket
 * the request came on, and optionally a branch of sipd's own
 *
 * @param mb     Outgoing buffer: request line and Via line so far
 * @param branch Branch to write instead of libre's, or NULL to keep it
 * @param lh     Loop hash
 * @param si     Index of the socket the request came on
 * @param out    Buffer for the branch written (at least 48 bytes), or NULL
 *
 * @return 0 if success, otherwise errorcode
 */
int fwd_via_update(struct mbuf *mb, const char *branch, uint32_t lh,
		   uint32_t si, char *out)
{
	const char *buf = (const char *)mb->buf;
	struct pl line, val;
	const char *via;
	size_t end = mb->end;
	int err;

	/* the Via line is the last line written */
	if (end < 4 || buf[end-2] != '\r' || buf[end-1] != '\n')
		return EINVAL;

	via = NULL;
	{
		size_t i = end - 2;
		while (i > 0 && buf[i-1] != '\n')
			--i;
		via = buf + i;
	}

	line.p = via;
	line.l = buf + end - 2 - via;

	if (re_regex(line.p, line.l, ";branch=[^;]+", &val))
		return EINVAL;

	if (out)
		(void)pl_strcpy(&val, out, 48);

	if (branch) {
		/* rewrite from the branch value on */
		char rest[64];
		struct pl tail;

		tail.p = val.p + val.l;
		tail.l = line.p + line.l - tail.p;
		if (pl_strcpy(&tail, rest, sizeof(rest)))
			return EINVAL;

		mb->pos = mb->end = val.p - buf;
		err = mbuf_printf(mb, "%s%s", branch, rest);
		if (out)
			str_ncpy(out, branch, 48);
	}
	else {
		mb->pos = mb->end = end - 2;
		err = 0;
	}

	err |= mbuf_printf(mb, ";lh=%08x;si=%u\r\n", lh, si);

	return err;
}


/**
 * The branch of a request forwarded without state (RFC 3261 16.11): the
 * same for a retransmission, and for the CANCEL and the non-2xx ACK of an
 * INVITE, because it is computed from what identifies the transaction
 *
 * @param buf  Buffer of at least 48 characters
 * @param size Buffer size
 * @param msg  The request as received
 * @param ruri The Request-URI it is forwarded with
 */
void fwd_stateless_branch(char *buf, size_t size, const struct sip_msg *msg,
			  const struct pl *ruri)
{
	uint32_t h1, h2;

	if (!pl_strncmp_magic(&msg->via.branch)) {
		h1 = hash_joaat_pl(&msg->via.branch);
		h2 = hash_joaat_pl(&msg->via.sentby);
	}
	else {
		/* RFC 2543: no usable branch upstream */
		h1 = hash_joaat_pl(&msg->ruri) ^ hash_joaat_pl(&msg->callid);
		h2 = hash_joaat_pl(&msg->from.tag) ^ msg->cseq.num ^
			hash_joaat_pl(&msg->via.sentby);
	}

	h2 ^= hash_joaat_pl(ruri) * 31;

	(void)re_snprintf(buf, size, "z9hG4bKsl%08x%08x", h1, h2);
}
