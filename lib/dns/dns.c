/**
 * @file dns.c  The DNS client of the proxy roles (RFC 3263 next hops)
 *
 * libre's DNS client queries only the servers it is given. They come
 * from "dns_server" lines or, when there are none, from the system
 * (resolv.conf). A reload gives the running client its new servers.
 *
 * A service above the core, linked once into sipd (the proxy modules
 * ask for the client with sipd_dnsc()); the daemon registers it as a
 * part of the core, and the core's sockets get their client from it
 * when a role needs DNS.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <ctype.h>
#include <re.h>
#include "core.h"
#include "dns/dns.h"


enum {
	DNS_SERVERS_MAX = 8,
};


struct servers {
	struct sa srvv[DNS_SERVERS_MAX];
	uint32_t srvc;
};

static struct {
	struct servers conf;       /* of dns_server lines */
	struct dnsc *client;       /* the client in use */
} dns;


/* IP, IPv4:PORT or [IPv6]:PORT, the port 1 to 65535 */
static int server_decode(struct sa *sa, const char *val)
{
	struct pl host, port = {NULL, 0};
	const char *colon = strchr(val, ':');
	uint32_t n = 53;
	size_t i;

	if (val[0] == '[') {
		const char *rb = strchr(val, ']');

		if (!rb || (rb[1] && rb[1] != ':'))
			return EINVAL;

		host.p = val + 1;
		host.l = rb - host.p;
		if (rb[1])
			pl_set_str(&port, rb + 2);
	}
	else if (colon && !strchr(colon + 1, ':')) {
		host.p = val;
		host.l = colon - val;
		pl_set_str(&port, colon + 1);
	}
	else {
		pl_set_str(&host, val);   /* IPv4, or IPv6 without a port */
	}

	if (port.p) {
		if (!port.l || port.l > 5)
			return EINVAL;

		for (i = 0; i < port.l; i++) {
			if (!isdigit((unsigned char)port.p[i]))
				return EINVAL;
		}

		n = pl_u32(&port);
		if (!n || n > 65535)
			return EINVAL;
	}

	return sa_set(sa, &host, (uint16_t)n);
}


static int server_handler(const struct config_line *line, void *arg)
{
	struct servers *fresh = arg;
	struct sa sa;

	if (fresh->srvc >= DNS_SERVERS_MAX)
		return config_fail(line, "at most %u dns_server lines",
				   DNS_SERVERS_MAX);

	if (server_decode(&sa, line->val))
		return config_fail(line, "'%s' is not IP or IP:PORT with a"
				   " port 1 to 65535 (IPv6 as [ADDR]:PORT)",
				   line->val);

	fresh->srvv[fresh->srvc++] = sa;

	return 0;
}


/* The servers to ask: the configured ones, else the system's */
static void servers_get(struct servers *s)
{
	char domain[64] = "";
	int err;

	if (dns.conf.srvc) {
		*s = dns.conf;
		return;
	}

	s->srvc = DNS_SERVERS_MAX;
	err = dns_srv_get(domain, sizeof(domain), s->srvv, &s->srvc);
	if (err || !s->srvc) {
		log_warning("no DNS server in the system configuration and"
			    " no dns_server line: other domains are reached"
			    " by static routes only\n");
		s->srvc = 0;
	}
	else {
		log_info("DNS servers: %u from the system, first %J\n",
			 s->srvc, &s->srvv[0]);
	}
}


/**
 * Read the "dns_server" lines of the configuration
 *
 * @param apply True to use them from now on (the running client too),
 *              false to check them
 *
 * @return 0 if success, otherwise errorcode
 */
static int dns_config(bool apply)
{
	struct servers fresh = {.srvc = 0};
	int err;

	err = config_apply("dns_server", server_handler, &fresh);
	if (err || !apply)
		return err;

	dns.conf = fresh;

	if (dns.client) {
		struct servers s;

		servers_get(&s);
		err = dnsc_srv_set(dns.client, s.srvv, s.srvc);
	}

	return err;
}


/* The core's sockets ask for the client (listen.c) */
static int client_alloc(struct dnsc **dnscp)
{
	struct servers s;
	int err;

	if (!dns.client) {
		servers_get(&s);

		err = dnsc_alloc(&dns.client, NULL, s.srvv, s.srvc);
		if (err)
			return err;
	}

	*dnscp = mem_ref(dns.client);

	return 0;
}


/**
 * The DNS client the proxy roles resolve next hops with
 *
 * @return The client, NULL when no role sends requests
 */
struct dnsc *sipd_dnsc(void)
{
	return dns.client;
}


static void dns_close(void)
{
	dns.client = mem_deref(dns.client);
}


static struct core_part dns_part = {
	.name = "dns",
	.configh = dns_config,
	.live = true,
	.unloadh = dns_close,
};


/**
 * Register the DNS client with the core (before core_init)
 */
void dns_part_register(void)
{
	core_part_register(&dns_part);
	listen_dnsc_provider(client_alloc);
}
