/**
 * @file targets.c  The targets of a routing decision: a user's phones
 *                  that can take a call, a pool's live members, a static
 *                  route's host (the parts callee.c puts together)
 *
 * A phone whose last keep-alive went unanswered (lib/avail) is left out.
 * A pool's members come in the pool's order (lib/pool) with falling q;
 * the Request-URI's host becomes the member's. Every target carries the
 * Diversion lines of the forwards that led to it.
 *
 * A phone whose flow another node of the database holds (its NAT's
 * mapping, its connection: lib/node) is reached through that node: a
 * Route of the node whose user part is a node token of the callee
 * (flow.c), which the node follows down the flow (callee_node_phone()).
 * A phone over UDP with a routable Contact and no NAT is reached
 * directly from any node, and a Path (an edge proxy) is followed as
 * always.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include <pool/pool.h>
#include <avail/avail.h>
#include <node/node.h>
#include "engine.h"
#include "callee.h"


/**
 * Decide to answer a request with a status instead of forwarding it
 *
 * @param rr     Decision
 * @param scode  Status code
 * @param reason Reason phrase
 *
 * @return 0
 */
int callee_fail(struct route_result *rr, uint16_t scode,
		const char *reason)
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


/**
 * Tell how a call was steered: a routed event, and a debug line
 *
 * @param cx     The resolution (the request, the caller)
 * @param how    "pool", "group", "forward-always", ...
 * @param callee The address called
 * @param target Where it goes
 */
void callee_routed(const struct callee *cx, const char *how,
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

	callee_routed(&cx, how, callee, target);
}


/**
 * Split user@domain
 *
 * @param aor    Address-of-record
 * @param user   Buffer for the user part
 * @param usize  Its size
 * @param domain Buffer for the domain
 * @param dsize  Its size
 *
 * @return 0 if success, EINVAL without '@'
 */
int callee_split_aor(const char *aor, char *user, size_t usize,
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


/**
 * Give a target the Diversion lines of the forwards that led to it
 *
 * @param t  Target
 * @param cx The resolution
 *
 * @return 0 if success, otherwise errorcode
 */
int callee_target_extra(struct route_target *t, const struct callee *cx)
{
	return cx->diversion ? str_dup(&t->extra, cx->diversion) : 0;
}


/* Whether a phone is reached only through the node of its flow */
static bool needs_node(const struct binding *b)
{
	if (!node_is_other(b->node) || (b->path && *b->path))
		return false;

	return b->tp != SIP_TRANSP_UDP || binding_behind_nat(b);
}


/* Through the node that holds the phone's flow (a node the database no
   longer names: its Contact, the best left) */
static int via_node(struct route_target *t, const struct binding *b)
{
	char token[2 * 300], *uri = NULL;
	int err;

	err = node_uri(&uri, b->node);
	if (err == ENOENT)
		return 0;
	if (err)
		return err;

	err = flow_node_token(token, sizeof(token), b->aor);
	if (!err)
		err = re_sdprintf(&t->routes, "<sip:%s@%s;lr>", token,
				  uri + 4);
	if (!err)
		err = str_dup(&t->nexthop, uri);

	mem_deref(uri);

	return err;
}


/* Where a phone's request goes: its Path, its node, its flow, its
   Contact */
static int phone_target(struct route_target *t, const struct binding *b)
{
	/* the edge proxies of the Path come first */
	if (b->path && *b->path) {
		int err = str_dup(&t->routes, b->path);

		return err ? err : first_uri(&t->nexthop, b->path);
	}

	if (needs_node(b))
		return via_node(t, b);

	/* a routable Contact over UDP: from here */
	if (node_is_other(b->node))
		return 0;

	if (b->sock && *b->sock && sa_isset(&b->received, SA_ALL)) {
		t->connection = b->tp != SIP_TRANSP_UDP;
		t->sock = sock_find(b->sock);
		if (by_received(b))
			return re_sdprintf(&t->nexthop,
					   "sip:%J;transport=%s",
					   &b->received, transp_name(b->tp));
	}

	return 0;
}


/**
 * Add the phones of a user that can take a call as targets
 *
 * @param cx    The resolution
 * @param out   List the targets are added to
 * @param aor   The user, user@domain
 * @param q     The q of every target (a ring group's order), 0: each
 *              binding's own
 * @param ring  ms each rings before the next group goes, 0: no limit
 * @param added How many were added
 *
 * @return 0 if success, otherwise errorcode
 */
int callee_phones(const struct callee *cx, struct list *out,
		  const char *aor, uint16_t q, uint32_t ring, uint32_t *added)
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

		/* the node of its flow is gone: no way to it until the
		   phone registers at another */
		if (needs_node(b) && !node_alive(b->node)) {
			log_debug("route: %s: %s skipped, its node %s is"
				  " gone\n", aor, b->contact, b->node);
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
		err |= callee_target_extra(t, cx);
		if (err)
			break;

		err = phone_target(t, b);
		if (err)
			break;
	}

	list_flush(&bindings);

	return err;
}


/**
 * Route a request another node sent for a phone whose flow this node
 * holds: the binding of the callee whose Contact is the Request-URI,
 * down its flow (the other node authenticated the caller)
 *
 * @param rr  Result, rr->node_aor the callee of the node token
 * @param msg The request
 *
 * @return 0 if a decision was made, otherwise errorcode
 */
int callee_node_phone(struct route_result *rr, const struct sip_msg *msg)
{
	struct list bindings = LIST_INIT;
	struct le *le;
	int err;

	err = location_lookup(&bindings, rr->node_aor);
	if (err)
		return err;

	for (le = bindings.head; le; le = le->next) {
		const struct binding *b = le->data;
		struct route_target *t;

		if (node_is_other(b->node) || pl_strcmp(&msg->ruri, b->contact))
			continue;

		err = target_new(&t, &rr->targets);
		if (err)
			break;

		t->q = b->q;
		t->expires = b->expires;
		err  = str_dup(&t->ruri, b->contact);
		err |= str_dup(&t->aor, rr->node_aor);
		err |= phone_target(t, b);
		if (err)
			break;
	}

	list_flush(&bindings);

	if (err)
		return err;

	rr->authenticated = true;
	str_ncpy(rr->callee, rr->node_aor, sizeof(rr->callee));

	if (!rr->targets.head)
		return callee_fail(rr, 480, "Temporarily Unavailable");

	log_debug("route: %s: down its flow on this node, for another"
		  " node\n", rr->node_aor);

	return 0;
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
		return callee_fail(rr, 503, "Service Unavailable");
	}
	if (err == ENOENT || err == ENODEV) {
		log_debug("route: pool %s: no member alive\n",
			  routes_pool(r));
		return callee_fail(rr, 503, "Service Unavailable");
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
			err = callee_fail(rr, 484, "Address Incomplete");
			break;
		}

		err = target_new(&t, out);
		if (err)
			break;

		t->q = q;
		q = q > 1 ? q - 1 : 1;
		t->member = mem_ref(pick->m);
		err  = str_dup(&t->ruri, buf);
		err |= callee_target_extra(t, cx);

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

		callee_routed(cx, "pool", routes_pool(r),
		       pool_member_uri(first->m));
	}

	list_flush(&picks);

	return err;
}


/**
 * Add the targets of a static route for a URI: its host, or its pool's
 * live members
 *
 * @param cx  The resolution
 * @param out List the targets are added to
 * @param r   Route
 * @param uri Request-URI
 *
 * @return 0 if success (rr->scode set when a pool has no room),
 *         otherwise errorcode
 */
int callee_route_targets(struct callee *cx, struct list *out,
			 const struct static_route *r,
			 const struct uri *uri)
{
	struct route_target *t;
	char buf[512];
	int err;

	if (routes_pool(r))
		return pool_targets(cx, out, r, uri);

	err = routes_ruri(buf, sizeof(buf), r, uri, NULL);
	if (err)
		return callee_fail(cx->rr, 484, "Address Incomplete");

	err = target_new(&t, out);
	if (err)
		return err;

	t->route = mem_ref((void *)r);   /* it outlives a reload */
	err  = str_dup(&t->ruri, buf);
	err |= str_dup(&t->nexthop, routes_uri(r));
	err |= callee_target_extra(t, cx);

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

	return callee_route_targets(&cx, out, r, uri);
}
