/**
 * @file presence.c  sipctl presence, sub, pub: the presence server's state
 *
 *   presence show AOR              composed state and its sources
 *   presence allow|block PRESENTITY WATCHER, presence unset ...
 *   presence rules [PRESENTITY]    the rules of presence_policy
 *   sub list [AOR] [--json]        subscriptions (watchers)
 *   pub list [AOR]                 publications
 *
 * All read and written through the store (lib/store).
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <re.h>
#include "core.h"
#include <store/store.h>
#include "sipctl.h"


static const char *col(const char *s)
{
	return s ? s : "";
}


static void json_str(const char *s)
{
	(void)putchar('"');

	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			(void)printf("\\%c", c);
		else if (c < 0x20)
			(void)printf("\\u%04x", c);
		else
			(void)putchar(c);
	}

	(void)putchar('"');
}


static int aor_key(char *key, size_t size, const char *aor, const char *cmd)
{
	char user[128], domain[128];

	if (!aor_split(aor, user, sizeof(user), domain, sizeof(domain)))
		return fail("%s: '%s' is not USER@DOMAIN", cmd, aor);

	re_snprintf(key, size, "%s@%s", user, domain);

	return 0;
}


static int db_fail(int err)
{
	if (err == EBUSY)
		return fail("database is busy");

	return fail("database: %m", err);
}


static int presence_show(const char *aor)
{
	struct list pubs = LIST_INIT, bindings = LIST_INIT;
	struct store_pstate *ps = NULL;
	int64_t now = (int64_t)time(NULL);
	char user[128], domain[128], key[300];
	struct le *le;
	int err;

	if (aor_key(key, sizeof(key), aor, "presence show") || db_use(false))
		return 1;

	/* only an account has a presence (sipd answers 404 for others) */
	(void)aor_split(aor, user, sizeof(user), domain, sizeof(domain));
	if (account_check("presence show", user, domain))
		return 1;

	err = store_pstate_get(&ps, key);
	if (!err) {
		(void)printf("%s: as last composed %lld s ago (%s)\n", key,
			     (long long)(now - ps->updated), col(ps->sources));
		(void)printf("%s", col(ps->pidf));
		mem_deref(ps);
	}
	else if (err == ENOENT) {
		(void)printf("%s: no state composed yet (nobody watches it)\n",
			     key);
	}
	else {
		return db_fail(err);
	}

	/* the sources as they are now */
	err = store_pub_list(&pubs, key, now, false);
	for (le = pubs.head; le && !err; le = le->next) {
		const struct store_pub *p = le->data;

		(void)printf("publication %s from %s, %lld s left:\n%s\n",
			     col(p->etag), col(p->source),
			     (long long)(p->expires - now), col(p->body));
	}

	if (!err && list_isempty(&pubs))
		(void)printf("no publication\n");

	list_flush(&pubs);

	if (!err)
		err = store_binding_lookup(&bindings, key, now);
	if (!err)
		(void)printf("bindings: %u\n", list_count(&bindings));

	list_flush(&bindings);

	return err ? db_fail(err) : 0;
}


static int rule_set(const char *rule, const char *pres, const char *watcher)
{
	char p[300], w[300];
	int err;

	if (aor_key(p, sizeof(p), pres, "presence") ||
	    aor_key(w, sizeof(w), watcher, "presence") || db_use(false))
		return 1;

	err = store_rule_set(p, w, rule, (int64_t)time(NULL));
	if (err == ENOENT && !rule)
		return fail("presence unset: no rule for %s watching %s", w,
			    p);
	else if (err)
		return db_fail(err);

	(void)printf("%s: %s %s %s\n", p, w, rule ? "is" : "has no rule",
		     rule ? (!strcmp(rule, "allow") ? "allowed" : "blocked") :
		     "any more");

	return 0;
}


static int rules_list(const char *pres)
{
	struct list rules = LIST_INIT;
	struct le *le;
	char p[300];
	int err;

	if ((pres && aor_key(p, sizeof(p), pres, "presence rules")) ||
	    db_use(false))
		return 1;

	err = store_rule_list(&rules, pres ? p : NULL);
	if (err) {
		list_flush(&rules);
		return db_fail(err);
	}

	(void)printf("%-30s %-30s %s\n", "PRESENTITY", "WATCHER", "RULE");
	for (le = rules.head; le; le = le->next) {
		const struct store_rule *r = le->data;

		(void)printf("%-30s %-30s %s\n", col(r->presentity),
			     col(r->watcher), col(r->rule));
	}

	list_flush(&rules);

	return 0;
}


static int sub_list(const char *aor, bool json)
{
	int64_t now = (int64_t)time(NULL);
	struct list subs = LIST_INIT;
	struct le *le;
	char key[300];
	int err;

	if ((aor && aor_key(key, sizeof(key), aor, "sub list")) ||
	    db_use(false))
		return 1;

	err = store_sub_list(&subs, aor ? key : NULL, now, false);
	if (err) {
		list_flush(&subs);
		return db_fail(err);
	}

	if (json)
		(void)printf("[");
	else
		(void)printf("%-28s %-28s %-15s %-10s %7s %s\n", "PRESENTITY",
			     "WATCHER", "EVENT", "STATE", "EXPIRES",
			     "CONTACT");

	for (le = subs.head; le; le = le->next) {
		const struct store_sub *sub = le->data;

		if (json) {
			(void)printf("%s\n  {\"presentity\": ",
				     le != subs.head ? "," : "");
			json_str(sub->presentity);
			(void)printf(", \"watcher\": ");
			json_str(sub->watcher);
			(void)printf(", \"event\": ");
			json_str(sub->event);
			(void)printf(", \"state\": ");
			json_str(sub->state);
			(void)printf(", \"expires\": %lld",
				     (long long)(sub->expires - now));
			(void)printf(", \"contact\": ");
			json_str(sub->contact);
			(void)printf(", \"socket\": ");
			json_str(sub->sock);
			(void)printf(", \"call_id\": ");
			json_str(sub->call_id);
			(void)printf("}");
		}
		else {
			(void)printf("%-28s %-28s %-15s %-10s %7lld %s\n",
				     col(sub->presentity), col(sub->watcher),
				     col(sub->event), col(sub->state),
				     (long long)(sub->expires - now),
				     col(sub->contact));
		}
	}

	if (json)
		(void)printf("%s]\n", subs.head ? "\n" : "");

	list_flush(&subs);

	return 0;
}


static int pub_list(const char *aor)
{
	int64_t now = (int64_t)time(NULL);
	struct list pubs = LIST_INIT;
	struct le *le;
	char key[300];
	int err;

	if ((aor && aor_key(key, sizeof(key), aor, "pub list")) ||
	    db_use(false))
		return 1;

	err = store_pub_list(&pubs, aor ? key : NULL, now, false);
	if (err) {
		list_flush(&pubs);
		return db_fail(err);
	}

	(void)printf("%-28s %-26s %7s %-22s %s\n", "PRESENTITY", "ETAG",
		     "EXPIRES", "SOURCE", "BYTES");
	for (le = pubs.head; le; le = le->next) {
		const struct store_pub *p = le->data;

		(void)printf("%-28s %-26s %7lld %-22s %zu\n",
			     col(p->presentity), col(p->etag),
			     (long long)(p->expires - now), col(p->source),
			     strlen(col(p->body)));
	}

	list_flush(&pubs);

	return 0;
}


/**
 * sipctl presence ...
 *
 * @param argc Argument count after "presence"
 * @param argv Arguments after "presence"
 *
 * @return Exit status
 */
int cmd_presence(int argc, char *argv[])
{
	if (argc == 2 && !strcmp(argv[0], "show"))
		return presence_show(argv[1]);

	if (argc == 3 && !strcmp(argv[0], "allow"))
		return rule_set("allow", argv[1], argv[2]);

	if (argc == 3 && !strcmp(argv[0], "block"))
		return rule_set("block", argv[1], argv[2]);

	if (argc == 3 && !strcmp(argv[0], "unset"))
		return rule_set(NULL, argv[1], argv[2]);

	if ((argc == 1 || argc == 2) && !strcmp(argv[0], "rules"))
		return rules_list(argc == 2 ? argv[1] : NULL);

	(void)fail("usage: sipctl presence show AOR,"
		   " presence allow|block|unset PRESENTITY WATCHER,"
		   " presence rules [PRESENTITY]");

	return EXIT_USAGE;
}


/**
 * sipctl sub ... and sipctl pub ...
 *
 * @param what "sub" or "pub"
 * @param argc Argument count after it
 * @param argv Arguments after it
 *
 * @return Exit status
 */
int cmd_subpub(const char *what, int argc, char *argv[])
{
	const char *aor = NULL;
	bool json = false;
	int i;

	if (argc < 1 || strcmp(argv[0], "list"))
		goto usage;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json") && !strcmp(what, "sub"))
			json = true;
		else if (!aor && argv[i][0] != '-')
			aor = argv[i];
		else
			goto usage;
	}

	return !strcmp(what, "sub") ? sub_list(aor, json) : pub_list(aor);

 usage:
	(void)fail("usage: sipctl sub list [AOR] [--json],"
		   " pub list [AOR]");

	return EXIT_USAGE;
}
