/**
 * @file conf.c  The presence role's settings and the event packages it
 *               serves, for every part of the module
 *
 * Copyright (C) 2026 sipd developers
 */

#include <re.h>
#include <sipd.h>
#include "presence.h"


const struct presence_conf presence_conf_defaults = {
	.min_expires        = 60,
	.max_expires        = 3600,
	.default_expires    = 3600,
	.policy             = POLICY_SAME_DOMAIN,
	.max_per_watcher    = 100,
	.max_per_presentity = 1000,
	.max_subscriptions  = 100000,
	.notify_interval    = 1000,
	.notify_retries     = 3,
};

struct presence_conf presence_conf;


static const struct {
	const char *name;
	const char *ctype;
} pkgs[PKG_COUNT] = {
	{"presence",       "application/pidf+xml"},
	{"dialog",         "application/dialog-info+xml"},
	{"reg",            "application/reginfo+xml"},
	{"presence.winfo", "application/watcherinfo+xml"},
};


const char *pkg_name(enum pkg pkg)
{
	return pkg < PKG_COUNT ? pkgs[pkg].name : "?";
}


const char *pkg_ctype(enum pkg pkg)
{
	return pkg < PKG_COUNT ? pkgs[pkg].ctype : "";
}
