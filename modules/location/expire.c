/**
 * @file expire.c  Remove expired bindings, a few at a time
 *
 * Copyright (C) 2026 sipd developers
 */

#include <re.h>
#include <sipd.h>
#include <store/store.h>
#include "location.h"


/**
 * Remove at most a batch of expired bindings in one transaction and
 * report each as a core event
 *
 * @param now     Current time
 * @param batch   Most bindings to remove
 * @param removed Set to how many were removed
 *
 * @return 0 if success, otherwise errorcode
 */
int expire_run(int64_t now, uint32_t batch, uint32_t *removed)
{
	struct list gone = LIST_INIT;
	struct le *le;
	int err;

	*removed = 0;

	err = store_binding_expired(&gone, now, batch);
	if (err || list_isempty(&gone))
		goto out;

	err = store_binding_expire(&gone, now);
	if (err)
		goto out;

	for (le = gone.head; le; le = le->next) {
		location_expired(le->data);
		++*removed;
	}

 out:
	list_flush(&gone);

	return err;
}
