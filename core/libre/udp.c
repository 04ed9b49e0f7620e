/**
 * @file udp.c  sipd's udp_listen(), in front of libre's: a datagram fed
 *              to libre as if its socket had read it
 *
 * libre 1.1.0 has no way to give a SIP socket a datagram that another
 * process read: with several workers, a request for worker 0's
 * connection is handed to worker 0 (daemon/handoff.c), which must feed it
 * to its copy of the shared UDP socket. libre calls udp_listen() through
 * the dynamic linker, so the sipd executable defines it: the receive
 * handler libre gives each UDP socket is noted, and libre_udp_feed()
 * calls it.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <re.h>
#include "libre.h"


enum {
	RECEIVERS_MAX = 64,
};


typedef int (udp_listen_h)(struct udp_sock **usp, const struct sa *local,
			   udp_recv_h *rh, void *arg);


static struct {
	struct {
		struct udp_sock *us;
		udp_recv_h *rh;
		void *arg;
	} recv[RECEIVERS_MAX];
	uint32_t nrecv;
} udp;


/**
 * Open a UDP socket (in front of libre's): the receive handler is noted
 *
 * @param usp   Pointer to the socket
 * @param local Local address
 * @param rh    Receive handler
 * @param arg   Handler argument
 *
 * @return 0 if success, otherwise errorcode
 */
int udp_listen(struct udp_sock **usp, const struct sa *local,
	       udp_recv_h *rh, void *arg)
{
	static udp_listen_h *real;
	uint32_t i;
	int err;

	if (!real)
		real = (udp_listen_h *)libre_original("udp_listen");

	err = real(usp, local, rh, arg);
	if (err || !usp || !rh)
		return err;

	/* a slot of a socket since freed is used again */
	for (i = 0; i < udp.nrecv; i++) {
		if (udp.recv[i].us == *usp)
			break;
	}

	if (i == udp.nrecv) {
		if (udp.nrecv == RECEIVERS_MAX)
			return 0;
		++udp.nrecv;
	}

	udp.recv[i].us = *usp;
	udp.recv[i].rh = rh;
	udp.recv[i].arg = arg;

	return 0;
}


/**
 * Feed a datagram to libre as if a UDP socket had read it
 *
 * @param us  libre's UDP socket
 * @param src Source address
 * @param mb  The datagram
 *
 * @return 0 if fed, ENOENT if the socket's handler is not known
 */
int libre_udp_feed(struct udp_sock *us, const struct sa *src,
		   struct mbuf *mb)
{
	uint32_t i;

	for (i = 0; i < udp.nrecv; i++) {
		if (udp.recv[i].us != us)
			continue;

		udp.recv[i].rh(src, mb, udp.recv[i].arg);
		return 0;
	}

	return ENOENT;
}
