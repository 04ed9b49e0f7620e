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
 * address it passed ends with 482, and one of more than five too; a
 * forward to the caller is not taken. A number or domain whose route
 * names a server pool (lib/pool) goes to the pool's live members, best
 * first, with falling q.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include <avail/avail.h>
#include <store/store.h>
#include "engine.h"
#include "callee.h"


static const char *kind_how[FORWARD_KINDS] = {
	"forward-always", "forward-busy", "forward-noanswer",
	"forward-unavailable",
};

/* RFC 5806 diversion reasons */
static const char *kind_reason[FORWARD_KINDS] = {
	"unconditional", "user-busy", "no-answer", "unavailable",
};


/* Busy: published busy or dnd, or on busy_limit calls already */
static bool busy_now(const char *aor, uint32_t limit)
{
	return avail_published_busy(aor) ||
		(limit && avail_calls(aor) >= limit);
}


/* Is a ring group's member busy? */
static bool member_busy(const char *aor)
{
	struct list fwds = LIST_INIT;
	char user[128], domain[128];
	uint32_t limit = 0;

	if (callee_split_aor(aor, user, sizeof(user), domain,
			     sizeof(domain)) ||
	    rules_get(user, domain, &limit, &fwds))
		limit = 0;

	list_flush(&fwds);

	return busy_now(aor, limit);
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

		if (member_busy(m)) {
			++busy;
			continue;
		}

		err = callee_phones(cx, out, m, g->sequential ? q : 1000,
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
		return busy ? callee_fail(rr, 486, "Busy Here") :
			callee_fail(rr, 480, "Temporarily Unavailable");

	callee_routed(cx, "group", g->aor, names);

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
		return callee_fail(cx->rr, 404, "Not Found");

	if (pl_isset(&uri.user) && domain_is_served(&uri.host)) {
		const char *mapped = routes_did(&uri.user);

		if (mapped)
			str_ncpy(aor, mapped, sizeof(aor));
		else if (msg_aor(aor, sizeof(aor), &uri))
			return callee_fail(cx->rr, 404, "Not Found");

		err = user_targets(cx, out, aor, &found);
		if (err || cx->rr->scode || found)
			return err;

		r = routes_number(&uri.user);
		if (!r)
			return callee_fail(cx->rr, 404, "Not Found");

		return callee_route_targets(cx, out, r, &uri);
	}

	if (pl_isset(&uri.user))
		r = routes_number(&uri.user);
	if (!r)
		r = routes_domain(&uri.host);
	if (r)
		return callee_route_targets(cx, out, r, &uri);

	err = target_new(&t, out);
	if (err)
		return err;

	err  = str_dup(&t->ruri, str);
	err |= callee_target_extra(t, cx);

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
		return callee_fail(cx->rr, 404, "Not Found");

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
		callee_routed(cx, kind_how[fw->kind], aor, fw->target);

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
			return callee_fail(rr, 482, "Loop Detected");
		}
	}

	if (cx->hops >= CALLEE_HOPS_MAX) {
		*found = true;
		return callee_fail(rr, 482, "Loop Detected");
	}

	str_ncpy(cx->visited[cx->hops++], aor, sizeof(cx->visited[0]));

	g = groups_find(aor);
	if (g) {
		*found = true;
		return group_targets(cx, out, g);
	}

	err = callee_split_aor(aor, user, sizeof(user), domain,
			       sizeof(domain));
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

	if (busy_now(aor, limit)) {
		log_debug("route: %s is busy\n", aor);
		if (fw[FORWARD_BUSY])
			err = forward(cx, out, aor, fw[FORWARD_BUSY], true);
		else
			err = callee_fail(rr, 486, "Busy Here");
		goto out;
	}

	err = callee_phones(cx, out, aor, 0, 0, &added);
	if (err)
		goto out;

	if (!added) {
		if (fw[FORWARD_UNAVAILABLE])
			err = forward(cx, out, aor, fw[FORWARD_UNAVAILABLE],
				      true);
		else
			err = callee_fail(rr, 480, "Temporarily Unavailable");
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
		return callee_fail(rr, 404, "Not Found");

	memset(&cx, 0, sizeof(cx));
	cx.rr = rr;
	cx.msg = msg;
	cx.redirect = redirect;
	cx.top = true;

	mapped = routes_did(&ruri->user);
	if (mapped)
		str_ncpy(aor, mapped, sizeof(aor));
	else if (msg_aor(aor, sizeof(aor), ruri))
		return callee_fail(rr, 404, "Not Found");

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
		return callee_fail(rr, 404, "Not Found");

	if (!trusted)
		return callee_fail(rr, 403, "Forbidden");

	return callee_route_targets(&cx, &rr->targets, r, ruri);
}
