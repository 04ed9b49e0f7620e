/**
 * @file connlimit.c  Limits on the connections peers open to sipd
 *
 * Every TCP, TLS and WebSocket connection libre accepts goes through
 * tcp_accept() and ends with fd_close() on its descriptor; libre calls
 * both through the dynamic linker, so the sipd executable defines them
 * in front of libre's. A connection beyond max_connections in all, or
 * beyond max_connections_per_source from one address, is closed at
 * once and counted, so that a peer that opens connections and never
 * sends (or sends slowly) cannot take every descriptor.
 *
 * libre listens with a backlog of 5 (tcp_listen()): a burst of a few
 * connections fills it and the kernel drops the SYNs of the next ones,
 * which wait a second or more for their retry. tcp_sock_listen() is
 * defined here too and asks for LISTEN_BACKLOG. And libre leaves Nagle's
 * algorithm on: accepted connections get TCP_NODELAY.
 *
 * Copyright (C) 2026 sipd developers
 */

#define _GNU_SOURCE 1
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <re.h>
#include "core.h"


enum {
	HASH_SIZE = 1024,
	LISTEN_BACKLOG = 1024,   /* the kernel caps it at somaxconn */
};


/** The open connections from one address */
struct source {
	struct le he;
	struct sa addr;
	uint32_t count;
};


typedef int (tcp_accept_h)(struct tcp_conn **tcp, struct tcp_sock *ts,
			   tcp_estab_h *eh, tcp_recv_h *rh, tcp_close_h *ch,
			   void *arg);
typedef void (fd_close_h)(int fd);
typedef int (tcp_sock_listen_h)(struct tcp_sock *ts, int backlog);


static struct {
	uint32_t max;
	uint32_t max_per_source;
	uint32_t open;
	uint64_t refused;
	struct hash *sources;
	struct source **by_fd;   /* the source of a descriptor, or NULL */
	uint32_t fdc;
} cl = {
	.max = 4096,
	.max_per_source = 64,
};


static void source_destructor(void *arg)
{
	struct source *s = arg;

	hash_unlink(&s->he);
}


static bool source_cmp(struct le *le, void *arg)
{
	const struct source *s = le->data;

	return sa_cmp(&s->addr, arg, SA_ADDR);
}


/**
 * Read max_connections and max_connections_per_source (a reload applies
 * them)
 *
 * @param apply Make them current; false only checks them
 *
 * @return 0 if success, otherwise errorcode
 */
int connlimit_config(bool apply)
{
	uint32_t max = 4096, max_per_source = 64;
	int err;

	err  = config_u32("max_connections", &max, 1, 1048576);
	err |= config_u32("max_connections_per_source", &max_per_source,
			  1, 1048576);
	if (err)
		return EINVAL;

	if (apply) {
		cl.max = max;
		cl.max_per_source = max_per_source;
	}

	return 0;
}


/**
 * Size the table of descriptors (once, at start)
 *
 * @param fd_limit The descriptor limit
 */
static uint64_t figure_read(void *arg)
{
	(void)arg;

	return cl.open;
}


static struct stat_figure figure = {
	.name = STAT_CONNECTIONS_OPEN,
	.help = "TCP, TLS and WebSocket connections open now",
	.kind = STAT_GAUGE,
	.readh = figure_read,
};


void connlimit_init(uint32_t fd_limit)
{
	if (cl.max >= fd_limit)
		log_warning("max_connections %u is not below fd_limit %u:"
			    " descriptors may run out first\n", cl.max,
			    fd_limit);

	cl.fdc = fd_limit;

	stats_register(&figure);
}


static bool admit(int fd, const struct sa *peer)
{
	struct source *s;

	if (fd < 0)
		return true;

	if (!cl.by_fd) {
		cl.by_fd = mem_zalloc(cl.fdc * sizeof(*cl.by_fd), NULL);
		if (!cl.by_fd || hash_alloc(&cl.sources, HASH_SIZE))
			return true;
	}

	if ((uint32_t)fd >= cl.fdc)
		return true;

	if (cl.open >= cl.max)
		return false;

	s = list_ledata(hash_lookup(cl.sources, sa_hash(peer, SA_ADDR),
				    source_cmp, (void *)peer));
	if (!s) {
		s = mem_zalloc(sizeof(*s), source_destructor);
		if (!s)
			return true;

		s->addr = *peer;
		hash_append(cl.sources, sa_hash(peer, SA_ADDR), &s->he, s);
	}

	if (s->count >= cl.max_per_source)
		return false;

	++s->count;
	++cl.open;
	cl.by_fd[fd] = s;

	return true;
}


/**
 * Accept a connection: libre's tcp_accept(), within the limits
 */
int tcp_accept(struct tcp_conn **tcp, struct tcp_sock *ts, tcp_estab_h *eh,
	       tcp_recv_h *rh, tcp_close_h *ch, void *arg)
{
	static tcp_accept_h *real;
	struct sa peer;
	int on = 1;
	int err;

	if (!real)
		real = (tcp_accept_h *)dlsym(RTLD_NEXT, "tcp_accept");
	if (!real)
		return ENOSYS;

	err = real(tcp, ts, eh, rh, ch, arg);
	if (err)
		return err;

	/* no Nagle: a response behind an unacknowledged segment (a TLS
	   session ticket, a 100 Trying) waited for the delayed ACK */
	(void)setsockopt(tcp_conn_fd(*tcp), IPPROTO_TCP, TCP_NODELAY, &on,
			 sizeof(on));

	if (!cl.fdc || tcp_conn_peer_get(*tcp, &peer) ||
	    admit(tcp_conn_fd(*tcp), &peer))
		return 0;

	stats_count(STATS_CONN_REFUSED);
	if (!(cl.refused++ % 1000))
		log_warning("connection from %J refused: %u open"
			    " (max_connections %u, max_connections_per_source"
			    " %u; %llu refused in all)\n", &peer, cl.open,
			    cl.max, cl.max_per_source,
			    (unsigned long long)cl.refused);

	*tcp = mem_deref(*tcp);

	return EMFILE;
}


/**
 * Listen for connections: libre's tcp_sock_listen(), with a longer queue
 */
int tcp_sock_listen(struct tcp_sock *ts, int backlog)
{
	static tcp_sock_listen_h *real;

	if (!real)
		real = (tcp_sock_listen_h *)dlsym(RTLD_NEXT,
						  "tcp_sock_listen");
	if (!real)
		return ENOSYS;

	return real(ts, MAX(backlog, LISTEN_BACKLOG));
}


/**
 * Stop watching a descriptor: libre's fd_close(), counting connections
 */
void fd_close(int fd)
{
	static fd_close_h *real;

	if (cl.by_fd && fd >= 0 && (uint32_t)fd < cl.fdc && cl.by_fd[fd]) {
		struct source *s = cl.by_fd[fd];

		cl.by_fd[fd] = NULL;
		--cl.open;
		if (!--s->count)
			mem_deref(s);
	}

	if (!real)
		real = (fd_close_h *)dlsym(RTLD_NEXT, "fd_close");
	if (real)
		real(fd);
}


/**
 * Connections open now
 *
 * @return Count
 */
void connlimit_close(void)
{
	hash_flush(cl.sources);
	cl.sources = mem_deref(cl.sources);
	cl.by_fd = mem_deref(cl.by_fd);
	cl.open = 0;
}
