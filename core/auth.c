/**
 * @file auth.c  Authentication facade: is this request authenticated?
 *
 * And as whom: auth_require() is the one rule of every role for the
 * address a request may act for.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include "core.h"


static struct list backends;


void auth_register(struct auth_backend *be)
{
	if (be)
		list_append(&backends, &be->le, be);
}


void auth_unregister(struct auth_backend *be)
{
	if (be)
		list_unlink(&be->le);
}


bool auth_available(void)
{
	return !list_isempty(&backends);
}


/**
 * Are requests inside a dialog challenged too (auth_in_dialog)?
 *
 * @return True if the backend says so
 */
bool auth_in_dialog(void)
{
	const struct auth_backend *be = list_ledata(backends.head);

	return be && be->in_dialog && be->in_dialog();
}


/**
 * Authenticate a request. When it carries no valid credentials the
 * backend answers it (a 401 or 407 challenge) or drops it.
 *
 * @param id    Set to the authenticated identity on success
 * @param sock  Socket the request arrived on
 * @param msg   The request
 * @param kind  AUTH_WWW (registrar, 401) or AUTH_PROXY (proxy, 407)
 * @param realm Realm to challenge for, a served domain
 *
 * @return 0 if authenticated, EAUTH if answered or dropped, ENOSYS
 *         without a backend, otherwise errorcode
 */
int auth_check(struct auth_identity *id, struct sipd_sock *sock,
	       const struct sip_msg *msg, enum auth_kind kind,
	       const char *realm)
{
	const struct auth_backend *be = list_ledata(backends.head);

	if (!be)
		return ENOSYS;

	return be->check(id, sock, msg, kind, realm);
}


/**
 * Authenticate a request as the user of the address it acts for: the To
 * of a REGISTER, the From of a SUBSCRIBE or of a call, the Request-URI
 * of a PUBLISH. The realm is the address's domain.
 *
 * The rule, the same for every role: the authenticated user must be the
 * address's user, compared case-sensitively (RFC 3261 19.1.4: the
 * userinfo is case-sensitive; escapes of unreserved characters are
 * undone first), and its domain the address's host, compared
 * case-insensitively, as the served domains are. alice may act as
 * sip:alice@EXAMPLE.com, never as sip:Alice@example.com.
 *
 * @param id    Set to the authenticated identity, also another user's
 * @param sock  Socket the request arrived on
 * @param msg   The request
 * @param kind  AUTH_WWW (401) or AUTH_PROXY (407)
 * @param uri   The address, its host a served domain
 *
 * @return 0 if authenticated as that user, EAUTH if answered or dropped
 *         (a challenge), EPERM if the address has no user, is not in a
 *         served domain or is not the authenticated user (not answered:
 *         the role answers 403), ENOSYS without a backend, otherwise
 *         errorcode
 */
int auth_require(struct auth_identity *id, struct sipd_sock *sock,
		 const struct sip_msg *msg, enum auth_kind kind,
		 const struct uri *uri)
{
	char aor[256];
	const char *domain;
	size_t ulen;
	int err;

	if (!id || !uri)
		return EINVAL;

	if (!domain_is_served(&uri->host) ||
	    msg_aor(aor, sizeof(aor), uri))
		return EPERM;

	domain = strrchr(aor, '@');
	ulen = (size_t)(domain++ - aor);

	err = auth_check(id, sock, msg, kind, domain);
	if (err)
		return err;

	if (strlen(id->user) != ulen || strncmp(id->user, aor, ulen) ||
	    str_casecmp(id->domain, domain)) {
		log_info("auth: %s@%s may not act as %s\n", id->user,
			 id->domain, aor);
		return EPERM;
	}

	return 0;
}
