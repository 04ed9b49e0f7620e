/**
 * @file guard.c  Guard module: the defences of every sipd
 *
 * Bans of source addresses (ban.c), per-source request limits
 * (flood.c), scanners known by their User-Agent (scanner.c) and limits
 * on the connections peers open (connlimit.c). The core loads this
 * module whatever the configuration says (a "module guard" line adds
 * nothing). It registers the core's source filter, its figures, the
 * reload hook of its keys and the control socket's ban command.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <re.h>
#include <sipd.h>
#include "guard.h"


static const struct filter filter = {
	.bannedh  = bans_check,
	.banh     = bans_add,
	.floodh   = flood_check,
	.requesth = scanner_check,
};


/* At start and at reloads: read the keys; apply them when asked */
static int conf_reload(bool apply)
{
	int err = flood_config(apply);
	int e1 = scanner_config(apply);
	int e2 = connlimit_config(apply);

	return err ? err : e1 ? e1 : e2;
}


static struct reload_hook hook = {
	.name = "guard",
	.h = conf_reload,
};


static int module_init(void)
{
	int err;

	err = conf_reload(true);
	if (err) {
		scanner_close();
		return err;
	}

	bans_init();
	flood_init();
	scanner_init();
	connlimit_init(core_fd_limit());
	filter_register(&filter);
	reload_register(&hook);
	ban_command_register();

	return 0;
}


static int module_close(void)
{
	ban_command_unregister();
	reload_unregister(&hook);
	filter_unregister(&filter);
	connlimit_close();
	scanner_close();
	flood_close();
	bans_close();

	return 0;
}


EXPORT_SYM const struct mod_export exports = {
	"guard",
	"backend",
	module_init,
	module_close
};
