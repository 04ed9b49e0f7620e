/**
 * @file reload.c  Reread the configuration while running (SIGHUP, sipctl)
 *
 * A reload reads the file into a new configuration and makes it current
 * to check it the way a start does: every core part and every module
 * reload hook reads its keys without applying them, then unknown keys
 * are reported. With any problem the running configuration stays, and
 * the problems go to the log and to the caller. Without, the parts that
 * can change live apply their keys (each from its defaults, so that a
 * removed line goes back to the default) and the keys that need a
 * restart are compared with the configuration sipd started with; those
 * that differ are named in the log.
 *
 * Registrations, subscriptions, transactions and calls live elsewhere
 * and are not touched. The start-up configuration stays loaded until
 * exit: listen sockets and modules point into it.
 *
 * SIGHUP reaches the loop through a pipe (the handler only writes a
 * byte), so a reload never runs inside a signal handler.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <signal.h>
#include <re.h>
#include "core.h"


static struct {
	struct list hooks;         /* struct reload_hook */
	reload_core_h *coreh;      /* reads the core's own keys */
	const char *const *restart_keys;  /* keys a reload cannot apply */
	struct config *boot;       /* the configuration sipd started with */
	char *path;                /* absolute path of the file */
	uint32_t count;            /* successful reloads */
	int64_t last;              /* epoch seconds of the last one */
	char pending[256];         /* restart-only keys that differ */
	int sigfd[2];
	bool sig_on;
} rl = {
	.sigfd = {-1, -1},
};


/**
 * Register the reload hook of a module (in its init)
 *
 * @param hook Static hook
 */
void reload_register(struct reload_hook *hook)
{
	if (hook && hook->h)
		list_append(&rl.hooks, &hook->le, hook);
}


/**
 * Unregister a reload hook (in the module's close)
 *
 * @param hook Hook
 */
void reload_unregister(struct reload_hook *hook)
{
	if (hook)
		list_unlink(&hook->le);
}


/**
 * Make a freshly read list the live one: the live list is flushed and
 * the elements of the fresh one move into it
 *
 * @param live  The list in use
 * @param fresh The list just read; empty afterwards
 */
void reload_list(struct list *live, struct list *fresh)
{
	struct le *le;

	list_flush(live);

	while ((le = fresh->head)) {
		list_unlink(le);
		list_append(live, le, le->data);
	}
}


/**
 * Remember the configuration sipd starts with (the current one)
 *
 * @param path         The file it was read from
 * @param coreh        Reads the core's own keys (the core is above this
 *                     registry: it hands its reader down)
 * @param restart_keys The core's keys that a reload cannot apply
 *
 * @return 0 if success, otherwise errorcode
 */
int reload_init(const char *path, reload_core_h *coreh,
		const char *const *restart_keys)
{
	int err;

	rl.coreh = coreh;
	rl.restart_keys = restart_keys;

	rl.path = mem_deref(rl.path);
	err = path_absolute(&rl.path, path);
	if (err)
		return err;

	/* a reference of its own: the current one changes at reloads */
	mem_deref(rl.boot);
	rl.boot = mem_ref(config_current());

	return 0;
}


static int hooks_run(bool apply)
{
	struct le *le;
	int err = 0;

	for (le = rl.hooks.head; le; le = le->next) {
		const struct reload_hook *hook = le->data;
		int e = hook->h(apply);

		if (e && !err)
			err = e;
	}

	return err;
}


struct diff {
	struct mbuf *report;
	const struct config *boot;
	const struct config *fresh;
	size_t n;
};


static bool pending_has(const char *key)
{
	size_t n = strlen(key);
	const char *p;

	for (p = rl.pending; (p = strstr(p, key)); p += n) {
		if ((p == rl.pending || p[-1] == ' ') &&
		    (p[n] == ' ' || p[n] == '\0'))
			return true;
	}

	return false;
}


static void pending_add(struct diff *d, const char *key)
{
	size_t len = strlen(rl.pending);

	if (pending_has(key))
		return;

	(void)re_snprintf(rl.pending + len, sizeof(rl.pending) - len,
			  "%s%s", len ? " " : "", key);

	log_warning("%s: %s changed: it needs a restart, not applied\n",
		    reload_file(), key);
	if (d->report)
		(void)mbuf_printf(d->report, "%s changed: it needs a restart,"
				  " not applied\n", key);
	++d->n;
}


static int unread_handler(const struct config_line *line, void *arg)
{
	struct diff *d = arg;

	if (config_differs(d->boot, d->fresh, line->key))
		pending_add(d, line->key);

	return 0;
}


/**
 * Name the keys that differ from the configuration sipd started with
 * but cannot change without a restart
 *
 * @param report Buffer for the notes, or NULL
 * @param boot   The configuration sipd started with
 * @param fresh  The new configuration (current)
 *
 * @return How many keys need a restart
 */
size_t reload_diff(struct mbuf *report, const struct config *boot,
		   const struct config *fresh)
{
	const char *const *key;
	struct diff d = {report, boot, fresh, 0};

	rl.pending[0] = '\0';

	for (key = rl.restart_keys; key && *key; key++) {
		if (config_differs(boot, fresh, *key))
			pending_add(&d, *key);
	}

	/* keys of modules that do not reload them */
	config_unread(boot, unread_handler, &d);

	return d.n;
}


/**
 * Check a configuration and, when it has no problem, apply it
 *
 * @param fresh  The new configuration (its reference passes here)
 * @param report Buffer for the problems (file:line: problem) or the
 *               notes, one a line; or NULL
 *
 * @return 0 if applied, EINVAL if it has problems (the running
 *         configuration stays), otherwise errorcode
 */
int reload_config(struct config *fresh, struct mbuf *report)
{
	struct config *old;
	int err, e;

	if (!fresh)
		return EINVAL;

	config_capture(report);
	old = config_swap(fresh);

	/* check: read every key, apply nothing */
	if (rl.coreh)
		(void)rl.coreh(CONFIG_CHECK);
	(void)hooks_run(false);
	(void)config_check_unused(rl.boot ? rl.boot : old);

	if (config_errors()) {
		log_error("%s: %d problem%s: the configuration in use stays\n",
			  config_path(), config_errors(),
			  config_errors() == 1 ? "" : "s");
		mem_deref(config_swap(old));
		config_capture(NULL);
		return EINVAL;
	}

	config_capture(NULL);

	/* apply what can change live */
	err = rl.coreh ? rl.coreh(CONFIG_LIVE) : 0;
	e = hooks_run(true);
	if (!err)
		err = e;

	(void)reload_diff(report, rl.boot ? rl.boot : old, fresh);

	mem_deref(old);

	if (err) {
		log_error("%s: reloaded, but not every part applied its"
			  " keys\n", config_path());
		return err;
	}

	++rl.count;
	rl.last = time_now();

	log_notice("reloaded %s\n", config_path());

	return 0;
}


/**
 * Reread the configuration file, check it and apply it
 *
 * @param report Buffer for the problems or notes, one a line; or NULL
 *
 * @return 0 if applied, EINVAL if it has problems (the running
 *         configuration stays), otherwise errorcode
 */
int reload_run(struct mbuf *report)
{
	const char *path = reload_file();
	struct config *fresh = NULL;
	int err;

	log_notice("reloading %s\n", path);

	config_capture(report);
	err = config_read(&fresh, path);
	config_capture(NULL);

	if (err) {
		log_error("%s: cannot read it: the configuration in use"
			  " stays\n", path);
		mem_deref(fresh);
		return err == ENOMEM ? ENOMEM : EINVAL;
	}

	return reload_config(fresh, report);
}


/**
 * Restart-only keys that differ in the file sipd last reloaded
 *
 * @return Key names separated by spaces, "" if none
 */
const char *reload_pending(void)
{
	return rl.pending;
}


/**
 * The configuration file a reload reads
 *
 * @return Absolute path
 */
const char *reload_file(void)
{
	return rl.path ? rl.path : config_path();
}


/**
 * How many reloads succeeded, and when the last one was
 *
 * @param last Epoch seconds of the last one (0: none), or NULL
 *
 * @return Count
 */
uint32_t reload_count(int64_t *last)
{
	if (last)
		*last = rl.last;

	return rl.count;
}


static void sighup_handler(int sig)
{
	int saved = errno;
	char c = 'h';
	(void)sig;

	if (rl.sigfd[1] >= 0)
		(void)write(rl.sigfd[1], &c, 1);

	errno = saved;
}


static void sigfd_handler(int flags, void *arg)
{
	char buf[64];
	(void)flags;
	(void)arg;

	/* several signals before the loop came here: one reload */
	while (read(rl.sigfd[0], buf, sizeof(buf)) > 0)
		;

	log_notice("caught SIGHUP\n");
	(void)reload_run(NULL);
}


/**
 * Reload on SIGHUP from now on
 *
 * @return 0 if success, otherwise errorcode
 */
int reload_signal_start(void)
{
	int err, i;

	if (pipe(rl.sigfd))
		return errno;

	for (i = 0; i < 2; i++) {
		(void)fcntl(rl.sigfd[i], F_SETFD, FD_CLOEXEC);
		(void)fcntl(rl.sigfd[i], F_SETFL, O_NONBLOCK);
	}

	err = fd_listen(rl.sigfd[0], FD_READ, sigfd_handler, NULL);
	if (err)
		return err;

	(void)signal(SIGHUP, sighup_handler);
	rl.sig_on = true;

	return 0;
}


void reload_close(void)
{
	int i;

	if (rl.sig_on)
		(void)signal(SIGHUP, SIG_IGN);
	rl.sig_on = false;

	if (rl.sigfd[0] >= 0)
		fd_close(rl.sigfd[0]);

	for (i = 0; i < 2; i++) {
		if (rl.sigfd[i] >= 0)
			(void)close(rl.sigfd[i]);
		rl.sigfd[i] = -1;
	}

	rl.boot = mem_deref(rl.boot);
	rl.path = mem_deref(rl.path);
	rl.count = 0;
	rl.last = 0;
	rl.pending[0] = '\0';
}
