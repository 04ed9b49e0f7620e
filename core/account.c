/**
 * @file account.c  Account facade: which users exist and their HA1 values
 *
 * Copyright (C) 2026 sipd developers
 */

#include <re.h>
#include "core.h"


static struct list backends;


void account_register(struct account_backend *be)
{
	if (be)
		list_append(&backends, &be->le, be);
}


void account_unregister(struct account_backend *be)
{
	if (be)
		list_unlink(&be->le);
}


bool account_available(void)
{
	return !list_isempty(&backends);
}


/**
 * Check whether an account exists
 *
 * @param user   User part
 * @param domain Domain
 * @param exists Set to the answer
 *
 * @return 0 if success, ENOSYS without a backend, otherwise errorcode
 */
int account_exists(const char *user, const char *domain, bool *exists)
{
	const struct account_backend *be = list_ledata(backends.head);

	if (!be)
		return ENOSYS;

	return be->exists(user, domain, exists);
}


/**
 * Get the stored HA1 of an account, H(user:realm:password)
 *
 * @param user   User part
 * @param domain Domain, which is the realm
 * @param alg    Digest algorithm
 * @param ha1    Buffer of DIGEST_MAX_SIZE bytes
 * @param len    Set to the length of the HA1
 *
 * @return 0 if found, ENOENT for no such account, ENOSYS without a backend
 */
int account_ha1(const char *user, const char *domain, enum digest_alg alg,
		uint8_t *ha1, size_t *len)
{
	const struct account_backend *be = list_ledata(backends.head);

	if (!be)
		return ENOSYS;

	return be->ha1(user, domain, alg, ha1, len);
}
