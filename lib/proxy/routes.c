/**
 * @file routes.c  Static routes and inbound numbers of the configuration
 *
 *   route PATTERN>HOST[:PORT][;transport=udp|tcp|tls][;user=U;password=P]
 *                [;strip=N][;prefix=DIGITS]
 *                [;ca=FILE][;tls_name=NAME][;verify=on|off]
 *   route PATTERN>pool:NAME[;strip=N][;prefix=DIGITS][;user=U;password=P]
 *   did NUMBER>USER@DOMAIN
 *
 * PATTERN is a domain (example.org), a user-part prefix ending in '*'
 * (0*), or '*' alone for every other domain. A route with credentials is
 * a SIP trunk: sipd answers its 401/407 challenges with them. A did line
 * maps a number that a trunk calls to a local user. A route to pool:NAME
 * sends to the members of a server pool ("pool" lines, lib/pool), in
 * the order the pool chooses: the Request-URI's host becomes the
 * member's.
 *
 * A route over TLS checks the server's certificate: signed by a CA of
 * the system's store, or of its ca= file, and for the route's HOST, or
 * its tls_name=; verify=off checks nothing, with a warning. Its check (a
 * TLS peer of the core) is made when the line is read, so a reload reads
 * the CA file and the system's store again.
 *
 * A reload replaces the lists at once. A proxied request holds a
 * reference to the route it took, so a trunk's credentials stay while
 * its transaction lasts.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <re.h>
#include "engine.h"


enum match_kind {
	MATCH_DOMAIN,
	MATCH_PREFIX,
	MATCH_ANY,
};

struct static_route {
	struct le le;
	enum match_kind kind;
	char *match;           /* domain or user prefix */
	char *host;            /* host[:port] */
	enum sip_transp tp;
	char *user;
	char *password;
	uint32_t strip;
	char *prefix;
	char *uri;             /* sip:host[:port][;transport=x] */
	char *pool;            /* pool:NAME, or NULL */
	char *ca;              /* ca=, or NULL: the system's store */
	char *tls_name;        /* tls_name=, or NULL: the host */
	int verify;            /* verify=: 1 on, 0 off, -1 not given */
	struct tls_peer *tls;  /* the check of a TLS route */
};

struct did {
	struct le le;
	char *number;
	char *aor;
};


struct route_lists {
	struct list routes;    /* struct static_route, in file order */
	struct list dids;      /* struct did */
	bool apply;
};

static struct route_lists rt;


static void route_destructor(void *arg)
{
	struct static_route *r = arg;

	list_unlink(&r->le);
	mem_deref(r->match);
	mem_deref(r->host);
	mem_deref(r->pool);
	mem_deref(r->user);
	mem_deref(r->password);
	mem_deref(r->prefix);
	mem_deref(r->uri);
	mem_deref(r->ca);
	mem_deref(r->tls_name);
	mem_deref(r->tls);
}


static void did_destructor(void *arg)
{
	struct did *d = arg;

	list_unlink(&d->le);
	mem_deref(d->number);
	mem_deref(d->aor);
}


static bool all_digits(const struct pl *pl, bool plus)
{
	size_t i;

	for (i = 0; i < pl->l; i++) {
		if (i == 0 && plus && pl->p[0] == '+')
			continue;
		if (!isdigit((unsigned char)pl->p[i]))
			return false;
	}

	return pl->l > 0;
}


static int route_param(struct static_route *r, const struct pl *name,
		       const struct pl *val, const struct config_line *line)
{
	char buf[16];

	if (!pl_strcasecmp(name, "transport")) {
		if (transp_decode(&r->tp, val) || r->tp == SIP_TRANSP_WS ||
		    r->tp == SIP_TRANSP_WSS)
			return config_fail(line, "transport must be udp, tcp"
					   " or tls, not '%r'", val);
	}
	else if (!pl_strcasecmp(name, "user")) {
		return pl_strdup(&r->user, val);
	}
	else if (!pl_strcasecmp(name, "password")) {
		return pl_strdup(&r->password, val);
	}
	else if (!pl_strcasecmp(name, "strip")) {
		if (!all_digits(val, false) || val->l > 2)
			return config_fail(line, "strip must be 0 to 99");
		(void)pl_strcpy(val, buf, sizeof(buf));
		r->strip = (uint32_t)atoi(buf);
	}
	else if (!pl_strcasecmp(name, "prefix")) {
		if (!all_digits(val, true))
			return config_fail(line, "prefix must be digits,"
					   " optionally after '+'");
		return pl_strdup(&r->prefix, val);
	}
	else if (!pl_strcasecmp(name, "ca")) {
		if (!pl_isset(val))
			return config_fail(line, "ca needs a FILE");
		return pl_strdup(&r->ca, val);
	}
	else if (!pl_strcasecmp(name, "tls_name")) {
		if (!pl_isset(val))
			return config_fail(line, "tls_name needs a NAME");
		return pl_strdup(&r->tls_name, val);
	}
	else if (!pl_strcasecmp(name, "verify")) {
		bool on;

		(void)pl_strcpy(val, buf, sizeof(buf));
		if (val->l >= sizeof(buf) || config_parse_bool(&on, buf))
			return config_fail(line, "verify must be on or off,"
					   " not '%r'", val);
		r->verify = on;
	}
	else {
		return config_fail(line, "unknown parameter '%r'", name);
	}

	return 0;
}


/* The check of a TLS route's server; val is the line's value, hostport
   its HOST[:PORT], host that HOST alone */
static int route_tls(struct static_route *r, bool apply,
		     const struct config_line *line, const struct pl *val,
		     const struct pl *hostport, const struct pl *host)
{
	char *label = NULL, *name = NULL;
	struct pl route;
	int err;

	if (r->tp != SIP_TRANSP_TLS) {
		if (r->ca || r->tls_name || r->verify >= 0)
			return config_fail(line, "ca, tls_name and verify are"
					   " for transport=tls only");
		return 0;
	}

	if (!r->verify && r->ca)
		return config_fail(line, "ca has no use with verify=off");

	/* "PATTERN>HOST[:PORT]": never the credentials */
	route.p = val->p;
	route.l = hostport->p + hostport->l - val->p;

	err = re_sdprintf(&label, "route %r (%s:%u)", &route, config_path(),
			  line->lineno);
	if (!err) {
		if (r->tls_name)
			err = str_dup(&name, r->tls_name);
		else
			err = pl_strdup(&name, host);
	}
	if (!err)
		err = tls_peer_alloc(&r->tls, line, label, name, r->ca,
				     r->verify != 0);

	if (!err && apply && !r->verify)
		log_warning("%s:%u: route %r: verify=off: the certificate of"
			    " the server is not checked\n", config_path(),
			    line->lineno, &route);

	mem_deref(label);
	mem_deref(name);

	return err;
}


static int pool_name_cmp(const struct config_line *line, void *arg)
{
	struct pl *name = arg, first;

	if (!re_regex(line->val, strlen(line->val), "[^ \t]+", &first) &&
	    !pl_cmp(&first, name))
		name->l = 0;   /* found */

	return 0;
}


/* A route to pool:NAME: the pool is defined by a "pool NAME" line */
static int route_pool(struct static_route *r, const struct config_line *line,
		      const struct pl *host)
{
	struct pl name = *host, look;

	name.p += 5;
	name.l -= 5;
	if (!name.l)
		return config_fail(line, "pool: needs a NAME");

	look = name;
	(void)config_apply_words("pool", pool_name_cmp, &look);
	if (look.l)
		return config_fail(line, "no pool %r (a \"pool %r ...\" line"
				   " defines it)", &name, &name);

	return pl_strdup(&r->pool, &name);
}


static int route_handler(const struct config_line *line, void *arg)
{
	struct route_lists *fresh = arg;
	struct static_route *r;
	struct pl val, pat, host, params, rest;
	struct pl h, port;
	int err;

	pl_set_str(&val, line->val);
	if (re_regex(val.p, val.l, "[^>]+>[^;]+[^]*", &pat, &host, &params))
		return config_fail(line, "expected PATTERN>HOST[:PORT][;...],"
				   " got '%s'", line->val);

	r = mem_zalloc(sizeof(*r), route_destructor);
	if (!r)
		return ENOMEM;

	r->tp = SIP_TRANSP_NONE;
	r->verify = -1;

	if (pat.l == 1 && pat.p[0] == '*') {
		r->kind = MATCH_ANY;
	}
	else if (pat.p[pat.l-1] == '*') {
		struct pl digits = pat;

		--digits.l;
		if (!all_digits(&digits, true)) {
			err = config_fail(line, "'%r' is not a number prefix"
					  " such as 0*", &pat);
			goto out;
		}
		r->kind = MATCH_PREFIX;
		pat = digits;
	}
	else {
		r->kind = MATCH_DOMAIN;
	}

	err = pl_strdup(&r->match, &pat);
	if (err)
		goto out;

	if (host.l >= 5 && !strncasecmp(host.p, "pool:", 5)) {
		err = route_pool(r, line, &host);
		if (err)
			goto out;
		h = host;
	}
	else if (uri_decode_hostport(&host, &h, &port) || !h.l ||
	    (pl_isset(&port) && (!all_digits(&port, false) ||
				 pl_u32(&port) > 65535 || !pl_u32(&port)))) {
		err = config_fail(line, "'%r' is not HOST[:PORT]", &host);
		goto out;
	}

	err = pl_strdup(&r->host, &host);
	if (err)
		goto out;

	rest = params;
	while (rest.l) {
		struct pl name, pv = PL_INIT, more = PL_INIT;

		if (rest.p[0] == ';') {
			++rest.p;
			--rest.l;
			continue;
		}

		if (re_regex(rest.p, rest.l, "[^=;]+[=]*[^;]*[^]*", &name,
			     NULL, &pv, &more)) {
			err = config_fail(line, "bad parameters '%r'", &rest);
			goto out;
		}

		err = route_param(r, &name, &pv, line);
		if (err)
			goto out;

		rest = more;
	}

	if (!r->user != !r->password) {
		err = config_fail(line, "user and password go together");
		goto out;
	}

	if (r->pool && (r->tp != SIP_TRANSP_NONE || r->ca || r->tls_name ||
			r->verify >= 0)) {
		err = config_fail(line, "a route to a pool takes its"
				  " transport from the members: transport,"
				  " ca, tls_name and verify do not apply");
		goto out;
	}

	err = route_tls(r, fresh->apply, line, &val, &host, &h);
	if (err)
		goto out;

	err = re_sdprintf(&r->uri, "sip:%r%s%s", &host,
			  r->tp == SIP_TRANSP_NONE ? "" : ";transport=",
			  r->tp == SIP_TRANSP_NONE ? "" : transp_name(r->tp));
	if (err)
		goto out;

	list_append(&fresh->routes, &r->le, r);

 out:
	if (err)
		mem_deref(r);

	return err;
}


static int did_handler(const struct config_line *line, void *arg)
{
	struct route_lists *fresh = arg;
	struct pl val, number, aor, user, domain;
	struct did *d;

	pl_set_str(&val, line->val);
	if (re_regex(val.p, val.l, "[^>]+>[^@]+@[^]+", &number, &user,
		     &domain) || !all_digits(&number, true))
		return config_fail(line, "expected NUMBER>USER@DOMAIN, got"
				   " '%s'", line->val);

	if (!domain_listed(&domain))
		return config_fail(line, "%r is not a served domain",
				   &domain);

	d = mem_zalloc(sizeof(*d), did_destructor);
	if (!d)
		return ENOMEM;

	aor.p = user.p;
	aor.l = domain.p + domain.l - user.p;

	if (pl_strdup(&d->number, &number) || pl_strdup(&d->aor, &aor)) {
		mem_deref(d);
		return ENOMEM;
	}

	list_append(&fresh->dids, &d->le, d);

	return 0;
}


/**
 * Read the "route", "did" and "group" lines of the configuration
 *
 * @param apply True to use them from now on, false to check them
 *
 * @return 0 if success, otherwise errorcode (reported)
 */
int routes_config(bool apply)
{
	struct route_lists fresh;
	int err;

	list_init(&fresh.routes);
	list_init(&fresh.dids);
	fresh.apply = apply;

	err  = config_apply("route", route_handler, &fresh);
	err |= config_apply("did", did_handler, &fresh);
	err |= groups_config(apply);

	if (!err && apply) {
		reload_list(&rt.routes, &fresh.routes);
		reload_list(&rt.dids, &fresh.dids);
	}

	list_flush(&fresh.routes);
	list_flush(&fresh.dids);

	return err ? EINVAL : 0;
}


void routes_close(void)
{
	groups_close();
	list_flush(&rt.routes);
	list_flush(&rt.dids);
}


/**
 * Find the static route for a domain
 *
 * @param domain Host part of the Request-URI
 *
 * @return Route, or NULL (then RFC 3263 DNS decides)
 */
const struct static_route *routes_domain(const struct pl *domain)
{
	const struct static_route *any = NULL;
	struct le *le;

	for (le = rt.routes.head; le; le = le->next) {
		const struct static_route *r = le->data;

		if (r->kind == MATCH_DOMAIN && !pl_strcasecmp(domain, r->match))
			return r;
		if (r->kind == MATCH_ANY && !any)
			any = r;
	}

	return any;
}


/**
 * Find the static route for a number (the longest matching prefix)
 *
 * @param user User part of the Request-URI
 *
 * @return Route, or NULL
 */
const struct static_route *routes_number(const struct pl *user)
{
	const struct static_route *best = NULL;
	struct le *le;

	for (le = rt.routes.head; le; le = le->next) {
		const struct static_route *r = le->data;
		size_t n;

		if (r->kind != MATCH_PREFIX)
			continue;

		n = strlen(r->match);
		if (user->l < n || memcmp(user->p, r->match, n))
			continue;

		if (!best || n > strlen(best->match))
			best = r;
	}

	return best;
}


/**
 * Map an inbound number to a local address-of-record
 *
 * @param number User part of the Request-URI
 *
 * @return user@domain, or NULL if no did line names the number
 */
const char *routes_did(const struct pl *number)
{
	struct le *le;

	for (le = rt.dids.head; le; le = le->next) {
		const struct did *d = le->data;

		if (!pl_strcmp(number, d->number))
			return d->aor;
	}

	return NULL;
}


/**
 * The server pool of a route
 *
 * @param r Route, or NULL
 *
 * @return The pool's name, or NULL for a route to a host
 */
const char *routes_pool(const struct static_route *r)
{
	return r ? r->pool : NULL;
}


/**
 * The next-hop URI of a static route
 *
 * @param r Route
 *
 * @return sip:host[:port][;transport=x]
 */
const char *routes_uri(const struct static_route *r)
{
	return r ? r->uri : NULL;
}


/**
 * Check the TLS connections opened to where a route sends as the route
 * says (its CA, its name): called before a request goes out by it
 *
 * @param r   Route, or NULL
 * @param tp  Transport the request goes out on
 * @param dst Address it goes to
 *
 * @return 0 if success, otherwise errorcode
 */
int routes_tls_expect(const struct static_route *r, enum sip_transp tp,
		      const struct sa *dst)
{
	if (!r || !r->tls || tp != SIP_TRANSP_TLS)
		return 0;

	return tls_peer_expect(dst, r->tls);
}


/**
 * The Request-URI for a number sent through a route: strip, then prefix
 *
 * @param buf  Buffer
 * @param size Buffer size
 * @param r    Route
 * @param uri  Request-URI as received
 * @param host HOST[:PORT][;params] to send to (a pool member), or NULL:
 *             the route's
 *
 * @return 0 if success, otherwise errorcode
 */
int routes_ruri(char *buf, size_t size, const struct static_route *r,
		const struct uri *uri, const char *host)
{
	struct pl user = uri->user;

	if (host && !pl_isset(&user)) {
		(void)re_snprintf(buf, size, "sip:%s", host);
		return 0;
	}

	if (host && r->kind != MATCH_PREFIX) {
		(void)re_snprintf(buf, size, "sip:%r@%s", &user, host);
		return 0;
	}

	if (r->kind != MATCH_PREFIX) {
		(void)re_snprintf(buf, size, "%H", uri_encode, uri);
		return 0;
	}

	if (r->strip >= user.l)
		return EINVAL;

	user.p += r->strip;
	user.l -= r->strip;

	if (re_snprintf(buf, size, "sip:%s%r@%s", r->prefix ? r->prefix : "",
			&user, host ? host : r->host) < 0)
		return ENOMEM;

	return 0;
}


/**
 * The credentials of a route, for a trunk that challenges
 *
 * @param route    Route
 * @param user     Buffer for the user name
 * @param usize    Its size
 * @param password Buffer for the password
 * @param psize    Its size
 *
 * @return 0 if the route has credentials, ENOENT if not
 */
int route_credentials(const struct static_route *route, char *user,
		      size_t usize, char *password, size_t psize)
{
	if (!route || !route->user)
		return ENOENT;

	str_ncpy(user, route->user, usize);
	str_ncpy(password, route->password, psize);

	return 0;
}
