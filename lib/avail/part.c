/**
 * @file part.c  The availability service as a part of the core
 *
 * A service above the core, linked once into sipd (the modules reach it
 * through sipd's exported symbols); the daemon registers it as a part of
 * the core: no keys; once started it listens to the call events (for
 * calls.c) and answers the control socket's avail command (command.c);
 * it forgets its calls when the modules are gone.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <re.h>
#include "core.h"
#include "avail/avail.h"


static void event_handler(const struct sipd_event *ev, void *arg)
{
	(void)arg;

	if (ev->type == EVENT_CALL)
		avail_calls_event(ev->call, time_now());
}


static struct event_listener listener = {
	.h = event_handler,
};


static int avail_start(void)
{
	event_listen(&listener);
	avail_command_register();

	return 0;
}


static void avail_stop(void)
{
	avail_command_unregister();
	event_unlisten(&listener);
}


static void avail_close(void)
{
	avail_calls_flush();
}


static struct core_part avail_part = {
	.name = "avail",
	.starth = avail_start,
	.stoph = avail_stop,
	.closeh = avail_close,
};


/**
 * Register the availability service with the core (before core_init)
 */
void avail_part_register(void)
{
	core_part_register(&avail_part);
}
