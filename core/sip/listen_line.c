/**
 * @file listen_line.c  The listen lines: transport, address, roles, TLS
 *                      parameters, and the services the roles need
 *
 *   listen TRANSPORT:ADDRESS:PORT;roles=ROLE,...[;auth=on|off]
 *          [;nat=auto|always|never]
 *          [;cert=FILE][;key=FILE][;ca=FILE][;verify=on|off]
 *
 * listen.c opens a socket for each line read here.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <ctype.h>
#include <re.h>
#include "core.h"
#include "listen.h"


static struct list lines;         /* struct listen_spec */


/**
 * The listen lines read, in their order
 *
 * @return List of struct listen_spec
 */
struct list *listen_specs(void)
{
	return &lines;
}


void role_ref_destructor(void *arg)
{
	struct role_ref *ref = arg;

	list_unlink(&ref->le);
	mem_deref(ref->name);
}


static void spec_destructor(void *arg)
{
	struct listen_spec *spec = arg;

	list_unlink(&spec->le);
	list_flush(&spec->roles);
	mem_deref(spec->cert);
	mem_deref(spec->key);
	mem_deref(spec->ca);
	mem_deref(spec->tls);
}


bool transp_secure(enum sip_transp tp)
{
	return tp == SIP_TRANSP_TLS || tp == SIP_TRANSP_WSS;
}


static int addr_decode(struct sa *sa, const struct pl *pl)
{
	struct pl host, port = PL_INIT;
	uint32_t portn = SIP_PORT;
	char buf[64];

	if (pl->l && pl->p[0] == '[') {
		if (re_regex(pl->p, pl->l, "\\[[^\\]]+\\][:]*[^]*",
			     &host, NULL, &port))
			return EINVAL;
	}
	else if (re_regex(pl->p, pl->l, "[^:]+[:]*[^]*", &host, NULL, &port))
		return EINVAL;

	if (pl_isset(&port)) {
		if (re_regex(port.p, port.l, "[0-9]+", NULL) || port.l > 5)
			return EINVAL;

		portn = pl_u32(&port);
		if (portn < 1 || portn > 65535)
			return ERANGE;
	}

	if (pl_strcpy(&host, buf, sizeof(buf)))
		return EINVAL;

	return sa_set_str(sa, buf, (uint16_t)portn);
}


static int roles_decode(struct listen_spec *spec, const struct pl *val)
{
	const char *p = val->p, *end = val->p + val->l;

	if (!val->l)
		return EINVAL;

	while (p <= end) {
		const char *comma = memchr(p, ',', end - p);
		struct role_ref *ref;
		struct pl name;
		size_t i;

		name.p = p;
		name.l = (comma ? comma : end) - p;

		if (!name.l)
			return EINVAL;

		for (i = 0; i < name.l; i++) {
			char c = name.p[i];
			if (!(isalnum((unsigned char)c) || c == '-' ||
			      c == '_'))
				return EINVAL;
		}

		ref = mem_zalloc(sizeof(*ref), role_ref_destructor);
		if (!ref)
			return ENOMEM;

		list_append(&spec->roles, &ref->le, ref);

		if (pl_strdup(&ref->name, &name))
			return ENOMEM;

		if (!comma)
			break;

		p = comma + 1;
	}

	return 0;
}


static bool redirect_only(const struct listen_spec *spec)
{
	struct le *le;

	for (le = spec->roles.head; le; le = le->next) {
		const struct role_ref *ref = le->data;

		if (str_casecmp(ref->name, "redirect"))
			return false;
	}

	return true;
}


/* tls and wss need a certificate; the others take no TLS parameters */
static int tls_params_check(const struct listen_spec *spec,
			    const struct config_line *line)
{
	if (!transp_secure(spec->tp)) {
		if (spec->cert || spec->key || spec->ca || spec->verify)
			return config_fail(line, "cert, key, ca and verify are"
					   " for tls and wss only");
		return 0;
	}

	if (!spec->cert)
		return config_fail(line, "%s needs cert=FILE (and key=FILE"
				   " unless the key is in it)",
				   spec->tp == SIP_TRANSP_TLS ? "tls" : "wss");

	/* libre's wss listener takes a certificate and nothing more */
	if (spec->tp == SIP_TRANSP_WSS && (spec->ca || spec->verify))
		return config_fail(line, "ca and verify are for tls only");

	if (spec->verify && !spec->ca)
		return config_fail(line, "verify=on needs ca=FILE");

	if (spec->ca && tls_ca_check(line, spec->ca))
		return EINVAL;

	return tls_files_check(line, spec->cert, spec->key);
}


static int nat_decode(enum sock_nat *nat, const struct pl *val)
{
	if (!pl_strcasecmp(val, "auto"))
		*nat = SOCK_NAT_AUTO;
	else if (!pl_strcasecmp(val, "always"))
		*nat = SOCK_NAT_ALWAYS;
	else if (!pl_strcasecmp(val, "never"))
		*nat = SOCK_NAT_NEVER;
	else
		return EINVAL;

	return 0;
}


static int spec_params(struct listen_spec *spec, const struct pl *params,
		       const struct config_line *line)
{
	struct pl rest = *params;
	bool have_roles = false, have_auth = false;
	int err;

	while (rest.l) {
		struct pl name, val = PL_INIT, more = PL_INIT;

		if (rest.p[0] == ';') {
			++rest.p;
			--rest.l;
			continue;
		}

		if (re_regex(rest.p, rest.l, "[^=;]+[=]*[^;]*[^]*",
			     &name, NULL, &val, &more))
			return config_fail(line, "bad parameters '%r'", &rest);

		if (!pl_strcasecmp(&name, "roles")) {
			err = roles_decode(spec, &val);
			if (err == ENOMEM)
				return err;
			if (err)
				return config_fail(line, "bad role list '%r'",
						   &val);
			have_roles = true;
		}
		else if (!pl_strcasecmp(&name, "auth")) {
			char buf[8];

			if (pl_strcpy(&val, buf, sizeof(buf)) ||
			    config_parse_bool(&spec->auth, buf))
				return config_fail(line, "auth must be on or"
						   " off, not '%r'", &val);
			have_auth = true;
		}
		else if (!pl_strcasecmp(&name, "nat")) {
			if (nat_decode(&spec->nat, &val))
				return config_fail(line, "nat must be auto,"
						   " always or never, not '%r'",
						   &val);
		}
		else if (!pl_strcasecmp(&name, "verify")) {
			char buf[8];

			if (pl_strcpy(&val, buf, sizeof(buf)) ||
			    config_parse_bool(&spec->verify, buf))
				return config_fail(line, "verify must be on or"
						   " off, not '%r'", &val);
		}
		else if (!pl_strcasecmp(&name, "cert") ||
			 !pl_strcasecmp(&name, "key") ||
			 !pl_strcasecmp(&name, "ca")) {
			char **dst = !pl_strcasecmp(&name, "cert") ?
				&spec->cert : !pl_strcasecmp(&name, "key") ?
				&spec->key : &spec->ca;

			if (!val.l)
				return config_fail(line, "%r needs a file",
						   &name);
			mem_deref(*dst);
			*dst = NULL;
			err = pl_strdup(dst, &val);
			if (err)
				return err;
		}
		else {
			return config_fail(line, "unknown parameter '%r'",
					   &name);
		}

		rest = more;
	}

	if (!have_roles)
		return config_fail(line, "missing roles=ROLE[,ROLE...]");

	if (!have_auth)
		spec->auth = !redirect_only(spec);

	return tls_params_check(spec, line);
}


static bool spec_clash(const struct listen_spec *a,
		       const struct listen_spec *b)
{
	return a->tp == b->tp && sa_cmp(&a->addr, &b->addr, SA_ALL);
}


static int listen_handler(const struct config_line *line, void *arg)
{
	struct list *specs = arg;
	struct listen_spec *spec;
	struct pl val, tp, addr, params = PL_INIT;
	struct le *le;
	int err;

	pl_set_str(&val, line->val);

	if (re_regex(val.p, val.l, "[^:]+:[^;]+[^]*", &tp, &addr, &params))
		return config_fail(line, "expected TRANSPORT:IP:PORT;roles=..."
				   ", got '%s'", line->val);

	spec = mem_zalloc(sizeof(*spec), spec_destructor);
	if (!spec)
		return ENOMEM;

	spec->line = line;

	if (transp_decode(&spec->tp, &tp)) {
		err = config_fail(line, "unknown transport '%r' (use udp,"
				  " tcp, tls, ws or wss)", &tp);
		goto out;
	}

	err = addr_decode(&spec->addr, &addr);
	if (err == ERANGE) {
		err = config_fail(line, "port out of range in '%r'", &addr);
		goto out;
	}
	else if (err) {
		err = config_fail(line, "'%r' is not an IP address with an"
				  " optional port (IPv6 as [::1]:5060)",
				  &addr);
		goto out;
	}

	err = spec_params(spec, &params, line);
	if (err)
		goto out;

	for (le = specs->head; le; le = le->next) {
		const struct listen_spec *other = le->data;

		if (spec_clash(spec, other)) {
			err = config_fail(line, "%s %J is already used on"
					  " line %u", transp_name(spec->tp),
					  &spec->addr, other->line->lineno);
			goto out;
		}
	}

	list_append(specs, &spec->le, spec);

 out:
	if (err)
		mem_deref(spec);

	return err;
}


/* A reload checks role names without loading modules */
static int roles_check(const struct list *specs)
{
	struct le *le, *re;
	int err = 0;

	for (le = specs->head; le; le = le->next) {
		const struct listen_spec *spec = le->data;

		for (re = spec->roles.head; re; re = re->next) {
			const struct role_ref *ref = re->data;

			if (role_find(ref->name) ||
			    module_available(ref->name))
				continue;

			err = config_fail(spec->line, "unknown role '%s'",
					  ref->name);
		}
	}

	return err;
}


/**
 * Read the "listen" lines of the configuration
 *
 * @param apply True to keep them for the start, false to check them (a
 *              reload: sockets change only at a restart)
 *
 * @return 0 if success, otherwise errorcode
 */
int listen_config(bool apply)
{
	struct list fresh = LIST_INIT;
	int err;

	err = config_apply("listen", listen_handler, &fresh);
	if (!err && list_isempty(&fresh))
		err = config_fail(NULL, "no 'listen' line: sipd needs at"
				  " least one socket");

	if (!err && !apply)
		err = roles_check(&fresh);

	if (!err && apply)
		reload_list(&lines, &fresh);

	list_flush(&fresh);

	return err;
}


/* A module name, once, in a list of struct role_ref ('-' read as '_') */
static int name_add(struct list *names, const char *name,
		    const struct config_line *line)
{
	struct role_ref *ref;
	struct le *le;
	char *p;

	ref = mem_zalloc(sizeof(*ref), role_ref_destructor);
	if (!ref || str_dup(&ref->name, name)) {
		mem_deref(ref);
		return ENOMEM;
	}

	for (p = ref->name; *p; p++) {
		if (*p == '-')
			*p = '_';
	}

	for (le = names->head; le; le = le->next) {
		const struct role_ref *n = le->data;

		if (!str_casecmp(n->name, ref->name)) {
			mem_deref(ref);
			return 0;
		}
	}

	ref->line = line;
	list_append(names, &ref->le, ref);

	return 0;
}


/**
 * Collect the module names that the roles of the listen lines need
 *
 * @param names List to append strings (struct role_ref) to
 *
 * @return 0 if success, otherwise errorcode
 */
int listen_modules(struct list *names)
{
	struct le *le, *re;
	int err = 0;

	for (le = lines.head; le && !err; le = le->next) {
		const struct listen_spec *spec = le->data;

		for (re = spec->roles.head; re && !err; re = re->next) {
			const struct role_ref *ref = re->data;

			err = name_add(names, ref->name, spec->line);
		}
	}

	return err;
}


/**
 * Resolve the role names of every listen line, after modules are loaded.
 * The proxy roles (they take every request) are put last, whatever the
 * order of the line: a role listed after one would never be offered a
 * request.
 *
 * @return 0 if every role is known, otherwise errorcode (reported)
 */
int listen_resolve_roles(void)
{
	struct le *le, *re;
	int err = 0;

	for (le = lines.head; le; le = le->next) {
		struct listen_spec *spec = le->data;
		struct list last = LIST_INIT;

		for (re = spec->roles.head; re; ) {
			struct role_ref *ref = re->data;

			re = re->next;

			ref->role = role_find(ref->name);
			if (!ref->role) {
				err = config_fail(spec->line, "unknown role"
						  " '%s'", ref->name);
				continue;
			}

			/* a proxy takes every request: the others first */
			if (role_takes(ref->role, "*", 1)) {
				list_unlink(&ref->le);
				list_append(&last, &ref->le, ref);
			}
		}

		while (last.head) {
			struct le *l = last.head;

			list_unlink(l);
			list_append(&spec->roles, l, l->data);
		}
	}

	return err;
}


/* A service a role of a listen line needs; a handler returns non-zero
   to stop the walk */
typedef int (need_h)(const struct listen_spec *spec,
		     const struct role_ref *ref, const char *need, void *arg);

static int needs_apply(need_h *h, void *arg)
{
	struct le *le, *re;
	int err = 0;

	for (le = lines.head; le && !err; le = le->next) {
		const struct listen_spec *spec = le->data;

		for (re = spec->roles.head; re && !err; re = re->next) {
			const struct role_ref *ref = re->data;
			const char *const *need;

			if (!ref->role || !ref->role->needs)
				continue;

			for (need = ref->role->needs; *need && !err; need++)
				err = h(spec, ref, *need, arg);
		}
	}

	return err;
}


static int needed_handler(const struct listen_spec *spec,
			  const struct role_ref *ref, const char *need,
			  void *arg)
{
	(void)spec;
	(void)ref;

	return str_casecmp(need, arg) ? 0 : EEXIST;
}


/* Does a role of some listen line need a service? */
bool listen_needs(const char *service)
{
	return needs_apply(needed_handler, (void *)service) == EEXIST;
}


/* A service no loaded module provides, on a socket where it is used
   (the core provides dns; auth is not used with auth=off) */
static bool missing(const struct listen_spec *spec, const char *need)
{
	return !(!str_casecmp(need, "auth") && !spec->auth) &&
		str_casecmp(need, "dns") && !service_available(need);
}


/* The module of a service */
static const char *service_module(const char *service)
{
	if (!str_casecmp(service, "account"))
		return "location";

	return service;
}


static int missing_handler(const struct listen_spec *spec,
			   const struct role_ref *ref, const char *need,
			   void *arg)
{
	(void)ref;

	if (!missing(spec, need))
		return 0;

	return name_add(arg, service_module(need), spec->line);
}


/**
 * Collect the modules that provide the services the roles need and no
 * loaded module provides (location and account: location; auth, on a
 * socket with digest auth: auth)
 *
 * @param names List to append module names (struct role_ref) to
 *
 * @return 0 if success, otherwise errorcode
 */
int listen_services_missing(struct list *names)
{
	return needs_apply(missing_handler, names);
}


static int check_handler(const struct listen_spec *spec,
			 const struct role_ref *ref, const char *need,
			 void *arg)
{
	int *errp = arg;

	if (missing(spec, need))
		*errp = config_fail(spec->line, "role %s needs the %s"
				    " service: no module %s provides it",
				    ref->name, need, service_module(need));

	return 0;
}


/**
 * Check that every service a role needs has a backend
 *
 * @return 0 if all are available, otherwise EINVAL (reported)
 */
int listen_check_needs(void)
{
	int err = 0;

	(void)needs_apply(check_handler, &err);

	return err;
}
