/**
 * @file tcp.c  sipd's tcp_accept(), tcp_connect(), tcp_sock_listen() and
 *              fd_close(), in front of libre's
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
 * libre's SIP transport decodes what a connection reads without saying
 * which connection it is, and closes it without an answer when its
 * parser refuses the bytes. Every connection gets a helper that notes
 * it as the one being read (libre_tcp_current()) before the bytes reach
 * the transport, so that the decoder's hook (core/sip/wire.c) can answer
 * 400 or 505 on it first, as it does for a datagram.
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
typedef int (tcp_connect_h)(struct tcp_conn **tcp, const struct sa *peer,
			    tcp_estab_h *eh, tcp_recv_h *rh, tcp_close_h *ch,
			    void *arg);
typedef void (fd_close_h)(int fd);
typedef int (tcp_sock_listen_h)(struct tcp_sock *ts, int backlog);


enum {
	READ_LAYER = 100,        /* above TLS: the helper sees plain text */
};


static struct {
	libre_accept_h *accepth;
	libre_fd_close_h *closeh;
	struct tcp_conn *current;  /* whose bytes libre is reading */
	int current_fd;
} tcp = {NULL, NULL, NULL, -1};


static bool read_helper(int *err, struct mbuf *mb, bool *estab, void *arg)
{
	(void)err;
	(void)mb;
	(void)estab;

	tcp.current = arg;
	tcp.current_fd = tcp_conn_fd(arg);

	return false;
}


/* The helper lives in the connection's list: libre frees it with it */
static void read_helper_add(struct tcp_conn *tc)
{
	struct tcp_helper *th;

	(void)tcp_register_helper(&th, tc, READ_LAYER, NULL, NULL,
				  read_helper, tc);
}


/**
 * The connection whose bytes libre reads now (in its decoder)
 *
 * @return The connection, NULL if none is being read
 */
struct tcp_conn *libre_tcp_current(void)
{
	return tcp.current;
}


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
	    tcp.accepth(tcp_conn_fd(*tc), &peer)) {
		read_helper_add(*tc);
		return 0;
	}

	*tc = mem_deref(*tc);

	return EMFILE;
}


/**
 * Connect: libre's tcp_connect(), the connection noted when it is read
 */
int tcp_connect(struct tcp_conn **tc, const struct sa *peer, tcp_estab_h *eh,
		tcp_recv_h *rh, tcp_close_h *ch, void *arg)
{
	static tcp_connect_h *real;
	int err;

	if (!real)
		real = (tcp_connect_h *)libre_original("tcp_connect");

	err = real(tc, peer, eh, rh, ch, arg);
	if (!err)
		read_helper_add(*tc);

	return err;
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

	if (fd == tcp.current_fd) {
		tcp.current = NULL;
		tcp.current_fd = -1;
	}

	if (!real)
		real = (fd_close_h *)libre_original("fd_close");

	real(fd);
}
