/**
 * @file route.c  Where a proxied request goes, and whether it may go
 *
 * The routing and relay policy shared by the stateful and the stateless
 * proxy (RFC 3261 16.3 to 16.5):
 *
 *  - Max-Forwards 0: 483; unknown Proxy-Require options: 420; a loop: 482;
 *  - Route values naming sipd are removed (loose routing); a Request-URI
 *    naming sipd with a Route set is a strict router's: the last Route
 *    value becomes the Request-URI;
 *  - users of served domains authenticate (407) unless the socket has
 *    auth=off, and must send as themselves (403);
 *  - a request for a served domain goes where callee.c decides (a ring
 *    group, a forward, the user's phones that can take a call: 404 for an
 *    unknown user, 486 busy, 480 without a phone), a number to its static
 *    route or pool; a request for elsewhere is relayed only for a local
 *    user or a trusted socket (403 otherwise), by static route or pool,
 *    else by RFC 3263.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include "engine.h"


static const char *proxy_supported[] = {NULL};


void route_result_init(struct route_result *rr)
{
	memset(rr, 0, sizeof(*rr));
	list_init(&rr->targets);
	list_init(&rr->busy);
	list_init(&rr->noanswer);
}


void route_result_reset(struct route_result *rr)
{
	list_flush(&rr->targets);
	list_flush(&rr->busy);
	list_flush(&rr->noanswer);
	mem_deref(rr->ruri);
	route_result_init(rr);
}


static int fail(struct route_result *rr, uint16_t scode, const char *reason)
{
	rr->scode = scode;
	rr->reason = reason;

	return 0;
}


/**
 * Check whether a URI names sipd itself: one of its socket addresses (the
 * port defaults to the transport's), or a served domain without a user
 *
 * @param uri URI
 *
 * @return True if it is sipd
 */
bool route_uri_is_ours(const struct uri *uri)
{
	enum sip_transp tp = uri_transp(uri);
	struct sa addr;
	int i;

	if (!pl_isset(&uri->user) && domain_is_served(&uri->host))
		return true;

	if (sa_set(&addr, &uri->host, 0))
		return false;

	sa_set_port(&addr, sip_transp_port(tp, uri->port));

	if (sock_for_laddr(tp, &addr))
		return true;

	/* another transport on the same address and port */
	for (i = 0; i < SIP_TRANSPC; i++) {
		if (sock_for_laddr((enum sip_transp)i, &addr))
			return true;
	}

	return false;
}


static struct sipd_sock *uri_sock(const struct uri *uri)
{
	enum sip_transp tp = uri_transp(uri);
	struct sa addr;

	if (sa_set(&addr, &uri->host, 0))
		return NULL;

	sa_set_port(&addr, sip_transp_port(tp, uri->port));

	return sock_for_laddr(tp, &addr);
}


static int route_uri(struct uri *uri, const struct sip_hdr *hdr)
{
	struct sip_addr addr;

	if (sip_addr_decode(&addr, &hdr->val))
		return EBADMSG;

	*uri = addr.uri;

	return 0;
}


/* Pop the Route values that name sipd; note a strict router's request */
static int routes_process(struct route_result *rr, const struct sip_msg *msg)
{
	uint32_t count = 0, ours = 0;
	const struct sip_hdr *last = NULL;
	bool leading = true;
	struct le *le;

	for (le = msg->hdrl.head; le; le = le->next) {
		const struct sip_hdr *hdr = le->data;
		struct uri uri;

		if (hdr->id != SIP_HDR_ROUTE)
			continue;

		++count;
		last = hdr;

		if (!leading)
			continue;

		if (route_uri(&uri, hdr))
			return fail(rr, 400, "Malformed Route");

		if (route_uri_is_ours(&uri)) {
			struct sipd_sock *s = uri_sock(&uri);
			++ours;
			if (s)
				rr->out = s;

			/* where both sides of the dialog are (flow.c) */
			if (!rr->flows && pl_isset(&uri.user) &&
			    !flow_decode(&rr->flow_a, &rr->flow_b,
					 &uri.user))
				rr->flows = true;

			/* another node's, for a phone on this one */
			if (!rr->node_aor[0] && pl_isset(&uri.user) &&
			    flow_node_decode(rr->node_aor,
					     sizeof(rr->node_aor),
					     &uri.user))
				rr->node_aor[0] = '\0';
		}
		else {
			leading = false;
		}
	}

	rr->routes_popped = ours;

	/* a strict router sent it: the Request-URI is our old Route */
	if (!ours && count && route_uri_is_ours(&msg->uri) &&
	    !pl_isset(&msg->uri.user)) {
		struct sip_addr addr;

		if (sip_addr_decode(&addr, &last->val))
			return fail(rr, 400, "Malformed Route");

		rr->strict = true;
		if (pl_strdup(&rr->ruri, &addr.auri))
			return ENOMEM;
	}

	rr->by_route = count > ours + (rr->strict ? 1 : 0);

	return 0;
}


/* The URI of the first Route value after those sipd removes */
static int next_route(char **dst, const struct sip_msg *msg, uint32_t skip)
{
	struct le *le;
	uint32_t n = 0;

	for (le = msg->hdrl.head; le; le = le->next) {
		const struct sip_hdr *hdr = le->data;
		struct sip_addr addr;

		if (hdr->id != SIP_HDR_ROUTE || n++ < skip)
			continue;

		if (sip_addr_decode(&addr, &hdr->val))
			return EBADMSG;

		return pl_strdup(dst, &addr.auri);
	}

	return ENOENT;
}


/* The flow of the side a request did not come from */
static const struct flow *flow_other(const struct route_result *rr,
				     const struct sip_msg *msg)
{
	if (rr->flow_a.tp == msg->tp &&
	    sa_cmp(&rr->flow_a.addr, &msg->src, SA_ALL))
		return &rr->flow_b;

	if (rr->flow_b.tp == msg->tp &&
	    sa_cmp(&rr->flow_b.addr, &msg->src, SA_ALL))
		return &rr->flow_a;

	return NULL;
}


static int target_add(struct route_result *rr, struct route_target **tp)
{
	return target_new(tp, &rr->targets);
}


/*
 * Is the other side of a dialog reached on its flow? Over a connection
 * that has closed, a side that is not behind a NAT (its flow has the
 * address of the Request-URI, its Contact) is reached at its Contact.
 */
static bool flow_usable(const struct flow *to, const struct pl *ruri)
{
	struct uri uri;
	struct sa addr;

	if (to->tp == SIP_TRANSP_UDP || to->tp == SIP_TRANSP_WS ||
	    to->tp == SIP_TRANSP_WSS || conn_is_open(to->tp, &to->addr))
		return true;

	if (uri_decode(&uri, ruri) || sa_set(&addr, &uri.host, 0))
		return true;

	return !sa_cmp(&addr, &to->addr, SA_ADDR);
}


/* A request for elsewhere: static route, else RFC 3263 */
static int route_remote(struct route_result *rr, const struct uri *ruri,
			const struct pl *ruri_str, const struct sip_msg *msg)
{
	const struct static_route *r = NULL;
	struct route_target *t;
	int err;

	if (pl_isset(&ruri->user))
		r = routes_number(&ruri->user);
	if (!r)
		r = routes_domain(&ruri->host);

	if (r)
		return callee_route(rr, &rr->targets, r, ruri, msg, false);

	err = target_add(rr, &t);
	if (err)
		return err;

	return pl_strdup(&t->ruri, ruri_str);
}


static int authenticate(struct route_result *rr, struct sipd_sock *sock,
			const struct sip_msg *msg)
{
	int err;

	/* a user sends as itself */
	err = auth_require(&rr->id, sock, msg, AUTH_PROXY, &msg->from.uri);
	if (err == EAUTH) {
		rr->answered = true;
		return 0;
	}
	else if (err == EPERM) {
		return fail(rr, 403, "Forbidden");
	}
	else if (err) {
		return err;
	}

	rr->authenticated = true;

	return msg_aor(rr->caller, sizeof(rr->caller), &msg->from.uri);
}


/**
 * Decide where a request goes. On return either rr->scode is set (answer
 * it), rr->answered (a challenge went out), or rr->targets holds the
 * branches, best q first.
 *
 * @param rr   Result, initialized with route_result_init()
 * @param sock Socket the request came on
 * @param msg  The request
 *
 * @return 0 if a decision was made, otherwise errorcode (answer 500)
 */
int route_request(struct route_result *rr, struct sipd_sock *sock,
		  const struct sip_msg *msg)
{
	struct route_target *t;
	struct uri ruri;
	struct pl ruri_str;
	bool local_from, trusted;
	int err;

	/*
	 * The ACK of a final response sipd gave itself without state (407,
	 * 403, 420, ...) ends here: its To tag is the one dispatch derives
	 * from the transaction for sipd's replies.
	 */
	if (msg_method_is(msg, "ACK") && pl_isset(&msg->to.tag)) {
		char own[24];

		(void)re_snprintf(own, sizeof(own), "%016llx", msg->tag);
		if (!pl_strcmp(&msg->to.tag, own)) {
			rr->answered = true;
			return 0;
		}
	}

	if (pl_isset(&msg->maxfwd) && pl_u32(&msg->maxfwd) == 0)
		return fail(rr, 483, "Too Many Hops");

	if (msg_require_check(msg, SIP_HDR_PROXY_REQUIRE, proxy_supported,
			      rr->unsupported, sizeof(rr->unsupported)))
		return fail(rr, 420, "Bad Extension");

	if (fwd_is_loop(msg))
		return fail(rr, 482, "Loop Detected");

	rr->in_dialog = pl_isset(&msg->to.tag);

	err = routes_process(rr, msg);
	if (err || rr->scode)
		return err;

	/* from another node of the database, for a phone on this one */
	if (rr->node_aor[0] && !rr->in_dialog && !rr->by_route)
		return callee_node_phone(rr, msg);

	local_from = domain_is_served(&msg->from.uri.host);

	/* in a dialog sipd record-routed: follow the route set; with
	   auth_in_dialog a local user's requests but ACK and CANCEL are
	   challenged as a new call's (a BYE only its sender may send) */
	if (rr->in_dialog && (rr->routes_popped || rr->strict)) {
		if (sock_auth(sock) && local_from && auth_in_dialog() &&
		    !msg_method_is(msg, "ACK") &&
		    !msg_method_is(msg, "CANCEL")) {
			err = authenticate(rr, sock, msg);
			if (err || rr->answered || rr->scode)
				return err;
		}
		else {
			rr->authenticated = !sock_auth(sock);
		}
		goto forward;
	}

	/*
	 * CANCEL and ACK cannot be resubmitted, hence not challenged (9.2,
	 * 22.1): they follow their INVITE, whose sender authenticated.
	 */
	if (sock_auth(sock) && local_from &&
	    (msg_method_is(msg, "CANCEL") || msg_method_is(msg, "ACK"))) {
		(void)msg_aor(rr->caller, sizeof(rr->caller), &msg->from.uri);
		rr->authenticated = true;
	}
	else if (sock_auth(sock) && local_from) {
		err = authenticate(rr, sock, msg);
		if (err || rr->answered || rr->scode)
			return err;
	}
	else if (local_from) {
		(void)msg_aor(rr->caller, sizeof(rr->caller), &msg->from.uri);
	}

	trusted = !sock_auth(sock) || rr->authenticated;

	/* a pre-loaded Route to elsewhere: a relay */
	if (rr->by_route) {
		if (!trusted)
			return fail(rr, 403, "Relaying Denied");
		goto forward;
	}

	if (rr->ruri) {
		pl_set_str(&ruri_str, rr->ruri);
		if (uri_decode(&ruri, &ruri_str))
			return fail(rr, 400, "Bad Request-URI");
	}
	else {
		ruri_str = msg->ruri;
		ruri = msg->uri;
	}

	if (domain_is_served(&ruri.host) ||
	    (route_uri_is_ours(&ruri) && pl_isset(&ruri.user)))
		return callee_local(rr, &ruri, msg, trusted, false);

	if (!trusted)
		return fail(rr, 403, "Relaying Denied");

	return route_remote(rr, &ruri, &ruri_str, msg);

 forward:
	/* by the Route left, or by the Request-URI */
	err = target_add(rr, &t);
	if (err)
		return err;

	t->sock = rr->out;

	/* in a dialog: to the other side's flow, through its NAT */
	if (rr->flows && !rr->by_route) {
		const struct flow *to = flow_other(rr, msg);
		struct pl target = msg->ruri;

		if (rr->ruri)
			pl_set_str(&target, rr->ruri);

		if (to && sock_by_index(to->sock) &&
		    flow_usable(to, &target)) {
			t->sock = sock_by_index(to->sock);
			err = re_sdprintf(&t->nexthop, "sip:%J;transport=%s",
					  &to->addr, transp_name(to->tp));
			if (err)
				return err;
		}
	}

	if (rr->ruri)
		err = str_dup(&t->ruri, rr->ruri);
	else
		err = pl_strdup(&t->ruri, &msg->ruri);

	if (!err && rr->by_route)
		err = next_route(&t->nexthop, msg, rr->routes_popped);

	return err;
}


/**
 * Answer a request the routing refused
 *
 * @param sock Socket it came on
 * @param msg  The request
 * @param rr   The decision, with scode set
 *
 * @return 0 if success, otherwise errorcode
 */
int route_reply(struct sipd_sock *sock, const struct sip_msg *msg,
		const struct route_result *rr)
{
	if (rr->scode == 420)
		return sipd_replyf(sock, msg, 420, rr->reason,
				   "Unsupported: %s\r\n"
				   "Content-Length: 0\r\n\r\n",
				   rr->unsupported);

	/* a pool whose members are all full: when to try again */
	if (rr->scode == 503 && rr->retry_after)
		return sipd_replyf(sock, msg, 503, rr->reason,
				   "Retry-After: %u\r\n"
				   "Content-Length: 0\r\n\r\n",
				   rr->retry_after);

	return sipd_reply(sock, msg, rr->scode, rr->reason);
}


/* A target that leaves over a connection (URI transport, or sips:) */
static bool target_connected(const struct route_target *t)
{
	const char *str = t->nexthop ? t->nexthop : t->ruri;
	struct uri uri;
	struct pl pl;

	if (!str)
		return false;

	pl_set_str(&pl, str);

	return !uri_decode(&uri, &pl) && uri_transp(&uri) != SIP_TRANSP_UDP;
}


/**
 * Whether a target of a routing decision leaves over a connection (a
 * binding registered over TCP, TLS or WebSocket, or a URI transport
 * other than UDP): with several workers, only worker 0 has connections
 *
 * @param rr Routing decision
 *
 * @return True if one does
 */
bool route_needs_connection(const struct route_result *rr)
{
	struct le *le;

	if (!rr)
		return false;

	for (le = rr->targets.head; le; le = le->next) {
		const struct route_target *t = le->data;

		if (t->connection || target_connected(t))
			return true;
	}

	return false;
}
