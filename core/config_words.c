/**
 * @file config_words.c  The keys whose value is several words
 *
 *   pool NAME [algorithm=...] URI... (lib/pool)
 *   group NUMBER@DOMAIN parallel|sequential [--ring SECONDS] MEMBER...
 *
 * Every other key takes one token: the reader refuses more, and
 * config_apply_words() hands these over (config.c).
 *
 * Copyright (C) 2026 sipd developers
 */

#include <re.h>
#include "core.h"


static const char *const words_keys[] = {
	"pool", "group",
};


/**
 * Whether a key takes a value of several words
 *
 * @param key Key name
 *
 * @return True if it does
 */
bool config_takes_words(const char *key)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(words_keys); i++) {
		if (!str_casecmp(words_keys[i], key))
			return true;
	}

	return false;
}

