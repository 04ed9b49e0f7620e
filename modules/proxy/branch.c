/**
 * @file branch.c  A branch of the stateful proxy: one client transaction
 *
 * libre's sip_request() runs the client transaction, resolves the next
 * hop and writes the top Via; its send handler is where sipd learns the
 * transport and local address, so the header block (with Record-Route
 * for that address) is rebuilt there. Timer C guards an INVITE branch
 * that rings forever. sipd sends its own CANCEL, so that it can carry a
 * Reason header (RFC 3326), e.g. "Call completed elsewhere".
 *
 * A branch whose next hop does not resolve is never sent. libre ends it
 * with EDESTADDRREQ whether the name does not exist or the DNS servers
 * failed, so sipd asks for the host's A record once more and reads the
 * answer's code: a name that does not exist (NXDOMAIN) or has no address
 * ends the branch as 404, a DNS that fails or does not answer as 503,
 * and a log line names the host and the DNS error. libre's DNS client
 * retries a silent server for over a minute: a branch not sent after
 * DNS_WAIT ends as 503 first, well before the caller's own timeout.
 *
 * A branch to a member of a server pool counts as one of its calls from
 * its start to its end (a confirmed call: to its BYE, calls.c); a 503
 * from a member drains it (lib/pool). A ring group's member rings for
 * its time, then its branch is cancelled and the next one goes.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include <sipd.h>
#include <pool/pool.h>
#include "proxy.h"


struct proxy_conf proxy_conf = {
	.timer_c = TIMER_C_DEFAULT * 1000,
};

/* where a branch's final outcome goes (its proxy transaction) */
static branch_response_h *branch_response;


enum {
	BRANCH_HASH_SIZE = 1024,
	DNS_WAIT = 10000,           /* ms for the next hop's lookup */
	CANCEL_WAIT = 64 * SIP_T1,
};


static struct hash *branches;


static void branch_destructor(void *arg)
{
	struct branch *b = arg;

	tmr_cancel(&b->tmr_c);
	tmr_cancel(&b->tmr_cancel);
	tmr_cancel(&b->tmr_dns);
	tmr_cancel(&b->tmr_ring);
	if (b->counted)
		pool_member_call(b->target->member, -1);
	mem_deref(b->dq);
	hash_unlink(&b->he);
	list_unlink(&b->le);
	b->req = mem_deref(b->req);
	mem_deref(b->hdrs);
	mem_deref(b->cancel);
	mem_deref(b->extra);
}


static bool creates_dialog(const struct sip_msg *msg)
{
	if (pl_isset(&msg->to.tag))
		return false;

	return msg_method_is(msg, "INVITE") ||
		msg_method_is(msg, "SUBSCRIBE") ||
		msg_method_is(msg, "REFER") ||
		msg_method_is(msg, "NOTIFY");
}


static int send_handler(enum sip_transp tp, const struct sa *src,
			const struct sa *dst, struct mbuf *mb, void *arg)
{
	struct branch *b = arg;
	struct ptrans *pt = b->pt;
	struct pl ruri;
	int err;

	pl_set_str(&ruri, b->target->ruri);

	/* a route over TLS: the connection opened for it checks the
	   server as the route says */
	err = routes_tls_expect(b->target->route, tp, dst);
	if (err)
		return err;

	hash_unlink(&b->he);

	err = fwd_via_update(mb, NULL, fwd_loop_hash(pt->msg, &ruri),
			     sock_index(pt->sock), b->id);
	if (err)
		return err;

	hash_append(branches, hash_joaat_str(b->id), &b->he, b);

	b->tp = tp;
	b->laddr = *src;
	b->dst = *dst;
	b->sent = true;
	tmr_cancel(&b->tmr_dns);

	if (creates_dialog(pt->msg)) {
		struct flow fa, fb;

		fa.sock = sock_index(pt->sock);
		fa.tp = pt->msg->tp;
		fa.addr = pt->msg->src;
		fb.sock = sock_index(b->out);
		fb.tp = tp;
		fb.addr = *dst;

		err = fwd_record_route(b->rrbuf, sizeof(b->rrbuf), pt->sock,
				       tp, src, &fa, &fb);
		if (err)
			return err;
		b->opts.record_route = b->rrbuf;
	}

	mbuf_reset(b->hdrs);
	err = fwd_headers(b->hdrs, pt->msg, &b->opts);
	b->hdrs->pos = 0;

	return err;
}


static void timer_c_handler(void *arg)
{
	struct branch *b = arg;

	log_info("proxy: %s: no final answer from %s in %u s\n",
		 b->id, b->target->ruri, proxy_conf.timer_c / 1000);

	if (b->provisional) {
		branch_cancel(b, NULL);
		return;
	}

	/* never answered: done with it, as a timeout */
	b->req = mem_deref(b->req);
	branch_response(b, ETIMEDOUT, NULL);
}


static void unresolved_end(struct branch *b, uint16_t scode,
			   const char *why, int err)
{
	struct uri uri;
	struct pl pl;

	pl_set_str(&pl, b->target->nexthop ? b->target->nexthop :
		   b->target->ruri);
	if (uri_decode(&uri, &pl))
		uri.host = pl;

	log_warning("proxy: %r %s: cannot resolve %r: %s%s%m\n",
		    &b->pt->msg->met, b->target->ruri, &uri.host, why,
		    err ? ": " : "", err);

	b->unresolved = scode;
	b->dq = mem_deref(b->dq);
	b->req = mem_deref(b->req);
	tmr_cancel(&b->tmr_c);
	tmr_cancel(&b->tmr_dns);
	branch_response(b, err ? err : EDESTADDRREQ, NULL);
}


static void diag_handler(int err, const struct dnshdr *hdr, struct list *ansl,
			 struct list *authl, struct list *addl, void *arg)
{
	struct branch *b = arg;
	(void)authl;
	(void)addl;

	if (err)
		unresolved_end(b, 503, "no answer from the DNS servers", err);
	else if (hdr->rcode == DNS_RCODE_NAME_ERR)
		unresolved_end(b, 404, "no such domain (NXDOMAIN)", 0);
	else if (hdr->rcode != DNS_RCODE_OK)
		unresolved_end(b, 503, hdr->rcode == DNS_RCODE_SRV_FAIL ?
			       "the DNS server failed (SERVFAIL)" :
			       "the DNS server refused the query", 0);
	else if (list_isempty(ansl))
		unresolved_end(b, 404, "no NAPTR, SRV or address records", 0);
	else
		unresolved_end(b, 503, "its records did not answer", 0);
}


static void dns_wait_handler(void *arg)
{
	struct branch *b = arg;

	unresolved_end(b, 503, "no answer from the DNS servers in time",
		       ETIMEDOUT);
}


/* A branch that never left: find out why its next hop did not resolve */
static bool unresolved_start(struct branch *b, int err)
{
	struct uri uri;
	struct sa sa;
	struct pl pl;
	char host[256];

	if (b->sent || b->unresolved || !sipd_dnsc())
		return false;

	pl_set_str(&pl, b->target->nexthop ? b->target->nexthop :
		   b->target->ruri);
	if (uri_decode(&uri, &pl) || !sa_set(&sa, &uri.host, 0) ||
	    pl_strcpy(&uri.host, host, sizeof(host)))
		return false;

	if (err == ECONNABORTED)         /* canceled before it left */
		return false;

	if (err != EDESTADDRREQ) {
		unresolved_end(b, 503, "the lookup failed", err);
		return true;
	}

	if (dnsc_query(&b->dq, sipd_dnsc(), host, DNS_TYPE_A, DNS_CLASS_IN,
		       true, diag_handler, b))
		unresolved_end(b, 404, "no NAPTR, SRV or address records", 0);

	return true;
}


static void resp_handler(int err, const struct sip_msg *msg, void *arg)
{
	struct branch *b = arg;

	if (!msg && err) {
		b->req = NULL;
		tmr_cancel(&b->tmr_c);
		if (unresolved_start(b, err))
			return;
	}

	if (msg && msg->scode < 200) {
		/* any provisional response, 100 too, allows a CANCEL (9.1,
		   16.8); those after 100 restart Timer C (16.7 step 2) */
		b->provisional = true;
		if (msg->scode > 100 &&
		    pl_strcmp(&msg->cseq.met, "INVITE") == 0)
			tmr_start(&b->tmr_c, proxy_conf.timer_c,
				  timer_c_handler, b);

		if (b->cancel_pending) {
			b->cancel_pending = false;
			branch_cancel(b, b->cancel_reason);
		}
	}
	else {
		/* libre ends the transaction: the request is gone */
		b->req = NULL;
		tmr_cancel(&b->tmr_c);
		tmr_cancel(&b->tmr_ring);
	}

	branch_response(b, err, msg);
}


static void ring_handler(void *arg)
{
	struct branch *b = arg;

	log_info("proxy: %s: %s rang %u s unanswered\n", b->id,
		 b->target->ruri, b->target->ring / 1000);

	b->rang_out = true;
	branch_cancel(b, "SIP;cause=480;text=\"No answer\"");
}


/**
 * A branch ended (a final response, or none: msg NULL): its pool member
 * learns of it. A 2xx leaves the call counted (calls.c ends it).
 *
 * @param b   Branch
 * @param msg Final response, or NULL
 */
void branch_settle(struct branch *b, const struct sip_msg *msg)
{
	struct pool_member *m = b->target->member;
	const struct sip_hdr *hdr;

	tmr_cancel(&b->tmr_ring);

	if (!m)
		return;

	if (msg && msg->scode == 503) {
		hdr = sip_msg_hdr(msg, SIP_HDR_RETRY_AFTER);
		pool_member_unavailable(m, hdr ? pl_u32(&hdr->val) : 0);
	}

	if (b->counted && !(msg && msg->scode < 300)) {
		b->counted = false;
		pool_member_call(m, -1);
	}
}


static struct sipd_sock *out_socket(const struct ptrans *pt,
				    const struct route_target *t,
				    const struct uri *route)
{
	enum sip_transp tp = uri_transp(route);
	struct sipd_sock *s;

	if (t->sock)
		return t->sock;

	s = sock_choose(tp, route->af, pt->sock);
	if (!s)
		s = sock_choose(tp, AF_UNSPEC, pt->sock);

	return s;
}


/**
 * Start a branch towards a target
 *
 * @param bp    Pointer to the new branch (owned by the transaction)
 * @param pt    The proxy transaction
 * @param t     Target
 * @param extra Header lines to add (trunk credentials), or NULL
 * @param cseq_delta How much higher the target sees the CSeq
 *
 * @return 0 if it started, otherwise errorcode
 */
int branch_start(struct branch **bp, struct ptrans *pt,
		 const struct route_target *t, const char *extra,
		 int32_t cseq_delta)
{
	struct branch *b;
	struct uri route;
	struct pl pl;
	int err;

	b = mem_zalloc(sizeof(*b), branch_destructor);
	if (!b)
		return ENOMEM;

	list_append(&pt->branches, &b->le, b);
	b->pt = pt;
	b->target = t;

	/* the target's own lines (Diversion), then a trunk's credentials */
	if (extra || t->extra) {
		err = re_sdprintf(&b->extra, "%s%s", t->extra ? t->extra : "",
				  extra ? extra : "");
		if (err)
			goto out;
	}

	b->opts.routes_popped = pt->rr.routes_popped;
	b->opts.drop_last_route = pt->rr.strict;
	b->opts.routes = t->routes;
	b->opts.extra = b->extra;
	b->opts.cseq_delta = cseq_delta;
	b->cseq_delta = cseq_delta;

	b->hdrs = mbuf_alloc(1024);
	if (!b->hdrs) {
		err = ENOMEM;
		goto out;
	}

	pl_set_str(&pl, t->nexthop ? t->nexthop : t->ruri);
	err = uri_decode(&route, &pl);
	if (err)
		goto out;

	b->out = out_socket(pt, t, &route);
	if (!b->out) {
		err = EPROTONOSUPPORT;
		goto out;
	}

	err = fwd_headers(b->hdrs, pt->msg, &b->opts);
	if (err)
		goto out;
	b->hdrs->pos = 0;

	err = sip_request(&b->req, sock_sip(b->out), true, pt->msg->met.p,
			  (int)pt->msg->met.l, t->ruri, -1, &route, b->hdrs,
			  hash_joaat_pl(&pt->msg->callid), send_handler,
			  resp_handler, b);
	if (err)
		goto out;

	if (pt->invite)
		tmr_start(&b->tmr_c, proxy_conf.timer_c, timer_c_handler, b);

	if (pt->invite && t->ring)
		tmr_start(&b->tmr_ring, t->ring, ring_handler, b);

	if (pt->invite && t->member) {
		pool_member_call(t->member, +1);
		b->counted = true;
		log_debug("proxy: %r to pool %s member %s\n",
			  &pt->msg->callid, pool_member_pool(t->member),
			  pool_member_uri(t->member));
	}

	if (!b->sent)
		tmr_start(&b->tmr_dns, DNS_WAIT, dns_wait_handler, b);

	if (bp)
		*bp = b;

 out:
	if (err) {
		log_info("proxy: cannot send %r to %s: %m\n", &pt->msg->met,
			 t->ruri, err);
		mem_deref(b);
	}

	return err;
}


static void cancel_retransmit(void *arg)
{
	struct branch *b = arg;

	if (b->scode || ++b->cancel_txc > 10) {
		b->cancel = mem_deref(b->cancel);
		return;
	}

	(void)sip_send(sock_sip(b->out), NULL, b->tp, &b->dst, b->cancel);

	tmr_start(&b->tmr_cancel, MIN(SIP_T1 << b->cancel_txc, SIP_T2),
		  cancel_retransmit, b);
}


static void cancel_give_up(void *arg)
{
	struct branch *b = arg;

	if (b->scode)
		return;

	log_info("proxy: %s: no answer to CANCEL\n", b->id);

	/* libre's transaction may wait forever: end the branch here */
	b->req = mem_deref(b->req);
	branch_response(b, ETIMEDOUT, NULL);
}


static int cancel_build(struct branch *b, const char *reason)
{
	const struct sip_msg *msg = b->pt->msg;
	struct mbuf *mb;
	struct le *le;
	uint32_t n = 0;
	int err;

	mb = mbuf_alloc(512);
	if (!mb)
		return ENOMEM;

	err  = mbuf_printf(mb, "CANCEL %s SIP/2.0\r\n", b->target->ruri);
	err |= mbuf_printf(mb, "Via: SIP/2.0/%s %J;branch=%s;rport\r\n",
			   sip_transp_name(b->tp), &b->laddr, b->id);
	err |= mbuf_write_str(mb, "Max-Forwards: 70\r\n");

	/* the Route set of the INVITE */
	if (b->target->routes)
		err |= mbuf_printf(mb, "Route: %s\r\n", b->target->routes);

	for (le = msg->hdrl.head; le; le = le->next) {
		const struct sip_hdr *hdr = le->data;

		if (hdr->id != SIP_HDR_ROUTE)
			continue;
		if (++n <= b->pt->rr.routes_popped)
			continue;
		if (b->pt->rr.strict &&
		    n == sip_msg_hdr_count(msg, SIP_HDR_ROUTE))
			continue;
		err |= mbuf_printf(mb, "Route: %r\r\n", &hdr->val);
	}

	err |= mbuf_printf(mb, "To: %r\r\n", &msg->to.val);
	err |= mbuf_printf(mb, "From: %r\r\n", &msg->from.val);
	err |= mbuf_printf(mb, "Call-ID: %r\r\n", &msg->callid);
	err |= mbuf_printf(mb, "CSeq: %u CANCEL\r\n",
			   msg->cseq.num + b->cseq_delta);
	if (reason)
		err |= mbuf_printf(mb, "Reason: %s\r\n", reason);
	err |= mbuf_write_str(mb, "Content-Length: 0\r\n\r\n");

	if (err) {
		mem_deref(mb);
		return err;
	}

	mb->pos = 0;
	mem_deref(b->cancel);
	b->cancel = mb;

	return 0;
}


/**
 * Cancel a pending INVITE branch. Before a provisional response a CANCEL
 * must not be sent (RFC 3261 9.1): it waits for one.
 *
 * @param b      Branch
 * @param reason Reason header value, or NULL
 */
void branch_cancel(struct branch *b, const char *reason)
{
	if (b->scode || b->cancel_sent || !b->pt->invite)
		return;

	if (!b->provisional || !b->sent) {
		b->cancel_pending = true;
		b->cancel_reason = reason;
		return;
	}

	if (cancel_build(b, reason))
		return;

	b->cancel_sent = true;
	b->cancel_txc = 0;

	(void)sip_send(sock_sip(b->out), NULL, b->tp, &b->dst, b->cancel);

	tmr_cancel(&b->tmr_c);

	if (b->tp == SIP_TRANSP_UDP)
		tmr_start(&b->tmr_cancel, SIP_T1, cancel_retransmit, b);

	/* if even the CANCEL brings nothing, give up after Timer B */
	tmr_start(&b->tmr_c, CANCEL_WAIT, cancel_give_up, b);
}


static bool id_cmp(struct le *le, void *arg)
{
	const struct branch *b = le->data;

	return 0 == pl_strcmp(arg, b->id);
}


/**
 * Take a response to one of sipd's CANCELs (no libre transaction has it)
 *
 * @param msg Response
 *
 * @return True if it answered a CANCEL of a branch
 */
bool branch_cancel_response(const struct sip_msg *msg)
{
	struct branch *b;

	if (pl_strcmp(&msg->cseq.met, "CANCEL") || !branches)
		return false;

	b = list_ledata(hash_lookup(branches,
				    hash_joaat_pl(&msg->via.branch),
				    id_cmp, (void *)&msg->via.branch));
	if (!b)
		return false;

	if (msg->scode >= 200) {
		tmr_cancel(&b->tmr_cancel);
		b->cancel = mem_deref(b->cancel);
	}

	return true;
}


/**
 * Start the branches
 *
 * @param responseh Told of each branch's responses and its end (the
 *                  proxy transactions, ptrans.c)
 */
void branch_init(branch_response_h *responseh)
{
	branch_response = responseh;

	if (!branches)
		(void)hash_alloc(&branches, BRANCH_HASH_SIZE);
}


void branch_close(void)
{
	hash_clear(branches);
	branches = mem_deref(branches);
}
