/**
 * @file uri.c  URI comparison, RFC 3261 section 19.1.4
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <ctype.h>
#include <re.h>
#include "sipmsg.h"


static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}


static size_t unescape(char *buf, size_t size, const struct pl *pl)
{
	size_t i, n = 0;

	for (i = 0; i < pl->l && n < size; i++) {
		if (pl->p[i] == '%' && i + 2 < pl->l &&
		    hexval(pl->p[i+1]) >= 0 && hexval(pl->p[i+2]) >= 0) {
			buf[n++] = (char)(hexval(pl->p[i+1]) * 16 +
					  hexval(pl->p[i+2]));
			i += 2;
		}
		else {
			buf[n++] = pl->p[i];
		}
	}

	return n;
}


static bool pl_equal_unescaped(const struct pl *a, const struct pl *b,
			       bool nocase)
{
	char ba[512], bb[512];
	size_t la, lb, i;

	if (a->l > sizeof(ba) || b->l > sizeof(bb))
		return false;

	la = unescape(ba, sizeof(ba), a);
	lb = unescape(bb, sizeof(bb), b);

	if (la != lb)
		return false;

	if (!nocase)
		return 0 == memcmp(ba, bb, la);

	for (i = 0; i < la; i++) {
		if (tolower((unsigned char)ba[i]) !=
		    tolower((unsigned char)bb[i]))
			return false;
	}

	return true;
}


/* Find a ;name[=value] parameter in a parameter string */
static bool param_find(const struct pl *params, const struct pl *name,
		       struct pl *val, bool *hasval)
{
	const char *p = params->p, *end = params->p + params->l;

	while (p < end) {
		const char *semi, *eq;
		struct pl n;

		while (p < end && *p == ';')
			++p;

		semi = memchr(p, ';', end - p);
		if (!semi)
			semi = end;

		eq = memchr(p, '=', semi - p);
		n.p = p;
		n.l = (eq ? eq : semi) - p;

		if (n.l && pl_equal_unescaped(&n, name, true)) {
			*hasval = eq != NULL;
			if (eq) {
				val->p = eq + 1;
				val->l = semi - eq - 1;
			}
			else {
				val->p = semi;
				val->l = 0;
			}
			return true;
		}

		p = semi;
	}

	return false;
}


static bool params_match(const struct pl *pa, const struct pl *pb)
{
	static const char *must[] = {"user", "ttl", "method", "maddr",
				     "transport"};
	const char *p = pa->p, *end = pa->p + pa->l;
	size_t i;

	/* a parameter in both must have the same value */
	while (p < end) {
		const char *semi, *eq;
		struct pl n, va = PL_INIT, vb;
		bool hva, hvb;

		while (p < end && *p == ';')
			++p;
		if (p >= end)
			break;

		semi = memchr(p, ';', end - p);
		if (!semi)
			semi = end;

		eq = memchr(p, '=', semi - p);
		n.p = p;
		n.l = (eq ? eq : semi) - p;
		hva = eq != NULL;
		if (eq) {
			va.p = eq + 1;
			va.l = semi - eq - 1;
		}

		if (param_find(pb, &n, &vb, &hvb)) {
			if (hva != hvb)
				return false;
			if (hva && !pl_equal_unescaped(&va, &vb, true))
				return false;
		}

		p = semi;
	}

	/* these must appear in both or in neither */
	for (i = 0; i < ARRAY_SIZE(must); i++) {
		struct pl n, v;
		bool h;

		pl_set_str(&n, must[i]);
		if (param_find(pa, &n, &v, &h) != param_find(pb, &n, &v, &h))
			return false;
	}

	return true;
}


/* Does every header of one URI appear in the other with the same value? */
static bool headers_in(const struct pl *ha, const struct pl *hb)
{
	const char *p = ha->p, *end = ha->p + ha->l;

	while (p < end) {
		const char *amp = memchr(p, '&', end - p);
		const char *q = hb->p, *qend = hb->p + hb->l;
		struct pl one;
		bool found = false;

		one.p = p;
		one.l = (amp ? amp : end) - p;

		while (q < qend && !found) {
			const char *qamp = memchr(q, '&', qend - q);
			struct pl other;

			other.p = q;
			other.l = (qamp ? qamp : qend) - q;
			found = pl_equal_unescaped(&one, &other, false);
			q = qamp ? qamp + 1 : qend;
		}

		if (!found)
			return false;

		p = amp ? amp + 1 : end;
	}

	return true;
}


static bool headers_match(const struct pl *ha, const struct pl *hb)
{
	struct pl a = *ha, b = *hb;

	/* skip the leading '?' */
	if (a.l && a.p[0] == '?') {
		++a.p;
		--a.l;
	}
	if (b.l && b.p[0] == '?') {
		++b.p;
		--b.l;
	}

	return headers_in(&a, &b) && headers_in(&b, &a);
}


/**
 * Compare two SIP URIs as RFC 3261 section 19.1.4 says
 *
 * @param a First URI
 * @param b Second URI
 *
 * @return True if they are equivalent
 */
bool uri_equal(const struct uri *a, const struct uri *b)
{
	if (!a || !b)
		return false;

	if (pl_strcasecmp(&a->scheme, "sip") && pl_strcasecmp(&a->scheme,
							      "sips"))
		return false;

	if (pl_casecmp(&a->scheme, &b->scheme))
		return false;

	if (!pl_equal_unescaped(&a->user, &b->user, false))
		return false;

	if (!pl_equal_unescaped(&a->password, &b->password, false))
		return false;

	if (pl_casecmp(&a->host, &b->host))
		return false;

	if (a->port != b->port)
		return false;

	if (!params_match(&a->params, &b->params))
		return false;

	return headers_match(&a->headers, &b->headers);
}


/**
 * Compare two URIs given as text
 *
 * @param a First URI
 * @param b Second URI
 *
 * @return True if both decode and are equivalent
 */
bool uri_equal_str(const struct pl *a, const struct pl *b)
{
	struct uri ua, ub;

	if (uri_decode(&ua, a) || uri_decode(&ub, b))
		return false;

	return uri_equal(&ua, &ub);
}
