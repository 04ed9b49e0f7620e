/**
 * @file domain.c  The domains this server is responsible for
 *
 * A reload replaces the list at once; a request in progress keeps the
 * answer it got. An IPv6 address is one domain with or without its
 * brackets: "[2001:db8::10]" and "2001:db8::10" match either form (libre
 * gives a URI's IPv6 host without them).
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <ctype.h>
#include <re.h>
#include "core.h"


struct domain {
	struct le le;
	char *name;
};


static struct list domains;


static void domain_destructor(void *arg)
{
	struct domain *d = arg;

	list_unlink(&d->le);
	mem_deref(d->name);
}


static bool valid_domain(const char *name)
{
	const char *p;

	if (!*name || strlen(name) > 253)
		return false;

	if ((*name == '[') != (name[strlen(name) - 1] == ']'))
		return false;

	for (p = name; *p; p++) {
		if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '.' ||
		      *p == '[' || *p == ']' || *p == ':' || *p == '_'))
			return false;
	}

	return true;
}


/* A host without the brackets of an IPv6 address */
static struct pl unbracketed(const struct pl *host)
{
	struct pl pl = *host;

	if (pl.l >= 2 && pl.p[0] == '[' && pl.p[pl.l - 1] == ']') {
		++pl.p;
		pl.l -= 2;
	}

	return pl;
}


static bool same_domain(const struct pl *host, const char *name)
{
	struct pl a = unbracketed(host), b;

	pl_set_str(&b, name);
	b = unbracketed(&b);

	return a.l == b.l && 0 == pl_casecmp(&a, &b);
}


static bool in_list(const struct list *list, const struct pl *host)
{
	struct le *le;

	if (!host || !host->l)
		return false;

	for (le = list->head; le; le = le->next) {
		const struct domain *d = le->data;

		if (same_domain(host, d->name))
			return true;
	}

	return false;
}


static int domain_handler(const struct config_line *line, void *arg)
{
	struct list *fresh = arg;
	struct domain *d;
	struct pl pl;

	if (!valid_domain(line->val))
		return config_fail(line, "'%s' is not a domain name",
				   line->val);

	pl_set_str(&pl, line->val);
	if (in_list(fresh, &pl))
		return config_fail(line, "'%s' is listed twice", line->val);

	d = mem_zalloc(sizeof(*d), domain_destructor);
	if (!d)
		return ENOMEM;

	if (str_dup(&d->name, line->val)) {
		mem_deref(d);
		return ENOMEM;
	}

	list_append(fresh, &d->le, d);

	return 0;
}


/**
 * Read the "domain" lines of the configuration
 *
 * @param apply True to make them the served domains, false to check them
 *
 * @return 0 if success, otherwise errorcode
 */
int domain_config(bool apply)
{
	struct list fresh = LIST_INIT;
	int err;

	err = config_apply("domain", domain_handler, &fresh);
	if (!err && apply)
		reload_list(&domains, &fresh);

	list_flush(&fresh);

	return err;
}


static int listed_handler(const struct config_line *line, void *arg)
{
	const struct pl *host = arg;

	return same_domain(host, line->val) ? EEXIST : 0;
}


/**
 * Check whether the configuration being read lists a domain, served yet
 * or not (a reload checks its lines before it applies them)
 *
 * @param host Domain name
 *
 * @return True if a "domain" line names it
 */
bool domain_listed(const struct pl *host)
{
	return config_apply("domain", listed_handler, (void *)host) ==
		EEXIST;
}


void domain_close(void)
{
	list_flush(&domains);
}


/**
 * Check whether this server is responsible for a domain
 *
 * @param host Host part of a URI
 *
 * @return True if served
 */
bool domain_is_served(const struct pl *host)
{
	return in_list(&domains, host);
}


/**
 * The first served domain, used where a request names none
 *
 * @return Domain name, or NULL if none is configured
 */
const char *domain_default(void)
{
	const struct domain *d = list_ledata(domains.head);

	return d ? d->name : NULL;
}
