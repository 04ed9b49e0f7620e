/**
 * @file policy.c  Who may watch whom (presence_policy)
 *
 *  same-domain  watchers of the presentity's domain are allowed, others
 *               wait (pending) until an allow rule names them;
 *  everyone     every watcher is allowed;
 *  list         only watchers an allow rule names; others wait.
 *
 * Rules are rows of presence_rules (edited with sipctl presence
 * allow|block|unset); a block rule rejects the watcher under any policy.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include <sipd.h>
#include <store/store.h>
#include "presence.h"


static int rule_of(char *rule, size_t size, const char *presentity,
		   const char *watcher)
{
	return store_rule_get(rule, size, presentity, watcher);
}


static bool same_domain(const char *a, const char *b)
{
	const char *da = strrchr(a, '@'), *db = strrchr(b, '@');

	return da && db && !str_casecmp(da, db);
}


/**
 * Decide the state of a new or refreshed subscription
 *
 * @param state      Set to SUB_ACTIVE, SUB_PENDING or SUB_TERMINATED
 *                   (rejected)
 * @param presentity Who is watched
 * @param watcher    Who watches
 *
 * @return 0 if decided, otherwise errorcode
 */
int policy_decide(enum sub_state *state, const char *presentity,
		  const char *watcher)
{
	char rule[16];
	int err;

	/* one's own state is always visible */
	if (!strcmp(presentity, watcher)) {
		*state = SUB_ACTIVE;
		return 0;
	}

	err = rule_of(rule, sizeof(rule), presentity, watcher);
	if (err)
		return err;

	if (!strcmp(rule, "block")) {
		*state = SUB_TERMINATED;
		return 0;
	}

	if (!strcmp(rule, "allow")) {
		*state = SUB_ACTIVE;
		return 0;
	}

	switch (presence_conf.policy) {

	case POLICY_EVERYONE:
		*state = SUB_ACTIVE;
		break;

	case POLICY_SAME_DOMAIN:
		*state = same_domain(presentity, watcher) ? SUB_ACTIVE :
			SUB_PENDING;
		break;

	default:
		*state = SUB_PENDING;
		break;
	}

	return 0;
}
