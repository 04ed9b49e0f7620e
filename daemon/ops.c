/**
 * @file ops.c  The operations, and the hand-off of requests between
 *              workers, registered with the core as its parts
 *
 * The core reads their keys with its own, starts the control socket
 * before its sockets (a second sipd on the same control socket stops
 * there) and the metrics after them, and stops both first. Of a set of
 * workers, worker 0 has the control socket and the metrics.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <re.h>
#include "ops.h"


static int control_start_first(void)
{
	return worker_index() == 0 ? control_start() : 0;
}


static int metrics_start_worker0(void)
{
	return worker_index() == 0 ? metrics_start() : 0;
}


static struct core_part control_part = {
	.name = "control",
	.configh = control_config,
	.starth = control_start_first,
	.start_first = true,
	.stoph = control_close,
};

static struct core_part handoff_part = {
	.name = "handoff",
	.starth = handoff_start,
	.stoph = handoff_close,
};

static struct core_part metrics_part = {
	.name = "metrics",
	.configh = metrics_config,
	.starth = metrics_start_worker0,
	.stoph = metrics_close,
};


/**
 * Register the operations with the core (before core_init)
 */
void ops_register(void)
{
	handoff_init();
	core_part_register(&control_part);
	core_part_register(&metrics_part);
	core_part_register(&handoff_part);
}
