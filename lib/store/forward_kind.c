/**
 * @file forward_kind.c  The names of the kinds of call forwarding rules,
 *                       as in the database and sipctl
 *
 * Copyright (C) 2026 sipd developers
 */

#include <re.h>
#include <sipd.h>
#include "store.h"


static const char *const kind_names[FORWARD_KINDS] = {
	[FORWARD_ALWAYS]      = "always",
	[FORWARD_BUSY]        = "busy",
	[FORWARD_NOANSWER]    = "noanswer",
	[FORWARD_UNAVAILABLE] = "unavailable",
};


/**
 * The name of a kind of forwarding rule, as in the database and sipctl
 *
 * @param kind Kind
 *
 * @return Its name, "?" for a value out of range
 */
const char *store_forward_kind_name(enum store_forward_kind kind)
{
	if ((unsigned)kind >= FORWARD_KINDS)
		return "?";

	return kind_names[kind];
}


/**
 * Decode the name of a kind of forwarding rule (case-insensitive)
 *
 * @param kind Kind decoded
 * @param name Its name: always, busy, noanswer or unavailable
 *
 * @return 0 if success, EINVAL for another name
 */
int store_forward_kind_decode(enum store_forward_kind *kind,
			      const char *name)
{
	unsigned i;

	if (!kind || !name)
		return EINVAL;

	for (i = 0; i < FORWARD_KINDS; i++) {
		if (!str_casecmp(name, kind_names[i])) {
			*kind = (enum store_forward_kind)i;
			return 0;
		}
	}

	return EINVAL;
}
