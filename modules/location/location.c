/**
 * @file location.c  Location module: the backend of the location and
 *                   account services, on the store (lib/store)
 *
 * Bindings and accounts live in the store, on the database the core
 * opened. Every
 * change is committed before the core hears it succeeded; a timer removes
 * expired bindings a batch at a time so that the loop never stalls;
 * lookups are answered from memory while the database is unchanged.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <re.h>
#include <sipd.h>
#include <digest/digest.h>
#include <store/store.h>
#include "location.h"


enum {
	FAST_INTERVAL = 20,     /* ms, while a backlog of expired remains */
	INTERVAL_DEFAULT = 1000,
	BATCH_DEFAULT = 100,
	CACHE_DEFAULT = 4096,
};


static struct {
	struct tmr tmr;
	uint32_t interval;      /* ms */
	uint32_t batch;
} loc;


static struct location_backend backend = {
	.name   = "store",
	.lookup = cache_lookup,
	.save   = store_binding_save,
	.scan   = store_binding_scan,
	.ahead  = cache_ahead,
};


static struct account_backend accounts = {
	.name   = "store",
	.exists = store_account_exists,
	.ha1    = store_account_ha1,
};


static void expire_timer(void *arg)
{
	uint32_t removed = 0;
	int err;
	(void)arg;

	err = expire_run(time_now(), loc.batch, &removed);
	if (err && err != EBUSY && err != ENOTCONN)
		log_warning("location: removing expired bindings: %m\n", err);

	if (removed)
		log_debug("location: removed %u expired bindings\n", removed);

	tmr_start(&loc.tmr, removed == loc.batch ? FAST_INTERVAL :
		  loc.interval, expire_timer, NULL);
}


/* At start and at reloads: the expiry timer starts again */
static int conf_reload(bool apply)
{
	uint32_t interval = INTERVAL_DEFAULT, batch = BATCH_DEFAULT;
	uint32_t cache = CACHE_DEFAULT;
	int err;

	err  = config_u32("location_expire_interval", &interval, 10, 60000);
	err |= config_u32("location_expire_batch", &batch, 1, 10000);
	err |= config_u32("location_cache_size", &cache, 0, 1000000);
	if (err)
		return EINVAL;

	if (apply) {
		loc.interval = interval;
		loc.batch = batch;
		tmr_start(&loc.tmr, loc.interval, expire_timer, NULL);
		err = cache_resize(cache);
	}

	return err;
}


static struct reload_hook hook = {
	.name = "location",
	.h = conf_reload,
};


static uint64_t registrations_read(void *arg)
{
	uint64_t n = 0;
	int err;
	(void)arg;

	err = store_binding_count(&n, time_now());
	if (err && err != ENOTCONN)
		log_warning("location: counting the bindings: %m\n", err);

	return n;
}


static struct stat_figure registrations = {
	.name  = STAT_REGISTRATIONS,
	.help  = "Registered contacts (bindings) not expired",
	.kind  = STAT_GAUGE,
	.readh = registrations_read,
};


static uint64_t cache_hits_read(void *arg)
{
	(void)arg;

	return cache_hits();
}


static struct stat_figure cache_hit_count = {
	.name  = "location_cache_hits",
	.help  = "Lookups answered from memory, the database unchanged",
	.kind  = STAT_COUNTER,
	.readh = cache_hits_read,
};


static int module_init(void)
{
	int err;

	err = conf_reload(true);
	if (err)
		return err;

	location_register(&backend);
	account_register(&accounts);
	reload_register(&hook);
	stats_register(&registrations);
	stats_register(&cache_hit_count);
	reg_command_register();

	return 0;
}


static int module_close(void)
{
	reg_command_unregister();
	stats_unregister(&cache_hit_count);
	stats_unregister(&registrations);
	reload_unregister(&hook);
	tmr_cancel(&loc.tmr);
	cache_close();
	location_unregister(&backend);
	account_unregister(&accounts);
	digest_close();

	return 0;
}


EXPORT_SYM const struct mod_export exports = {
	"location",
	"backend",
	module_init,
	module_close
};
