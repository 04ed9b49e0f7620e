/**
 * @file nat.c  Is a binding behind a NAT? Decided when its REGISTER
 *              arrives, kept with the binding
 *
 * A binding is behind a NAT, and reached at the address its REGISTER
 * came from, when
 *  (a) its Contact is an address of private (RFC 1918), shared (RFC 6598)
 *      or, for IPv6, unique-local or link-local space, other than the
 *      source address of the REGISTER;
 *  (b) the sent-by of the top Via is an IP address other than the source
 *      address; or
 *  (c) over UDP, the top Via has rport and a sent-by port other than the
 *      source port.
 * Otherwise its Contact is used as it is, even one that is not the source
 * (a registration made by another program: a third party). The nat=
 * parameter of the socket can say always or never instead.
 *
 * Bindings saved before the database had the flag (schema 2) keep the
 * rule of their time, decided at use: a Contact address other than the
 * source, or over UDP another port.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <strings.h>
#include <re.h>
#include "sipmsg.h"


/* Does an address start with a prefix of bits? */
static bool prefix(const uint8_t *addr, const uint8_t *pfx, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;

	if (memcmp(addr, pfx, bytes))
		return false;

	if (!rest)
		return true;

	return ((addr[bytes] ^ pfx[bytes]) & (0xff << (8 - rest))) == 0;
}


/* Is an address in private or shared space, where a NAT puts phones:
   10/8, 172.16/12, 192.168/16 (RFC 1918), 100.64/10 (RFC 6598);
   fc00::/7 (unique-local) and fe80::/10 (link-local)? */
static bool nat_private(const struct sa *sa)
{
	static const struct {
		uint8_t pfx[4];
		unsigned bits;
	} v4[] = {
		{{10, 0, 0, 0}, 8},
		{{172, 16, 0, 0}, 12},
		{{192, 168, 0, 0}, 16},
		{{100, 64, 0, 0}, 10},
	};
	static const uint8_t ula[16] = {0xfc}, ll[16] = {0xfe, 0x80};
	size_t i;

	if (!sa)
		return false;

	if (sa_af(sa) == AF_INET) {
		uint32_t a = htonl(sa_in(sa));
		uint8_t b[4];

		memcpy(b, &a, sizeof(b));

		for (i = 0; i < ARRAY_SIZE(v4); i++) {
			if (prefix(b, v4[i].pfx, v4[i].bits))
				return true;
		}

		return false;
	}

	if (sa_af(sa) == AF_INET6) {
		uint8_t b[16];

		sa_in6(sa, b);

		return prefix(b, ula, 7) || prefix(b, ll, 10);
	}

	return false;
}


/* Has a parameter list ";a;b=c" a parameter, with a value or not? */
static bool param_has(const struct pl *params, const char *name)
{
	const char *p = params->p, *end = params->p + params->l;
	size_t len = strlen(name);

	while (p < end) {
		const char *semi = memchr(p, ';', end - p), *n;

		if (!semi)
			semi = end;

		n = p;
		while (n < semi && (*n == ' ' || *n == '\t'))
			++n;

		if ((size_t)(semi - n) >= len && !strncasecmp(n, name, len)) {
			const char *q = n + len;

			while (q < semi && (*q == ' ' || *q == '\t'))
				++q;
			if (q == semi || *q == '=')
				return true;
		}

		p = semi + 1;
	}

	return false;
}


/* (b) and (c): the top Via against the source */
static bool via_nated(const struct sip_msg *msg)
{
	const struct sip_via *via = &msg->via;
	uint16_t port;

	/* a name is not compared: it is not an address a NAT rewrites */
	if (sa_isset(&via->addr, SA_ADDR) &&
	    !sa_cmp(&via->addr, &msg->src, SA_ADDR))
		return true;

	if (msg->tp != SIP_TRANSP_UDP || !param_has(&via->params, "rport"))
		return false;

	port = sa_port(&via->addr) ? sa_port(&via->addr) : SIP_PORT;

	return port != sa_port(&msg->src);
}


/**
 * Is a contact of a REGISTER behind a NAT?
 *
 * @param contact Contact URI
 * @param msg     The REGISTER, with its source address and transport
 * @param mode    nat= of the socket it came on
 *
 * @return True if behind a NAT
 */
bool nat_detect(const struct pl *contact, const struct sip_msg *msg,
		enum sock_nat mode)
{
	struct uri uri;
	struct sa addr;

	if (!msg)
		return false;

	switch (mode) {

	case SOCK_NAT_ALWAYS: return true;
	case SOCK_NAT_NEVER:  return false;
	default:              break;
	}

	if (contact && !uri_decode(&uri, contact) &&
	    !sa_set(&addr, &uri.host, 0) && nat_private(&addr) &&
	    !sa_cmp(&addr, &msg->src, SA_ADDR))
		return true;

	return via_nated(msg);
}


/* The rule before schema 3: an address other than the source, or over
   UDP another port; a name is reached by DNS */
static bool old_rule(const struct binding *b)
{
	struct uri uri;
	struct sa addr;
	struct pl pl;

	pl_set_str(&pl, b->contact);

	if (uri_decode(&uri, &pl) ||
	    sa_set(&addr, &uri.host, sip_transp_port(b->tp, uri.port)))
		return false;

	if (!sa_cmp(&addr, &b->received, SA_ADDR))
		return true;

	return b->tp == SIP_TRANSP_UDP && !sa_cmp(&addr, &b->received, SA_ALL);
}


/**
 * Is a binding behind a NAT, reached at its source address? As decided
 * when it registered; by the rule of their time for bindings saved
 * before that was kept
 *
 * @param b Binding
 *
 * @return True if behind a NAT
 */
bool binding_behind_nat(const struct binding *b)
{
	if (!b || !b->contact)
		return false;

	switch (b->nat) {

	case BINDING_NAT_YES: return true;
	case BINDING_NAT_NO:  return false;
	default:              return old_rule(b);
	}
}
