/**
 * @file status.c  The status of the running server, as text or JSON
 *
 * What "sipctl status" prints: the version, uptime, configuration and
 * reloads, the sockets and their roles, then every figure of the
 * statistics registry (stats.c) in its order. A labelled figure (by
 * method, by status class, by pool member as POOL/URI) is one line in
 * the text and one object in the JSON; a figure no loaded module
 * provides is "-" and null.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <time.h>
#include <unistd.h>
#include <re.h>
#include "ops.h"


/**
 * Print a string as a JSON string, quotes included, for %H
 *
 * @param pf  Print handler
 * @param arg The string (const char *; NULL prints "")
 *
 * @return 0 if success, otherwise errorcode
 */
int json_quote(struct re_printf *pf, void *arg)
{
	const char *s = arg;
	int err = re_hprintf(pf, "\"");

	for (; s && *s && !err; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			err = re_hprintf(pf, "\\%c", c);
		else if (c < 0x20)
			err = re_hprintf(pf, "\\u%04x", c);
		else
			err = re_hprintf(pf, "%c", c);
	}

	return err ? err : re_hprintf(pf, "\"");
}


/**
 * Print a time as local date and time, for %H
 *
 * @param pf  Print handler
 * @param arg The time (const int64_t *, epoch seconds)
 *
 * @return 0 if success, otherwise errorcode
 */
int time_print(struct re_printf *pf, void *arg)
{
	const int64_t *t = arg;
	time_t tt = (time_t)*t;
	struct tm tm;
	char buf[32];

	if (!localtime_r(&tt, &tm) ||
	    !strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm))
		return re_hprintf(pf, "%lld", (long long)*t);

	return re_hprintf(pf, "%s", buf);
}


static int print_roles(struct re_printf *pf, const struct sipd_sock *sock,
		       bool json)
{
	struct le *le;
	int err = 0;

	for (le = sock->roles.head; le && !err; le = le->next) {
		const struct role_ref *ref = le->data;

		if (json)
			err = re_hprintf(pf, "%s\"%s\"", le->prev ? ", " : "",
					 ref->name);
		else
			err = re_hprintf(pf, "%s%s", le->prev ? "," : "",
					 ref->name);
	}

	return err;
}


struct socks_print {
	struct re_printf *pf;
	bool json;
	unsigned n;
	int err;
};


static bool sock_handler(const struct sipd_sock *sock, void *arg)
{
	struct socks_print *sp = arg;
	struct re_printf *pf = sp->pf;
	int err;

	if (sp->json) {
		err  = re_hprintf(pf, "%s{\"name\": \"%s\", \"roles\": [",
				  sp->n ? ", " : "", sock->name);
		err |= print_roles(pf, sock, true);
		err |= re_hprintf(pf, "], \"auth\": %s}",
				  sock->auth ? "true" : "false");
	}
	else {
		err  = re_hprintf(pf, "%-20s %s ",
				  sp->n ? "" : "sockets", sock->name);
		err |= print_roles(pf, sock, false);
		err |= re_hprintf(pf, "%s\n", sock->auth ? "" :
				  " (auth off)");
	}

	++sp->n;
	sp->err |= err;

	return err != 0;
}


static int print_sockets(struct re_printf *pf, bool json)
{
	struct socks_print sp = {pf, json, 0, 0};

	sock_apply(sock_handler, &sp);

	if (!sp.err && !sp.n && !json)
		sp.err = re_hprintf(pf, "%-20s none\n", "sockets");

	return sp.err;
}


static int print_pending(struct re_printf *pf, bool json)
{
	const char *p = reload_pending();
	int err = 0;

	if (!json)
		return *p ? re_hprintf(pf, "%-20s %s\n",
				       "restart needed", p) : 0;

	while (*p && !err) {
		size_t n = strcspn(p, " ");

		err = re_hprintf(pf, "%s\"%b\"", p == reload_pending() ? "" :
				 ", ", p, n);
		p += n;
		while (*p == ' ')
			++p;
	}

	return err;
}


static int print_head(struct re_printf *pf, bool json)
{
	int64_t started = stats_started();
	uint64_t up = (uint64_t)(time_now() - started);
	int64_t last;
	uint32_t reloads = reload_count(&last);
	int err;

	if (json) {
		err  = re_hprintf(pf, "{\"version\": \"%s\", \"libre\": %H,"
				  " \"pid\": %d, \"config\": %H,"
				  " \"reloaded\": %lld, \"restart_needed\": [",
				  SIPD_VERSION, json_quote,
				  sys_libre_version_get(), (int)getpid(),
				  json_quote, reload_file(), (long long)last);
		err |= print_pending(pf, true);
		err |= re_hprintf(pf, "]");
		err |= workers_print(pf, true);
		err |= re_hprintf(pf, ", \"sockets\": [");
		err |= print_sockets(pf, true);
		err |= re_hprintf(pf, "]");
		return err;
	}

	err  = re_hprintf(pf, "sipd %s (libre %s), pid %d\n", SIPD_VERSION,
			  sys_libre_version_get(), (int)getpid());
	err |= re_hprintf(pf, "%-20s %llud %02llu:%02llu:%02llu, since %H\n",
			  "uptime", (unsigned long long)(up / 86400),
			  (unsigned long long)(up / 3600 % 24),
			  (unsigned long long)(up / 60 % 60),
			  (unsigned long long)(up % 60), time_print, &started);
	err |= re_hprintf(pf, "%-20s %s, %u reload%s",
			  "configuration", reload_file(), reloads,
			  reloads == 1 ? "" : "s");
	if (reloads)
		err |= re_hprintf(pf, ", the last at %H", time_print, &last);
	err |= re_hprintf(pf, "\n");
	err |= workers_print(pf, false);
	err |= print_pending(pf, false);
	err |= print_sockets(pf, false);

	return err;
}


/* Text: one line a figure; the values of a labelled one on its line */
struct text {
	struct re_printf *pf;
	char name[48];
	uint64_t total;
	char parts[512];
	bool labelled;
	bool known;
};


static int text_flush(struct text *t)
{
	char title[48];
	char *p;
	int err;

	if (!t->name[0])
		return 0;

	str_ncpy(title, t->name, sizeof(title));
	for (p = title; *p; p++) {
		if (*p == '_')
			*p = ' ';
	}

	if (!t->known)
		err = re_hprintf(t->pf, "%-20s -\n", title);
	else if (t->labelled && t->parts[0])
		err = re_hprintf(t->pf, "%-20s %llu (%s)\n", title,
				 (unsigned long long)t->total, t->parts);
	else
		err = re_hprintf(t->pf, "%-20s %llu\n", title,
				 (unsigned long long)t->total);

	t->name[0] = '\0';

	return err;
}


static int text_handler(const struct stat_value *v, void *arg)
{
	struct text *t = arg;
	size_t len;
	int err = 0;

	/* in the head already */
	if (!strcmp(v->name, "uptime_seconds") ||
	    !strcmp(v->name, "start_time_seconds") ||
	    !strcmp(v->name, "reloads"))
		return 0;

	if (strcmp(v->name, t->name)) {
		err = text_flush(t);
		str_ncpy(t->name, v->name, sizeof(t->name));
		t->total = 0;
		t->parts[0] = '\0';
		t->labelled = v->label != NULL;
		t->known = v->known;
	}

	t->total += v->value;

	len = strlen(t->parts);
	if (v->label && v->value)
		(void)re_snprintf(t->parts + len, sizeof(t->parts) - len,
				  "%s%s%s%s %llu", len ? ", " : "", v->lval,
				  v->lval2 ? "/" : "",
				  v->lval2 ? v->lval2 : "",
				  (unsigned long long)v->value);

	return err;
}


/* JSON: "name": value, or "name": {"label value": value, ...} */
struct json {
	struct re_printf *pf;
	char name[48];
	bool open;
};


static int json_handler(const struct stat_value *v, void *arg)
{
	struct json *j = arg;
	bool first = strcmp(v->name, j->name) != 0;
	int err = 0;

	if (first && j->open) {
		err = re_hprintf(j->pf, "}");
		j->open = false;
	}

	if (first)
		err |= re_hprintf(j->pf, ", \"%s\": ", v->name);

	str_ncpy(j->name, v->name, sizeof(j->name));

	if (!v->label) {
		if (v->known)
			return err | re_hprintf(j->pf, "%llu",
						(unsigned long long)v->value);
		return err | re_hprintf(j->pf, "null");
	}

	if (first) {
		err |= re_hprintf(j->pf, "{");
		j->open = true;
	}

	return err | re_hprintf(j->pf, "%s\"%s%s%s\": %llu",
				first ? "" : ", ", v->lval,
				v->lval2 ? "/" : "", v->lval2 ? v->lval2 : "",
				(unsigned long long)v->value);
}


/**
 * Print the status
 *
 * @param pf   Print handler
 * @param json True for one JSON object, false for text lines
 *
 * @return 0 if success, otherwise errorcode
 */
int status_print(struct re_printf *pf, bool json)
{
	int err;

	err = print_head(pf, json);
	if (err)
		return err;

	if (json) {
		struct json j;

		memset(&j, 0, sizeof(j));
		j.pf = pf;

		err = stats_walk(json_handler, &j);
		if (!err && j.open)
			err = re_hprintf(pf, "}");

		return err ? err : re_hprintf(pf, "}\n");
	}
	else {
		struct text t;

		memset(&t, 0, sizeof(t));
		t.pf = pf;

		err = stats_walk(text_handler, &t);

		return err ? err : text_flush(&t);
	}
}
