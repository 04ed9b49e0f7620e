/**
 * @file avail.h  The availability service: can a user take a call now?
 *
 * Linked once into sipd (like lib/dns), its symbols exported to the
 * modules. It answers three questions, cheaply enough to be asked on
 * every call to a user:
 *
 * - avail_calls(): how many calls the user is on, counted from the
 *   core's call events (EVENT_CALL, emitted by the stateful proxy);
 * - avail_binding_usable(): may a binding be tried, as the modules that
 *   know say (the registrar: did its last keep-alive go unanswered?);
 * - avail_published_busy(): has the user published busy, do not disturb
 *   or closed, as the modules that know say (the presence role).
 *
 * A module that knows something registers a struct avail_source when it
 * loads and unregisters it when it unloads; the proxy and redirect roles
 * ask. Nothing known means available: no source, no answer.
 *
 * What it knows is in the memory of the process: with workers, each
 * counts the calls it saw and each registrar its own pings; the
 * presence role reads the publications from the store, the one truth.
 * A BYE that reaches another worker than its INVITE (from the callee,
 * over UDP: the kernel picks the worker by source) does not end the
 * call where it is counted: it counts until its 12 hours are over.
 *
 * Copyright (C) 2026 sipd developers
 */

#ifndef SIPD_AVAIL_H
#define SIPD_AVAIL_H

#include "sipd.h"


/** What a module tells about a user's availability */
struct avail_source {
	struct le le;
	const char *name;
	/* the registrar: did this binding's last keep-alive go unanswered?
	   NULL if the module does not know */
	bool (*binding_failedh)(const struct binding *b);
	/* the presence role: has the user published busy or dnd (PIDF
	   <rpid:activities> busy, or a dnd note/activity as baresip and
	   Linphone publish it), or closed every tuple (<basic>closed)?
	   0 and *busy set, or ENOENT when the user published nothing;
	   NULL if the module does not know */
	int  (*presence_busyh)(bool *busy, const char *aor);
};

void avail_register(struct avail_source *src);
void avail_unregister(struct avail_source *src);
/* false: its keep-alive failed */
bool avail_binding_usable(const struct binding *b);
/* false when nothing is known */
bool avail_published_busy(const char *aor);
/* calls the user is on now */
uint32_t avail_calls(const char *aor);

/* For the daemon (before core_init) and the tests */
void avail_part_register(void);

/* The call counter, with its clock given (calls.c; for the tests) */
void avail_calls_event(const struct call_event *ce, int64_t now);
uint32_t avail_calls_at(const char *aor, int64_t now);
uint32_t avail_calls_entries(void);
void avail_calls_flush(void);

/* The control socket's avail command (command.c) */
void avail_command_register(void);
void avail_command_unregister(void);

#endif
