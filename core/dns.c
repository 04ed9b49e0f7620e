/**
 * @file dns.c  The DNS client of the proxy roles (RFC 3263 next hops)
 *
 * libre's DNS client queries only the servers it is given. They come
 * from "dns_server" lines or, when there are none, from the system
 * (resolv.conf).
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include "core.h"


enum {
	DNS_SERVERS_MAX = 8,
};


static struct {
	struct sa srvv[DNS_SERVERS_MAX];
	uint32_t srvc;
} dns;


static int server_handler(const struct config_line *line, void *arg)
{
	struct sa sa;
	(void)arg;

	if (dns.srvc >= DNS_SERVERS_MAX)
		return config_fail(line, "at most %u dns_server lines",
				   DNS_SERVERS_MAX);

	if (sa_decode(&sa, line->val, strlen(line->val)) &&
	    sa_set_str(&sa, line->val, 53))
		return config_fail(line, "'%s' is not IP or IP:PORT"
				   " (IPv6 as [ADDR]:PORT)", line->val);

	dns.srvv[dns.srvc++] = sa;

	return 0;
}


/**
 * Read the "dns_server" lines of the configuration
 *
 * @return 0 if success, otherwise errorcode
 */
int dns_config(void)
{
	dns.srvc = 0;

	return config_apply("dns_server", server_handler, NULL);
}


/**
 * Allocate a DNS client on the configured or the system's servers
 *
 * @param dnscp Pointer to allocated DNS client
 *
 * @return 0 if success, otherwise errorcode
 */
int dns_client_alloc(struct dnsc **dnscp)
{
	struct sa srvv[DNS_SERVERS_MAX];
	uint32_t srvc = DNS_SERVERS_MAX;
	char domain[64] = "";
	int err;

	if (dns.srvc)
		return dnsc_alloc(dnscp, NULL, dns.srvv, dns.srvc);

	err = dns_srv_get(domain, sizeof(domain), srvv, &srvc);
	if (err || !srvc) {
		log_warning("no DNS server in the system configuration and"
			    " no dns_server line: other domains are reached"
			    " by static routes only\n");
		srvc = 0;
	}

	err = dnsc_alloc(dnscp, NULL, srvv, srvc);
	if (err)
		return err;

	if (srvc)
		log_info("DNS servers: %u from the system, first %J\n",
			 srvc, &srvv[0]);

	return 0;
}
