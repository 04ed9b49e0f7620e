/**
 * @file forward.c  The target of a call forwarding rule: checked and
 *                  normalised alike by sipctl and the daemon
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <ctype.h>
#include <re.h>
#include "sipmsg.h"


/* digits, an optional leading '+', '*' and '#', at least one digit */
static bool is_number(const char *s)
{
	bool digit = false;

	if (*s == '+')
		++s;

	for (; *s; s++) {
		if (isdigit((unsigned char)*s))
			digit = true;
		else if (*s != '*' && *s != '#')
			return false;
	}

	return digit;
}


/* the length of a URI scheme and its ':' at the start of s, 0 if none */
static size_t scheme_len(const char *s)
{
	size_t n = 0;

	if (!isalpha((unsigned char)s[0]))
		return 0;

	/* strchr() finds the terminator too */
	while (isalnum((unsigned char)s[n]) ||
	       (s[n] && strchr("+-.", s[n])))
		++n;

	return s[n] == ':' ? n + 1 : 0;
}


/* a host name, an IPv4 address, an IPv6 one (libre drops its brackets) */
static bool host_ok(const struct pl *host)
{
	size_t i;

	if (!pl_isset(host))
		return false;

	for (i = 0; i < host->l; i++) {
		if (!isalnum((unsigned char)host->p[i]) &&
		    !strchr("-.:", host->p[i]))
			return false;
	}

	return true;
}


static int why_set(char *why, size_t wsize, const char *fmt, ...)
{
	va_list ap;

	if (why && wsize) {
		va_start(ap, fmt);
		(void)re_vsnprintf(why, wsize, fmt, ap);
		va_end(ap);
	}

	return EINVAL;
}


/**
 * Check and normalise a forwarding target: a sip:/sips: URI (kept as
 * given, must decode with uri_decode and have a host), USER@DOMAIN
 * (becomes sip:USER@DOMAIN), or a number (digits, optionally a leading
 * '+', and '*' '#') kept as is (the daemon makes it sip:NUMBER@<the
 * forwarding user's domain>, where the routes match it)
 *
 * @param buf    Buffer for the normalised target
 * @param size   Its size
 * @param target The target as given
 * @param why    Buffer for the reason of a refusal (may be NULL)
 * @param wsize  Its size
 *
 * @return 0 if success, EINVAL with a reason in why[]
 */
int forward_target_norm(char *buf, size_t size, const char *target,
			char *why, size_t wsize)
{
	const char *p;
	struct uri uri;
	struct pl pl;
	size_t sl;
	int n;

	if (!buf || !size || !target)
		return why_set(why, wsize, "no target");

	if (!*target)
		return why_set(why, wsize, "the target is empty");

	for (p = target; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c <= ' ' || c >= 0x7f || strchr("<>\"", c))
			return why_set(why, wsize, "the target has a character"
				       " a SIP URI cannot have (0x%02x)", c);
	}

	if (is_number(target)) {
		if (str_len(target) >= size)
			return why_set(why, wsize, "the number is too long");
		str_ncpy(buf, target, size);
		return 0;
	}

	sl = scheme_len(target);
	if (sl && strncasecmp(target, "sip:", 4) &&
	    strncasecmp(target, "sips:", 5))
		return why_set(why, wsize, "'%b' is not a SIP URI scheme (sip:"
			       " or sips:)", target, sl);

	if (!sl && !strchr(target, '@'))
		return why_set(why, wsize, "'%s' is not a SIP URI, USER@DOMAIN"
			       " or number (digits, a leading '+', '*', '#')",
			       target);

	n = re_snprintf(buf, size, "%s%s", sl ? "" : "sip:", target);
	if (n < 0 || (size_t)n >= size)
		return why_set(why, wsize, "the target is too long (at most"
			       " %zu characters)", size - 1);

	pl_set_str(&pl, buf);
	if (uri_decode(&uri, &pl) || !host_ok(&uri.host) ||
	    (strchr(target, '@') && !pl_isset(&uri.user)))
		return why_set(why, wsize, "'%s' is not a SIP URI with a host",
			       target);

	if (!sl && (!pl_isset(&uri.user) || pl_isset(&uri.password) ||
		    pl_isset(&uri.params) || pl_isset(&uri.headers)))
		return why_set(why, wsize, "'%s' is not USER@DOMAIN", target);

	return 0;
}
