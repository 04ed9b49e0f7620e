/**
 * @file msg.c  Helpers on SIP messages: body, AOR, Require, Contact
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <time.h>
#include <ctype.h>
#include <re.h>
#include "core.h"


/**
 * The current time
 *
 * @return Epoch seconds
 */
int64_t time_now(void)
{
	return (int64_t)time(NULL);
}


/**
 * Get the body of a message, as long as its Content-Length says
 *
 * @param msg  SIP message
 * @param body Set to the body (may be empty)
 *
 * @return 0 if success, EBADMSG if Content-Length exceeds the message
 */
int msg_body(const struct sip_msg *msg, struct pl *body)
{
	size_t left = mbuf_get_left(msg->mb);
	size_t len = left;

	if (pl_isset(&msg->clen)) {
		len = pl_u32(&msg->clen);
		if (len > left)
			return EBADMSG;
	}

	body->p = (const char *)mbuf_buf(msg->mb);
	body->l = len;

	return 0;
}


/**
 * Check the method of a request
 *
 * @param msg SIP request
 * @param met Method name
 *
 * @return True if it is that method
 */
bool msg_method_is(const struct sip_msg *msg, const char *met)
{
	return 0 == pl_strcmp(&msg->met, met);
}


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


static bool unreserved(char c)
{
	return isalnum((unsigned char)c) ||
		(c && strchr("-_.!~*'()", c) != NULL);
}


/*
 * Print a URI user part in one canonical form: escapes of unreserved
 * characters undone, the remaining escapes in upper case.
 */
static int user_canon(char *buf, size_t size, const struct pl *user)
{
	size_t i, n = 0;

	for (i = 0; i < user->l; i++) {
		char c = user->p[i];

		if (n + 4 > size)
			return ENAMETOOLONG;

		if (c == '%' && i + 2 < user->l &&
		    hexval(user->p[i+1]) >= 0 && hexval(user->p[i+2]) >= 0) {
			char d = (char)(hexval(user->p[i+1]) * 16 +
					hexval(user->p[i+2]));
			if (unreserved(d)) {
				buf[n++] = d;
			}
			else {
				buf[n++] = '%';
				buf[n++] = (char)toupper(user->p[i+1]);
				buf[n++] = (char)toupper(user->p[i+2]);
			}
			i += 2;
			continue;
		}

		buf[n++] = c;
	}

	buf[n] = '\0';

	return 0;
}


/**
 * Print the address-of-record of a URI: user@domain, domain in lower case
 *
 * @param buf  Buffer
 * @param size Buffer size
 * @param uri  Decoded URI
 *
 * @return 0 if success, EINVAL without a user or host, ENAMETOOLONG
 */
int msg_aor(char *buf, size_t size, const struct uri *uri)
{
	size_t n, i;
	int err;

	if (!buf || !uri || !pl_isset(&uri->user) || !pl_isset(&uri->host))
		return EINVAL;

	err = user_canon(buf, size, &uri->user);
	if (err)
		return err;

	n = strlen(buf);
	if (n + 1 + uri->host.l + 1 > size)
		return ENAMETOOLONG;

	buf[n++] = '@';
	for (i = 0; i < uri->host.l; i++)
		buf[n++] = (char)tolower((unsigned char)uri->host.p[i]);
	buf[n] = '\0';

	return 0;
}


/**
 * Find option tags of a Require or Proxy-Require header that sipd does
 * not support
 *
 * @param msg       SIP request
 * @param id        SIP_HDR_REQUIRE or SIP_HDR_PROXY_REQUIRE
 * @param supported Option tags supported, NULL-terminated
 * @param unsup     Buffer for the unsupported tags, comma separated
 * @param size      Buffer size
 *
 * @return Number of unsupported option tags
 */
int msg_require_check(const struct sip_msg *msg, enum sip_hdrid id,
		      const char *const *supported, char *unsup, size_t size)
{
	struct le *le;
	size_t n = 0;
	int count = 0;

	if (size)
		unsup[0] = '\0';

	for (le = list_head(hash_list(msg->hdrht, id)); le; le = le->next) {
		const struct sip_hdr *hdr = le->data;
		const char *const *s;
		bool ok = false;

		if (hdr->id != id)
			continue;

		for (s = supported; s && *s; s++) {
			if (!pl_strcasecmp(&hdr->val, *s))
				ok = true;
		}

		if (ok)
			continue;

		++count;
		if (n + hdr->val.l + 3 < size) {
			n += re_snprintf(unsup + n, size - n, "%s%r",
					 n ? ", " : "", &hdr->val);
		}
	}

	return count;
}


/* --- URI comparison, RFC 3261 section 19.1.4 --------------------------- */

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


/* --- Contact ------------------------------------------------------------ */

/**
 * Decode one value of a Contact header
 *
 * @param c  Decoded contact
 * @param pl The value (libre splits Contact headers at commas)
 *
 * @return 0 if success, EBADMSG if malformed
 */
int contact_decode(struct contact *c, const struct pl *pl)
{
	struct pl v = *pl;
	bool quoted = false;
	size_t i;

	memset(c, 0, sizeof(*c));

	while (v.l && (v.p[0] == ' ' || v.p[0] == '\t'))
		++v.p, --v.l;
	while (v.l && (v.p[v.l-1] == ' ' || v.p[v.l-1] == '\t'))
		--v.l;

	c->val = v;

	if (v.l == 1 && v.p[0] == '*') {
		c->star = true;
		return 0;
	}

	for (i = 0; i < v.l; i++) {
		char ch = v.p[i];

		if (quoted) {
			if (ch == '\\')
				++i;
			else if (ch == '"')
				quoted = false;
			continue;
		}

		if (ch == '"') {
			quoted = true;
		}
		else if (ch == '<') {
			const char *gt = memchr(v.p + i, '>', v.l - i);

			if (!gt)
				return EBADMSG;

			c->angle = true;
			c->uri.p = v.p + i + 1;
			c->uri.l = gt - c->uri.p;
			c->params.p = gt + 1;
			c->params.l = v.p + v.l - c->params.p;
			break;
		}
	}

	if (quoted)
		return EBADMSG;

	if (!c->angle) {
		const char *semi = pl_strchr(&v, ';');

		c->uri.p = v.p;
		c->uri.l = semi ? (size_t)(semi - v.p) : v.l;
		c->params.p = v.p + c->uri.l;
		c->params.l = v.l - c->uri.l;

		/* an addr-spec cannot carry headers or commas without < > */
		if (pl_strchr(&c->uri, '?') || pl_strchr(&c->uri, ','))
			return EBADMSG;
	}

	while (c->params.l && (c->params.p[0] == ' ' ||
			       c->params.p[0] == '\t'))
		++c->params.p, --c->params.l;

	if (c->params.l && c->params.p[0] != ';')
		return EBADMSG;

	if (!c->uri.l)
		return EBADMSG;

	return 0;
}


/**
 * Is a contact behind a NAT: an address other than the one its request
 * came from? Over UDP a phone sends from its SIP port, so another port
 * counts too; over a connection the port is the connection's. A name is
 * not: it is reached by DNS, as a third party registered it.
 *
 * @param contact  Contact URI
 * @param tp       Transport the request came on
 * @param received Its source address
 *
 * @return True if behind a NAT
 */
bool contact_behind_nat(const struct pl *contact, enum sip_transp tp,
			const struct sa *received)
{
	struct uri uri;
	struct sa addr;

	if (uri_decode(&uri, contact) ||
	    sa_set(&addr, &uri.host, sip_transp_port(tp, uri.port)))
		return false;

	if (!sa_cmp(&addr, received, SA_ADDR))
		return true;

	return tp == SIP_TRANSP_UDP && !sa_cmp(&addr, received, SA_ALL);
}
