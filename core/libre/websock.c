/**
 * @file websock.c  libre's WebSocket server, as browsers need it
 *
 * RFC 7118: a browser asks for the "sip" subprotocol and fails the
 * connection unless the server's 101 names it. libre 1.1.0 checks that
 * the request asks for "sip" but answers 101 without the header. Its
 * websock_accept() sends the 101 with http_reply(), which it calls
 * through the dynamic linker, so the sipd executable defines
 * http_reply(): a 101 gets "Sec-WebSocket-Protocol: sip" (libre's SIP
 * transport answers no other upgrade), every other reply is libre's.
 *
 * (The 32 s after which libre closes a WebSocket, because nothing
 * restarts its accept timer, are seen to in conn.c.)
 *
 * Copyright (C) 2026 sipd developers
 */

#define _GNU_SOURCE 1
#include <re.h>
#include "libre.h"


typedef int (http_reply_h)(struct http_conn *conn, uint16_t scode,
			   const char *reason, const char *fmt, ...);


static http_reply_h *real_reply(void)
{
	static http_reply_h *real;

	if (!real)
		real = (http_reply_h *)libre_original("http_reply");

	return real;
}


/**
 * Send an HTTP reply: libre's http_reply(), with the subprotocol of a
 * WebSocket upgrade
 *
 * @param conn   HTTP connection
 * @param scode  Status code
 * @param reason Reason phrase
 * @param fmt    Headers and body, formatted
 *
 * @return 0 if success, otherwise errorcode
 */
int http_reply(struct http_conn *conn, uint16_t scode, const char *reason,
	       const char *fmt, ...)
{
	http_reply_h *real = real_reply();
	char *rest = NULL;
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = fmt ? re_vsdprintf(&rest, fmt, ap) : 0;
	va_end(ap);
	if (err)
		return err;

	if (scode == 101)
		err = real(conn, scode, reason,
			   "Sec-WebSocket-Protocol: sip\r\n%s",
			   rest ? rest : "\r\n");
	else if (rest)
		err = real(conn, scode, reason, "%s", rest);
	else
		err = real(conn, scode, reason, NULL);

	mem_deref(rest);

	return err;
}
