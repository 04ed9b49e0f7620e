/**
 * @file reg.c  sipctl reg: list and remove bindings
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>
#include <time.h>
#include <sqlite3.h>
#include <re.h>
#include "ops.h"
#include "sipmsg/sipmsg.h"
#include "sipctl.h"


static void json_str(const char *s)
{
	(void)re_printf("%H", json_quote, s);
}


static const char *col(sqlite3_stmt *stmt, int i)
{
	const char *s = (const char *)sqlite3_column_text(stmt, i);

	return s ? s : "";
}


static int reg_list(const char *aor, bool json)
{
	char user[128], domain[128], key[300];
	sqlite3_stmt *stmt;
	int64_t now = (int64_t)time(NULL);
	unsigned n = 0;
	int rc;

	if (aor) {
		if (!aor_split(aor, user, sizeof(user), domain,
			       sizeof(domain)))
			return fail("reg list: '%s' is not USER@DOMAIN", aor);
		re_snprintf(key, sizeof(key), "%s@%s", user, domain);
	}

	if (db_use(false))
		return 1;

	rc = sqlite3_prepare_v2(db_handle(),
		"SELECT aor, contact, expires - ?1, transport, received,"
		" user_agent, q, callid, cseq, socket, path, instance, reg_id,"
		" params"
		" FROM bindings WHERE expires > ?1 AND (?2 IS NULL OR aor = ?2)"
		" ORDER BY aor, q DESC, id", -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return fail("database: %s", sqlite3_errmsg(db_handle()));

	sqlite3_bind_int64(stmt, 1, now);
	if (aor)
		sqlite3_bind_text(stmt, 2, key, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(stmt, 2);

	if (json)
		(void)printf("[");
	else
		(void)printf("%-28s %-44s %7s %-5s %-22s %s\n", "AOR",
			     "CONTACT", "EXPIRES", "TRANS", "SOURCE",
			     "USER-AGENT");

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (json) {
			int q = sqlite3_column_int(stmt, 6);

			(void)printf("%s\n  {\"aor\": ", n ? "," : "");
			json_str(col(stmt, 0));
			(void)printf(", \"contact\": ");
			json_str(col(stmt, 1));
			(void)printf(", \"expires\": %lld",
				     (long long)sqlite3_column_int64(stmt, 2));
			(void)printf(", \"transport\": ");
			json_str(col(stmt, 3));
			(void)printf(", \"source\": ");
			json_str(col(stmt, 4));
			(void)printf(", \"user_agent\": ");
			json_str(col(stmt, 5));
			(void)printf(", \"q\": %d.%03d", q / 1000, q % 1000);
			(void)printf(", \"call_id\": ");
			json_str(col(stmt, 7));
			(void)printf(", \"cseq\": %lld",
				     (long long)sqlite3_column_int64(stmt, 8));
			(void)printf(", \"socket\": ");
			json_str(col(stmt, 9));
			(void)printf(", \"path\": ");
			json_str(col(stmt, 10));
			(void)printf(", \"instance\": ");
			json_str(col(stmt, 11));
			(void)printf(", \"reg_id\": %d",
				     sqlite3_column_int(stmt, 12));
			(void)printf(", \"params\": ");
			json_str(col(stmt, 13));
			(void)printf("}");
		}
		else {
			(void)printf("%-28s %-44s %7lld %-5s %-22s %s\n",
				     col(stmt, 0), col(stmt, 1),
				     (long long)sqlite3_column_int64(stmt, 2),
				     col(stmt, 3), col(stmt, 4),
				     col(stmt, 5));
		}
		++n;
	}

	if (json)
		(void)printf("%s]\n", n ? "\n" : "");

	sqlite3_finalize(stmt);

	if (rc != SQLITE_DONE)
		return fail("database: %s", sqlite3_errmsg(db_handle()));

	return 0;
}


static int reg_del(const char *aor, const char *contact)
{
	char user[128], domain[128], key[300];
	sqlite3_stmt *sel, *del;
	struct pl want;
	unsigned removed = 0;
	int rc, ret = 0;

	if (!aor_split(aor, user, sizeof(user), domain, sizeof(domain)))
		return fail("reg del: '%s' is not USER@DOMAIN", aor);

	re_snprintf(key, sizeof(key), "%s@%s", user, domain);

	if (contact) {
		struct uri u;

		pl_set_str(&want, contact);
		if (uri_decode(&u, &want))
			return fail("reg del: '%s' is not a SIP URI",
				    contact);
	}

	if (db_use(false))
		return 1;

	if (db_begin())
		return fail("database is busy");

	if (sqlite3_prepare_v2(db_handle(), "SELECT id, contact FROM"
			       " bindings WHERE aor = ?1", -1, &sel, NULL)) {
		db_rollback();
		return fail("database: %s", sqlite3_errmsg(db_handle()));
	}

	if (sqlite3_prepare_v2(db_handle(), "DELETE FROM bindings WHERE"
			       " id = ?1", -1, &del, NULL)) {
		sqlite3_finalize(sel);
		db_rollback();
		return fail("database: %s", sqlite3_errmsg(db_handle()));
	}

	sqlite3_bind_text(sel, 1, key, -1, SQLITE_STATIC);

	while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
		struct pl have;

		pl_set_str(&have, col(sel, 1));
		if (contact && !uri_equal_str(&want, &have))
			continue;

		sqlite3_reset(del);
		sqlite3_bind_int64(del, 1, sqlite3_column_int64(sel, 0));
		if (sqlite3_step(del) != SQLITE_DONE) {
			ret = fail("database: %s",
				   sqlite3_errmsg(db_handle()));
			break;
		}
		++removed;
	}

	if (!ret && rc != SQLITE_DONE && rc != SQLITE_ROW)
		ret = fail("database: %s", sqlite3_errmsg(db_handle()));

	sqlite3_finalize(sel);
	sqlite3_finalize(del);

	if (!ret && !removed)
		ret = fail("reg del: no binding of %s%s%s", key,
			   contact ? " matches " : "", contact ? contact : "");

	if (ret) {
		db_rollback();
		return ret;
	}

	if (db_commit())
		return fail("database: commit failed");

	(void)printf("removed %u binding%s of %s\n", removed,
		     removed == 1 ? "" : "s", key);

	return 0;
}


/* The id of the binding of an AOR whose contact equals a URI, or 0 */
static int64_t binding_of(const char *aor, const char *contact)
{
	sqlite3_stmt *stmt;
	struct pl want;
	int64_t id = 0;

	if (sqlite3_prepare_v2(db_handle(), "SELECT id, contact FROM bindings"
			       " WHERE aor = ?1", -1, &stmt, NULL))
		return 0;

	pl_set_str(&want, contact);
	sqlite3_bind_text(stmt, 1, aor, -1, SQLITE_STATIC);

	while (!id && sqlite3_step(stmt) == SQLITE_ROW) {
		struct pl have;

		pl_set_str(&have, col(stmt, 1));
		if (uri_equal_str(&want, &have))
			id = sqlite3_column_int64(stmt, 0);
	}

	sqlite3_finalize(stmt);

	return id;
}


static int reg_add(const char *aor, const char *contact, int argc,
		   char *argv[])
{
	char user[128], domain[128], key[300], callid[40];
	uint32_t expires = 3600, q = 1000;
	int64_t existing;
	sqlite3_stmt *stmt;
	struct pl pl;
	struct uri u;
	int i, rc;

	if (!aor_split(aor, user, sizeof(user), domain, sizeof(domain)))
		return fail("reg add: '%s' is not USER@DOMAIN", aor);

	pl_set_str(&pl, contact);
	if (uri_decode(&u, &pl) || (pl_strcasecmp(&u.scheme, "sip") &&
				    pl_strcasecmp(&u.scheme, "sips")))
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

	if (db_use(false))
		return 1;

	rc = sqlite3_prepare_v2(db_handle(), "SELECT 1 FROM accounts WHERE"
				" username = ?1 AND domain = ?2", -1, &stmt,
				NULL);
	if (rc != SQLITE_OK)
		return fail("database: %s", sqlite3_errmsg(db_handle()));
	sqlite3_bind_text(stmt, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, domain, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW)
		return fail("reg add: no account %s (add it with 'sipctl user"
			    " add')", key);

	if (db_begin())
		return fail("database is busy");

	/* the same contact again (RFC 3261 19.1.4) updates its binding */
	existing = binding_of(key, contact);

	rand_str(callid, 24);

	rc = sqlite3_prepare_v2(db_handle(), existing ?
		"UPDATE bindings SET expires = ?3, q = ?4, updated = ?6"
		" WHERE id = ?7" :
		"INSERT INTO bindings (aor, contact, params, expires, q, callid,"
		" cseq, received, transport, socket, user_agent, created,"
		" updated) VALUES (?1, ?2, '', ?3, ?4, ?5, 1, '', 'udp', '',"
		" 'sipctl', ?6, ?6)", -1, &stmt, NULL);
	if (rc != SQLITE_OK) {
		db_rollback();
		return fail("database: %s", sqlite3_errmsg(db_handle()));
	}

	sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, contact, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, (int64_t)time(NULL) + expires);
	sqlite3_bind_int(stmt, 4, (int)q);
	sqlite3_bind_text(stmt, 5, callid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 6, (int64_t)time(NULL));
	if (existing)
		sqlite3_bind_int64(stmt, 7, existing);

	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE) {
		db_rollback();
		return fail("database: %s", sqlite3_errmsg(db_handle()));
	}

	if (db_commit())
		return fail("database: commit failed");

	(void)printf("%s %s -> %s for %u seconds\n",
		     existing ? "updated" : "added", key, contact, expires);

	return 0;
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
