/**
 * @file connlimit.c  Limits on the connections peers open to sipd
 *
 * Every TCP, TLS and WebSocket connection libre accepts, and every
 * descriptor it closes, is told here by the libre layer (core/libre/
 * tcp.c). A connection beyond max_connections in all, or beyond
 * max_connections_per_source from one address, is closed at once and
 * counted, so that a peer that opens connections and never sends (or
 * sends slowly) cannot take every descriptor.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <re.h>
#include <sipd.h>
#include "guard.h"


enum {
	HASH_SIZE = 1024,
};


/** The open connections from one address */
struct source {
	struct le he;
	struct sa addr;
	uint32_t count;
};


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


static uint64_t open_read(void *arg)
{
	(void)arg;

	return cl.open;
}


static uint64_t refused_read(void *arg)
{
	(void)arg;

	return cl.refused;
}


static struct stat_figure figures[] = {
	{.name = STAT_CONNECTIONS_OPEN,
	 .help = "TCP, TLS and WebSocket connections open now",
	 .kind = STAT_GAUGE, .readh = open_read},
	{.name = STAT_CONNECTIONS_REFUSED,
	 .help = "Connections closed at once: too many in all or from one"
	 " source", .kind = STAT_COUNTER, .readh = refused_read},
};


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


/* A connection libre accepted: within the limits? (the libre layer's
   hook) */
static bool accept_hook(int fd, const struct sa *peer)
{
	if (!cl.fdc || admit(fd, peer))
		return true;

	if (!(cl.refused++ % 1000))
		log_warning("connection from %J refused: %u open"
			    " (max_connections %u, max_connections_per_source"
			    " %u; %llu refused in all)\n", peer, cl.open,
			    cl.max, cl.max_per_source,
			    (unsigned long long)cl.refused);

	return false;
}


/* A descriptor libre closes: a connection less (the libre layer's hook) */
static void close_hook(int fd)
{
	struct source *s;

	if (!cl.by_fd || fd < 0 || (uint32_t)fd >= cl.fdc || !cl.by_fd[fd])
		return;

	s = cl.by_fd[fd];
	cl.by_fd[fd] = NULL;
	--cl.open;
	if (!--s->count)
		mem_deref(s);
}


/**
 * Size the table of descriptors and take the libre layer's hooks
 *
 * @param fd_limit The descriptor limit
 */
void connlimit_init(uint32_t fd_limit)
{
	size_t i;

	if (cl.max >= fd_limit)
		log_warning("max_connections %u is not below fd_limit %u:"
			    " descriptors may run out first\n", cl.max,
			    fd_limit);

	cl.fdc = fd_limit;

	for (i = 0; i < ARRAY_SIZE(figures); i++)
		stats_register(&figures[i]);

	libre_tcp_hooks(accept_hook, close_hook);
}


void connlimit_close(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(figures); i++)
		stats_unregister(&figures[i]);

	hash_flush(cl.sources);
	cl.sources = mem_deref(cl.sources);
	cl.by_fd = mem_deref(cl.by_fd);
	cl.open = 0;
	libre_tcp_hooks(NULL, NULL);
}
