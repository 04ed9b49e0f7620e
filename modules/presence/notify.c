/**
 * @file notify.c  Sending NOTIFYs (RFC 6665 section 4.2.2)
 *
 * sipd writes each NOTIFY of a subscription itself (To, From, Call-ID,
 * CSeq and route set are stored, not kept in a libre dialog), so that
 * subscriptions outlive a restart. To one subscription there is at most
 * one NOTIFY in flight and at most one every presence_notify_interval;
 * changes in between are merged into the next. A 481 ends the
 * subscription; a timeout is retried, and ends it only after
 * presence_notify_retries.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include <sipd.h>
#include "presence.h"


enum {
	RETRY_WAIT = 5000,     /* ms before a NOTIFY that timed out again */
};


static int route_next(char **dst, const char *route_set)
{
	struct pl pl, uri;

	pl_set_str(&pl, route_set);
	if (re_regex(pl.p, pl.l, "<[^>]+>", &uri))
		return EBADMSG;

	return pl_strdup(dst, &uri);
}


static const char *state_param(const struct sub *sub)
{
	switch (sub->state) {

	case SUB_ACTIVE:  return "active";
	case SUB_PENDING: return "pending";
	default:          return "terminated";
	}
}


static int headers(struct mbuf *mb, struct sub *sub, struct mbuf *body,
		   const struct sipd_sock *sock)
{
	int64_t left = sub->expires - time_now();
	const struct sa *laddr = sock_laddr(sock);
	int err;

	if (left < 0)
		left = 0;

	err = mbuf_printf(mb, "To: <%s>;tag=%s\r\n"
			  "From: <%s>;tag=%s\r\n"
			  "Call-ID: %s\r\n"
			  "CSeq: %u NOTIFY\r\n"
			  "Max-Forwards: 70\r\n"
			  "Contact: <sip:%J%s>\r\n"
			  "Event: %s\r\n",
			  sub->remote_uri, sub->remote_tag,
			  sub->local_uri, sub->local_tag,
			  sub->call_id, sub->local_cseq,
			  laddr, sip_transp_param(sub->tp),
			  pkg_name(sub->pkg));

	if (sub->route_set && *sub->route_set) {
		struct pl rest;

		/* the route set, one Route header a value */
		pl_set_str(&rest, sub->route_set);
		err |= mbuf_printf(mb, "Route: %r\r\n", &rest);
	}

	if (sub->state == SUB_TERMINATED)
		err |= mbuf_printf(mb, "Subscription-State: terminated;"
				   "reason=%s\r\n",
				   sub->reason ? sub->reason : "noresource");
	else
		err |= mbuf_printf(mb, "Subscription-State: %s;expires=%lld"
				   "\r\n", state_param(sub), (long long)left);

	if (body && body->end) {
		err |= mbuf_printf(mb, "Content-Type: %s\r\n"
				   "Content-Length: %zu\r\n\r\n",
				   pkg_ctype(sub->pkg), body->end);
		err |= mbuf_write_mem(mb, body->buf, body->end);
	}
	else {
		err |= mbuf_write_str(mb, "Content-Length: 0\r\n\r\n");
	}

	return err;
}


static void send_notify(struct sub *sub);


/* Forget a subscription without a final NOTIFY; winfo hears of it */
static void sub_end(struct sub *sub)
{
	char *presentity = NULL;

	/* a final NOTIFY told winfo already */
	if (sub->pkg == PKG_PRESENCE && sub->state != SUB_TERMINATED)
		(void)str_dup(&presentity, sub->presentity);

	(void)sub_delete(sub);

	if (presentity)
		notify_presentity(presentity, PKG_WINFO);

	mem_deref(presentity);
}


static void retry_handler(void *arg)
{
	struct sub *sub = arg;

	send_notify(sub);
}


static void resp_handler(int err, const struct sip_msg *msg, void *arg)
{
	struct sub *sub = arg;

	if (msg && msg->scode < 200)
		return;

	sub->req = NULL;

	if (!err && msg->scode < 300) {
		sub->failures = 0;
	}
	else if (err && err != ETIMEDOUT && sub->tp != SIP_TRANSP_UDP &&
		 sa_isset(&sub->received, SA_ALL)) {
		/* the connection it subscribed on is gone (a restart, or it
		   reconnected): it listens at its Contact */
		sa_init(&sub->received, AF_UNSPEC);
		sub_dirty(sub);
		send_notify(sub);
		return;
	}
	else if (err || msg->scode == 408 || msg->scode >= 500) {
		/* no answer or trouble: try again a few times */
		if (++sub->failures > presence_conf.notify_retries) {
			log_info("presence: %s watching %s (%s) does not"
				 " answer: ended\n", sub->watcher,
				 sub->presentity, pkg_name(sub->pkg));
			sub_end(sub);
			return;
		}

		sub->pending_notify = true;
		tmr_start(&sub->tmr, RETRY_WAIT, retry_handler, sub);
		return;
	}
	else {
		/* 481 and other refusals end the subscription */
		log_info("presence: NOTIFY to %s for %s got %u: ended\n",
			 sub->watcher, sub->presentity, msg->scode);
		sub_end(sub);
		return;
	}

	if (sub->state == SUB_TERMINATED) {
		(void)sub_delete(sub);
		return;
	}

	/* a change came while this one was on its way */
	if (sub->pending_notify)
		notify_sub(sub);
}


static void send_notify(struct sub *sub)
{
	struct sipd_sock *sock = sock_find(sub->socket);
	struct mbuf *mb = NULL, *body = NULL;
	char *nexthop = NULL;
	struct uri route;
	struct pl pl;
	int err;

	sub->pending_notify = false;

	if (!sock) {
		log_info("presence: socket %s is gone: subscription of %s"
			 " to %s ended\n", sub->socket, sub->watcher,
			 sub->presentity);
		(void)sub_delete(sub);
		return;
	}

	mb = mbuf_alloc(1024);
	body = mbuf_alloc(1024);
	if (!mb || !body) {
		err = ENOMEM;
		goto out;
	}

	if (sub->state == SUB_ACTIVE ||
	    (sub->state == SUB_TERMINATED && sub->authorized)) {
		err = notify_body(body, sub);
		if (err)
			goto out;
	}

	++sub->local_cseq;
	sub_advanced(sub);

	err = headers(mb, sub, body, sock);
	if (err)
		goto out;

	mb->pos = 0;

	/* by the route set, else where the SUBSCRIBE came from (NAT) */
	if (sub->route_set && *sub->route_set)
		err = route_next(&nexthop, sub->route_set);
	else if (sa_isset(&sub->received, SA_ALL))
		err = re_sdprintf(&nexthop, "sip:%J;transport=%s",
				  &sub->received, transp_name(sub->tp));
	else
		err = str_dup(&nexthop, sub->contact);
	if (err)
		goto out;

	pl_set_str(&pl, nexthop);
	err = uri_decode(&route, &pl);
	if (err)
		goto out;

	err = sip_request(&sub->req, sock_sip(sock), true, "NOTIFY", -1,
			  sub->contact, -1, &route, mb, 0, NULL, resp_handler,
			  sub);
	if (err)
		goto out;

	sub->last_notify = tmr_jiffies();

 out:
	if (err) {
		log_info("presence: cannot notify %s: %m\n", sub->contact,
			 err);
		if (sub->state == SUB_TERMINATED)
			(void)sub_delete(sub);
	}

	mem_deref(nexthop);
	mem_deref(body);
	mem_deref(mb);
}


static void rate_handler(void *arg)
{
	struct sub *sub = arg;

	if (!sub->req)
		send_notify(sub);
}


/**
 * Tell a subscriber the current state, now or as soon as the rate limit
 * allows (changes in between are merged)
 *
 * @param sub Subscription
 */
void notify_sub(struct sub *sub)
{
	uint64_t now = tmr_jiffies();
	uint64_t next = sub->last_notify + presence_conf.notify_interval;

	sub->pending_notify = true;

	/* one in flight: the response handler sends the next */
	if (sub->req)
		return;

	if (sub->last_notify && now < next) {
		if (!tmr_isrunning(&sub->tmr))
			tmr_start(&sub->tmr, next - now, rate_handler, sub);
		return;
	}

	tmr_cancel(&sub->tmr);
	send_notify(sub);
}


/**
 * End a subscription with a final NOTIFY (Subscription-State terminated)
 *
 * @param sub    Subscription (freed when the NOTIFY is answered)
 * @param reason Reason parameter: timeout, rejected, noresource, ...
 */
void notify_terminate(struct sub *sub, const char *reason)
{
	if (sub->state == SUB_TERMINATED)
		return;

	/* a fetch or an unsubscribe gets the current state once more */
	sub->authorized = sub->state == SUB_ACTIVE &&
		str_casecmp(reason, "rejected");
	sub->state = SUB_TERMINATED;
	sub->reason = reason;
	sub_dirty(sub);

	/* the presentity's watcher list lost one */
	if (sub->pkg == PKG_PRESENCE)
		notify_presentity(sub->presentity, PKG_WINFO);

	/* the final one is not held back by the rate limit */
	tmr_cancel(&sub->tmr);
	sub->req = mem_deref(sub->req);
	send_notify(sub);
}


static void notify_handler(struct sub *sub, void *arg)
{
	(void)arg;

	notify_sub(sub);
}


/**
 * Notify every watcher of a presentity for a package
 *
 * @param presentity Presentity
 * @param pkg        Package
 */
void notify_presentity(const char *presentity, enum pkg pkg)
{
	if (pkg == PKG_PRESENCE)
		body_invalidate(presentity);

	(void)sub_apply(presentity, pkg, notify_handler, NULL);
}
