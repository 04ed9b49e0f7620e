/**
 * @file stateless.c  Forward a request without transaction state
 *
 * sip_request() with stateful=false resolves the next hop (RFC 3263) and
 * sends once, but writes a random branch. A stateless proxy needs the same
 * branch for a retransmission (RFC 3261 16.11), so the send handler writes
 * sipd's own, computed from the request. The stateless proxy uses this
 * for every request, the stateful proxy for ACKs of 2xx and for CANCELs
 * that match no transaction.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include "engine.h"


enum {
	DNS_WAIT = 64 * SIP_T1,   /* keep the context while DNS answers */
};


struct sl_ctx {
	struct tmr tmr;
	struct sip_msg *msg;
	struct sipd_sock *in;
	struct sipd_sock *out;
	const struct static_route *route;  /* static route taken, or NULL */
	struct mbuf *hdrs;
	struct fwd_opts opts;
	char *routes;
	char *extra;            /* the target's lines (Diversion) */
	char *ruri;
	char rrbuf[600];
	bool record_route;
	bool sent;
};


static void ctx_destructor(void *arg)
{
	struct sl_ctx *ctx = arg;

	tmr_cancel(&ctx->tmr);
	mem_deref(ctx->msg);
	mem_deref((void *)ctx->route);
	mem_deref(ctx->hdrs);
	mem_deref(ctx->routes);
	mem_deref(ctx->extra);
	mem_deref(ctx->ruri);
}


static void ctx_timeout(void *arg)
{
	mem_deref(arg);
}


static int send_handler(enum sip_transp tp, const struct sa *src,
			const struct sa *dst, struct mbuf *mb, void *arg)
{
	struct sl_ctx *ctx = arg;
	char branch[48];
	struct pl ruri;
	int err;

	err = routes_tls_expect(ctx->route, tp, dst);
	if (err)
		return err;

	pl_set_str(&ruri, ctx->ruri);
	fwd_stateless_branch(branch, sizeof(branch), ctx->msg, &ruri);

	err = fwd_via_update(mb, branch, fwd_loop_hash(ctx->msg, &ruri),
			     sock_index(ctx->in), NULL);
	if (err)
		return err;

	if (ctx->record_route) {
		struct flow fa, fb;

		fa.sock = sock_index(ctx->in);
		fa.tp = ctx->msg->tp;
		fa.addr = ctx->msg->src;
		fb.sock = sock_index(ctx->out);
		fb.tp = tp;
		fb.addr = *dst;

		err = fwd_record_route(ctx->rrbuf, sizeof(ctx->rrbuf),
				       ctx->in, tp, src, &fa, &fb);
		if (err)
			return err;
		ctx->opts.record_route = ctx->rrbuf;
	}

	mbuf_reset(ctx->hdrs);
	err = fwd_headers(ctx->hdrs, ctx->msg, &ctx->opts);
	ctx->hdrs->pos = 0;
	ctx->sent = true;

	return err;
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


/**
 * Forward a request to one target without transaction state
 *
 * @param in   Socket the request came on
 * @param msg  The request
 * @param rr   The routing decision
 * @param t    The target
 *
 * @return 0 if sent (or on its way after DNS), otherwise errorcode
 */
int fwd_stateless(struct sipd_sock *in, const struct sip_msg *msg,
		  const struct route_result *rr, const struct route_target *t)
{
	struct sipd_sock *out = t->sock;
	struct sl_ctx *ctx;
	struct uri route;
	struct pl pl;
	int err;

	ctx = mem_zalloc(sizeof(*ctx), ctx_destructor);
	if (!ctx)
		return ENOMEM;

	ctx->msg = mem_ref((void *)msg);
	ctx->route = mem_ref((void *)t->route);
	ctx->in = in;
	ctx->record_route = creates_dialog(msg);

	err  = str_dup(&ctx->ruri, t->ruri);
	if (t->routes)
		err |= str_dup(&ctx->routes, t->routes);
	if (t->extra)
		err |= str_dup(&ctx->extra, t->extra);   /* Diversion */
	if (err)
		goto out;

	ctx->opts.routes_popped = rr->routes_popped;
	ctx->opts.drop_last_route = rr->strict;
	ctx->opts.routes = ctx->routes;
	ctx->opts.cseq_delta = rr->cseq_delta;
	ctx->opts.extra = ctx->extra;

	ctx->hdrs = mbuf_alloc(1024);
	if (!ctx->hdrs) {
		err = ENOMEM;
		goto out;
	}

	pl_set_str(&pl, t->nexthop ? t->nexthop : t->ruri);
	err = uri_decode(&route, &pl);
	if (err)
		goto out;

	if (!out) {
		enum sip_transp tp = uri_transp(&route);

		out = sock_choose(tp, route.af, in);
		if (!out)
			out = sock_choose(tp, AF_UNSPEC, in);
	}

	if (!out) {
		err = EPROTONOSUPPORT;
		goto out;
	}

	ctx->out = out;

	/* header block for now; the send handler rebuilds it */
	err = fwd_headers(ctx->hdrs, msg, &ctx->opts);
	if (err)
		goto out;
	ctx->hdrs->pos = 0;

	err = sip_request(NULL, sock_sip(out), false, msg->met.p,
			  (int)msg->met.l, ctx->ruri, -1, &route, ctx->hdrs,
			  hash_joaat_pl(&msg->callid), send_handler, NULL,
			  ctx);
	if (err)
		goto out;

	if (!ctx->sent) {
		/* a DNS lookup is under way: keep the context for it */
		tmr_start(&ctx->tmr, DNS_WAIT, ctx_timeout, ctx);
		return 0;
	}

 out:
	mem_deref(ctx);

	return err;
}
