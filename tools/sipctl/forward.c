/**
 * @file forward.c  sipctl forward: set, list and remove the call forwarding
 *                  rules of users
 *
 * The rules are rows of the store (lib/store), which the running sipd
 * reads at every call: a change holds from the next call on, without
 * telling sipd.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <re.h>
#include "ops.h"
#include "sipmsg/sipmsg.h"
#include <store/store.h>
#include "sipctl.h"


enum {
	AFTER_DEFAULT = 20,
	AFTER_MIN     = 1,
	AFTER_MAX     = 300,
};


static const char usage_text[] =
	"usage: sipctl forward set USER@DOMAIN"
	" always|busy|noanswer|unavailable TARGET [--after SECONDS],"
	" forward list [USER@DOMAIN] [--json],"
	" forward del USER@DOMAIN KIND";


static int usage_fail(void)
{
	(void)fail("%s", usage_text);

	return EXIT_USAGE;
}


static int db_fail(int err)
{
	if (err == EBUSY)
		return fail("database is busy");

	return fail("database: %m", err);
}


static int kind_get(enum store_forward_kind *kind, const char *cmd,
		    const char *name)
{
	if (!store_forward_kind_decode(kind, name))
		return 0;

	return fail("%s: unknown kind '%s' (always, busy, noanswer or"
		    " unavailable)", cmd, name);
}


/* Is the normalised target the user itself: a loop */
static bool target_is_self(const char *target, const char *aor,
			   const char *domain)
{
	char buf[300];
	struct uri uri;
	struct pl pl;

	if (strncasecmp(target, "sip", 3)) {
		/* a number: sip:NUMBER@ the user's domain */
		re_snprintf(buf, sizeof(buf), "%s@%s", target, domain);
		return !strcmp(buf, aor);
	}

	pl_set_str(&pl, target);
	if (uri_decode(&uri, &pl) || msg_aor(buf, sizeof(buf), &uri))
		return false;

	return !strcmp(buf, aor);
}


static int after_get(uint32_t *after, const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < AFTER_MIN || v > AFTER_MAX)
		return fail("forward set: --after '%s': must be %d to %d"
			    " seconds", s, AFTER_MIN, AFTER_MAX);

	*after = (uint32_t)v;

	return 0;
}


static int forward_set(int argc, char *argv[])
{
	char user[128], domain[128], aor[300], target[256], why[256];
	const char *pos[3], *after_arg = NULL;
	enum store_forward_kind kind;
	uint32_t after = 0;
	int i, n = 0, err;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--after") && i + 1 < argc)
			after_arg = argv[++i];
		else if (!strcmp(argv[i], "--after") || n == 3)
			return usage_fail();
		else
			pos[n++] = argv[i];
	}

	if (n != 3)
		return usage_fail();

	if (!aor_split(pos[0], user, sizeof(user), domain, sizeof(domain)))
		return fail("forward set: '%s' is not USER@DOMAIN", pos[0]);
	re_snprintf(aor, sizeof(aor), "%s@%s", user, domain);

	if (kind_get(&kind, "forward set", pos[1]))
		return 1;

	if (after_arg && kind != FORWARD_NOANSWER) {
		(void)fail("forward set: --after is only for noanswer, not %s",
			   store_forward_kind_name(kind));
		return EXIT_USAGE;
	}

	if (kind == FORWARD_NOANSWER) {
		after = AFTER_DEFAULT;
		if (after_arg && after_get(&after, after_arg))
			return 1;
	}

	if (forward_target_norm(target, sizeof(target), pos[2], why,
				sizeof(why)))
		return fail("forward set: target '%s': %s", pos[2], why);

	if (target_is_self(target, aor, domain))
		return fail("forward set: target '%s' is %s itself", pos[2],
			    aor);

	if (db_use(false))
		return 1;

	if (account_check("forward set", user, domain))
		return 1;

	err = store_forward_set(aor, kind, target, after);
	if (err)
		return db_fail(err);

	if (kind == FORWARD_NOANSWER)
		(void)printf("%s: %s forward to %s after %u s\n", aor,
			     store_forward_kind_name(kind), target, after);
	else
		(void)printf("%s: %s forward to %s\n", aor,
			     store_forward_kind_name(kind), target);

	return 0;
}


static void json_str(const char *s)
{
	(void)re_printf("%H", json_quote, s);
}


static void widen(int *w, size_t len)
{
	if (len > (size_t)*w)
		*w = (int)len;
}


static void list_table(const struct list *fwds)
{
	int wu = 4, wk = 4, wt = 6;
	struct le *le;

	for (le = fwds->head; le; le = le->next) {
		const struct store_forward *f = le->data;

		widen(&wu, strlen(f->aor));
		widen(&wk, strlen(store_forward_kind_name(f->kind)));
		widen(&wt, strlen(f->target));
	}

	(void)printf("%-*s %-*s %-*s %s\n", wu, "USER", wk, "KIND", wt,
		     "TARGET", "AFTER");

	for (le = fwds->head; le; le = le->next) {
		const struct store_forward *f = le->data;
		char after[16] = "-";

		if (f->kind == FORWARD_NOANSWER)
			(void)re_snprintf(after, sizeof(after), "%u",
					  f->after);

		(void)printf("%-*s %-*s %-*s %s\n", wu, f->aor, wk,
			     store_forward_kind_name(f->kind), wt, f->target,
			     after);
	}
}


static void list_json(const struct list *fwds)
{
	struct le *le;

	(void)printf("[");

	for (le = fwds->head; le; le = le->next) {
		const struct store_forward *f = le->data;

		(void)printf("%s\n  {\"user\": ", le == fwds->head ? "" : ",");
		json_str(f->aor);
		(void)printf(", \"kind\": ");
		json_str(store_forward_kind_name(f->kind));
		(void)printf(", \"target\": ");
		json_str(f->target);
		if (f->kind == FORWARD_NOANSWER)
			(void)printf(", \"after\": %u", f->after);
		else
			(void)printf(", \"after\": null");
		(void)printf(", \"created\": %lld}", (long long)f->created);
	}

	(void)printf("%s]\n", fwds->head ? "\n" : "");
}


static int forward_list(int argc, char *argv[])
{
	char user[128], domain[128], aor[300];
	struct list fwds = LIST_INIT;
	const char *who = NULL;
	bool json = false;
	int i, err;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!who)
			who = argv[i];
		else
			return usage_fail();
	}

	if (who) {
		if (!aor_split(who, user, sizeof(user), domain,
			       sizeof(domain)))
			return fail("forward list: '%s' is not USER@DOMAIN",
				    who);
		re_snprintf(aor, sizeof(aor), "%s@%s", user, domain);
	}

	if (db_use(false))
		return 1;

	if (who && account_check("forward list", user, domain))
		return 1;

	err = store_forward_list(&fwds, who ? aor : NULL);
	if (err) {
		list_flush(&fwds);
		return db_fail(err);
	}

	if (json)
		list_json(&fwds);
	else
		list_table(&fwds);

	list_flush(&fwds);

	return 0;
}


static int forward_del(const char *who, const char *kname)
{
	char user[128], domain[128], aor[300];
	enum store_forward_kind kind;
	int err;

	if (!aor_split(who, user, sizeof(user), domain, sizeof(domain)))
		return fail("forward del: '%s' is not USER@DOMAIN", who);
	re_snprintf(aor, sizeof(aor), "%s@%s", user, domain);

	if (kind_get(&kind, "forward del", kname))
		return 1;

	if (db_use(false))
		return 1;

	if (account_check("forward del", user, domain))
		return 1;

	err = store_forward_del(aor, kind);
	if (err == ENOENT)
		return fail("forward del: %s has no %s forward", aor,
			    store_forward_kind_name(kind));
	else if (err)
		return db_fail(err);

	(void)printf("%s: removed the %s forward\n", aor,
		     store_forward_kind_name(kind));

	return 0;
}


/**
 * sipctl forward ...
 *
 * @param argc Argument count after "forward"
 * @param argv Arguments after "forward"
 *
 * @return Exit status
 */
int cmd_forward(int argc, char *argv[])
{
	if (argc >= 1 && !strcmp(argv[0], "set"))
		return forward_set(argc - 1, argv + 1);

	if (argc >= 1 && !strcmp(argv[0], "list"))
		return forward_list(argc - 1, argv + 1);

	if (argc == 3 && !strcmp(argv[0], "del"))
		return forward_del(argv[1], argv[2]);

	return usage_fail();
}
