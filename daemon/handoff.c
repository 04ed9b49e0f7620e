/**
 * @file handoff.c  Datagrams that another worker must handle, handed to it
 *
 * With several workers, every worker reads the shared UDP ports, and the
 * kernel picks the worker of a datagram by the hash of its addresses.
 * Two kinds of datagram belong to another worker, and a third is
 * meant for them:
 *
 *  - a request that must leave over a connection (a call to a phone
 *    registered over TCP, its CANCEL, ACK and in-dialog requests):
 *    connections are worker 0's (see workers.c), so it goes to worker 0;
 *  - a response to a request another worker sent (every worker sends
 *    from the shared port): it goes to the worker its branch names
 *    (the core's owner.c finds it, before libre reads it);
 *  - a batch of this worker's binding and call events, told to every
 *    other worker (share.c).
 *
 * Each worker has a local datagram socket in the abstract namespace
 * named after the master's pid and its index. Any local process can send
 * there, so a worker takes only what the kernel says a sibling worker
 * sent (SCM_CREDENTIALS). The datagram travels as it came, with its
 * source and the index of the socket it arrived on, and the receiver
 * feeds it to libre as if its own copy of the shared UDP socket had read
 * it: a request is routed, answered (from the same address and port)
 * and matched to its transaction there, a response finds its client
 * transaction. A retransmission, ACK or CANCEL reaches the same worker
 * as the request (the kernel's hash of its source) and takes the same
 * way.
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
	MAGIC = 0x73697064,      /* "sipd": a datagram, as it came */
	MAGIC_EVENTS = 0x73697065, /* "sipe": events told (share.c) */
	DATAGRAM_MAX = 65535,
};


/** What travels to a worker before the datagram itself */
struct handoff_head {
	uint32_t magic;
	uint32_t sock_index;
	struct sa src;
	uint32_t len;
};


static struct {
	int fd;
	uint64_t received;
} ho = {.fd = -1};


/* The name of a worker's socket: abstract, a NUL and then the name */
static socklen_t worker_addr(struct sockaddr_un *addr, uint32_t worker)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	(void)re_snprintf(addr->sun_path + 1, sizeof(addr->sun_path) - 1,
			  "sipd-handoff-%d-%u", (int)getppid(), worker);

	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
			   strlen(addr->sun_path + 1));
}


/* Send to a worker a datagram that came on a UDP socket (with its
   socket and source), or events (MAGIC_EVENTS, neither) */
static int handoff_send(uint32_t worker, uint32_t magic,
			const struct sipd_sock *sock, const struct sa *src,
			const uint8_t *p, size_t n)
{
	struct handoff_head head;
	struct sockaddr_un addr;
	struct iovec iov[2];
	struct msghdr mh;

	if (ho.fd < 0 || !p || n > DATAGRAM_MAX)
		return EINVAL;

	memset(&head, 0, sizeof(head));
	head.magic = magic;
	head.sock_index = sock_index(sock);
	if (src)
		head.src = *src;
	head.len = (uint32_t)n;

	iov[0].iov_base = &head;
	iov[0].iov_len = sizeof(head);
	iov[1].iov_base = (void *)p;
	iov[1].iov_len = n;

	memset(&mh, 0, sizeof(mh));
	mh.msg_name = &addr;
	mh.msg_namelen = worker_addr(&addr, worker);
	mh.msg_iov = iov;
	mh.msg_iovlen = 2;

	if (sendmsg(ho.fd, &mh, MSG_DONTWAIT) < 0)
		return errno;

	return 0;
}


/* The core's owner.c: a response for another worker's transaction */
static int response_handoff(uint32_t worker, const struct sipd_sock *sock,
			    const struct sa *src, const struct mbuf *mb)
{
	return handoff_send(worker, MAGIC, sock, src, mbuf_buf(mb),
			    mbuf_get_left(mb));
}


/* share.c: this worker's events, for another worker */
static int events_send(uint32_t worker, const uint8_t *p, size_t n)
{
	return handoff_send(worker, MAGIC_EVENTS, NULL, NULL, p, n);
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

	if (!msg->mb || msg->tp != SIP_TRANSP_UDP)
		err = EINVAL;
	else
		err = handoff_send(0, MAGIC, sock, &msg->src, msg->mb->buf,
				   msg->mb->end);
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

		for (i = 0; i < workers_count(); i++) {
			if ((int)i != worker_index() && worker_pid(i) == cred.pid)
				return cred.pid > 0;
		}
	}

	return false;
}


/* A datagram handed over by another worker */
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
	if (head.len != (size_t)n - sizeof(head))
		return;

	if (head.magic == MAGIC_EVENTS) {
		share_told(buf + sizeof(head), head.len);
		return;
	}

	if (head.magic != MAGIC)
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
 * Open this worker's handoff socket (a set of workers only): it
 * receives on it and sends from it
 *
 * @return 0 if success (or one worker), otherwise errorcode
 */
int handoff_start(void)
{
	struct sockaddr_un addr;
	socklen_t len;
	int on = 1, err;

	if (workers_count() < 2 || ho.fd >= 0 || worker_index() < 0)
		return 0;

	ho.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (ho.fd < 0)
		return errno;

	len = worker_addr(&addr, (uint32_t)worker_index());
	if (bind(ho.fd, (struct sockaddr *)&addr, len) ||
	    setsockopt(ho.fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on))) {
		err = errno;
		goto fail;
	}

	err = fd_listen(ho.fd, FD_READ, recv_handler, NULL);
	if (err)
		goto fail;

	owner_handoff_set(response_handoff);
	share_transport(events_send);

	return 0;

 fail:
	log_error("handoff: cannot open its socket: %m\n", err);
	(void)close(ho.fd);
	ho.fd = -1;

	return err;
}


/**
 * How many datagrams other workers handed to this one
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
	.help = "Datagrams another worker handed over: requests for a"
		" connection of this one, responses to its requests",
	.kind = STAT_COUNTER,
	.readh = figure_read,
};


/* arg: NULL for the batches sent, "told" for those received */
static uint64_t events_read(void *arg)
{
	uint64_t sent, told;

	share_counts(&sent, &told);

	return arg ? told : sent;
}


static struct stat_figure events_sent = {
	.name = "worker_events_sent",
	.help = "Batches of binding and call events told to the other"
		" workers",
	.kind = STAT_COUNTER,
	.readh = events_read,
};


static struct stat_figure events_told = {
	.name = "worker_events_told",
	.help = "Batches of binding and call events the other workers told",
	.kind = STAT_COUNTER,
	.readh = events_read,
	.arg = "told",
};


/**
 * Register the figures of the hand-offs (before the core's start)
 */
void handoff_init(void)
{
	if (!figure.le.list)
		stats_register(&figure);
	if (!events_sent.le.list)
		stats_register(&events_sent);
	if (!events_told.le.list)
		stats_register(&events_told);
}


void handoff_close(void)
{
	if (ho.fd < 0)
		return;

	owner_handoff_set(NULL);
	share_transport(NULL);
	fd_close(ho.fd);

	(void)close(ho.fd);
	ho.fd = -1;
}
