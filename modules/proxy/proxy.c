/**
 * @file proxy.c  The stateful proxy role (RFC 3261 section 16)
 *
 * Requests are routed by the core's policy (shared with the stateless
 * proxy) and forwarded by a proxy transaction. An ACK for a 2xx and a
 * CANCEL that matches no transaction are forwarded without state, as are
 * late 2xx responses of other forks.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include <sipd.h>
#include "proxy.h"


static void forward_stateless(struct sipd_sock *sock,
			      const struct sip_msg *msg,
			      struct route_result *rr)
{
	const struct route_target *t = list_ledata(rr->targets.head);
	int err;

	if (!t)
		return;

	err = fwd_stateless(sock, msg, rr, t);
	if (err)
		log_info("proxy: %r to %s not forwarded: %m\n", &msg->met,
			 t->ruri, err);
}


static bool request_handler(struct sipd_sock *sock, const struct sip_msg *msg)
{
	struct route_result rr;
	bool ack = msg_method_is(msg, "ACK");
	int err;

	route_result_init(&rr);

	err = route_request(&rr, sock, msg);
	if (err) {
		/* a lost database server is logged once, by the core */
		if (err != ENOTCONN)
			log_warning("proxy: routing %r: %m\n", &msg->met, err);
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

	if (rr.in_dialog) {
		calls_in_dialog(msg);
		rr.cseq_delta = shift_of(msg);
	}

	/* ACK of a 2xx, and a CANCEL libre matched to no transaction */
	if (ack || msg_method_is(msg, "CANCEL")) {
		forward_stateless(sock, msg, &rr);
		goto out;
	}

	err = ptrans_start(sock, msg, &rr);
	if (err) {
		log_warning("proxy: %r: %m\n", &msg->met, err);
		(void)sipd_reply(sock, msg, 500, "Server Internal Error");
	}

 out:
	route_result_reset(&rr);

	return true;
}


static bool response_handler(struct sipd_sock *sock, const struct sip_msg *msg)
{
	(void)sock;

	if (branch_cancel_response(msg))
		return true;

	/* a 2xx of another fork, or a retransmission of one */
	if (!pl_strcmp(&msg->cseq.met, "INVITE") && msg->scode >= 200 &&
	    msg->scode < 300 && !fwd_relay_response(msg, shift_of(msg)))
		return true;

	return false;
}


/* every method: a proxy forwards those it does not know (RFC 3261 16) */
static const char *methods[] = {"*", NULL};
static const char *needs[] = {"location", "account", "auth", "dns", NULL};

static struct role role = {
	.name      = "proxy",
	.methods   = methods,
	.needs     = needs,
	.requesth  = request_handler,
	.responseh = response_handler,
};


/* At start and at reloads: Timer C of the branches that start next */
static int conf_reload(bool apply)
{
	uint32_t timer_c = TIMER_C_DEFAULT;
	int err;

	err = config_u32("proxy_timer_c", &timer_c, 10, 3600);
	if (err)
		return EINVAL;

	if (apply)
		proxy_conf.timer_c = timer_c * 1000;

	return 0;
}


static struct reload_hook hook = {
	.name = "proxy",
	.h = conf_reload,
};


static uint64_t transactions_read(void *arg)
{
	(void)arg;

	return ptrans_count();
}


static uint64_t calls_read(void *arg)
{
	(void)arg;

	return calls_count();
}


static struct stat_figure transactions = {
	.name  = STAT_TRANSACTIONS,
	.help  = "Requests the stateful proxy is forwarding",
	.kind  = STAT_GAUGE,
	.readh = transactions_read,
};

static struct stat_figure calls = {
	.name  = STAT_CALLS,
	.help  = "Calls established through the proxy, until their BYE",
	.kind  = STAT_GAUGE,
	.readh = calls_read,
};


static int module_init(void)
{
	int err;

	err = conf_reload(true);
	if (err)
		return err;

	err = proxy_engine_init();
	if (err)
		return err;

	branch_init(ptrans_branch_response);
	role_register(&role);
	reload_register(&hook);
	stats_register(&transactions);
	stats_register(&calls);

	return 0;
}


static int module_close(void)
{
	stats_unregister(&calls);
	stats_unregister(&transactions);
	reload_unregister(&hook);
	role_unregister(&role);
	ptrans_close();
	calls_close();
	shift_close();
	branch_close();
	proxy_engine_close();

	return 0;
}


EXPORT_SYM const struct mod_export exports = {
	"proxy",
	"role",
	module_init,
	module_close
};
