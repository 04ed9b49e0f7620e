/**
 * @file reg.c  sipctl reg: list, add and remove bindings
 *
 * The bindings are read through the store (lib/store). add and del go to
 * the running sipd when there is one (control socket), which saves them
 * as it saves a REGISTER and tells the watchers; else to the store.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>
#include <time.h>
#include <re.h>
#include "ops.h"
#include "sipmsg/sipmsg.h"
#include <store/store.h>
#include "sipctl.h"


static void json_str(const char *s)
{
	(void)re_printf("%H", json_quote, s ? s : "");
}


static const char *str(const char *s)
{
	return s ? s : "";
}


/*
 * The widths of the table's columns: at least those of the usual values
 * (and of the header), wider when a value is longer, so that every
 * column stays aligned; the last one, USER-AGENT, is not padded
 */
struct widths {
	int aor;
	int contact;
	int expires;
	int source;
};


static void source_str(char *buf, size_t size, const struct binding *b)
{
	buf[0] = '\0';

	if (sa_isset(&b->received, SA_ALL))
		re_snprintf(buf, size, "%J", &b->received);
}


static void widen(int *w, size_t len)
{
	if (len > (size_t)*w)
		*w = (int)len;
}


static void widths_fit(struct widths *w, const struct list *bindings,
		       int64_t now)
{
	struct le *le;

	w->aor = 28;
	w->contact = 44;
	w->expires = 7;
	w->source = 22;

	for (le = bindings->head; le; le = le->next) {
		const struct binding *b = le->data;
		char recv[64], expires[24];

		source_str(recv, sizeof(recv), b);
		(void)snprintf(expires, sizeof(expires), "%lld",
			       (long long)(b->expires - now));

		widen(&w->aor, strlen(str(b->aor)));
		widen(&w->contact, strlen(str(b->contact)));
		widen(&w->expires, strlen(expires));
		widen(&w->source, strlen(recv));
	}
}


static void binding_print(const struct binding *b, int64_t now,
			  const struct widths *w, bool first)
{
	char recv[64];

	source_str(recv, sizeof(recv), b);

	if (w) {
		(void)printf("%-*s %-*s %*lld %-5s %-*s %s\n", w->aor,
			     str(b->aor), w->contact, str(b->contact),
			     w->expires, (long long)(b->expires - now),
			     transp_name(b->tp), w->source, recv,
			     str(b->user_agent));
		return;
	}

	(void)printf("%s\n  {\"aor\": ", first ? "" : ",");
	json_str(b->aor);
	(void)printf(", \"contact\": ");
	json_str(b->contact);
	(void)printf(", \"expires\": %lld", (long long)(b->expires - now));
	(void)printf(", \"transport\": ");
	json_str(transp_name(b->tp));
	(void)printf(", \"source\": ");
	json_str(recv);
	(void)printf(", \"user_agent\": ");
	json_str(b->user_agent);
	(void)printf(", \"q\": %d.%03d", b->q / 1000, b->q % 1000);
	(void)printf(", \"call_id\": ");
	json_str(b->callid);
	(void)printf(", \"cseq\": %u", b->cseq);
	(void)printf(", \"socket\": ");
	json_str(b->sock);
	(void)printf(", \"path\": ");
	json_str(b->path);
	(void)printf(", \"instance\": ");
	json_str(b->instance);
	(void)printf(", \"reg_id\": %u", b->reg_id);
	(void)printf(", \"params\": ");
	json_str(b->params);
	(void)printf(", \"nat\": %s", b->nat == BINDING_NAT_YES ? "true" :
		     b->nat == BINDING_NAT_NO ? "false" : "null");
	(void)printf(", \"node\": ");
	json_str(b->node);
	(void)printf("}");
}


static int reg_list(const char *aor, bool json)
{
	char user[128], domain[128], key[300];
	struct list bindings = LIST_INIT;
	int64_t now = (int64_t)time(NULL);
	struct widths w;
	struct le *le;
	int err;

	if (aor) {
		if (!aor_split(aor, user, sizeof(user), domain,
			       sizeof(domain)))
			return fail("reg list: '%s' is not USER@DOMAIN", aor);
		re_snprintf(key, sizeof(key), "%s@%s", user, domain);
	}

	if (db_use(false))
		return 1;

	/* an AOR without an account has no bindings: say so */
	if (aor && account_check("reg list", user, domain))
		return 1;

	err = store_binding_list(&bindings, aor ? key : NULL, now);
	if (err) {
		list_flush(&bindings);
		return fail("database: %m", err);
	}

	widths_fit(&w, &bindings, now);

	if (json)
		(void)printf("[");
	else
		(void)printf("%-*s %-*s %*s %-5s %-*s %s\n", w.aor, "AOR",
			     w.contact, "CONTACT", w.expires, "EXPIRES",
			     "TRANS", w.source, "SOURCE", "USER-AGENT");

	for (le = bindings.head; le; le = le->next)
		binding_print(le->data, now, json ? NULL : &w,
			      le == bindings.head);

	if (json)
		(void)printf("%s]\n", bindings.head ? "\n" : "");

	list_flush(&bindings);

	return 0;
}


/*
 * Run a reg add or del: through the running sipd, so that it saves the
 * change as a REGISTER's and tells the watchers of the AOR; with no sipd
 * running, on the database directly
 */
static int reg_change(const char *line, int (*direct)(struct mbuf *msg))
{
	struct mbuf *msg;
	bool reached = false;
	int ret, err;

	ret = control_try(line, &reached);
	if (reached)
		return ret;

	if (db_use(false))
		return 1;

	msg = mbuf_alloc(256);
	if (!msg)
		return fail("out of memory");

	err = direct(msg);
	if (err)
		(void)fputs("sipctl: ", stderr);
	(void)fwrite(msg->buf, 1, msg->end, err ? stderr : stdout);

	mem_deref(msg);

	return err ? 1 : 0;
}


static struct {
	const char *aor;
	const char *contact;
	uint32_t expires;
	uint16_t q;
} req;


static int direct_del(struct mbuf *msg)
{
	return store_reg_del(msg, req.aor, req.contact, store_binding_save);
}


static int reg_del(const char *aor, const char *contact)
{
	char user[128], domain[128], key[300], line[1024];

	if (!aor_split(aor, user, sizeof(user), domain, sizeof(domain)))
		return fail("reg del: '%s' is not USER@DOMAIN", aor);

	re_snprintf(key, sizeof(key), "%s@%s", user, domain);

	if (contact) {
		struct pl want;
		struct uri u;

		pl_set_str(&want, contact);
		if (uri_decode(&u, &want) || strpbrk(contact, " \t\r\n"))
			return fail("reg del: '%s' is not a SIP URI",
				    contact);
	}

	if (re_snprintf(line, sizeof(line), "reg del %s%s%s", key,
			contact ? " " : "", contact ? contact : "") < 0)
		return fail("reg del: the contact is too long");

	req.aor = key;
	req.contact = contact;

	return reg_change(line, direct_del);
}


static int direct_add(struct mbuf *msg)
{
	return store_reg_add(msg, req.aor, req.contact, req.expires, req.q,
			     store_binding_save);
}


static int reg_add(const char *aor, const char *contact, int argc,
		   char *argv[])
{
	char user[128], domain[128], key[300], line[1024];
	uint32_t expires = 3600, q = 1000;
	struct pl pl;
	struct uri u;
	int i;

	if (!aor_split(aor, user, sizeof(user), domain, sizeof(domain)))
		return fail("reg add: '%s' is not USER@DOMAIN", aor);

	pl_set_str(&pl, contact);
	if (uri_decode(&u, &pl) || (pl_strcasecmp(&u.scheme, "sip") &&
				    pl_strcasecmp(&u.scheme, "sips")) ||
	    strpbrk(contact, " \t\r\n"))
		return fail("reg add: '%s' is not a SIP URI", contact);

	for (i = 0; i < argc; i++) {
		char *end;

		if (!strcmp(argv[i], "--expires") && i + 1 < argc) {
			unsigned long v = strtoul(argv[++i], &end, 10);
			if (*end || !isdigit((unsigned char)argv[i][0]) ||
			    !v || v > 315360000)
				return fail("reg add: --expires must be 1 to"
					    " 315360000 seconds, not '%s'",
					    argv[i]);
			expires = (uint32_t)v;
		}
		else if (!strcmp(argv[i], "--q") && i + 1 < argc) {
			double d = strtod(argv[++i], &end);
			if (*end || !isdigit((unsigned char)argv[i][0]) ||
			    !(d >= 0 && d <= 1))
				return fail("reg add: --q must be a number"
					    " from 0 to 1, not '%s'", argv[i]);
			q = (uint32_t)(d * 1000 + 0.5);
		}
		else {
			return fail("reg add: unknown option '%s'", argv[i]);
		}
	}

	re_snprintf(key, sizeof(key), "%s@%s", user, domain);

	if (re_snprintf(line, sizeof(line), "reg add %s %s %u %u", key,
			contact, expires, q) < 0)
		return fail("reg add: the contact is too long");

	req.aor = key;
	req.contact = contact;
	req.expires = expires;
	req.q = (uint16_t)q;

	return reg_change(line, direct_add);
}


/**
 * sipctl reg ...
 *
 * @param argc Argument count after "reg"
 * @param argv Arguments after "reg"
 *
 * @return Exit status
 */
int cmd_reg(int argc, char *argv[])
{
	if (argc >= 1 && !strcmp(argv[0], "list")) {
		const char *aor = NULL;
		bool json = false;
		int i;

		for (i = 1; i < argc; i++) {
			if (!strcmp(argv[i], "--json"))
				json = true;
			else if (!aor && argv[i][0] != '-')
				aor = argv[i];
			else
				goto usage;
		}

		return reg_list(aor, json);
	}

	if (argc >= 3 && !strcmp(argv[0], "add"))
		return reg_add(argv[1], argv[2], argc - 3, argv + 3);

	if ((argc == 2 || argc == 3) && !strcmp(argv[0], "del"))
		return reg_del(argv[1], argc == 3 ? argv[2] : NULL);

 usage:
	(void)fail("usage: sipctl reg list [AOR] [--json],"
		   " reg add AOR CONTACT [--expires SECONDS] [--q Q],"
		   " reg del AOR [CONTACT]");

	return EXIT_USAGE;
}
