/**
 * @file presence.c  sipctl presence, sub, pub: the presence server's state
 *
 *   presence show AOR              composed state and its sources
 *   presence allow|block PRESENTITY WATCHER, presence unset ...
 *   presence rules [PRESENTITY]    the rules of presence_policy
 *   sub list [AOR] [--json]        subscriptions (watchers)
 *   pub list [AOR]                 publications
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sqlite3.h>
#include <re.h>
#include "core.h"
#include "sipctl.h"


static const char *col(sqlite3_stmt *stmt, int i)
{
	const char *s = (const char *)sqlite3_column_text(stmt, i);

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


static int prepare(sqlite3_stmt **stmt, const char *sql)
{
	if (sqlite3_prepare_v2(db_handle(), sql, -1, stmt, NULL))
		return fail("database: %s", sqlite3_errmsg(db_handle()));

	return 0;
}


static int presence_show(const char *aor)
{
	char key[300];
	sqlite3_stmt *stmt;
	int64_t now = (int64_t)time(NULL);
	int rc, n = 0;

	if (aor_key(key, sizeof(key), aor, "presence show") || db_use(false))
		return 1;

	if (prepare(&stmt, "SELECT pidf, sources, updated FROM presence_state"
		    " WHERE presentity = ?1"))
		return 1;

	sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		(void)printf("%s: as last composed %lld s ago (%s)\n", key,
			     (long long)(now - sqlite3_column_int64(stmt, 2)),
			     col(stmt, 1));
		(void)printf("%s", col(stmt, 0));
	}
	else {
		(void)printf("%s: no state composed yet (nobody watches it)\n",
			     key);
	}
	sqlite3_finalize(stmt);

	/* the sources as they are now */
	if (prepare(&stmt, "SELECT etag, expires - ?2, source, body FROM"
		    " publications WHERE presentity = ?1 AND expires > ?2"
		    " ORDER BY id"))
		return 1;

	sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, now);
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		(void)printf("publication %s from %s, %lld s left:\n%s\n",
			     col(stmt, 0), col(stmt, 2),
			     (long long)sqlite3_column_int64(stmt, 1),
			     col(stmt, 3));
		++n;
	}
	sqlite3_finalize(stmt);

	if (!n)
		(void)printf("no publication\n");

	if (prepare(&stmt, "SELECT count(*) FROM bindings WHERE aor = ?1"
		    " AND expires > ?2"))
		return 1;

	sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, now);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		(void)printf("bindings: %d\n", sqlite3_column_int(stmt, 0));
	sqlite3_finalize(stmt);

	return 0;
}


static int rule_set(const char *rule, const char *pres, const char *watcher)
{
	char p[300], w[300];
	sqlite3_stmt *stmt;
	int rc;

	if (aor_key(p, sizeof(p), pres, "presence") ||
	    aor_key(w, sizeof(w), watcher, "presence") || db_use(false))
		return 1;

	if (prepare(&stmt, rule ?
		    "INSERT INTO presence_rules (presentity, watcher, rule,"
		    " created) VALUES (?1, ?2, ?3, ?4) ON CONFLICT"
		    " (presentity, watcher) DO UPDATE SET rule = excluded.rule" :
		    "DELETE FROM presence_rules WHERE presentity = ?1 AND"
		    " watcher = ?2"))
		return 1;

	sqlite3_bind_text(stmt, 1, p, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, w, -1, SQLITE_STATIC);
	if (rule) {
		sqlite3_bind_text(stmt, 3, rule, -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 4, (int64_t)time(NULL));
	}

	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return fail("database: %s", sqlite3_errmsg(db_handle()));

	if (!rule && !sqlite3_changes(db_handle()))
		return fail("presence unset: no rule for %s watching %s", w,
			    p);

	(void)printf("%s: %s %s %s\n", p, w, rule ? "is" : "has no rule",
		     rule ? (!strcmp(rule, "allow") ? "allowed" : "blocked") :
		     "any more");

	return 0;
}


static int rules_list(const char *pres)
{
	char p[300];
	sqlite3_stmt *stmt;

	if ((pres && aor_key(p, sizeof(p), pres, "presence rules")) ||
	    db_use(false))
		return 1;

	if (prepare(&stmt, "SELECT presentity, watcher, rule FROM"
		    " presence_rules WHERE ?1 IS NULL OR presentity = ?1"
		    " ORDER BY presentity, watcher"))
		return 1;

	if (pres)
		sqlite3_bind_text(stmt, 1, p, -1, SQLITE_STATIC);

	(void)printf("%-30s %-30s %s\n", "PRESENTITY", "WATCHER", "RULE");
	while (sqlite3_step(stmt) == SQLITE_ROW)
		(void)printf("%-30s %-30s %s\n", col(stmt, 0), col(stmt, 1),
			     col(stmt, 2));

	sqlite3_finalize(stmt);

	return 0;
}


static int sub_list(const char *aor, bool json)
{
	int64_t now = (int64_t)time(NULL);
	sqlite3_stmt *stmt;
	char key[300];
	unsigned n = 0;

	if ((aor && aor_key(key, sizeof(key), aor, "sub list")) ||
	    db_use(false))
		return 1;

	if (prepare(&stmt, "SELECT presentity, watcher, event, state,"
		    " expires - ?2, contact, socket, call_id FROM subscriptions"
		    " WHERE expires > ?2 AND (?1 IS NULL OR presentity = ?1)"
		    " ORDER BY presentity, event, watcher"))
		return 1;

	if (aor)
		sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, now);

	if (json)
		(void)printf("[");
	else
		(void)printf("%-28s %-28s %-15s %-10s %7s %s\n", "PRESENTITY",
			     "WATCHER", "EVENT", "STATE", "EXPIRES",
			     "CONTACT");

	while (sqlite3_step(stmt) == SQLITE_ROW) {
		if (json) {
			(void)printf("%s\n  {\"presentity\": ", n ? "," : "");
			json_str(col(stmt, 0));
			(void)printf(", \"watcher\": ");
			json_str(col(stmt, 1));
			(void)printf(", \"event\": ");
			json_str(col(stmt, 2));
			(void)printf(", \"state\": ");
			json_str(col(stmt, 3));
			(void)printf(", \"expires\": %lld",
				     (long long)sqlite3_column_int64(stmt, 4));
			(void)printf(", \"contact\": ");
			json_str(col(stmt, 5));
			(void)printf(", \"socket\": ");
			json_str(col(stmt, 6));
			(void)printf(", \"call_id\": ");
			json_str(col(stmt, 7));
			(void)printf("}");
		}
		else {
			(void)printf("%-28s %-28s %-15s %-10s %7lld %s\n",
				     col(stmt, 0), col(stmt, 1), col(stmt, 2),
				     col(stmt, 3),
				     (long long)sqlite3_column_int64(stmt, 4),
				     col(stmt, 5));
		}
		++n;
	}

	if (json)
		(void)printf("%s]\n", n ? "\n" : "");

	sqlite3_finalize(stmt);

	return 0;
}


static int pub_list(const char *aor)
{
	int64_t now = (int64_t)time(NULL);
	sqlite3_stmt *stmt;
	char key[300];

	if ((aor && aor_key(key, sizeof(key), aor, "pub list")) ||
	    db_use(false))
		return 1;

	if (prepare(&stmt, "SELECT presentity, etag, expires - ?2, source,"
		    " length(body) FROM publications WHERE expires > ?2 AND"
		    " (?1 IS NULL OR presentity = ?1) ORDER BY presentity, id"))
		return 1;

	if (aor)
		sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, now);

	(void)printf("%-28s %-26s %7s %-22s %s\n", "PRESENTITY", "ETAG",
		     "EXPIRES", "SOURCE", "BYTES");
	while (sqlite3_step(stmt) == SQLITE_ROW)
		(void)printf("%-28s %-26s %7lld %-22s %d\n", col(stmt, 0),
			     col(stmt, 1),
			     (long long)sqlite3_column_int64(stmt, 2),
			     col(stmt, 3), sqlite3_column_int(stmt, 4));

	sqlite3_finalize(stmt);

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
