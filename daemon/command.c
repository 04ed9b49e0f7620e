/**
 * @file command.c  The commands of the control socket
 *
 * One command line in, one reply out. The first line of the reply is
 * "ok" or "error"; the rest is for the operator (or, with --json, for a
 * program):
 *
 *   status [--json]          uptime, sockets, the figures of stats.c
 *   reload                   reread the configuration (reload.c)
 *
 * and the commands modules register (command_register()): ban list and
 * ban del (the guard), reg add and del (the location module).
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <re.h>
#include "ops.h"


enum {
	MAX_ARGS = 8,
};


static struct list modcmds;    /* struct command */


static int vreply(struct mbuf *mb, bool ok, const char *fmt, va_list ap)
{
	int err;

	err = mbuf_printf(mb, "%s\n", ok ? "ok" : "error");
	if (err || !fmt)
		return err;

	return mbuf_vprintf(mb, fmt, ap);
}


static int reply(struct mbuf *mb, bool ok, const char *fmt, ...)
{
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = vreply(mb, ok, fmt, ap);
	va_end(ap);

	return err;
}


/**
 * Write the reply of a command
 *
 * @param mb  Reply buffer
 * @param ok  True for "ok", false for "error"
 * @param fmt The rest of the reply, formatted (or NULL)
 *
 * @return 0 if success, otherwise errorcode
 */
int command_reply(struct mbuf *mb, bool ok, const char *fmt, ...)
{
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = vreply(mb, ok, fmt, ap);
	va_end(ap);

	return err;
}


void command_register(struct command *cmd)
{
	if (cmd)
		list_append(&modcmds, &cmd->le, cmd);
}


void command_unregister(struct command *cmd)
{
	if (cmd)
		list_unlink(&cmd->le);
}


static bool json_flag(int argc, char *argv[], int first, bool *bad)
{
	bool json = false;
	int i;

	for (i = first; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else
			*bad = true;
	}

	return json;
}


static int status_printer(struct re_printf *pf, void *arg)
{
	return status_print(pf, *(bool *)arg);
}


static int cmd_status(struct mbuf *mb, int argc, char *argv[])
{
	bool bad = false;
	bool json = json_flag(argc, argv, 1, &bad);

	if (bad)
		return reply(mb, false, "usage: status [--json]\n");

	return reply(mb, true, "%H", status_printer, &json);
}


static int cmd_reload(struct mbuf *mb, int argc, char *argv[])
{
	struct mbuf *report;
	int err;
	(void)argv;

	if (argc != 1)
		return reply(mb, false, "usage: reload\n");

	report = mbuf_alloc(512);
	if (!report)
		return ENOMEM;

	err = reload_run(report);

	/* the master passes a SIGHUP from worker 0 to the other workers */
	if (!err && workers_count() > 1 && kill(getppid(), SIGHUP) == 0)
		(void)mbuf_printf(report, "the other %u workers reload"
				  " too\n", workers_count() - 1);

	if (!err)
		err = reply(mb, true, "reloaded %s\n%b", config_path(),
			    report->buf, report->end);
	else if (err == EINVAL)
		err = reply(mb, false, "%b", report->buf, report->end);
	else
		err = reply(mb, false, "reload failed: %m\n%b", err,
			    report->buf, report->end);

	mem_deref(report);

	return err;
}


static const struct {
	const char *name;
	int (*h)(struct mbuf *mb, int argc, char *argv[]);
} commands[] = {
	{"status", cmd_status},
	{"reload", cmd_reload},
};


/**
 * Run a command line of the control socket
 *
 * @param mb   Buffer for the reply: "ok" or "error", a newline, the rest
 * @param line The command line, without its newline (changed: split)
 *
 * @return 0 if a reply was written, otherwise errorcode
 */
int command_run(struct mbuf *mb, char *line)
{
	char *argv[MAX_ARGS];
	int argc = 0;
	char *p = line;
	struct le *le;
	size_t i;

	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == '\r')
			*p++ = '\0';
		if (!*p)
			break;
		if (argc == MAX_ARGS)
			return reply(mb, false, "too many words\n");
		argv[argc++] = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\r')
			++p;
	}

	if (!argc)
		return reply(mb, false, "empty command\n");

	for (i = 0; i < ARRAY_SIZE(commands); i++) {
		if (!strcmp(argv[0], commands[i].name)) {
			log_debug("control: %s\n", argv[0]);
			return commands[i].h(mb, argc, argv);
		}
	}

	for (le = modcmds.head; le; le = le->next) {
		const struct command *cmd = le->data;

		if (!strcmp(argv[0], cmd->name)) {
			log_debug("control: %s\n", argv[0]);
			return cmd->h(mb, argc, argv);
		}
	}

	return reply(mb, false, "unknown command '%s' (status, ban list, ban"
		     " del, reload)\n", argv[0]);
}
