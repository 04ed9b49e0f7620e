/**
 * @file forward.c  The store's calls on call forwarding rules and on the
 *                  busy limits of accounts (issue 14)
 *
 * The daemon reads a user's rules and busy limit at every call, so that
 * what sipctl writes holds from the next call on, without notice.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include <sipd.h>
#include "store.h"


/**
 * Set a user's forwarding rule of a kind, replacing the one there is
 *
 * @param aor    The user, user@domain
 * @param kind   Kind of rule
 * @param target Target (sip: URI or number, see forward_target_norm())
 * @param after  noanswer: seconds of ringing before the forward, else 0
 *
 * @return 0 if success, otherwise errorcode
 */
int store_forward_set(const char *aor, enum store_forward_kind kind,
		      const char *target, uint32_t after)
{
	if (!aor || !*aor || !target || !*target ||
	    (unsigned)kind >= FORWARD_KINDS)
		return EINVAL;

	if (strlen(aor) >= sizeof(((struct store_forward *)0)->aor) ||
	    strlen(target) >= sizeof(((struct store_forward *)0)->target))
		return EOVERFLOW;

	if (!store_engine()->forward_set)
		return ENOSYS;

	return store_engine()->forward_set(aor, kind, target, after,
					   time_now());
}


/**
 * Remove a user's forwarding rule of a kind
 *
 * @param aor  The user, user@domain
 * @param kind Kind of rule
 *
 * @return 0 if removed, ENOENT if the user has no rule of that kind
 */
int store_forward_del(const char *aor, enum store_forward_kind kind)
{
	if (!aor || (unsigned)kind >= FORWARD_KINDS)
		return EINVAL;

	if (!store_engine()->forward_del)
		return ENOSYS;

	return store_engine()->forward_del(aor, kind);
}


/**
 * List forwarding rules, by user and kind (always, busy, noanswer,
 * unavailable)
 *
 * @param fwds List to append struct store_forward to
 * @param aor  The user, user@domain; NULL for every user's
 *
 * @return 0 if success (a user without rules: an empty list), otherwise
 *         errorcode
 */
int store_forward_list(struct list *fwds, const char *aor)
{
	if (!fwds)
		return EINVAL;

	if (!store_engine()->forward_list)
		return ENOSYS;

	return store_engine()->forward_list(fwds, aor);
}


/**
 * What a call to a user needs to know, in one look: whether the account
 * exists, its busy limit and its forwarding rules
 *
 * @param user       User part
 * @param domain     Domain
 * @param busy_limit Its busy limit, 0 for unlimited
 * @param fwds       List to append its struct store_forward to
 *
 * @return 0 if success, ENOENT if there is no such account, otherwise
 *         errorcode
 */
int store_callee_rules(const char *user, const char *domain,
		       uint32_t *busy_limit, struct list *fwds)
{
	char aor[256];

	if (!user || !domain || !busy_limit || !fwds)
		return EINVAL;

	if (re_snprintf(aor, sizeof(aor), "%s@%s", user, domain) < 0)
		return EOVERFLOW;

	if (!store_engine()->callee_rules)
		return ENOSYS;

	return store_engine()->callee_rules(user, domain, aor, busy_limit,
					    fwds);
}


/**
 * Get the busy limit of an account: how many calls its user may be on
 * before a new call gets 486 Busy Here
 *
 * @param user   User part
 * @param domain Domain
 * @param limit  The limit, 0 for unlimited
 *
 * @return 0 if success, ENOENT if there is no such account
 */
int store_account_busy_limit(const char *user, const char *domain,
			     uint32_t *limit)
{
	if (!user || !domain || !limit)
		return EINVAL;

	if (!store_engine()->account_busy_limit)
		return ENOSYS;

	return store_engine()->account_busy_limit(user, domain, limit);
}


/**
 * Set the busy limit of an account
 *
 * @param user   User part
 * @param domain Domain
 * @param limit  The limit, 0 for unlimited
 *
 * @return 0 if success, ENOENT if there is no such account
 */
int store_account_busy_limit_set(const char *user, const char *domain,
				 uint32_t limit)
{
	if (!user || !domain)
		return EINVAL;

	if (!store_engine()->account_busy_limit_set)
		return ENOSYS;

	return store_engine()->account_busy_limit_set(user, domain, limit);
}
