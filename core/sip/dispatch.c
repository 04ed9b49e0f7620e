/**
 * @file dispatch.c  Offer a request to the roles of the socket it came on
 *
 * A request is checked, then offered to the roles of its socket in the
 * order of the listen line; the first role that takes it wins. The core
 * itself answers OPTIONS addressed to the server, 501 for methods it does
 * not know (unless a proxy role on the socket forwards them) and 405
 * (with Allow) for methods no role on the socket takes.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <sys/socket.h>
#include <re.h>
#include "libre/libre.h"


/*
 * RFC 4475 3.1.2.3: after a framing error on a stream the connection
 * cannot be trusted; close it once the answer is written. libre has no
 * call to close one of its connections, but it closes a connection whose
 * socket reads end of file.
 */
static void stream_abort(const struct sip_msg *msg)
{
	struct tcp_conn *tc = sip_msg_tcpconn(msg);

	if (tc)
		(void)shutdown(tcp_conn_fd(tc), SHUT_RDWR);
}


static bool addressed_to_server(const struct sipd_sock *sock,
				const struct sip_msg *msg)
{
	struct sa addr;

	if (pl_isset(&msg->uri.user))
		return false;

	if (domain_is_served(&msg->uri.host))
		return true;

	if (sa_set(&addr, &msg->uri.host, 0))
		return false;

	return sa_cmp(&addr, &sock->laddr, SA_ADDR);
}


static void reply_options(struct sipd_sock *sock, const struct sip_msg *msg)
{
	(void)sip_replyf(sock_sip(sock), msg, 200, "OK",
			 "Allow: %H\r\n"
			 "Accept: application/sdp\r\n"
			 "Supported: path\r\n"
			 "Content-Length: 0\r\n\r\n",
			 sock_allow, sock);
}


/**
 * Handle a request that arrived on a socket
 *
 * @param sock Socket it arrived on
 * @param msg  The request
 *
 * @return Always true: the request is consumed
 */
bool dispatch_request(struct sipd_sock *sock, const struct sip_msg *msg)
{
	const char *reason = NULL;
	bool declined = false;
	struct le *le;
	int scode;

	if (ban_check(&msg->src))
		return true;

	/* datagrams are counted before they are parsed (wire.c) */
	if (msg->tp != SIP_TRANSP_UDP &&
	    filter_flood(&msg->src, !pl_strcmp(&msg->met, "OPTIONS")))
		return true;

	if (filter_request(msg))
		return true;

	conn_seen(msg);

	/*
	 * The To tag of a reply comes from msg->tag, random for each decode.
	 * Derived from the transaction instead, a retransmission answered
	 * again without state gets the same tag.
	 */
	((struct sip_msg *)msg)->tag =
		(uint64_t)hash_joaat_pl(&msg->via.branch) << 32 |
		(hash_joaat_pl(&msg->callid) ^ hash_joaat_pl(&msg->from.tag) ^
		 msg->cseq.num);

	scode = limits_check(msg, &reason);
	if (scode)
		stats_count(STATS_OVER_LIMITS);
	else
		scode = validate_request(msg, sock->any_method, &reason);
	if (scode) {
		stats_count(STATS_MALFORMED);
		log_debug("%r from %J refused: %d %s\n", &msg->met,
			  &msg->src, scode, reason);

		if (msg_method_is(msg, "ACK"))
			return true;

		/* a Via port out of range: answer the source, not the port
		   libre truncated it to */
		if (validate_port_bad(&msg->via.sentby))
			((struct sip_msg *)msg)->via.addr = msg->src;

		if (scode == 501)
			(void)sip_replyf(sock_sip(sock), msg, 501, reason,
					 "Allow: %H\r\n"
					 "Content-Length: 0\r\n\r\n",
					 sock_allow, sock);
		else
			(void)sip_reply(sock_sip(sock), msg, scode, reason);

		if (validate_framing_broken(msg))
			stream_abort(msg);

		return true;
	}

	if (msg_method_is(msg, "OPTIONS") && addressed_to_server(sock, msg)) {
		reply_options(sock, msg);
		return true;
	}

	for (le = sock->roles.head; le; le = le->next) {
		const struct role_ref *ref = le->data;

		if (!role_takes(ref->role, msg->met.p, msg->met.l))
			continue;

		if (ref->role->requesth(sock, msg))
			return true;

		declined = true;
	}

	if (msg_method_is(msg, "ACK"))
		return true;

	if (msg_method_is(msg, "CANCEL")) {
		(void)sip_reply(sock_sip(sock), msg, 481,
				"Call/Transaction Does Not Exist");
		return true;
	}

	if (declined) {
		(void)sip_reply(sock_sip(sock), msg, 404,
				"Domain Not Served Here");
		return true;
	}

	/* OPTIONS is in every Allow: the server answers it for itself */
	if (msg_method_is(msg, "OPTIONS")) {
		reply_options(sock, msg);
		return true;
	}

	(void)sip_replyf(sock_sip(sock), msg, 405, "Method Not Allowed",
			 "Allow: %H\r\n"
			 "Content-Length: 0\r\n\r\n",
			 sock_allow, sock);

	return true;
}


/**
 * Reply statelessly from a socket
 *
 * @param sock   Socket the request arrived on
 * @param msg    The request
 * @param scode  Status code
 * @param reason Reason phrase
 *
 * @return 0 if success, otherwise errorcode
 */
int sipd_reply(struct sipd_sock *sock, const struct sip_msg *msg,
	       uint16_t scode, const char *reason)
{
	return sip_reply(sock_sip(sock), msg, scode, reason);
}


/**
 * Reply statelessly with extra headers and body
 *
 * @param sock   Socket the request arrived on
 * @param msg    The request
 * @param scode  Status code
 * @param reason Reason phrase
 * @param fmt    Headers, then an empty line and the body
 *
 * @return 0 if success, otherwise errorcode
 */
int sipd_replyf(struct sipd_sock *sock, const struct sip_msg *msg,
		uint16_t scode, const char *reason, const char *fmt, ...)
{
	struct mbuf *mb;
	va_list ap;
	int err;

	mb = mbuf_alloc(256);
	if (!mb)
		return ENOMEM;

	va_start(ap, fmt);
	err = mbuf_vprintf(mb, fmt, ap);
	va_end(ap);

	if (!err)
		err = sip_replyf(sock_sip(sock), msg, scode, reason, "%b",
				 mb->buf, mb->end);

	mem_deref(mb);

	return err;
}
