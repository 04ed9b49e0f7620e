/**
 * @file domain.c  The domains this server is responsible for
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

	for (p = name; *p; p++) {
		if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '.' ||
		      *p == '[' || *p == ']' || *p == ':' || *p == '_'))
			return false;
	}

	return true;
}


static int domain_handler(const struct config_line *line, void *arg)
{
	struct domain *d;
	struct pl pl;
	(void)arg;

	if (!valid_domain(line->val))
		return config_fail(line, "'%s' is not a domain name",
				   line->val);

	pl_set_str(&pl, line->val);
	if (domain_is_served(&pl))
		return config_fail(line, "'%s' is listed twice", line->val);

	d = mem_zalloc(sizeof(*d), domain_destructor);
	if (!d)
		return ENOMEM;

	if (str_dup(&d->name, line->val)) {
		mem_deref(d);
		return ENOMEM;
	}

	list_append(&domains, &d->le, d);

	return 0;
}


/**
 * Read the "domain" lines of the configuration
 *
 * @return 0 if success, otherwise errorcode
 */
int domain_config(void)
{
	return config_apply("domain", domain_handler, NULL);
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
	struct le *le;

	if (!host || !host->l)
		return false;

	for (le = domains.head; le; le = le->next) {
		const struct domain *d = le->data;

		if (0 == pl_strcasecmp(host, d->name))
			return true;
	}

	return false;
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
