/**
 * @file tcp.c  sipd's tcp_accept(), tcp_sock_listen() and fd_close(), in
 *              front of libre's
 *
 * libre 1.1.0 sets no limit on the connections peers open, tells nobody
 * when a connection's descriptor closes, listens with a backlog of 5 (a
 * burst of a few connections fills it and the kernel drops the SYNs of
 * the next ones, which wait a second or more for their retry) and
 * leaves Nagle's algorithm on. It calls these three functions through
 * the dynamic linker, so the sipd executable defines them: an accepted
 * connection gets TCP_NODELAY and is offered to the accept hook (the
 * connection limits, modules/guard/connlimit.c), which may refuse it; a
 * closed descriptor is told to the close hook; a listen asks for
 * LISTEN_BACKLOG.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <re.h>
#include "libre.h"


enum {
	LISTEN_BACKLOG = 1024,   /* the kernel caps it at somaxconn */
};


typedef int (tcp_accept_h)(struct tcp_conn **tcp, struct tcp_sock *ts,
			   tcp_estab_h *eh, tcp_recv_h *rh, tcp_close_h *ch,
			   void *arg);
typedef void (fd_close_h)(int fd);
typedef int (tcp_sock_listen_h)(struct tcp_sock *ts, int backlog);


static struct {
	libre_accept_h *accepth;
	libre_fd_close_h *closeh;
} tcp;


/**
 * Set who is asked about accepted connections and told of closed
 * descriptors
 *
 * @param accepth Accept hook (false refuses the connection), or NULL
 * @param closeh  Close hook, or NULL
 */
void libre_tcp_hooks(libre_accept_h *accepth, libre_fd_close_h *closeh)
{
	tcp.accepth = accepth;
	tcp.closeh = closeh;
}


/**
 * Accept a connection: libre's tcp_accept(), without Nagle, if the
 * accept hook admits it
 */
int tcp_accept(struct tcp_conn **tc, struct tcp_sock *ts, tcp_estab_h *eh,
	       tcp_recv_h *rh, tcp_close_h *ch, void *arg)
{
	static tcp_accept_h *real;
	struct sa peer;
	int on = 1;
	int err;

	if (!real)
		real = (tcp_accept_h *)libre_original("tcp_accept");

	err = real(tc, ts, eh, rh, ch, arg);
	if (err)
		return err;

	/* no Nagle: a response behind an unacknowledged segment (a TLS
	   session ticket, a 100 Trying) waited for the delayed ACK */
	(void)setsockopt(tcp_conn_fd(*tc), IPPROTO_TCP, TCP_NODELAY, &on,
			 sizeof(on));

	if (!tcp.accepth || tcp_conn_peer_get(*tc, &peer) ||
	    tcp.accepth(tcp_conn_fd(*tc), &peer))
		return 0;

	*tc = mem_deref(*tc);

	return EMFILE;
}


/**
 * Listen for connections: libre's tcp_sock_listen(), with a longer queue
 */
int tcp_sock_listen(struct tcp_sock *ts, int backlog)
{
	static tcp_sock_listen_h *real;

	if (!real)
		real = (tcp_sock_listen_h *)libre_original("tcp_sock_listen");

	return real(ts, MAX(backlog, LISTEN_BACKLOG));
}


/**
 * Stop watching a descriptor: libre's fd_close(), told to the close hook
 */
void fd_close(int fd)
{
	static fd_close_h *real;

	if (tcp.closeh)
		tcp.closeh(fd);

	if (!real)
		real = (fd_close_h *)libre_original("fd_close");

	real(fd);
}
