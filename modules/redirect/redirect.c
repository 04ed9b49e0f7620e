/**
 * @file redirect.c  Redirect role (RFC 3261 sections 8.3 and 21.3)
 *
 * A request for an address-of-record of a served domain gets
 * "302 Moved Temporarily" listing where it goes, best q first, as the
 * proxy engine decides it (lib/proxy callee.c): the user's phones that
 * can take a call, with q and expires parameters; the target of its
 * "always" forward, or of its busy or unavailable forward; the phones of
 * a ring group's members (sequential: falling q). Unknown user: 404.
 * Known user without a phone: 480. Busy (published busy or dnd, or on
 * busy_limit calls): 486. A number or a domain routed to a server pool
 * gets the pool's live members, the pool's choice first with q 1.0 and
 * each next one lower; none alive: 503. A number routed to a host gets
 * that host. The no-answer forward needs a proxy and is not used here.
 * The ACK to the 302 is absorbed by the transaction.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include <sipd.h>
#include <sipmsg/sipmsg.h>
#include <proxy/engine.h>
#include <pool/pool.h>


static int contacts_print(struct re_printf *pf, void *arg)
{
	const struct list *targets = arg;
	int64_t now = time_now();
	struct le *le;
	int err = 0;

	for (le = targets->head; le; le = le->next) {
		const struct route_target *t = le->data;
		int64_t left = t->expires - now;

		if (t->expires)
			err |= re_hprintf(pf, "Contact: <%s>;q=%u.%03u;"
					  "expires=%lld\r\n", t->ruri,
					  t->q / 1000, t->q % 1000,
					  (long long)(left > 0 ? left : 0));
		else
			err |= re_hprintf(pf, "Contact: <%s>;q=%u.%03u\r\n",
					  t->ruri, t->q / 1000, t->q % 1000);
	}

	return err;
}


static void reply(struct sipd_sock *sock, const struct sip_msg *msg,
		  uint16_t scode, const char *reason, const char *fmt, ...)
{
	struct mbuf *mb = NULL;
	va_list ap;
	int err = 0;

	if (fmt) {
		mb = mbuf_alloc(512);
		if (!mb)
			return;

		va_start(ap, fmt);
		err = mbuf_vprintf(mb, fmt, ap);
		va_end(ap);
	}

	if (err)
		goto out;

	/* an INVITE is answered statefully so that its ACK is absorbed */
	if (msg_method_is(msg, "INVITE"))
		(void)sip_treplyf(NULL, NULL, sock_sip(sock), msg, false,
				  scode, reason, "%b%s",
				  mb ? mb->buf : (uint8_t *)"", mb ? mb->end : 0,
				  mb ? "" : "Content-Length: 0\r\n\r\n");
	else
		(void)sip_replyf(sock_sip(sock), msg, scode, reason, "%b%s",
				 mb ? mb->buf : (uint8_t *)"", mb ? mb->end : 0,
				 mb ? "" : "Content-Length: 0\r\n\r\n");

 out:
	mem_deref(mb);
}


static bool authorized(struct sipd_sock *sock, const struct sip_msg *msg)
{
	struct auth_identity id;
	int err;

	/* callers from outside are not challenged; local users are */
	if (!sock_auth(sock) || !domain_is_served(&msg->from.uri.host))
		return true;

	/* a caller calls as itself only */
	err = auth_require(&id, sock, msg, AUTH_WWW, &msg->from.uri);
	if (err == EPERM)
		reply(sock, msg, 403, "Forbidden", NULL);
	else if (err && err != EAUTH)
		reply(sock, msg, 500, "Server Internal Error", NULL);

	return err == 0;
}


/* A domain sipd does not serve, routed to a pool: its members */
static bool pool_domain(struct route_result *rr, const struct sip_msg *msg,
			int *err)
{
	const struct static_route *r = routes_domain(&msg->uri.host);

	if (!r || !routes_pool(r))
		return false;

	*err = callee_route(rr, &rr->targets, r, &msg->uri, msg, true);

	return true;
}


static bool request_handler(struct sipd_sock *sock, const struct sip_msg *msg)
{
	struct route_result rr;
	const struct route_target *first;
	char unsup[256];
	static const char *supported[] = {NULL};
	bool served;
	int err = 0;

	if (msg_method_is(msg, "ACK"))
		return true;   /* an ACK to a 2xx we never sent: drop */

	route_result_init(&rr);

	served = domain_is_served(&msg->uri.host);
	if (!served && !pool_domain(&rr, msg, &err)) {
		route_result_reset(&rr);
		return false;
	}

	if (msg_require_check(msg, SIP_HDR_REQUIRE, supported, unsup,
			      sizeof(unsup))) {
		reply(sock, msg, 420, "Bad Extension", "Unsupported: %s\r\n"
		      "Content-Length: 0\r\n\r\n", unsup);
		goto out;
	}

	if (!authorized(sock, msg))
		goto out;

	if (served) {
		if (domain_is_served(&msg->from.uri.host))
			(void)msg_aor(rr.caller, sizeof(rr.caller),
				      &msg->from.uri);
		err = callee_local(&rr, &msg->uri, msg, true, true);
	}

	first = list_ledata(rr.targets.head);

	if (err) {
		/* a lost database server is logged once, by the core */
		if (err != ENOTCONN)
			log_warning("redirect: %r: %m\n", &msg->ruri, err);
		reply(sock, msg, 500, "Server Internal Error",
		      "Retry-After: %u\r\n"
		      "Content-Length: 0\r\n\r\n", DB_RETRY_AFTER);
	}
	else if (rr.scode == 503 && rr.retry_after) {
		reply(sock, msg, 503, rr.reason, "Retry-After: %u\r\n"
		      "Content-Length: 0\r\n\r\n", rr.retry_after);
	}
	else if (rr.scode) {
		reply(sock, msg, rr.scode, rr.reason, NULL);
	}
	else if (!first) {
		reply(sock, msg, 480, "Temporarily Unavailable", NULL);
	}
	else {
		/* the pool's choice is the call it will get */
		if (first->member)
			pool_member_redirected(first->member);

		reply(sock, msg, 302, "Moved Temporarily",
		      "%HContent-Length: 0\r\n\r\n", contacts_print,
		      &rr.targets);
	}

 out:
	route_result_reset(&rr);

	return true;
}


static const char *methods[] = {
	"INVITE", "ACK", "OPTIONS", "MESSAGE", "SUBSCRIBE", "REFER", NULL
};
static const char *needs[] = {"location", "account", "auth", NULL};

static struct role role = {
	.name     = "redirect",
	.methods  = methods,
	.needs    = needs,
	.requesth = request_handler,
};


static int module_init(void)
{
	int err;

	/* the routes, numbers, ring groups and pools of the engine */
	err = proxy_engine_init();
	if (err)
		return err;

	role_register(&role);

	return 0;
}


static int module_close(void)
{
	role_unregister(&role);
	proxy_engine_close();

	return 0;
}


EXPORT_SYM const struct mod_export exports = {
	"redirect",
	"role",
	module_init,
	module_close
};
