/**
 * @file stateless_proxy.c  The stateless proxy role (RFC 3261 16.11)
 *
 * Forwards every request to one target (the best binding) without
 * transaction state: no 100 Trying, no retransmissions of its own. The
 * Via branch is computed from the request, so a retransmission, the
 * CANCEL and the ACK of an INVITE follow it on the same branch. Responses
 * go back by the second Via. Routing and relay policy are the core's,
 * shared with the stateful proxy.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <re.h>
#include <sipd.h>
#include <proxy/engine.h>


static bool request_handler(struct sipd_sock *sock, const struct sip_msg *msg)
{
	const struct route_target *t;
	struct route_result rr;
	bool ack = msg_method_is(msg, "ACK");
	int err;

	route_result_init(&rr);

	err = route_request(&rr, sock, msg);
	if (err) {
		/* a lost database server is logged once, by the core */
		if (err != ENOTCONN)
			log_warning("stateless-proxy: routing %r: %m\n",
				    &msg->met, err);
		if (!ack)
			(void)sipd_reply_retry(sock, msg, 500,
					       "Server Internal Error",
					       DB_RETRY_AFTER);
		goto out;
	}

	if (rr.answered)
		goto out;

	if (rr.scode) {
		if (!ack)
			(void)route_reply(sock, msg, &rr);
		goto out;
	}

	/* it leaves over a connection, which is worker 0's: it goes there */
	if (route_needs_connection(&rr) && handoff_take(sock, msg))
		goto out;

	/* one target: the best one */
	t = list_ledata(rr.targets.head);
	if (!t)
		goto out;

	err = fwd_stateless(sock, msg, &rr, t);
	if (err) {
		log_info("stateless-proxy: %r to %s: %m\n", &msg->met,
			 t->ruri, err);
		if (!ack)
			(void)sipd_reply(sock, msg, 503,
					 "Service Unavailable");
	}

 out:
	route_result_reset(&rr);

	return true;
}


static bool response_handler(struct sipd_sock *sock, const struct sip_msg *msg)
{
	(void)sock;

	return 0 == fwd_relay_response(msg, 0);
}


/* every method: a proxy forwards those it does not know (RFC 3261 16) */
static const char *methods[] = {"*", NULL};
static const char *needs[] = {"location", "account", "auth", "dns", NULL};

static struct role role = {
	.name      = "stateless-proxy",
	.methods   = methods,
	.needs     = needs,
	.requesth  = request_handler,
	.responseh = response_handler,
};


static int module_init(void)
{
	int err;

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
	"stateless_proxy",
	"role",
	module_init,
	module_close
};
