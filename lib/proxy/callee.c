/**
 * @file callee.c  Who takes a call to a local address, and where it goes
 *
 * Shared by the proxy roles and the redirect role. For an address of a
 * served domain, in this order:
 *
 *  - a ring group (groups.c) rings those of its members who can take a
 *    call: all at once, or one after the other (lower q, a ring time);
 *  - an "always" forward sends the call to its target;
 *  - a user who cannot take a call is busy: one who published busy or
 *    dnd (lib/avail, told by the presence role), or who is on busy_limit
 *    calls already (sipctl user set USER busy_limit N): the busy forward,
 *    else 486;
 *  - its phones, without those whose last keep-alive went unanswered
 *    (lib/avail, told by the registrar); none: the unavailable forward,
 *    else 480;
 *  - the busy and no-answer forwards of the address called are kept with
 *    the decision, for the stateful proxy to take when every phone
 *    answers busy or none answers in time.
 *
 * A forward's target is a local user (whose own rules apply in turn), a
 * ring group, a number (sip:NUMBER@the user's domain, sent by the routes)
 * or any SIP URI. Each forward adds a Diversion header (RFC 5806) naming
 * the user who forwarded. A chain of forwards that comes back to an
 * address it passed ends with 482, and one longer than HOPS_MAX too; a
 * forward to the caller is not taken. A number or domain whose route
 * names a server pool (lib/pool) goes to the pool's live members, best
 * first, with falling q.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include <pool/pool.h>
#include <avail/avail.h>
#include <store/store.h>
#include "engine.h"


enum {
	HOPS_MAX = 5,
};


/** One resolution of a request for a local address */
struct callee {
	struct route_result *rr;
	const struct sip_msg *msg;
	bool redirect;               /* for a 302: no fallbacks */
	bool top;                    /* resolving the address called */
	char visited[HOPS_MAX][256];
	uint32_t hops;
	char *diversion;             /* Diversion lines so far, or NULL */
};


static const char *kind_how[FORWARD_KINDS] = {
	"forward-always", "forward-busy", "forward-noanswer",
	"forward-unavailable",
};

/* RFC 5806 diversion reasons */
static const char *kind_reason[FORWARD_KINDS] = {
	"unconditional", "user-busy", "no-answer", "unavailable",
};


static int fail(struct route_result *rr, uint16_t scode, const char *reason)
{
	rr->scode = scode;
	rr->reason = reason;

	return 0;
}


static void target_destructor(void *arg)
{
	struct route_target *t = arg;

	list_unlink(&t->le);
	mem_deref(t->ruri);
	mem_deref(t->nexthop);
	mem_deref(t->routes);
	mem_deref(t->aor);
	mem_deref(t->extra);
	mem_deref(t->member);
	mem_deref((void *)t->route);
}


/**
 * Add a target at the end of a list
 *
 * @param tp   New target (q 1000)
 * @param list List of struct route_target
 *
 * @return 0 if success, otherwise errorcode
 */
int target_new(struct route_target **tp, struct list *list)
{
	struct route_target *t;

	t = mem_zalloc(sizeof(*t), target_destructor);
	if (!t)
		return ENOMEM;

	t->q = 1000;
	list_append(list, &t->le, t);
	*tp = t;

	return 0;
}


static void routed(const struct callee *cx, const char *how,
		   const char *callee, const char *target)
{
	struct routed_event re;
	struct sipd_event ev;
	char call_id[256] = "";

	if (cx->msg)
		(void)pl_strcpy(&cx->msg->callid, call_id, sizeof(call_id));

	re.call_id = call_id;
	re.caller = cx->rr->caller;
	re.callee = callee;
	re.how = how;
	re.target = target;

	memset(&ev, 0, sizeof(ev));
	ev.type = EVENT_ROUTED;
	ev.routed = &re;

	log_debug("route: %s: %s %s -> %s\n", call_id, how, callee, target);

	event_emit(&ev);
}


/**
 * Tell how a call was steered (the event log, the log)
 *
 * @param msg    The request
 * @param caller Caller AOR, or ""
 * @param how    "forward-busy", "pool", ...
 * @param callee The address called
 * @param target Where it goes now
 */
void route_routed(const struct sip_msg *msg, const char *caller,
		  const char *how, const char *callee, const char *target)
{
	struct route_result rr;
	struct callee cx;

	memset(&cx, 0, sizeof(cx));
	str_ncpy(rr.caller, caller ? caller : "", sizeof(rr.caller));
	cx.rr = &rr;
	cx.msg = msg;

	routed(&cx, how, callee, target);
}


static int split_aor(const char *aor, char *user, size_t usize,
		     char *domain, size_t dsize)
{
	const char *at = strrchr(aor, '@');

	if (!at)
		return EINVAL;

	str_ncpy(user, aor, MIN(usize, (size_t)(at - aor) + 1));
	str_ncpy(domain, at + 1, dsize);

	return 0;
}


/* The first URI of a comma-separated list of name-addrs */
static int first_uri(char **dst, const char *list)
{
	struct pl pl, uri;

	pl_set_str(&pl, list);
	if (re_regex(pl.p, pl.l, "<[^>]+>", &uri))
		return EBADMSG;

	return pl_strdup(dst, &uri);
}


/*
 * Is a binding reached where its REGISTER came from: through its NAT, or
 * through the connection it came on while that is open? Otherwise its
 * Contact is (over a connection: a new one to the phone's SIP port).
 */
static bool by_received(const struct binding *b)
{
	if (binding_behind_nat(b))
		return true;

	/* a browser accepts no connection */
	if (b->tp == SIP_TRANSP_WS || b->tp == SIP_TRANSP_WSS)
		return true;

	return b->tp != SIP_TRANSP_UDP && conn_is_open(b->tp, &b->received);
}


static int target_extra(struct route_target *t, const struct callee *cx)
{
	return cx->diversion ? str_dup(&t->extra, cx->diversion) : 0;
}


/*
 * The phones of a user that can take a call. q: the q of every target
 * (a ring group's order), 0: each binding's own; ring: ms, 0: none
 */
static int bindings_targets(const struct callee *cx, struct list *out,
			    const char *aor, uint16_t q, uint32_t ring,
			    uint32_t *added)
{
	struct list bindings = LIST_INIT;
	struct le *le;
	int err;

	*added = 0;

	err = location_lookup(&bindings, aor);
	if (err)
		return err;

	for (le = bindings.head; le; le = le->next) {
		const struct binding *b = le->data;
		struct route_target *t;

		if (!avail_binding_usable(b)) {
			log_debug("route: %s: %s skipped, its keep-alive"
				  " went unanswered\n", aor, b->contact);
			continue;
		}

		err = target_new(&t, out);
		if (err)
			break;

		++*added;
		t->q = q ? q : b->q;
		t->ring = ring;
		t->expires = b->expires;
		err  = str_dup(&t->ruri, b->contact);
		err |= str_dup(&t->aor, aor);
		err |= target_extra(t, cx);
		if (err)
			break;

		if (b->path && *b->path) {
			/* the edge proxies of the Path come first */
			err  = str_dup(&t->routes, b->path);
			err |= first_uri(&t->nexthop, b->path);
		}
		else if (b->sock && *b->sock &&
			 sa_isset(&b->received, SA_ALL)) {
			t->connection = b->tp != SIP_TRANSP_UDP;
			t->sock = sock_find(b->sock);
			if (by_received(b))
				err = re_sdprintf(&t->nexthop,
						  "sip:%J;transport=%s",
						  &b->received,
						  transp_name(b->tp));
		}

		if (err)
			break;
	}

	list_flush(&bindings);

	return err;
}


/* Busy: published busy or dnd, or on busy_limit calls already */
static bool user_busy(const char *aor)
{
	struct list fwds = LIST_INIT;
	char user[128], domain[128];
	uint32_t limit = 0;
	int err;

	if (avail_published_busy(aor))
		return true;

	if (split_aor(aor, user, sizeof(user), domain, sizeof(domain)))
		return false;

	err = rules_get(user, domain, &limit, &fwds);
	list_flush(&fwds);

	return !err && limit && avail_calls(aor) >= limit;
}


/* The members of a pool, in its order, best q first */
static int pool_targets(struct callee *cx, struct list *out,
			const struct static_route *r, const struct uri *uri)
{
	struct route_result *rr = cx->rr;
	struct list picks = LIST_INIT;
	uint32_t retry = 0;
	uint16_t q = 1000;
	struct le *le;
	int err;

	err = pool_choose(&picks, routes_pool(r),
			  cx->msg ? &cx->msg->from.auri : NULL,
			  cx->redirect ? POOL_USE_REDIRECT : POOL_USE_PROXY,
			  &retry);
	if (err == EBUSY) {
		rr->retry_after = retry;
		return fail(rr, 503, "Service Unavailable");
	}
	if (err == ENOENT || err == ENODEV) {
		log_debug("route: pool %s: no member alive\n",
			  routes_pool(r));
		return fail(rr, 503, "Service Unavailable");
	}
	if (err)
		return err;

	for (le = picks.head; le; le = le->next) {
		const struct pool_pick *pick = le->data;
		const char *muri = pool_member_uri(pick->m);
		struct route_target *t;
		char buf[512];

		/* the member's host, port and transport: after "sip:" */
		err = routes_ruri(buf, sizeof(buf), r, uri, muri + 4);
		if (err) {
			err = fail(rr, 484, "Address Incomplete");
			break;
		}

		err = target_new(&t, out);
		if (err)
			break;

		t->q = q;
		q = q > 1 ? q - 1 : 1;
		t->member = mem_ref(pick->m);
		err  = str_dup(&t->ruri, buf);
		err |= target_extra(t, cx);

		/* a 302 lists the Request-URI alone */
		if (!cx->redirect) {
			t->route = mem_ref((void *)r);   /* its credentials */
			err |= str_dup(&t->nexthop, muri);
		}
		if (err)
			break;
	}

	if (!err && !rr->scode && picks.head) {
		const struct pool_pick *first = picks.head->data;

		routed(cx, "pool", routes_pool(r),
		       pool_member_uri(first->m));
	}

	list_flush(&picks);

	return err;
}


/* A static route's target for a URI: its host, or its pool's members */
static int route_targets(struct callee *cx, struct list *out,
			 const struct static_route *r, const struct uri *uri)
{
	struct route_target *t;
	char buf[512];
	int err;

	if (routes_pool(r))
		return pool_targets(cx, out, r, uri);

	err = routes_ruri(buf, sizeof(buf), r, uri, NULL);
	if (err)
		return fail(cx->rr, 484, "Address Incomplete");

	err = target_new(&t, out);
	if (err)
		return err;

	t->route = mem_ref((void *)r);   /* it outlives a reload */
	err  = str_dup(&t->ruri, buf);
	err |= str_dup(&t->nexthop, routes_uri(r));
	err |= target_extra(t, cx);

	return err;
}


/**
 * The targets of a static route (a host, or a pool's members)
 *
 * @param rr       Decision (scode set when a pool has no room)
 * @param out      List the targets are added to
 * @param r        Route
 * @param uri      Request-URI
 * @param msg      The request (its From and Call-ID), or NULL
 * @param redirect For a 302 (the redirect role)
 *
 * @return 0 if success, otherwise errorcode
 */
int callee_route(struct route_result *rr, struct list *out,
		 const struct static_route *r, const struct uri *uri,
		 const struct sip_msg *msg, bool redirect)
{
	struct callee cx;

	memset(&cx, 0, sizeof(cx));
	cx.rr = rr;
	cx.msg = msg;
	cx.redirect = redirect;

	return route_targets(&cx, out, r, uri);
}


static int group_targets(struct callee *cx, struct list *out,
			 const struct ring_group *g)
{
	struct route_result *rr = cx->rr;
	uint32_t i, busy = 0, total = 0, added;
	char names[512] = "";
	uint16_t q = 1000;
	int err;

	for (i = 0; i < g->memberc; i++) {
		const char *m = g->members[i];

		/* the caller's own phone does not ring */
		if (!str_casecmp(m, rr->caller))
			continue;

		if (user_busy(m)) {
			++busy;
			continue;
		}

		err = bindings_targets(cx, out, m, g->sequential ? q : 1000,
				       g->ring * 1000, &added);
		if (err)
			return err;

		if (!added)
			continue;

		total += added;
		if (g->sequential && q > 1)
			--q;

		(void)re_snprintf(names + strlen(names),
				  sizeof(names) - strlen(names), "%s%s",
				  names[0] ? "," : "", m);
	}

	if (!total)
		return busy ? fail(rr, 486, "Busy Here") :
			fail(rr, 480, "Temporarily Unavailable");

	routed(cx, "group", g->aor, names);

	return 0;
}


static int user_targets(struct callee *cx, struct list *out,
			const char *aor, bool *found);


/* The number of a forward: sip:NUMBER@the forwarding user's domain */
static int forward_uri(char *buf, size_t size, const char *aor,
		       const char *target)
{
	const char *at = strrchr(aor, '@');

	if (!strncasecmp(target, "sip:", 4) ||
	    !strncasecmp(target, "sips:", 5)) {
		str_ncpy(buf, target, size);
		return 0;
	}

	if (!at)
		return EINVAL;

	return re_snprintf(buf, size, "sip:%s@%s", target, at + 1) < 0 ?
		ENOMEM : 0;
}


/* Would a forward call the caller? Then it is not taken */
static bool to_caller(const struct callee *cx, const char *aor,
		      const struct store_forward *fw)
{
	char uri[300], target[256];
	struct uri u;
	struct pl pl;

	if (!cx->rr->caller[0] ||
	    forward_uri(uri, sizeof(uri), aor, fw->target))
		return false;

	pl_set_str(&pl, uri);
	if (uri_decode(&u, &pl) || msg_aor(target, sizeof(target), &u))
		return false;

	if (str_casecmp(target, cx->rr->caller))
		return false;

	log_info("route: %s: %s forward to %s is the caller: not taken\n",
		 aor, store_forward_kind_name(fw->kind), fw->target);

	return true;
}


/* Where a URI goes: a local user or group, a route, or the URI itself */
static int uri_targets(struct callee *cx, struct list *out,
		       const char *str)
{
	const struct static_route *r = NULL;
	struct route_target *t;
	struct uri uri;
	struct pl pl;
	char aor[256];
	bool found = false;
	int err;

	pl_set_str(&pl, str);
	if (uri_decode(&uri, &pl))
		return fail(cx->rr, 404, "Not Found");

	if (pl_isset(&uri.user) && domain_is_served(&uri.host)) {
		const char *mapped = routes_did(&uri.user);

		if (mapped)
			str_ncpy(aor, mapped, sizeof(aor));
		else if (msg_aor(aor, sizeof(aor), &uri))
			return fail(cx->rr, 404, "Not Found");

		err = user_targets(cx, out, aor, &found);
		if (err || cx->rr->scode || found)
			return err;

		r = routes_number(&uri.user);
		if (!r)
			return fail(cx->rr, 404, "Not Found");

		return route_targets(cx, out, r, &uri);
	}

	if (pl_isset(&uri.user))
		r = routes_number(&uri.user);
	if (!r)
		r = routes_domain(&uri.host);
	if (r)
		return route_targets(cx, out, r, &uri);

	err = target_new(&t, out);
	if (err)
		return err;

	err  = str_dup(&t->ruri, str);
	err |= target_extra(t, cx);

	return err;
}


/* Follow a forward of a user: its target, with a Diversion header */
static int forward(struct callee *cx, struct list *out, const char *aor,
		   const struct store_forward *fw, bool emit)
{
	char *before = cx->diversion, *div = NULL;
	char uri[300];
	bool top = cx->top;
	int err;

	err = forward_uri(uri, sizeof(uri), aor, fw->target);
	if (err)
		return fail(cx->rr, 404, "Not Found");

	err = re_sdprintf(&div, "Diversion: <sip:%s>;reason=%s;counter=1\r\n"
			  "%s", aor, kind_reason[fw->kind],
			  before ? before : "");
	if (err)
		return err;

	cx->diversion = div;
	cx->top = false;

	err = uri_targets(cx, out, uri);

	cx->top = top;
	cx->diversion = before;
	mem_deref(div);

	if (!err && !cx->rr->scode && emit)
		routed(cx, kind_how[fw->kind], aor, fw->target);

	return err;
}


/*
 * A forward kept for later (busy, no answer): resolved now into its own
 * list; a target that cannot be reached now leaves no fallback
 */
static void fallback(struct callee *cx, struct list *list, char *to,
		     size_t tsize, const char *aor,
		     const struct store_forward *fw)
{
	struct route_result *rr = cx->rr;
	uint32_t hops = cx->hops;
	int err;

	err = forward(cx, list, aor, fw, false);
	if (err || rr->scode) {
		log_info("route: %s: %s forward to %s not possible now"
			 " (%u)\n", aor, store_forward_kind_name(fw->kind),
			 fw->target, rr->scode);
		list_flush(list);
		rr->scode = 0;
		rr->reason = NULL;
		rr->retry_after = 0;
	}
	else {
		str_ncpy(to, fw->target, tsize);
	}

	cx->hops = hops;
}


static int user_targets(struct callee *cx, struct list *out,
			const char *aor, bool *found)
{
	const struct store_forward *fw[FORWARD_KINDS];
	struct route_result *rr = cx->rr;
	const struct ring_group *g;
	struct list fwds = LIST_INIT;
	char user[128], domain[128];
	uint32_t i, added = 0, limit = 0;
	bool exists = false;
	struct le *le;
	int err;

	*found = false;
	memset(fw, 0, sizeof(fw));

	for (i = 0; i < cx->hops; i++) {
		if (!str_casecmp(cx->visited[i], aor)) {
			log_notice("route: %s: forwarding loop back to %s\n",
				   cx->visited[0], aor);
			*found = true;
			return fail(rr, 482, "Loop Detected");
		}
	}

	if (cx->hops >= HOPS_MAX) {
		*found = true;
		return fail(rr, 482, "Loop Detected");
	}

	str_ncpy(cx->visited[cx->hops++], aor, sizeof(cx->visited[0]));

	g = groups_find(aor);
	if (g) {
		*found = true;
		return group_targets(cx, out, g);
	}

	err = split_aor(aor, user, sizeof(user), domain, sizeof(domain));
	if (err)
		return err;

	/* the account, its busy limit and its forwards in one look */
	err = rules_get(user, domain, &limit, &fwds);
	if (err == ENOENT)
		return 0;      /* not a user: a number, maybe */
	if (err == ENOSYS) {
		/* a store without rules: the account facade alone */
		err = account_exists(user, domain, &exists);
		if (err || !exists)
			return err;
	}
	else if (err) {
		list_flush(&fwds);
		return err;
	}

	*found = true;

	for (le = fwds.head; le; le = le->next) {
		const struct store_forward *f = le->data;

		if (f->kind < FORWARD_KINDS && !to_caller(cx, aor, f))
			fw[f->kind] = f;
	}

	if (fw[FORWARD_ALWAYS]) {
		err = forward(cx, out, aor, fw[FORWARD_ALWAYS], true);
		goto out;
	}

	if (avail_published_busy(aor) ||
	    (limit && avail_calls(aor) >= limit)) {
		log_debug("route: %s is busy\n", aor);
		if (fw[FORWARD_BUSY])
			err = forward(cx, out, aor, fw[FORWARD_BUSY], true);
		else
			err = fail(rr, 486, "Busy Here");
		goto out;
	}

	err = bindings_targets(cx, out, aor, 0, 0, &added);
	if (err)
		goto out;

	if (!added) {
		if (fw[FORWARD_UNAVAILABLE])
			err = forward(cx, out, aor, fw[FORWARD_UNAVAILABLE],
				      true);
		else
			err = fail(rr, 480, "Temporarily Unavailable");
		goto out;
	}

	/* the stateful proxy's fallbacks, for the address called only */
	if (cx->top && !cx->redirect) {
		if (fw[FORWARD_BUSY])
			fallback(cx, &rr->busy, rr->busy_to,
				 sizeof(rr->busy_to), aor, fw[FORWARD_BUSY]);
		if (fw[FORWARD_NOANSWER]) {
			fallback(cx, &rr->noanswer, rr->noanswer_to,
				 sizeof(rr->noanswer_to), aor,
				 fw[FORWARD_NOANSWER]);
			rr->noanswer_after = fw[FORWARD_NOANSWER]->after *
				1000;
		}
	}

 out:
	list_flush(&fwds);

	return err;
}


/**
 * Decide where a request for a served domain goes (see the top of this
 * file). On return rr->scode is set (answer it) or rr->targets holds
 * the targets, best q first, and rr->callee the local party
 *
 * @param rr       Decision
 * @param ruri     Request-URI (its user part: a user, a group, a number)
 * @param msg      The request
 * @param trusted  A number that is no account may leave by its route
 * @param redirect For a 302 (the redirect role): no fallbacks
 *
 * @return 0 if a decision was made, otherwise errorcode (answer 500)
 */
int callee_local(struct route_result *rr, const struct uri *ruri,
		 const struct sip_msg *msg, bool trusted, bool redirect)
{
	const struct static_route *r;
	const struct route_target *first;
	struct callee cx;
	const char *mapped;
	char aor[256];
	bool found = false;
	int err;

	if (!pl_isset(&ruri->user))
		return fail(rr, 404, "Not Found");

	memset(&cx, 0, sizeof(cx));
	cx.rr = rr;
	cx.msg = msg;
	cx.redirect = redirect;
	cx.top = true;

	mapped = routes_did(&ruri->user);
	if (mapped)
		str_ncpy(aor, mapped, sizeof(aor));
	else if (msg_aor(aor, sizeof(aor), ruri))
		return fail(rr, 404, "Not Found");

	err = user_targets(&cx, &rr->targets, aor, &found);
	if (err)
		return err;

	if (found) {
		/* the party of the call events: the phone that rings */
		first = list_ledata(rr->targets.head);
		str_ncpy(rr->callee, first && first->aor && !groups_find(aor) ?
			 first->aor : aor, sizeof(rr->callee));
		return 0;
	}

	/* a number that is not an account: its route, if any */
	r = routes_number(&ruri->user);
	if (!r)
		return fail(rr, 404, "Not Found");

	if (!trusted)
		return fail(rr, 403, "Forbidden");

	return route_targets(&cx, &rr->targets, r, ruri);
}
