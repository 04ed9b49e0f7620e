/**
 * @file ptrans.c  A proxied request: server transaction, branches and the
 *                 choice of the response (RFC 3261 16.6 to 16.10)
 *
 * Targets of equal q are tried in parallel, higher q first. Provisional
 * responses go upstream as they come (100 is hop-by-hop: sipd sends its
 * own), every 2xx at once (the other INVITE branches are cancelled with
 * "Call completed elsewhere"), a 6xx cancels the others; otherwise the
 * best final response goes upstream once every branch has answered, with
 * the challenges of all 401/407 responses combined.
 *
 * The forwards callee.c kept with the decision are taken here: the
 * no-answer forward when its time has passed without a 2xx (the
 * branches are cancelled with a Reason), the busy forward when every
 * branch answered 486 or 600. Targets of a server pool are tried one
 * after the other on 408, 5xx and transport errors only; any other
 * answer of a member is the answer.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include <sipd.h>
#include "proxy.h"


static struct list ptranss;


static const char *reason_elsewhere =
	"SIP;cause=200;text=\"Call completed elsewhere\"";
static const char *reason_noanswer =
	"SIP;cause=408;text=\"Call forwarded on no answer\"";


static void ptrans_destructor(void *arg)
{
	struct ptrans *pt = arg;

	list_unlink(&pt->le);
	tmr_cancel(&pt->tmr_noanswer);
	list_flush(&pt->branches);
	pt->st = mem_deref(pt->st);
	mem_deref(pt->msg);
	mem_deref(pt->best);
	mem_deref(pt->challenges);
	route_result_reset(&pt->rr);
}


static bool branches_pending(const struct ptrans *pt)
{
	struct le *le;

	for (le = pt->branches.head; le; le = le->next) {
		const struct branch *b = le->data;

		if (!b->scode)
			return true;
	}

	return false;
}


static void cancel_others(struct ptrans *pt, const struct branch *keep,
			  const char *reason)
{
	struct le *le;

	for (le = pt->branches.head; le; le = le->next) {
		struct branch *b = le->data;

		if (b != keep && !b->scode)
			branch_cancel(b, reason);
	}
}


/* Start the branches of the next q group; 0 if any started */
static int next_group(struct ptrans *pt)
{
	struct le *le = pt->next_target;
	uint16_t q;
	int started = 0;

	if (!le)
		return ENOENT;

	q = ((struct route_target *)le->data)->q;

	for (; le; le = le->next) {
		const struct route_target *t = le->data;

		if (t->q != q)
			break;

		if (!branch_start(NULL, pt, t, NULL, pt->rr.cseq_delta))
			++started;
	}

	pt->next_target = le;

	return started ? 0 : (le ? next_group(pt) : EIO);
}


static int reply_upstream_ex(struct ptrans *pt, const struct sip_msg *msg,
			     int32_t cseq_delta, bool drop_challenges,
			     const char *extra)
{
	struct mbuf *mb;
	int err;

	err = fwd_response(&mb, msg, drop_challenges, cseq_delta, extra);
	if (err)
		return err;

	if (pt->st) {
		err = sip_strans_reply(&pt->st, sock_sip(pt->sock), pt->msg,
				       &pt->reply_dst, msg->scode, mb);
	}
	else {
		/* a later 2xx of another fork: no transaction any more */
		err = sip_send(sock_sip(pt->sock), pt->msg->sock, pt->msg->tp,
			       &pt->reply_dst, mb);
	}

	mem_deref(mb);

	return err;
}


/* A response of a branch, with its CSeq as the caller knows it */
static int reply_upstream(struct ptrans *pt, const struct sip_msg *msg,
			  const struct branch *b)
{
	return reply_upstream_ex(pt, msg, b ? -b->cseq_delta : 0, false,
				 NULL);
}


/* Rank of a final response for 16.7 step 6: lower is better */
static int rank(uint16_t scode)
{
	if (scode >= 600)
		return 0;

	/* timeouts and server errors say least about the callee */
	if (scode == 408)
		return 1000 + 498;
	if (scode == 503)
		return 1000 + 599;

	return scode;
}


static void collect_challenges(struct ptrans *pt, const struct sip_msg *msg)
{
	struct le *le;

	if (!pt->challenges) {
		pt->challenges = mbuf_alloc(256);
		if (!pt->challenges)
			return;
	}

	for (le = msg->hdrl.head; le; le = le->next) {
		const struct sip_hdr *hdr = le->data;

		if (hdr->id == SIP_HDR_WWW_AUTHENTICATE ||
		    hdr->id == SIP_HDR_PROXY_AUTHENTICATE)
			(void)mbuf_printf(pt->challenges, "%r: %r\r\n",
					  &hdr->name, &hdr->val);
	}
}


static void send_best(struct ptrans *pt)
{
	const struct sip_msg *best = pt->best;
	char *extra = NULL;

	if (pt->final_sent)
		return;

	pt->final_sent = true;

	if (!best) {
		uint16_t scode = pt->canceled ? 487 : pt->local_scode;
		const char *reason;

		switch (scode) {

		case 487: reason = "Request Terminated"; break;
		case 408: reason = "Request Timeout"; break;
		case 480: reason = "Temporarily Unavailable"; break;
		case 404: reason = "Not Found"; break;
		case 503:
			/* a DNS that fails is worth a retry (RFC 3263);
			   a next hop that failed is not passed on (16.7
			   step 6) */
			if (pt->local_dns) {
				reason = "Service Unavailable";
				break;
			}
			/* fall through */
		default:
			scode = 500;
			reason = "Server Internal Error";
			break;
		}

		(void)sip_treply(&pt->st, sock_sip(pt->sock), pt->msg, scode,
				 reason);
		calls_final(pt, scode);
		return;
	}

	/* a 503 is not passed on (16.7 step 6): 500 instead */
	if (best->scode == 503) {
		(void)sip_treply(&pt->st, sock_sip(pt->sock), pt->msg, 500,
				 "Server Internal Error");
		calls_final(pt, 500);
		return;
	}

	/* the challenges of all branches (16.7 step 7) */
	if ((best->scode == 401 || best->scode == 407) && pt->challenges) {
		pt->challenges->pos = 0;
		if (!mbuf_strdup(pt->challenges, &extra,
				 pt->challenges->end)) {
			(void)reply_upstream_ex(pt, best, -pt->best_delta,
						true, extra);
			mem_deref(extra);
			calls_final(pt, best->scode);
			return;
		}
	}

	(void)reply_upstream_ex(pt, best, -pt->best_delta, false, NULL);
	calls_final(pt, best->scode);
}


/* Move the targets of a list to the end of another; the first moved */
static struct le *targets_move(struct list *dst, struct list *src)
{
	struct le *le, *first = src->head;

	while ((le = src->head)) {
		list_unlink(le);
		list_append(dst, le, le->data);
	}

	return first;
}


/* Take a forward the routing kept (busy, no answer); true if it went */
static bool fallback_take(struct ptrans *pt, struct list *list,
			  const char *how, const char *to)
{
	const struct route_target *t;

	if (list_isempty(list))
		return false;

	pt->next_target = targets_move(&pt->rr.targets, list);
	list_flush(&pt->rr.busy);
	list_flush(&pt->rr.noanswer);
	tmr_cancel(&pt->tmr_noanswer);
	pt->got_6xx = false;
	pt->all_busy = true;
	pt->noanswer_fired = false;
	pt->no_failover = false;
	pt->best = mem_deref(pt->best);
	pt->local_scode = 0;

	route_routed(pt->msg, pt->rr.caller, how, pt->rr.callee, to);

	/* the party that rings now, for the busy lamps */
	t = pt->next_target->data;
	if (t->aor)
		calls_callee_switch(pt, t->aor);

	return !next_group(pt);
}


static void noanswer_handler(void *arg)
{
	struct ptrans *pt = arg;

	if (pt->final_sent || pt->canceled || pt->got_2xx)
		return;

	log_info("proxy: %r: no answer in %u s: forwarding to %s\n",
		 &pt->msg->callid, pt->rr.noanswer_after / 1000,
		 pt->rr.noanswer_to);

	pt->noanswer_fired = true;
	pt->next_target = NULL;
	cancel_others(pt, NULL, reason_noanswer);
}


static void ptrans_done_check(struct ptrans *pt)
{
	if (branches_pending(pt))
		return;

	if (!pt->final_sent && !pt->canceled && !pt->got_2xx) {
		if (pt->noanswer_fired) {
			if (fallback_take(pt, &pt->rr.noanswer,
					  "forward-noanswer",
					  pt->rr.noanswer_to))
				return;
		}
		else {
			/* sequential forking: the next q group */
			if (!pt->got_6xx && !pt->no_failover &&
			    pt->next_target && !next_group(pt))
				return;

			if (pt->all_busy &&
			    fallback_take(pt, &pt->rr.busy, "forward-busy",
					  pt->rr.busy_to))
				return;
		}
	}

	send_best(pt);

	/* libre keeps the server transaction; sipd is done */
	mem_deref(pt);
}


/* A trunk challenged: answer with the route's credentials, once */
static bool trunk_retry(struct branch *b, const struct sip_msg *msg)
{
	const struct route_target *t = b->target;
	char user[128], password[128];
	const struct sip_hdr *hdr;
	struct digest_chall ch;
	struct mbuf *mb;
	struct pl ruri;
	char *extra = NULL;
	int err;

	if (b->auth_tries >= 1 || !t->route)
		return false;

	if (route_credentials(t->route, user, sizeof(user), password,
			      sizeof(password)))
		return false;

	hdr = sip_msg_hdr(msg, msg->scode == 401 ?
			  SIP_HDR_WWW_AUTHENTICATE :
			  SIP_HDR_PROXY_AUTHENTICATE);
	if (!hdr || digest_chall_decode(&ch, &hdr->val))
		return false;

	mb = mbuf_alloc(512);
	if (!mb)
		return false;

	pl_set_str(&ruri, t->ruri);

	err  = mbuf_printf(mb, "%s: ", msg->scode == 401 ?
			   "Authorization" : "Proxy-Authorization");
	err |= digest_cred_write(mb, &ch, user, password, &b->pt->msg->met,
				 &ruri);
	err |= mbuf_write_str(mb, "\r\n");
	if (!err) {
		mb->pos = 0;
		err = mbuf_strdup(mb, &extra, mb->end);
	}
	mem_deref(mb);
	if (err)
		return false;

	/* a new CSeq for the request with credentials (22.2) */
	err = branch_start(NULL, b->pt, t, extra, b->cseq_delta + 1);
	mem_deref(extra);
	if (err)
		return false;

	/* the new branch does not try again */
	((struct branch *)b->pt->branches.tail->data)->auth_tries =
		b->auth_tries + 1;

	return true;
}


/**
 * A branch got a response, or failed (err set, msg NULL)
 *
 * @param b   Branch
 * @param err Transport error or timeout, 0 with a response
 * @param msg Response, or NULL
 */
void ptrans_branch_response(struct branch *b, int err,
			    const struct sip_msg *msg)
{
	struct ptrans *pt = b->pt;
	uint16_t scode;

	if (msg && msg->scode >= 200)
		branch_settle(b, msg);
	else if (err || !msg)
		branch_settle(b, NULL);

	/* a final answer that is not busy: no busy forward */
	if ((err || !msg || msg->scode >= 300) &&
	    !(msg && (msg->scode == 486 || msg->scode == 600)))
		pt->all_busy = false;

	/* a pool member's answer is the answer, unless it failed */
	if (b->target->member && msg && msg->scode >= 300 &&
	    msg->scode != 408 && msg->scode < 500)
		pt->no_failover = true;

	/* a ring group's member rang out: no answer (480), not 487 */
	if (msg && msg->scode == 487 && b->rang_out) {
		b->scode = 480;
		if (!pt->local_scode || rank(480) < rank(pt->local_scode))
			pt->local_scode = 480;
		ptrans_done_check(pt);
		return;
	}

	if (err || !msg) {
		if (b->unresolved)
			b->scode = b->unresolved;
		else
			b->scode = err == ETIMEDOUT ? 408 : 503;
		if (rank(b->scode) < rank(pt->local_scode) ||
		    !pt->local_scode) {
			pt->local_scode = b->scode;
			pt->local_dns = b->unresolved != 0;
		}
		ptrans_done_check(pt);
		return;
	}

	scode = msg->scode;

	if (scode < 200) {
		if (scode == 100 || pt->final_sent)
			return;

		(void)reply_upstream(pt, msg, b);
		calls_response(pt, b, msg);
		return;
	}

	b->scode = scode;

	if (scode < 300) {
		/* every 2xx goes upstream, the first ends the others */
		pt->got_2xx = true;
		(void)reply_upstream(pt, msg, b);

		/* a trunk's dialog keeps its shifted CSeq */
		if (pt->invite && !pt->rr.in_dialog &&
		    b->cseq_delta != pt->rr.cseq_delta)
			shift_add(&pt->msg->callid, &pt->msg->from.tag,
				  b->cseq_delta);
		pt->final_sent = true;

		/* the party of the call: the one whose phone answered */
		if (b->target->aor && strcmp(b->target->aor, pt->rr.callee))
			calls_callee_switch(pt, b->target->aor);
		calls_response(pt, b, msg);

		if (pt->invite)
			cancel_others(pt, b, reason_elsewhere);

		ptrans_done_check(pt);
		return;
	}

	if ((scode == 401 || scode == 407) && trunk_retry(b, msg)) {
		ptrans_done_check(pt);
		return;
	}

	if (scode == 401 || scode == 407)
		collect_challenges(pt, msg);

	if (scode >= 600) {
		pt->got_6xx = true;
		cancel_others(pt, b, NULL);
	}

	if (!pt->best || rank(scode) < rank(pt->best->scode)) {
		mem_deref(pt->best);
		pt->best = mem_ref((void *)msg);
		pt->best_delta = b->cseq_delta;
	}

	ptrans_done_check(pt);
}


static void cancel_handler(void *arg)
{
	struct ptrans *pt = arg;

	pt->canceled = true;
	cancel_others(pt, NULL, NULL);
}


/**
 * Proxy a request statefully
 *
 * @param sock Socket it came on
 * @param msg  The request
 * @param rr   Its routing decision, with targets (taken over)
 *
 * @return 0 if under way, otherwise errorcode (the caller answers 500)
 */
int ptrans_start(struct sipd_sock *sock, const struct sip_msg *msg,
		 struct route_result *rr)
{
	struct ptrans *pt;
	struct pl rport;
	int err;

	pt = mem_zalloc(sizeof(*pt), ptrans_destructor);
	if (!pt)
		return ENOMEM;

	list_append(&ptranss, &pt->le, pt);

	pt->sock = sock;
	pt->msg = mem_ref((void *)msg);
	pt->invite = msg_method_is(msg, "INVITE");
	pt->rr = *rr;
	list_init(&pt->rr.targets);
	list_init(&pt->rr.busy);
	list_init(&pt->rr.noanswer);
	(void)targets_move(&pt->rr.targets, &rr->targets);
	(void)targets_move(&pt->rr.busy, &rr->busy);
	(void)targets_move(&pt->rr.noanswer, &rr->noanswer);
	rr->ruri = NULL;
	pt->next_target = pt->rr.targets.head;
	pt->all_busy = true;

	sip_reply_addr(&pt->reply_dst, msg,
		       !msg_param_exists(&msg->via.params, "rport", &rport));

	err = sip_strans_alloc(&pt->st, sock_sip(sock), msg, cancel_handler,
			       pt);
	if (err)
		goto out;

	if (pt->invite) {
		err = sip_treply(&pt->st, sock_sip(sock), msg, 100, "Trying");
		if (err)
			goto out;
	}

	calls_request(pt);

	if (pt->invite && !list_isempty(&pt->rr.noanswer))
		tmr_start(&pt->tmr_noanswer, pt->rr.noanswer_after,
			  noanswer_handler, pt);

	err = next_group(pt);
	if (err) {
		pt->local_scode = 503;
		ptrans_done_check(pt);
		return 0;
	}

	return 0;

 out:
	mem_deref(pt);

	return err;
}


uint32_t ptrans_count(void)
{
	return list_count(&ptranss);
}


void ptrans_close(void)
{
	list_flush(&ptranss);
}
