/**
 * @file eventlog.c  Event log module: core events as JSON lines in a file
 *
 * Listens to the core's event registry and appends one JSON object a line
 * to eventlog_file: bindings added, refreshed, removed and expired, and
 * the call states the proxy reports, and how calls were steered
 * (forwards, pool members, ring groups). Operators read it for call and
 * registration history; the tests read it to check the events. A reload
 * closes the file (it opens again at the next event, so a rotated file
 * is followed) and takes a new eventlog_file.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <libgen.h>
#include <re.h>
#include <sipd.h>


static struct {
	char *path;
	FILE *f;
	bool failed;
} elog;


static void json_str(FILE *f, const char *s)
{
	(void)fputc('"', f);

	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			(void)fprintf(f, "\\%c", c);
		else if (c < 0x20)
			(void)fprintf(f, "\\u%04x", c);
		else
			(void)fputc(c, f);
	}

	(void)fputc('"', f);
}


static void field(FILE *f, const char *name, const char *val)
{
	(void)fprintf(f, ", \"%s\": ", name);
	json_str(f, val);
}


static void event_handler(const struct sipd_event *ev, void *arg)
{
	FILE *f;
	(void)arg;

	/* another worker's event is its own to log */
	if (ev->told)
		return;

	/* opened at the first event: "sipd -t" creates no file */
	if (!elog.f && elog.path && !elog.failed) {
		elog.f = fopen(elog.path, "a");
		if (!elog.f) {
			log_error("eventlog: cannot open %s: %m\n", elog.path,
				  errno);
			elog.failed = true;
		}
	}

	f = elog.f;
	if (!f)
		return;

	(void)fprintf(f, "{\"time\": %lld, \"event\": ",
		      (long long)time_now());
	json_str(f, event_name(ev->type));

	if (ev->binding) {
		const struct binding *b = ev->binding;

		field(f, "aor", b->aor);
		field(f, "contact", b->contact);
		(void)fprintf(f, ", \"expires\": %lld", (long long)b->expires);
	}

	if (ev->call) {
		const struct call_event *c = ev->call;

		field(f, "aor", c->aor);
		field(f, "state", call_state_name(c->state));
		field(f, "direction", c->initiator ? "initiator" :
		      "recipient");
		field(f, "call_id", c->call_id);
		field(f, "local_tag", c->local_tag);
		field(f, "remote_tag", c->remote_tag);
		field(f, "peer", c->peer);
		field(f, "local_uri", c->local_uri);
		(void)fprintf(f, ", \"code\": %u", c->code);
	}

	if (ev->routed) {
		const struct routed_event *r = ev->routed;

		field(f, "call_id", r->call_id);
		field(f, "caller", r->caller);
		field(f, "callee", r->callee);
		field(f, "how", r->how);
		field(f, "target", r->target);
	}

	(void)fputs("}\n", f);
	(void)fflush(f);
}


static struct event_listener listener = {
	.h = event_handler,
};


/* The file, or the directory it is to be created in, is writable */
static bool writable(const char *path)
{
	char dir[512];

	if (!access(path, W_OK))
		return true;

	if (errno != ENOENT)
		return false;

	str_ncpy(dir, path, sizeof(dir));

	return !access(dirname(dir), W_OK);
}


static void file_close(void)
{
	if (elog.f)
		(void)fclose(elog.f);
	elog.f = NULL;
	elog.failed = false;
}


/* At start and at reloads: the file, opened again at the next event */
static int conf_reload(bool apply)
{
	const struct config_line *line = config_find("eventlog_file");
	char *path = NULL;
	int err = 0;

	/* relative to where sipd started, also once it is a daemon */
	if (line) {
		err = path_absolute(&path, line->val);
		if (err)
			return err;

		if (!writable(path)) {
			err = config_fail(line, "cannot write %s: %m", path,
					  errno);
			goto out;
		}
	}

	if (!apply)
		goto out;

	if (!path)
		log_warning("eventlog: no eventlog_file: events are not"
			    " written\n");

	file_close();
	mem_deref(elog.path);
	elog.path = path;
	path = NULL;

 out:
	mem_deref(path);

	return err;
}


static struct reload_hook hook = {
	.name = "eventlog",
	.h = conf_reload,
};


static int module_init(void)
{
	int err;

	err = conf_reload(true);
	if (err)
		return err;

	event_listen(&listener);
	reload_register(&hook);

	return 0;
}


static int module_close(void)
{
	reload_unregister(&hook);
	event_unlisten(&listener);
	file_close();
	elog.path = mem_deref(elog.path);

	return 0;
}


EXPORT_SYM const struct mod_export exports = {
	"eventlog",
	"backend",
	module_init,
	module_close
};
