/**
 * @file auth.c  Authentication facade: is this request authenticated?
 *
 * Copyright (C) 2026 sipd developers
 */

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
