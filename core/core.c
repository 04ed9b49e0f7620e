/**
 * @file core.c  Start and stop the core: config, modules, sockets, and
 *               the parts registered above it
 *
 * The core's keys are read by a list of parts, each of which can check
 * its keys without applying them: a start applies them all, a reload
 * checks them all and applies those that can change live.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <unistd.h>
#include <malloc.h>
#include <sys/resource.h>
#include <re.h>
#include "libre/libre.h"


enum {
	FD_LIMIT_DEFAULT = 16384,
	MALLOC_TRIM_THRESHOLD = 32 * 1024 * 1024,
	MALLOC_TOP_PAD = 1024 * 1024,
};


static struct {
	uint32_t fd_limit;
	bool started;
	struct list parts;         /* struct core_part, registered */
} core = {
	FD_LIMIT_DEFAULT, false, LIST_INIT
};


static int log_config(bool apply)
{
	const struct config_line *line = config_find("log_level");
	enum log_level level = LOG_LEVEL_INFO;

	if (line && log_level_parse(&level, line->val))
		return config_fail(line, "'%s' is not one of debug, info,"
				   " notice, warning, error", line->val);

	if (apply)
		log_set_level(level);

	return 0;
}


static int fd_config(bool apply)
{
	uint32_t fd_limit = FD_LIMIT_DEFAULT;
	int err;

	err = config_u32("fd_limit", &fd_limit, 256, 1048576);
	if (!err && apply)
		core.fd_limit = fd_limit;

	return err;
}


/* The parts that read the core's keys, in order */
static const struct {
	int (*config)(bool apply);
	bool live;                 /* a reload applies it */
} parts[] = {
	{log_config,     true},
	{domain_config,  true},
	{listen_config,  false},
	{module_config,  false},
	{fd_config,      false},
	{workers_config, false},
	{limits_config,  true},
	{conn_config,    true},
};

/* The keys of the parts that a reload does not apply */
static const char *restart_keys[] = {
	"listen", "module", "module_path", "db", "db_sync", "fd_limit",
	"control_socket", "metrics_listen", "metrics_allow_remote", "workers",
	"node_name", "node_uri", NULL
};


/**
 * Read the core's keys
 *
 * @param phase CONFIG_START: apply every key; CONFIG_CHECK: check them,
 *              apply none; CONFIG_LIVE: apply those a reload applies
 *
 * @return 0 if success, otherwise the first error (every problem is
 *         reported)
 */
int core_config(enum config_phase phase)
{
	struct le *le;
	size_t i;
	int err = 0;

	for (i = 0; i < ARRAY_SIZE(parts); i++) {
		int e;

		if (phase == CONFIG_LIVE && !parts[i].live)
			continue;

		e = parts[i].config(phase != CONFIG_CHECK);
		if (e && !err)
			err = e;
	}

	for (le = core.parts.head; le; le = le->next) {
		const struct core_part *part = le->data;
		int e;

		if (!part->configh || (phase == CONFIG_LIVE && !part->live))
			continue;

		e = part->configh(phase != CONFIG_CHECK);
		if (e && !err)
			err = e;
	}

	return err;
}


/**
 * Register a part of the program above the core (its operations: the
 * control socket, the metrics; the database): its keys are read with the
 * core's, it opens once the modules are loaded, starts with the sockets,
 * stops before them and closes around the modules' unload
 *
 * @param part Static part
 */
void core_part_register(struct core_part *part)
{
	if (part && !part->le.list)
		list_append(&core.parts, &part->le, part);
}


/* Start the registered parts that start before (or after) the sockets */
static int parts_start(bool first)
{
	struct le *le;

	for (le = core.parts.head; le; le = le->next) {
		const struct core_part *part = le->data;
		int err;

		if (!part->starth || part->start_first != first)
			continue;

		err = part->starth();
		if (err)
			return err;
	}

	return 0;
}


/* Open the registered parts that open once the modules are loaded */
static int parts_open(bool check_only)
{
	struct le *le;

	for (le = core.parts.head; le; le = le->next) {
		const struct core_part *part = le->data;
		int err;

		if (!part->openh)
			continue;

		err = part->openh(check_only);
		if (err)
			return err;
	}

	return 0;
}


/* Before (closed false) or after (true) the modules unload */
static void parts_unload(bool closed)
{
	struct le *le;

	for (le = core.parts.tail; le; le = le->prev) {
		const struct core_part *part = le->data;
		void (*h)(void) = closed ? part->closeh : part->unloadh;

		if (h)
			h();
	}
}


static void parts_stop(void)
{
	struct le *le;

	for (le = core.parts.tail; le; le = le->prev) {
		const struct core_part *part = le->data;

		if (part->stoph)
			part->stoph();
	}
}


/**
 * The keys a reload does not apply: they need a restart
 *
 * @return NULL-terminated list
 */
const char *const *core_restart_keys(void)
{
	return restart_keys;
}


/**
 * The descriptor limit of the loaded configuration (fd_limit)
 *
 * @return Number of descriptors
 */
uint32_t core_fd_limit(void)
{
	return core.fd_limit;
}


/* The modules the roles of the listen lines need, after the "module"
   lines; before them the guard (bans, floods, scanners, connection
   limits), which every sipd loads: a "module guard" line adds nothing */
static int roles_modules_add(void)
{
	struct list names = LIST_INIT;
	int err;

	err = module_add("guard");
	if (!err)
		err = listen_modules(&names);
	if (!err)
		err = module_roles_add(&names);

	list_flush(&names);

	return err;
}


static int services_modules_load(void)
{
	struct list names = LIST_INIT;
	int err;

	err = listen_services_missing(&names);
	if (!err && names.head)
		err = module_services_add(&names);
	if (!err && names.head)
		err = module_load_all();

	list_flush(&names);

	return err;
}


static int fd_limit_raise(uint32_t n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < n) {
		rl.rlim_cur = MIN((rlim_t)n, rl.rlim_max);
		if (setrlimit(RLIMIT_NOFILE, &rl))
			log_warning("cannot raise the open file limit to %u:"
				    " %m\n", n, errno);
		n = (uint32_t)rl.rlim_cur;
	}

	return fd_setsize((int)n);
}


/**
 * Read the configuration and load the modules
 *
 * @param conf_path   Configuration file
 * @param check_only  True for sipd -t: the parts open nothing (no
 *                    database)
 *
 * @return 0 if success, otherwise errorcode (every problem reported)
 */
int core_init(const char *conf_path, bool check_only)
{
	int err;

	/* first: the shims must fit the libre that runs */
	err = libre_check();
	if (err)
		return err;

	(void)path_init();
	stats_init();

	err = config_load(conf_path);
	if (err)
		return err;

	(void)core_config(CONFIG_START);

	if (config_errors())
		return EINVAL;

	err = roles_modules_add();
	if (err)
		return err;

	if (!domain_default())
		log_warning("%s: no 'domain' line: no request is for a domain"
			    " this server serves\n", config_path());

	/* modules first: a missing service stops sipd before the database
	   file is created; modules touch the database only once running */
	err = module_load_all();
	if (err)
		return err;

	(void)listen_resolve_roles();

	/* the modules of the services the roles need and no "module"
	   line named (location, auth) */
	err = services_modules_load();
	if (err)
		return err;

	(void)listen_check_needs();
	(void)config_check_unused(NULL);

	if (config_errors())
		return EINVAL;

	err = reload_init(conf_path, core_config, restart_keys);
	if (err)
		return err;

	err = parts_open(check_only);
	if (err)
		return err;

	return config_errors() ? EINVAL : 0;
}


/**
 * Open the sockets
 *
 * @return 0 if success, otherwise errorcode (reported)
 */
int core_start(void)
{
	int err;

	/* memory freed after a burst of messages stays for the next ones
	   instead of going back to the kernel and faulting in again */
	(void)mallopt(M_TRIM_THRESHOLD, MALLOC_TRIM_THRESHOLD);
	(void)mallopt(M_TOP_PAD, MALLOC_TOP_PAD);

	err = fd_limit_raise(core.fd_limit);
	if (err) {
		log_error("cannot set the descriptor limit: %m\n", err);
		return err;
	}

	/* first: a second sipd on the same control socket stops here */
	err = parts_start(true);
	if (err)
		return err;

	err = listen_start();
	if (err)
		return err;

	err = parts_start(false);
	if (err)
		return err;

	err = reload_signal_start();
	if (err) {
		log_error("cannot catch SIGHUP: %m\n", err);
		return err;
	}

	core.started = true;

	return 0;
}


/**
 * Stop everything: sockets (pending transactions dropped), modules,
 * database
 */
void core_close(void)
{
	parts_stop();
	listen_close();
	tls_close();

	parts_unload(false);
	module_unload_all();
	parts_unload(true);
	conn_close_all();
	domain_close();
	stats_close();
	reload_close();        /* the start-up configuration, at last */
	config_unload();
	core.started = false;
}
