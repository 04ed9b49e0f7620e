/**
 * @file event.c  Core event registry: modules report, other modules listen
 *
 * Copyright (C) 2026 sipd developers
 */

#include <re.h>
#include "core.h"


static struct list listeners;


void event_listen(struct event_listener *l)
{
	if (l)
		list_append(&listeners, &l->le, l);
}


void event_unlisten(struct event_listener *l)
{
	if (l)
		list_unlink(&l->le);
}


/**
 * Deliver an event to every listener
 *
 * @param ev The event
 */
void event_emit(const struct sipd_event *ev)
{
	struct le *le = listeners.head;

	while (le) {
		struct event_listener *l = le->data;

		le = le->next;
		l->h(ev, l->arg);
	}
}


const char *event_name(enum sipd_event_type type)
{
	switch (type) {

	case EVENT_BINDING_ADDED:     return "binding-added";
	case EVENT_BINDING_REFRESHED: return "binding-refreshed";
	case EVENT_BINDING_REMOVED:   return "binding-removed";
	case EVENT_BINDING_EXPIRED:   return "binding-expired";
	case EVENT_CALL:              return "call";
	case EVENT_ROUTED:            return "routed";
	default:                      return "?";
	}
}


const char *call_state_name(enum call_state state)
{
	switch (state) {

	case CALL_TRYING:     return "trying";
	case CALL_EARLY:      return "early";
	case CALL_CONFIRMED:  return "confirmed";
	case CALL_TERMINATED: return "terminated";
	default:              return "?";
	}
}
