/**
 * @file user.c  sipctl user: add, passwd, del, set (busy_limit), list,
 *               import
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <time.h>
#include <re.h>
#include "core.h"
#include "digest/digest.h"
#include <store/store.h>
#include "sipctl.h"


enum {
	PASSWORD_MAX = 256,
	BUSY_LIMIT_MAX = 1000,
};


static int ha1s_make(struct store_account *a, const char *password)
{
	int err;

	err  = digest_ha1(a->ha1_md5, DIGEST_MD5, a->user, a->domain,
			  password);
	err |= digest_ha1(a->ha1_sha256, DIGEST_SHA256, a->user, a->domain,
			  password);

	return err;
}


static bool password_ok(const char *password)
{
	size_t n = strlen(password);

	return n > 0 && n <= PASSWORD_MAX && !strpbrk(password, "\r\n");
}


static int db_fail(int err)
{
	if (err == EBUSY)
		return fail("database is busy");

	return fail("database: %m", err);
}


static int write_user(const char *user, const char *domain,
		      const char *password, const char *mode)
{
	struct store_account a;
	enum store_write how;
	int err;

	if (!strcmp(mode, "add"))
		how = STORE_ADD;
	else if (!strcmp(mode, "passwd"))
		how = STORE_UPDATE;
	else
		how = STORE_UPSERT;

	memset(&a, 0, sizeof(a));
	str_ncpy(a.user, user, sizeof(a.user));
	str_ncpy(a.domain, domain, sizeof(a.domain));
	a.created = (int64_t)time(NULL);

	if (ha1s_make(&a, password))
		return fail("cannot compute HA1");

	err = store_account_write(&a, how);
	if (err == EEXIST && how == STORE_ADD)
		return fail("user add: %s@%s already exists", user, domain);
	else if (err == ENOENT && how == STORE_UPDATE)
		return fail("user passwd: no account %s@%s", user, domain);
	else if (err)
		return db_fail(err);

	return 0;
}


static int user_set(const char *mode, const char *aor, const char *password,
		    bool force)
{
	char user[128], domain[128];
	int ret;

	if (!aor_split(aor, user, sizeof(user), domain, sizeof(domain)))
		return fail("user %s: '%s' is not USER@DOMAIN", mode, aor);

	if (!password_ok(password))
		return fail("user %s: the password must be 1 to %d characters"
			    " on one line", mode, PASSWORD_MAX);

	/* a new account nobody could use: only when told */
	if (!strcmp(mode, "add") && !force &&
	    domain_refuse("user add", domain))
		return 1;

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
	char user[128], domain[128];
	int err;

	if (!aor_split(aor, user, sizeof(user), domain, sizeof(domain)))
		return fail("user del: '%s' is not USER@DOMAIN", aor);

	if (db_use(false))
		return 1;

	err = store_account_delete(user, domain);
	if (err == ENOENT)
		return fail("user del: no account %s@%s", user, domain);
	else if (err)
		return db_fail(err);

	(void)printf("removed %s@%s\n", user, domain);

	return 0;
}


/* N (0 to BUSY_LIMIT_MAX) or unlimited (0) */
static int busy_limit_get(uint32_t *limit, const char *s)
{
	char *end;
	long v;

	if (!str_casecmp(s, "unlimited")) {
		*limit = 0;
		return 0;
	}

	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < 0 || v > BUSY_LIMIT_MAX)
		return fail("user set: busy_limit '%s': must be 0 to %d, or"
			    " unlimited", s, BUSY_LIMIT_MAX);

	*limit = (uint32_t)v;

	return 0;
}


static void busy_limit_str(char *buf, size_t size, uint32_t limit)
{
	if (limit)
		(void)re_snprintf(buf, size, "%u", limit);
	else
		str_ncpy(buf, "unlimited", size);
}


/* user set USER@DOMAIN busy_limit N: read by sipd at every call */
static int user_setting(const char *aor, const char *name, const char *val)
{
	char user[128], domain[128], shown[16];
	uint32_t limit = 0;
	int err;

	if (!aor_split(aor, user, sizeof(user), domain, sizeof(domain)))
		return fail("user set: '%s' is not USER@DOMAIN", aor);

	if (str_casecmp(name, "busy_limit")) {
		(void)fail("user set: unknown setting '%s' (busy_limit)",
			   name);
		return EXIT_USAGE;
	}

	if (busy_limit_get(&limit, val))
		return 1;

	if (db_use(false))
		return 1;

	err = store_account_busy_limit_set(user, domain, limit);
	if (err == ENOENT)
		return fail("user set: no such user %s@%s", user, domain);
	else if (err)
		return db_fail(err);

	busy_limit_str(shown, sizeof(shown), limit);
	(void)printf("%s@%s: busy_limit %s\n", user, domain, shown);

	return 0;
}


static int user_list(void)
{
	struct list accounts = LIST_INIT;
	struct le *le;
	int err;

	if (db_use(false))
		return 1;

	err = store_account_list(&accounts, (int64_t)time(NULL));
	if (err) {
		list_flush(&accounts);
		return db_fail(err);
	}

	(void)printf("%-40s %-20s %-8s %s\n", "ACCOUNT", "CREATED",
		     "BINDINGS", "BUSY-LIMIT");

	for (le = accounts.head; le; le = le->next) {
		const struct store_account *a = le->data;
		time_t t = (time_t)a->created;
		char when[32], name[300], busy[16];

		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S",
			 localtime(&t));
		re_snprintf(name, sizeof(name), "%s@%s", a->user, a->domain);
		busy_limit_str(busy, sizeof(busy), a->busy_limit);
		(void)printf("%-40s %-20s %-8u %s\n", name, when,
			     a->bindings, busy);
	}

	list_flush(&accounts);

	return 0;
}


static int import_line(struct list *rows, char *line, const char *name,
		       unsigned lineno, bool force)
{
	struct store_account *row;
	char *aor, *password, *end;
	char where[300];

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

	re_snprintf(where, sizeof(where), "%s:%u", name, lineno);
	if (!force && domain_refuse(where, row->domain))
		return 1;

	row->created = (int64_t)time(NULL);

	if (ha1s_make(row, password))
		return fail("cannot compute HA1");

	return 0;
}


/* Insert every row in one transaction, the write lock held briefly */
static int import_rows(const struct list *rows)
{
	int err = store_account_import(rows);

	return err ? db_fail(err) : 0;
}


static int user_import(const char *file, bool force)
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

		ret = import_line(&rows, line, name, lineno, force);
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


/*
 * Take a --force out of the arguments when there is one word more than
 * the command takes (so that a password "--force" stays a password)
 */
static bool take_force(int *argc, char *argv[], int words)
{
	int i;

	if (*argc != words + 1)
		return false;

	for (i = 1; i < *argc; i++) {
		if (strcmp(argv[i], "--force"))
			continue;

		memmove(&argv[i], &argv[i + 1],
			(size_t)(*argc - i - 1) * sizeof(*argv));
		--*argc;
		return true;
	}

	return false;
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
	bool force = false;

	if (argc >= 1 && (!strcmp(argv[0], "add") ||
			  !strcmp(argv[0], "import")))
		force = take_force(&argc, argv, !strcmp(argv[0], "add") ? 3 :
				   2);

	if (argc == 3 && !strcmp(argv[0], "add"))
		return user_set("add", argv[1], argv[2], force);

	if (argc == 3 && !strcmp(argv[0], "passwd"))
		return user_set("passwd", argv[1], argv[2], false);

	if (argc == 2 && !strcmp(argv[0], "del"))
		return user_del(argv[1]);

	if (argc == 4 && !strcmp(argv[0], "set"))
		return user_setting(argv[1], argv[2], argv[3]);

	if (argc == 1 && !strcmp(argv[0], "list"))
		return user_list();

	if (argc == 2 && !strcmp(argv[0], "import"))
		return user_import(argv[1], force);

	(void)fail("usage: sipctl user add [--force] USER@DOMAIN PASSWORD,"
		   " user passwd USER@DOMAIN PASSWORD, user del USER@DOMAIN,"
		   " user set USER@DOMAIN busy_limit N|unlimited,"
		   " user list, user import [--force] FILE|-");

	return EXIT_USAGE;
}
