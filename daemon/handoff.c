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
 * Each worker listens on a local SOCK_SEQPACKET socket in the abstract
 * namespace named after the master's pid and its index, and connects to
 * each other worker's when it first sends to it: messages keep their
 * bounds, and a connected pair is limited by its buffer, not by the
 * queue of ten datagrams (net.unix.max_dgram_qlen) that an unconnected
 * datagram socket gets, which a burst filled. Any local process can
 * connect there, so a worker keeps only a connection that the kernel
 * says a sibling worker made (SO_PEERCRED). The datagram travels as it
 * came, with its
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


/** A connection a sibling worker made to this one */
struct conn {
	struct le le;
	int fd;
};


static struct {
	int fd;                     /* listening */
	int out[WORKERS_MAX];       /* to each worker, -1 until needed */
	struct list conns;          /* struct conn, from the others */
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


/* The connection to a worker, made when first needed */
static int out_fd(uint32_t worker)
{
	struct sockaddr_un addr;
	socklen_t len;
	int fd;

	if (ho.out[worker] >= 0)
		return ho.out[worker];

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    0);
	if (fd < 0)
		return -1;

	len = worker_addr(&addr, worker);
	if (connect(fd, (struct sockaddr *)&addr, len)) {
		(void)close(fd);
		return -1;
	}

	ho.out[worker] = fd;

	return fd;
}


static void out_close(uint32_t worker)
{
	if (ho.out[worker] < 0)
		return;

	(void)close(ho.out[worker]);
	ho.out[worker] = -1;
}


/* Send to a worker a datagram that came on a UDP socket (with its
   socket and source), or events (MAGIC_EVENTS, neither) */
static int handoff_send(uint32_t worker, uint32_t magic,
			const struct sipd_sock *sock, const struct sa *src,
			const uint8_t *p, size_t n)
{
	struct handoff_head head;
	struct iovec iov[2];
	struct msghdr mh;
	int fd, tries;

	if (ho.fd < 0 || !p || n > DATAGRAM_MAX || worker >= WORKERS_MAX ||
	    (int)worker == worker_index())
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
	mh.msg_iov = iov;
	mh.msg_iovlen = 2;

	/* a worker started again: its old connection is gone, once */
	for (tries = 0; tries < 2; tries++) {
		fd = out_fd(worker);
		if (fd < 0)
			return errno;

		if (sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
			return 0;

		if (errno != EPIPE && errno != ECONNRESET &&
		    errno != ENOTCONN)
			return errno;

		out_close(worker);
	}

	return ENOTCONN;
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


/* The pid is one of the other workers' */
static bool sibling(pid_t pid)
{
	uint32_t i;

	for (i = 0; i < workers_count(); i++) {
		if ((int)i != worker_index() && worker_pid(i) == pid)
			return pid > 0;
	}

	return false;
}


static void conn_destructor(void *arg)
{
	struct conn *c = arg;

	list_unlink(&c->le);
	fd_close(c->fd);
	(void)close(c->fd);
}


/* A message from another worker: a datagram it read, or its events */
static void recv_handler(int flags, void *arg)
{
	static uint8_t buf[sizeof(struct handoff_head) + DATAGRAM_MAX];
	struct conn *c = arg;
	struct handoff_head head;
	struct sipd_sock *sock;
	struct mbuf *mb;
	ssize_t n;
	(void)flags;

	n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		mem_deref(c);              /* the worker went */
		return;
	}

	if (n < (ssize_t)sizeof(head))
		return;

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


/* A connection to this worker: kept if a sibling worker made it (the
   name is open to every local process) */
static void accept_handler(int flags, void *arg)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct conn *c;
	int fd;
	(void)flags;
	(void)arg;

	fd = accept4(ho.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) ||
	    !sibling(cred.pid)) {
		log_warning("handoff: a connection not from a worker"
			    " refused\n");
		(void)close(fd);
		return;
	}

	c = mem_zalloc(sizeof(*c), conn_destructor);
	if (!c) {
		(void)close(fd);
		return;
	}

	c->fd = fd;
	list_append(&ho.conns, &c->le, c);

	if (fd_listen(fd, FD_READ, recv_handler, c))
		mem_deref(c);
}


/**
 * Open this worker's handoff socket (a set of workers only): the others
 * connect to it
 *
 * @return 0 if success (or one worker), otherwise errorcode
 */
int handoff_start(void)
{
	struct sockaddr_un addr;
	socklen_t len;
	uint32_t i;
	int err;

	if (workers_count() < 2 || ho.fd >= 0 || worker_index() < 0)
		return 0;

	for (i = 0; i < WORKERS_MAX; i++)
		ho.out[i] = -1;

	ho.fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK,
		       0);
	if (ho.fd < 0)
		return errno;

	len = worker_addr(&addr, (uint32_t)worker_index());
	if (bind(ho.fd, (struct sockaddr *)&addr, len) ||
	    listen(ho.fd, WORKERS_MAX)) {
		err = errno;
		goto fail;
	}

	err = fd_listen(ho.fd, FD_READ, accept_handler, NULL);
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
	uint32_t i;

	if (ho.fd < 0)
		return;

	owner_handoff_set(NULL);
	share_transport(NULL);
	list_flush(&ho.conns);
	for (i = 0; i < WORKERS_MAX; i++)
		out_close(i);

	fd_close(ho.fd);
	(void)close(ho.fd);
	ho.fd = -1;
}
