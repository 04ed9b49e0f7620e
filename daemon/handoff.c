/**
 * @file handoff.c  Requests that only worker 0 can forward, handed to it
 *
 * With several workers, TCP, TLS and WebSocket connections are worker
 * 0's (see workers.c). A request that reaches another worker over UDP
 * and must leave over such a connection (a call to a phone registered
 * over TCP, its CANCEL, ACK and in-dialog requests) is handed to worker
 * 0 as it came: the datagram, its source and the index of the socket it
 * arrived on, over a local datagram socket in the abstract namespace
 * named after the master's pid. Any local process can send there, so
 * worker 0 takes only what the kernel says a sibling worker sent
 * (SCM_CREDENTIALS). Worker 0 feeds it to libre as if its own
 * copy of the shared UDP socket had read it, so it is routed, answered
 * (from the same address and port) and matched to its transaction
 * there. A retransmission, ACK or CANCEL reaches the same worker as the
 * request (the kernel's hash of its source) and takes the same way.
 *
 * The datagram is fed to libre by the libre layer (core/libre/udp.c).
 * A part of the daemon, registered with the core (ops.c): it opens
 * with the sockets and closes before them.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <re.h>
#include "ops.h"


enum {
	MAGIC = 0x73697064,      /* "sipd" */
	DATAGRAM_MAX = 65535,
};


/** What travels to worker 0 before the datagram itself */
struct handoff_head {
	uint32_t magic;
	uint32_t sock_index;
	struct sa src;
	uint32_t len;
};


static struct {
	int fd;
	struct sockaddr_un addr;
	socklen_t addrlen;
	uint64_t received;
} ho = {.fd = -1};


/* Hand a request that came over UDP to worker 0 */
static int handoff_send(const struct sipd_sock *sock, const struct sip_msg *msg)
{
	struct handoff_head head;
	struct iovec iov[2];
	struct msghdr mh;

	if (ho.fd < 0 || !sock || !msg || !msg->mb ||
	    msg->tp != SIP_TRANSP_UDP)
		return EINVAL;

	memset(&head, 0, sizeof(head));
	head.magic = MAGIC;
	head.sock_index = sock_index(sock);
	head.src = msg->src;
	head.len = (uint32_t)msg->mb->end;

	iov[0].iov_base = &head;
	iov[0].iov_len = sizeof(head);
	iov[1].iov_base = msg->mb->buf;
	iov[1].iov_len = msg->mb->end;

	memset(&mh, 0, sizeof(mh));
	mh.msg_name = &ho.addr;
	mh.msg_namelen = ho.addrlen;
	mh.msg_iov = iov;
	mh.msg_iovlen = 2;

	if (sendmsg(ho.fd, &mh, MSG_DONTWAIT) < 0)
		return errno;

	return 0;
}


/**
 * Hand a request to worker 0 if this is another worker (for the proxy
 * roles, when it leaves over a connection: route_needs_connection())
 *
 * @param sock The socket it arrived on
 * @param msg  The request
 *
 * @return True if taken: handed over, or answered 500 when that failed
 */
bool handoff_take(struct sipd_sock *sock, const struct sip_msg *msg)
{
	int err;

	if (ho.fd < 0 || worker_index() <= 0)
		return false;

	err = handoff_send(sock, msg);
	if (err) {
		log_warning("handoff: %r not handed to worker 0: %m\n",
			    &msg->met, err);
		if (!msg_method_is(msg, "ACK"))
			(void)sipd_reply(sock, msg, 500,
					 "Server Internal Error");
	}

	return true;
}


/* The sender's pid is one of the other workers' */
static bool from_sibling(const struct msghdr *mh)
{
	const struct cmsghdr *cm;
	struct ucred cred;
	uint32_t i;

	for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR((struct msghdr *)mh,
							 (struct cmsghdr *)cm)) {
		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_CREDENTIALS)
			continue;

		memcpy(&cred, CMSG_DATA(cm), sizeof(cred));

		for (i = 1; i < workers_count(); i++) {
			if (worker_pid(i) == cred.pid)
				return cred.pid > 0;
		}
	}

	return false;
}


/* Worker 0: a request handed over */
static void recv_handler(int flags, void *arg)
{
	static uint8_t buf[sizeof(struct handoff_head) + DATAGRAM_MAX];
	union {
		struct cmsghdr align;
		uint8_t buf[CMSG_SPACE(sizeof(struct ucred))];
	} ctl;
	struct handoff_head head;
	struct sipd_sock *sock;
	struct iovec iov;
	struct msghdr mh;
	struct mbuf *mb;
	ssize_t n;
	(void)flags;
	(void)arg;

	iov.iov_base = buf;
	iov.iov_len = sizeof(buf);
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = ctl.buf;
	mh.msg_controllen = sizeof(ctl.buf);

	n = recvmsg(ho.fd, &mh, MSG_DONTWAIT);
	if (n < (ssize_t)sizeof(head))
		return;

	/* the name is open to every local process: only siblings count */
	if (!from_sibling(&mh)) {
		log_warning("handoff: a datagram not from a worker dropped\n");
		return;
	}

	memcpy(&head, buf, sizeof(head));
	if (head.magic != MAGIC ||
	    head.len != (size_t)n - sizeof(head))
		return;

	sock = sock_by_index(head.sock_index);
	if (!sock || sock_transp(sock) != SIP_TRANSP_UDP)
		return;

	mb = mbuf_alloc(head.len);
	if (!mb)
		return;

	(void)mbuf_write_mem(mb, buf + sizeof(head), head.len);
	mb->pos = 0;

	++ho.received;

	if (wire_feed(sock, &head.src, mb))
		log_debug("handoff: no UDP socket for %s\n", sock_name(sock));

	mem_deref(mb);
}


/**
 * Open the handoff socket of a set of workers: worker 0 receives on it,
 * the others send to it
 *
 * @return 0 if success (or one worker), otherwise errorcode
 */
int handoff_start(void)
{
	int on = 1, err;

	if (workers_count() < 2 || ho.fd >= 0)
		return 0;

	memset(&ho.addr, 0, sizeof(ho.addr));
	ho.addr.sun_family = AF_UNIX;
	/* abstract: a NUL, then the name */
	(void)re_snprintf(ho.addr.sun_path + 1, sizeof(ho.addr.sun_path) - 1,
			  "sipd-handoff-%d", (int)getppid());
	ho.addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
				 strlen(ho.addr.sun_path + 1));

	ho.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (ho.fd < 0)
		return errno;

	if (worker_index() != 0)
		return 0;

	if (bind(ho.fd, (struct sockaddr *)&ho.addr, ho.addrlen) ||
	    setsockopt(ho.fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on))) {
		err = errno;
		goto fail;
	}

	err = fd_listen(ho.fd, FD_READ, recv_handler, NULL);
	if (err)
		goto fail;

	return 0;

 fail:
	log_error("handoff: cannot open its socket: %m\n", err);
	(void)close(ho.fd);
	ho.fd = -1;

	return err;
}


/**
 * How many requests other workers handed to this one
 *
 * @return Count
 */
static uint64_t figure_read(void *arg)
{
	(void)arg;

	return ho.received;
}


static struct stat_figure figure = {
	.name = STAT_HANDOFFS_RECEIVED,
	.help = "Requests another worker handed over for a connection of"
		" this one",
	.kind = STAT_COUNTER,
	.readh = figure_read,
};


/**
 * Register the figure of the hand-offs (before the core's start)
 */
void handoff_init(void)
{
	if (!figure.le.list)
		stats_register(&figure);
}


void handoff_close(void)
{
	if (ho.fd < 0)
		return;

	if (worker_index() == 0)
		fd_close(ho.fd);

	(void)close(ho.fd);
	ho.fd = -1;
}
