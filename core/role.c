/**
 * @file role.c  Registry of roles and the SIP methods sipd knows
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include "core.h"


static struct list roles;


static const char *known_methods[METHODS_KNOWN] = {
	"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK",
	"SUBSCRIBE", "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE",
	"UPDATE",
};


/**
 * Register a role; called by a module's init
 *
 * @param role Static role description
 */
void role_register(struct role *role)
{
	if (!role)
		return;

	list_append(&roles, &role->le, role);
}


void role_unregister(struct role *role)
{
	if (!role)
		return;

	list_unlink(&role->le);
}


/**
 * Find a registered role by name
 *
 * @param name Role name as in "roles="
 *
 * @return Role, or NULL if no loaded module registered it
 */
const struct role *role_find(const char *name)
{
	struct le *le;

	for (le = roles.head; le; le = le->next) {
		const struct role *role = le->data;

		if (!str_casecmp(role->name, name))
			return role;
	}

	return NULL;
}


/**
 * Check whether a role may take a method
 *
 * @param role Role
 * @param met  Method name
 * @param len  Length of the method name
 *
 * @return True if the method is in the role's list, or the list has "*"
 *         (a proxy: it forwards methods it does not know, RFC 3261 16)
 */
bool role_takes(const struct role *role, const char *met, size_t len)
{
	const char *const *m;

	if (!role->methods)
		return false;

	for (m = role->methods; *m; m++) {
		if (!strcmp(*m, "*") ||
		    (strlen(*m) == len && !memcmp(*m, met, len)))
			return true;
	}

	return false;
}


/**
 * Check whether a method is one that sipd knows (RFC 3261 and extensions)
 *
 * @param met Method
 *
 * @return True if known
 */
bool method_known(const struct pl *met)
{
	return method_index(met) < METHODS_KNOWN;
}


/**
 * The index of a method among those sipd knows
 *
 * @param met Method
 *
 * @return 0 to METHODS_KNOWN - 1, or METHODS_KNOWN for another method
 */
unsigned method_index(const struct pl *met)
{
	unsigned i;

	for (i = 0; i < METHODS_KNOWN; i++) {
		if (!pl_strcmp(met, known_methods[i]))
			return i;
	}

	return METHODS_KNOWN;
}


/**
 * The name of a method by its index
 *
 * @param i Index from method_index()
 *
 * @return Method name, "other" for METHODS_KNOWN
 */
const char *method_name(unsigned i)
{
	return i < METHODS_KNOWN ? known_methods[i] : "other";
}


/**
 * Offer a response that matched no client transaction to every role
 * with a response handler
 *
 * @param sock Socket it arrived on
 * @param msg  The response
 *
 * @return True if a role took it
 */
bool role_response(struct sipd_sock *sock, const struct sip_msg *msg)
{
	struct le *le;

	for (le = roles.head; le; le = le->next) {
		const struct role *role = le->data;

		if (role->responseh && role->responseh(sock, msg))
			return true;
	}

	return false;
}
