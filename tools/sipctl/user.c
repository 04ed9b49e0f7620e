/**
 * @file user.c  sipctl user: add, passwd, del, list, import
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <time.h>
#include <sqlite3.h>
#include <re.h>
#include "core.h"
#include "digest/digest.h"
#include "sipctl.h"


enum {
	PASSWORD_MAX = 256,
};


struct ha1s {
	uint8_t md5[DIGEST_MAX_SIZE];
	uint8_t sha256[DIGEST_MAX_SIZE];
};


static int ha1s_make(struct ha1s *h, const char *user, const char *domain,
		     const char *password)
{
	int err;

	err  = digest_ha1(h->md5, DIGEST_MD5, user, domain, password);
	err |= digest_ha1(h->sha256, DIGEST_SHA256, user, domain, password);

	return err;
}


static int step(sqlite3_stmt *stmt)
{
	int rc = sqlite3_step(stmt);

	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		return 0;

	return fail("database: %s", sqlite3_errmsg(db_handle()));
}


static bool password_ok(const char *password)
{
	size_t n = strlen(password);

	return n > 0 && n <= PASSWORD_MAX && !strpbrk(password, "\r\n");
}


static int write_user(const char *user, const char *domain,
		      const char *password, const char *mode)
{
	static const char *sql_add =
		"INSERT INTO accounts (username, domain, ha1_md5, ha1_sha256,"
		" created) VALUES (?1, ?2, ?3, ?4, ?5)";
	static const char *sql_passwd =
		"UPDATE accounts SET ha1_md5 = ?3, ha1_sha256 = ?4"
		" WHERE username = ?1 AND domain = ?2";
	static const char *sql_upsert =
		"INSERT INTO accounts (username, domain, ha1_md5, ha1_sha256,"
		" created) VALUES (?1, ?2, ?3, ?4, ?5)"
		" ON CONFLICT (username, domain) DO UPDATE SET"
		" ha1_md5 = excluded.ha1_md5,"
		" ha1_sha256 = excluded.ha1_sha256";
	const char *sql;
	sqlite3_stmt *stmt;
	struct ha1s h;
	int rc, ret = 0;

	if (!strcmp(mode, "add"))
		sql = sql_add;
	else if (!strcmp(mode, "passwd"))
		sql = sql_passwd;
	else
		sql = sql_upsert;

	if (ha1s_make(&h, user, domain, password))
		return fail("cannot compute HA1");

	rc = sqlite3_prepare_v2(db_handle(), sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return fail("database: %s", sqlite3_errmsg(db_handle()));

	sqlite3_bind_text(stmt, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, domain, -1, SQLITE_STATIC);
	sqlite3_bind_blob(stmt, 3, h.md5, (int)digest_size(DIGEST_MD5),
			  SQLITE_STATIC);
	sqlite3_bind_blob(stmt, 4, h.sha256, (int)digest_size(DIGEST_SHA256),
			  SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 5, (sqlite3_int64)time(NULL));

	rc = sqlite3_step(stmt);
	if (rc == SQLITE_CONSTRAINT)
		ret = fail("user add: %s@%s already exists", user, domain);
	else if (rc != SQLITE_DONE)
		ret = fail("database: %s", sqlite3_errmsg(db_handle()));
	else if (!strcmp(mode, "passwd") && !sqlite3_changes(db_handle()))
		ret = fail("user passwd: no account %s@%s", user, domain);

	sqlite3_finalize(stmt);

	return ret;
}


static int user_set(const char *mode, const char *aor, const char *password)
{
	char user[128], domain[128];
	int ret;

	if (!aor_split(aor, user, sizeof(user), domain, sizeof(domain)))
		return fail("user %s: '%s' is not USER@DOMAIN", mode, aor);

	if (!password_ok(password))
		return fail("user %s: the password must be 1 to %d characters"
			    " on one line", mode, PASSWORD_MAX);

	if (db_use(false))
		return 1;

	ret = write_user(user, domain, password, mode);
	if (ret)
		return ret;

	if (!domain_configured(domain))
		(void)fprintf(stderr, "sipctl: warning: %s is not a 'domain'"
			      " of the configuration\n", domain);

	(void)printf("%s %s@%s\n", !strcmp(mode, "add") ? "added" :
		     "changed the password of", user, domain);

	return 0;
}


static int user_del(const char *aor)
{
	char user[128], domain[128], baor[300];
	sqlite3_stmt *stmt;
	int ret = 0, n;

	if (!aor_split(aor, user, sizeof(user), domain, sizeof(domain)))
		return fail("user del: '%s' is not USER@DOMAIN", aor);

	if (db_use(false))
		return 1;

	re_snprintf(baor, sizeof(baor), "%s@%s", user, domain);

	if (db_begin())
		return fail("database is busy");

	if (sqlite3_prepare_v2(db_handle(), "DELETE FROM accounts WHERE"
			       " username = ?1 AND domain = ?2", -1, &stmt,
			       NULL) != SQLITE_OK) {
		db_rollback();
		return fail("database: %s", sqlite3_errmsg(db_handle()));
	}

	sqlite3_bind_text(stmt, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, domain, -1, SQLITE_STATIC);
	ret = step(stmt);
	n = sqlite3_changes(db_handle());
	sqlite3_finalize(stmt);

	if (!ret && !n)
		ret = fail("user del: no account %s", baor);

	if (!ret) {
		if (sqlite3_prepare_v2(db_handle(), "DELETE FROM bindings"
				       " WHERE aor = ?1", -1, &stmt, NULL)) {
			ret = fail("database: %s",
				   sqlite3_errmsg(db_handle()));
		}
		else {
			sqlite3_bind_text(stmt, 1, baor, -1, SQLITE_STATIC);
			ret = step(stmt);
			sqlite3_finalize(stmt);
		}
	}

	if (ret) {
		db_rollback();
		return ret;
	}

	if (db_commit())
		return fail("database: commit failed");

	(void)printf("removed %s\n", baor);

	return 0;
}


static int user_list(void)
{
	sqlite3_stmt *stmt;
	int rc;

	if (db_use(false))
		return 1;

	if (sqlite3_prepare_v2(db_handle(),
			       "SELECT a.username || '@' || a.domain, a.created,"
			       " (SELECT count(*) FROM bindings b WHERE"
			       "  b.aor = a.username || '@' || a.domain"
			       "  AND b.expires > strftime('%s','now'))"
			       " FROM accounts a ORDER BY a.domain, a.username",
			       -1, &stmt, NULL) != SQLITE_OK)
		return fail("database: %s", sqlite3_errmsg(db_handle()));

	(void)printf("%-40s %-20s %s\n", "ACCOUNT", "CREATED", "BINDINGS");

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		time_t t = (time_t)sqlite3_column_int64(stmt, 1);
		char when[32];

		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S",
			 localtime(&t));
		(void)printf("%-40s %-20s %d\n",
			     sqlite3_column_text(stmt, 0), when,
			     sqlite3_column_int(stmt, 2));
	}

	sqlite3_finalize(stmt);

	return rc == SQLITE_DONE ? 0 : fail("database: %s",
					    sqlite3_errmsg(db_handle()));
}


/** One account read from an import file, ready to insert */
struct import_row {
	struct le le;
	char user[128];
	char domain[128];
	struct ha1s h;
};


static int import_line(struct list *rows, char *line, const char *name,
		       unsigned lineno)
{
	struct import_row *row;
	char *aor, *password, *end;

	end = line + strlen(line);
	while (end > line && (end[-1] == '\n' || end[-1] == '\r' ||
			      end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';

	while (*line == ' ' || *line == '\t')
		++line;

	if (!*line || *line == '#')
		return 0;

	aor = line;
	password = strpbrk(line, " \t");
	if (!password)
		return fail("%s:%u: expected 'user@domain password'", name,
			    lineno);

	*password++ = '\0';
	while (*password == ' ' || *password == '\t')
		++password;

	row = mem_zalloc(sizeof(*row), NULL);
	if (!row)
		return fail("out of memory");

	list_append(rows, &row->le, row);

	if (!aor_split(aor, row->user, sizeof(row->user), row->domain,
		       sizeof(row->domain)))
		return fail("%s:%u: '%s' is not USER@DOMAIN", name, lineno,
			    aor);

	if (!password_ok(password) || strpbrk(password, " \t"))
		return fail("%s:%u: the password must be one word of 1 to %d"
			    " characters", name, lineno, PASSWORD_MAX);

	if (ha1s_make(&row->h, row->user, row->domain, password))
		return fail("cannot compute HA1");

	return 0;
}


/* Insert every row in one transaction, the write lock held briefly */
static int import_rows(const struct list *rows)
{
	static const char *sql =
		"INSERT INTO accounts (username, domain, ha1_md5, ha1_sha256,"
		" created) VALUES (?1, ?2, ?3, ?4, ?5)"
		" ON CONFLICT (username, domain) DO UPDATE SET"
		" ha1_md5 = excluded.ha1_md5,"
		" ha1_sha256 = excluded.ha1_sha256";
	sqlite3_int64 now = (sqlite3_int64)time(NULL);
	sqlite3_stmt *stmt;
	struct le *le;
	int ret = 0;

	if (sqlite3_prepare_v2(db_handle(), sql, -1, &stmt, NULL))
		return fail("database: %s", sqlite3_errmsg(db_handle()));

	if (db_begin()) {
		sqlite3_finalize(stmt);
		return fail("database is busy");
	}

	for (le = rows->head; le && !ret; le = le->next) {
		const struct import_row *row = le->data;

		sqlite3_reset(stmt);
		sqlite3_bind_text(stmt, 1, row->user, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 2, row->domain, -1, SQLITE_STATIC);
		sqlite3_bind_blob(stmt, 3, row->h.md5,
				  (int)digest_size(DIGEST_MD5), SQLITE_STATIC);
		sqlite3_bind_blob(stmt, 4, row->h.sha256,
				  (int)digest_size(DIGEST_SHA256),
				  SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 5, now);

		if (sqlite3_step(stmt) != SQLITE_DONE)
			ret = fail("database: %s",
				   sqlite3_errmsg(db_handle()));
	}

	sqlite3_finalize(stmt);

	if (ret) {
		db_rollback();
		return ret;
	}

	if (db_commit())
		return fail("database: commit failed");

	return 0;
}


static int user_import(const char *file)
{
	const char *name = strcmp(file, "-") ? file : "(stdin)";
	struct list rows = LIST_INIT;
	unsigned lineno = 0;
	char line[1024];
	FILE *f;
	int ret = 0;

	f = strcmp(file, "-") ? fopen(file, "r") : stdin;
	if (!f)
		return fail("user import: cannot open %s: %m", file, errno);

	/* read, check and hash everything before touching the database */
	while (fgets(line, sizeof(line), f)) {

		++lineno;

		if (!strchr(line, '\n') && !feof(f)) {
			ret = fail("%s:%u: line too long", name, lineno);
			break;
		}

		ret = import_line(&rows, line, name, lineno);
		if (ret)
			break;
	}

	if (!ret && ferror(f))
		ret = fail("%s: read error", name);

	if (f != stdin)
		fclose(f);

	if (!ret)
		ret = db_use(false);

	if (!ret)
		ret = import_rows(&rows);

	if (ret)
		(void)fprintf(stderr, "sipctl: nothing imported\n");
	else
		(void)printf("imported %u accounts\n", list_count(&rows));

	list_flush(&rows);

	return ret;
}


/**
 * sipctl user ...
 *
 * @param argc Argument count after "user"
 * @param argv Arguments after "user"
 *
 * @return Exit status
 */
int cmd_user(int argc, char *argv[])
{
	if (argc == 3 && !strcmp(argv[0], "add"))
		return user_set("add", argv[1], argv[2]);

	if (argc == 3 && !strcmp(argv[0], "passwd"))
		return user_set("passwd", argv[1], argv[2]);

	if (argc == 2 && !strcmp(argv[0], "del"))
		return user_del(argv[1]);

	if (argc == 1 && !strcmp(argv[0], "list"))
		return user_list();

	if (argc == 2 && !strcmp(argv[0], "import"))
		return user_import(argv[1]);

	(void)fail("usage: sipctl user add|passwd USER@DOMAIN PASSWORD,"
		   " user del USER@DOMAIN, user list, user import FILE|-");

	return EXIT_USAGE;
}
