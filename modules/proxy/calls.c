/**
 * @file calls.c  Call state events of the proxy, for busy lamps and
 *                presence
 *
 * The proxy reports what happens to the INVITEs it forwards (trying,
 * early, confirmed, terminated) for each local party, through the core's
 * event registry. Confirmed calls are kept until their BYE, so that the
 * end of a call can be reported too. A call to a member of a server pool
 * is remembered the same way, for the member's count of calls.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include <sipd.h>
#include <pool/pool.h>
#include "proxy.h"


enum {
	CALL_HASH_SIZE = 256,
	CALL_MAX_AGE = 12 * 3600,   /* seconds, if a BYE never passes */
	CALL_MAX = 100000,
};


/** A confirmed call, remembered until its BYE */
struct call {
	struct le he;
	struct le le;
	char *call_id;
	char *from_tag;
	char *to_tag;
	char *caller;          /* local AOR or NULL */
	char *callee;
	char *from_uri;
	char *to_uri;
	struct pool_member *member;    /* its pool member, or NULL */
	int64_t started;
};


static struct {
	struct hash *ht;
	struct list order;
	uint32_t count;
} calls;


static void call_destructor(void *arg)
{
	struct call *c = arg;

	hash_unlink(&c->he);
	list_unlink(&c->le);
	mem_deref(c->call_id);
	mem_deref(c->from_tag);
	mem_deref(c->to_tag);
	mem_deref(c->caller);
	mem_deref(c->callee);
	mem_deref(c->from_uri);
	mem_deref(c->to_uri);
	if (c->member)
		pool_member_call(c->member, -1);
	mem_deref(c->member);
	--calls.count;
}


static void emit(const char *aor, enum call_state state, bool initiator,
		 const char *call_id, const char *local_tag,
		 const char *remote_tag, const char *peer,
		 const char *local_uri, uint16_t code)
{
	struct call_event ce;
	struct sipd_event ev;

	if (!aor || !*aor)
		return;

	ce.aor = aor;
	ce.state = state;
	ce.initiator = initiator;
	ce.call_id = call_id;
	ce.local_tag = local_tag ? local_tag : "";
	ce.remote_tag = remote_tag ? remote_tag : "";
	ce.peer = peer;
	ce.local_uri = local_uri;
	ce.code = code;

	memset(&ev, 0, sizeof(ev));
	ev.type = EVENT_CALL;
	ev.call = &ce;

	log_debug("proxy: call %s %s %s (%s)\n", aor,
		  initiator ? "to" : "from", call_state_name(state),
		  call_id);

	event_emit(&ev);
}


/* A party as sip:user@host: a local one by its AOR, without parameters */
static void party_uri(char *buf, size_t size, const char *aor,
		      const struct uri *uri)
{
	if (aor && *aor)
		(void)re_snprintf(buf, size, "sip:%s", aor);
	else if (pl_isset(&uri->user))
		(void)re_snprintf(buf, size, "%r:%r@%r", &uri->scheme,
				  &uri->user, &uri->host);
	else
		(void)re_snprintf(buf, size, "%r:%r", &uri->scheme,
				  &uri->host);
}


/* Report a state for both local parties of an INVITE */
static void both(const struct ptrans *pt, enum call_state state,
		 const struct pl *to_tag, uint16_t code)
{
	const struct sip_msg *msg = pt->msg;
	char call_id[256], ftag[128], ttag[128], furi[256], turi[256];

	if (pl_strcpy(&msg->callid, call_id, sizeof(call_id)))
		return;

	(void)pl_strcpy(&msg->from.tag, ftag, sizeof(ftag));
	ttag[0] = '\0';
	if (to_tag)
		(void)pl_strcpy(to_tag, ttag, sizeof(ttag));
	party_uri(furi, sizeof(furi), pt->rr.caller, &msg->from.uri);
	party_uri(turi, sizeof(turi), pt->rr.callee, &msg->to.uri);

	emit(pt->rr.caller, state, true, call_id, ftag, ttag, turi, furi,
	     code);
	emit(pt->rr.callee, state, false, call_id, ttag, ftag, furi, turi,
	     code);
}


static bool tracked(const struct ptrans *pt)
{
	return pt->invite && !pt->rr.in_dialog &&
		(pt->rr.caller[0] || pt->rr.callee[0]);
}


void calls_request(const struct ptrans *pt)
{
	if (tracked(pt))
		both(pt, CALL_TRYING, NULL, 0);
}


static int call_add(const struct ptrans *pt, struct branch *b,
		    const struct sip_msg *resp)
{
	const struct sip_msg *msg = pt->msg;
	struct call *c;
	int err;

	if (!calls.ht && hash_alloc(&calls.ht, CALL_HASH_SIZE))
		return ENOMEM;

	/* the oldest go when the table is full or they are stale */
	while (calls.order.head) {
		struct call *old = calls.order.head->data;

		if (calls.count < CALL_MAX &&
		    time_now() - old->started < CALL_MAX_AGE)
			break;
		mem_deref(old);
	}

	c = mem_zalloc(sizeof(*c), call_destructor);
	if (!c)
		return ENOMEM;

	++calls.count;
	hash_append(calls.ht, hash_joaat_pl(&msg->callid), &c->he, c);
	list_append(&calls.order, &c->le, c);
	c->started = time_now();

	err  = pl_strdup(&c->call_id, &msg->callid);
	err |= pl_strdup(&c->from_tag, &msg->from.tag);
	err |= pl_strdup(&c->to_tag, &resp->to.tag);
	err |= pl_strdup(&c->from_uri, &msg->from.auri);
	err |= pl_strdup(&c->to_uri, &msg->to.auri);
	if (pt->rr.caller[0])
		err |= str_dup(&c->caller, pt->rr.caller);
	if (pt->rr.callee[0])
		err |= str_dup(&c->callee, pt->rr.callee);

	if (err) {
		mem_deref(c);
		return err;
	}

	/* the member's call is counted until the BYE */
	if (b->counted) {
		c->member = mem_ref(b->target->member);
		b->counted = false;
	}

	return err;
}


void calls_response(const struct ptrans *pt, struct branch *b,
		    const struct sip_msg *msg)
{
	if (pl_strcmp(&msg->cseq.met, "INVITE") || pt->rr.in_dialog)
		return;

	if (!tracked(pt)) {
		/* a pool member's call is kept for its count */
		if (msg->scode >= 200 && msg->scode < 300 && b->counted)
			(void)call_add(pt, b, msg);
		return;
	}

	if (msg->scode < 200) {
		both(pt, CALL_EARLY, &msg->to.tag, 0);
	}
	else if (msg->scode < 300) {
		both(pt, CALL_CONFIRMED, &msg->to.tag, msg->scode);
		(void)call_add(pt, b, msg);
	}
}


/**
 * Another local party takes the call (a forward, a ring group's member
 * answered): the one it had ends, the new one is trying
 *
 * @param pt  The proxied INVITE
 * @param aor The new callee, user@domain
 */
void calls_callee_switch(struct ptrans *pt, const char *aor)
{
	const struct sip_msg *msg = pt->msg;
	char call_id[256], ftag[128], furi[256], turi[256];

	if (!pt->invite || pt->rr.in_dialog ||
	    !str_casecmp(aor, pt->rr.callee))
		return;

	if (pl_strcpy(&msg->callid, call_id, sizeof(call_id)))
		return;

	(void)pl_strcpy(&msg->from.tag, ftag, sizeof(ftag));
	party_uri(furi, sizeof(furi), pt->rr.caller, &msg->from.uri);
	party_uri(turi, sizeof(turi), pt->rr.callee, &msg->to.uri);

	emit(pt->rr.callee, CALL_TERMINATED, false, call_id, "", ftag, furi,
	     turi, 0);

	str_ncpy(pt->rr.callee, aor, sizeof(pt->rr.callee));
	party_uri(turi, sizeof(turi), pt->rr.callee, &msg->to.uri);

	emit(pt->rr.callee, CALL_TRYING, false, call_id, "", ftag, furi,
	     turi, 0);
}


void calls_final(const struct ptrans *pt, uint16_t scode)
{
	if (tracked(pt) && scode >= 300)
		both(pt, CALL_TERMINATED, NULL, scode);
}


static bool call_cmp(struct le *le, void *arg)
{
	const struct call *c = le->data;
	const struct sip_msg *msg = arg;

	if (pl_strcmp(&msg->callid, c->call_id))
		return false;

	/* either direction of the dialog */
	return (!pl_strcmp(&msg->from.tag, c->from_tag) &&
		!pl_strcmp(&msg->to.tag, c->to_tag)) ||
		(!pl_strcmp(&msg->from.tag, c->to_tag) &&
		 !pl_strcmp(&msg->to.tag, c->from_tag));
}


/**
 * An in-dialog request passes: a BYE ends the call
 *
 * @param msg The request
 */
void calls_in_dialog(const struct sip_msg *msg)
{
	struct call *c;

	if (!calls.ht || !msg_method_is(msg, "BYE"))
		return;

	c = list_ledata(hash_lookup(calls.ht, hash_joaat_pl(&msg->callid),
				    call_cmp, (void *)msg));
	if (!c)
		return;

	emit(c->caller, CALL_TERMINATED, true, c->call_id, c->from_tag,
	     c->to_tag, c->to_uri, c->from_uri, 0);
	emit(c->callee, CALL_TERMINATED, false, c->call_id, c->to_tag,
	     c->from_tag, c->from_uri, c->to_uri, 0);

	mem_deref(c);
}


/**
 * How many confirmed calls are remembered until their BYE
 *
 * @return Count
 */
uint32_t calls_count(void)
{
	return calls.count;
}


void calls_close(void)
{
	hash_flush(calls.ht);
	calls.ht = mem_deref(calls.ht);
	list_init(&calls.order);
	calls.count = 0;
}
