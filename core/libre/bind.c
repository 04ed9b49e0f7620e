/**
 * @file bind.c  sipd's bind(), in front of the C library's: listen ports
 *               the workers share
 *
 * libre 1.1.0's udp_listen() creates and binds its socket itself and sets
 * no SO_REUSEPORT, so workers cannot share a UDP port. libre calls bind()
 * through the dynamic linker, so the sipd executable defines it: while
 * a shared socket is being opened (proc/reuseport.c says when), a
 * datagram socket gets SO_REUSEPORT before the real bind, and the bound
 * hook after it.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <sys/socket.h>
#include <re.h>
#include "libre.h"


typedef int (bind_h)(int fd, const struct sockaddr *addr, socklen_t len);


static struct {
	bool shared;
	libre_bound_h *boundh;
} bnd;


/**
 * Make the next datagram sockets bound shared ones, or end that
 *
 * @param on     True before libre binds them, false after
 * @param boundh Called with each one bound while on, or NULL
 */
void libre_bind_shared(bool on, libre_bound_h *boundh)
{
	bnd.shared = on;
	bnd.boundh = on ? boundh : NULL;
}


int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	static bind_h *real;
	int type = 0, on = 1, r, err;
	socklen_t tlen = sizeof(type);

	if (!real)
		real = (bind_h *)libre_original("bind");

	if (!bnd.shared ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) ||
	    type != SOCK_DGRAM)
		return real(fd, addr, len);

	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)))
		return -1;

	r = real(fd, addr, len);
	if (r || !bnd.boundh)
		return r;

	err = bnd.boundh(fd);
	if (err) {
		errno = err;
		return -1;
	}

	return 0;
}
