/**
 * @file avail.c  The availability service: its questions and sources
 *
 * The modules that know something of a user's availability register a
 * source (the registrar: failed keep-alives; the presence role: what
 * the user published); the questions go to every source, and nothing
 * known means available. The calls are counted by calls.c from the
 * core's call events (part.c listens to them while sipd runs).
 *
 * Copyright (C) 2026 sipd developers
 */

#include <re.h>
#include "sipd.h"
#include "avail/avail.h"


static struct list sources;


/**
 * Register a source of availability (a module, when it loads)
 *
 * @param src Static source
 */
void avail_register(struct avail_source *src)
{
	if (src && !src->le.list)
		list_append(&sources, &src->le, src);
}


/**
 * Unregister a source (its module unloads)
 *
 * @param src Source
 */
void avail_unregister(struct avail_source *src)
{
	if (src)
		list_unlink(&src->le);
}


/**
 * May a binding be tried? Not when a source says its last keep-alive
 * went unanswered
 *
 * @param b Binding
 *
 * @return True if usable (also when nothing is known)
 */
bool avail_binding_usable(const struct binding *b)
{
	struct le *le;

	if (!b)
		return false;

	for (le = sources.head; le; le = le->next) {
		const struct avail_source *src = le->data;

		if (src->binding_failedh && src->binding_failedh(b))
			return false;
	}

	return true;
}


/**
 * Has a user published busy, do not disturb or closed?
 *
 * @param aor user@domain
 *
 * @return True if a source says so; false when nothing is known
 */
bool avail_published_busy(const char *aor)
{
	struct le *le;

	if (!aor || !*aor)
		return false;

	for (le = sources.head; le; le = le->next) {
		const struct avail_source *src = le->data;
		bool busy = false;

		if (src->presence_busyh && !src->presence_busyh(&busy, aor) &&
		    busy)
			return true;
	}

	return false;
}


/**
 * How many calls a user is on now (made from their first request,
 * received from their answer, until they end)
 *
 * @param aor user@domain
 *
 * @return Count
 */
uint32_t avail_calls(const char *aor)
{
	return avail_calls_at(aor, time_now());
}
