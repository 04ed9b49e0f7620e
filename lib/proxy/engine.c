/**
 * @file engine.c  The proxy engine's start and stop in a proxy module
 *
 * The static routes and inbound numbers ("route" and "did" lines) are
 * read when the first proxy module starts and again at every reload.
 * Both proxy modules link the engine; where both are in one process (the
 * tests, the fuzzing harnesses) the first init and the last close count.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <re.h>
#include "engine.h"


static struct reload_hook hook = {
	.name = "routes",
	.h = routes_config,
};

static uint32_t users;


/**
 * Start the engine: read the routes, follow reloads
 *
 * @return 0 if success, otherwise errorcode (reported)
 */
int proxy_engine_init(void)
{
	int err;

	if (users++)
		return 0;

	err = routes_config(true);
	if (err) {
		users = 0;
		return err;
	}

	reload_register(&hook);

	return 0;
}


/**
 * Stop the engine (the last user's close)
 */
void proxy_engine_close(void)
{
	if (!users || --users)
		return;

	reload_unregister(&hook);
	routes_close();
	rules_close();
	flow_close();
	digest_close();
}
