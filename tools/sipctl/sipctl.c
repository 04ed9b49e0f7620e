/**
 * @file sipctl.c  sipctl: inspect and edit accounts, registrations and
 *                  call forwarding, and talk to the running sipd
 *
 * sipctl reads the database path (or PostgreSQL connection URI) from the
 * same configuration file as sipd and works on the database through the
 * store (lib/store), with the daemon stopped or running beside it
 * (SQLite's locking and a busy timeout, or PostgreSQL's, keep both
 * safe). status, ban, pool, reload and avail go to the
 * running sipd through its control socket (control_socket in the same
 * file, or --control), and so do reg add and del when sipd answers
 * there.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <getopt.h>
#include <sys/stat.h>
#include <ctype.h>
#include <re.h>
#include "ops.h"
#include <db/db.h>
#include <store/store.h>
#include "sipctl.h"


#ifndef SIPD_CONF_PATH
#define SIPD_CONF_PATH "/etc/sipd/sipd.conf"
#endif

#ifndef SIPD_DB_PATH
#define SIPD_DB_PATH "/var/lib/sipd/sipd.db"
#endif


enum {
	BUSY_TIMEOUT_MS = 10000,
};


static struct {
	const char *conf;
	char db[512];
	const char *control;       /* --control */
	char *control_conf;        /* control_socket of the file */
} ctl;


static void usage(void)
{
	(void)fprintf(stderr,
		"usage: sipctl [-f CONF] [-c PATH] COMMAND ...\n"
		"\n"
		"  status [--json]                 what the running sipd is"
		" doing\n"
		"  ban list [--json]               the banned source addresses"
		"\n"
		"  ban del ADDR|all                lift a ban, or every ban\n"
		"  pool [NAME] [--json]            the members of the server"
		" pools\n"
		"  reload                          make sipd reread its"
		" configuration\n"
		"  avail USER@DOMAIN               the calls the user is on,"
		" and whether it published busy\n"
		"  user add [--force] USER@DOMAIN PASSWORD  add an account"
		" (--force: of a domain not served)\n"
		"  user passwd USER@DOMAIN PASSWORD  change its password\n"
		"  user del USER@DOMAIN            remove an account, its"
		" bindings and forwards\n"
		"  user set USER@DOMAIN busy_limit N|unlimited  calls at once"
		" before 486 Busy Here\n"
		"  user list                       list the accounts\n"
		"  user import [--force] FILE|-    add or update accounts, one"
		" 'user@domain password' a line\n"
		"  forward set USER@DOMAIN always|busy|noanswer|unavailable"
		" TARGET\n"
		"        [--after S]               forward calls to a SIP URI,"
		" USER@DOMAIN or number\n"
		"                                  (--after: noanswer only,"
		" 1-300 s, default 20)\n"
		"  forward list [USER@DOMAIN] [--json]  list forwarding rules\n"
		"  forward del USER@DOMAIN KIND    remove a forwarding rule\n"
		"  reg list [AOR] [--json]         list current bindings\n"
		"  reg add AOR CONTACT [--expires S] [--q Q]  add a binding, or"
		" update the one of that contact\n"
		"  reg del AOR [CONTACT]           remove bindings\n"
		"  presence show AOR               composed presence and sources\n"
		"  presence allow|block|unset PRESENTITY WATCHER\n"
		"                                  rules of presence_policy\n"
		"  presence rules [PRESENTITY]     list those rules\n"
		"  sub list [AOR] [--json]         subscriptions (watchers)\n"
		"  pub list [AOR]                  publications\n"
		"  db init                         create the database if"
		" missing, or upgrade it\n"
		"  db upgrade                      upgrade an older database\n"
		"  db check                        check the database\n"
		"  db copy [--force] FROM-CONF TO-CONF\n"
		"                                  copy an SQLite database into"
		" PostgreSQL\n"
		"\n"
		"CONF defaults to $SIPD_CONF, else " SIPD_CONF_PATH ".\n"
		"-c, --control PATH: sipd's control socket (default: the\n"
		"control_socket of CONF, else " SIPD_CONTROL_PATH ").\n");
}


/**
 * Print an error on stderr
 *
 * @param fmt Formatted message
 *
 * @return 1, the exit status of a failed command
 */
int fail(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	(void)re_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);

	(void)fprintf(stderr, "sipctl: %s\n", buf);

	return 1;
}


/**
 * Split user@domain
 *
 * @param aor    Text to split
 * @param user   User buffer
 * @param usize  Its size
 * @param domain Domain buffer (lower-cased)
 * @param dsize  Its size
 *
 * @return True if aor is a valid user@domain
 */
bool aor_split(const char *aor, char *user, size_t usize, char *domain,
	       size_t dsize)
{
	const char *at, *p;
	size_t ul, i;

	if (!strncasecmp(aor, "sip:", 4))
		aor += 4;

	at = strrchr(aor, '@');
	if (!at || at == aor || !at[1])
		return false;

	ul = at - aor;
	if (ul >= usize || strlen(at + 1) >= dsize)
		return false;

	for (p = aor; p < at; p++) {
		if (!isalnum((unsigned char)*p) &&
		    !strchr("-_.!~*'()&=+$,;?/%", *p))
			return false;
	}

	memcpy(user, aor, ul);
	user[ul] = '\0';

	/* an IPv6 address without its brackets, as in the AORs of
	   requests (libre gives a URI's IPv6 host without them) */
	p = at + 1;
	ul = strlen(p);
	if (*p == '[' && ul > 2 && p[ul - 1] == ']') {
		++p;
		ul -= 2;
	}

	for (i = 0; i < ul; p++, i++) {
		if (!isalnum((unsigned char)*p) && !strchr("-.:", *p))
			return false;
		domain[i] = (char)tolower((unsigned char)*p);
	}
	domain[i] = '\0';

	return true;
}


/**
 * Check whether the configuration serves a domain
 *
 * @param domain Domain
 *
 * @return True if a "domain" line names it
 */
bool domain_configured(const char *domain)
{
	struct pl pl;

	pl_set_str(&pl, domain);

	return domain_is_served(&pl);
}


static int domain_name_handler(const struct config_line *line, void *arg)
{
	struct mbuf *mb = arg;

	return mbuf_printf(mb, "%s%s", mb->end ? ", " : "", line->val);
}


/**
 * Refuse an account of a domain the configuration does not serve: its
 * digest realm is its domain, and sipd challenges only for the domains
 * it serves, so nobody could ever authenticate as it
 *
 * @param where  What the message is about ("user add", "FILE:LINE")
 * @param domain Domain of the account (lower case)
 *
 * @return 0 if served, otherwise 1 (reported, with the domains served)
 */
int domain_refuse(const char *where, const char *domain)
{
	struct mbuf *mb;

	if (domain_configured(domain))
		return 0;

	mb = mbuf_alloc(128);
	if (!mb)
		return fail("out of memory");

	(void)config_apply("domain", domain_name_handler, mb);

	(void)fail("%s: %s is not a domain of %s (%s%b): nobody could"
		   " authenticate as that account; add 'domain %s' there,"
		   " or use --force", where, domain, ctl.conf,
		   mb->end ? "it serves " : "it has no 'domain' line",
		   mb->buf, mb->end, domain);

	mem_deref(mb);

	return 1;
}


/**
 * Check that an account exists
 *
 * @param cmd    The command, for the message ("reg list")
 * @param user   User part
 * @param domain Domain (lower case)
 *
 * @return 0 if it exists, otherwise 1 (reported: "no such user")
 */
int account_check(const char *cmd, const char *user, const char *domain)
{
	bool exists = false;
	int err;

	err = store_account_exists(user, domain, &exists);
	if (err)
		return fail("database: %m", err);

	if (!exists)
		return fail("%s: no such user %s@%s", cmd, user, domain);

	return 0;
}


/**
 * The database of the loaded configuration: its db line's path (made
 * absolute) or PostgreSQL connection URI, or the default path
 *
 * @param db   Buffer for it
 * @param size Its size
 *
 * @return 0 if success, otherwise errorcode
 */
int db_value(char *db, size_t size)
{
	const struct config_line *line = config_find("db");
	char cwd[256];

	if (!line) {
		str_ncpy(db, SIPD_DB_PATH, size);
	}
	else if (line->val[0] == '/' || db_is_uri(line->val)) {
		str_ncpy(db, line->val, size);
	}
	else {
		/* relative paths are relative to where sipd starts */
		if (!getcwd(cwd, sizeof(cwd)))
			return errno;
		re_snprintf(db, size, "%s/%s", cwd, line->val);
	}

	return 0;
}


static int read_config(void)
{
	const struct config_line *line;
	int err;

	err = config_load(ctl.conf);
	if (err)
		return err;

	if (config_errors())
		return EINVAL;

	(void)domain_config(true);

	line = config_find("control_socket");
	if (line && !str_casecmp(line->val, "off"))
		ctl.control_conf = NULL;
	else if (path_absolute(&ctl.control_conf, line ? line->val :
			       SIPD_CONTROL_PATH))
		return ENOMEM;

	err = db_value(ctl.db, sizeof(ctl.db));
	if (err)
		return err;

	return config_errors() ? EINVAL : 0;
}


/**
 * Open the database of the configuration
 *
 * @param create True to create it (and its directory) when missing
 *
 * @return 0 if success, otherwise errorcode (reported)
 */
int db_use(bool create)
{
	return db_use_upgrade(create, false);
}


/**
 * Open the database, accepting an older schema to upgrade it
 *
 * @param create  True to create it (and its directory) when missing
 * @param upgrade True to accept an older schema
 *
 * @return 0 if success, otherwise errorcode (reported)
 */
int db_use_upgrade(bool create, bool upgrade)
{
	int err;

	if (db_is_uri(ctl.db)) {
		if (db_pg_use(ctl.db, create, upgrade, false))
			return 1;
		(void)store_lock_wait(BUSY_TIMEOUT_MS);
		return 0;
	}

	/* the problems of the path are those of the db line */
	if (create) {
		err = path_mkdir(ctl.db, 0750);
		if (err) {
			(void)db_key_fail("cannot create the directory of %s:"
					  " %m", ctl.db, err);
			return 1;
		}
	}
	else if (db_dir_check(ctl.db, "run 'sipctl db init' to create it"
			      " and the database")) {
		return 1;
	}
	else if (access(ctl.db, F_OK)) {
		(void)db_key_fail("no database %s (start sipd once, or run"
				  " 'sipctl db init')", ctl.db);
		return 1;
	}

	err = db_open(ctl.db, create, upgrade);
	if (err)
		return 1;

	(void)store_lock_wait(BUSY_TIMEOUT_MS);

	return 0;
}


/**
 * The control socket of the running sipd
 *
 * @return Its path, NULL when the configuration turns it off
 */
const char *control_path(void)
{
	return ctl.control ? ctl.control : ctl.control_conf;
}


static bool is_control_command(const char *cmd)
{
	return !strcmp(cmd, "status") || !strcmp(cmd, "ban") ||
		!strcmp(cmd, "reload") || !strcmp(cmd, "avail") ||
		!strcmp(cmd, "pool");
}


static int control_command(int argc, char *argv[])
{
	if (ctl.control)
		return cmd_control(ctl.control, argc, argv);

	if (!ctl.control_conf) {
		(void)fail("the control socket is off in %s (control_socket"
			   " off): sipd cannot be reached", ctl.conf);
		return EXIT_UNREACHABLE;
	}

	return cmd_control(ctl.control_conf, argc, argv);
}


int main(int argc, char *argv[])
{
	static const struct option options[] = {
		{"control", required_argument, NULL, 'c'},
		{"help",    no_argument,       NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	int c, ret;

	ctl.conf = getenv("SIPD_CONF");
	if (!ctl.conf || !*ctl.conf)
		ctl.conf = SIPD_CONF_PATH;

	while ((c = getopt_long(argc, argv, "+f:c:h", options, NULL)) != -1) {
		switch (c) {

		case 'f':
			ctl.conf = optarg;
			break;

		case 'c':
			ctl.control = optarg;
			break;

		case 'h':
			usage();
			return 0;

		default:
			usage();
			return EXIT_USAGE;
		}
	}

	argc -= optind;
	argv += optind;

	if (argc < 1) {
		usage();
		return EXIT_USAGE;
	}

	if (libre_init())
		return fail("libre_init failed");

	log_set_ident("sipctl");
	log_set_level(LOG_LEVEL_WARNING);

	/* with --control, the daemon's commands need no configuration */
	if (is_control_command(argv[0]) && ctl.control) {
		ret = control_command(argc, argv);
		goto out;
	}

	/* a copy reads two configurations of its own */
	if (argc >= 2 && !strcmp(argv[0], "db") && !strcmp(argv[1], "copy")) {
		ret = cmd_db_copy(argc - 2, argv + 2);
		goto out;
	}

	if (read_config()) {
		ret = 1;
		goto out;
	}

	if (is_control_command(argv[0]))
		ret = control_command(argc, argv);
	else if (!strcmp(argv[0], "user"))
		ret = cmd_user(argc - 1, argv + 1);
	else if (!strcmp(argv[0], "forward"))
		ret = cmd_forward(argc - 1, argv + 1);
	else if (!strcmp(argv[0], "reg"))
		ret = cmd_reg(argc - 1, argv + 1);
	else if (!strcmp(argv[0], "presence"))
		ret = cmd_presence(argc - 1, argv + 1);
	else if (!strcmp(argv[0], "sub") || !strcmp(argv[0], "pub"))
		ret = cmd_subpub(argv[0], argc - 1, argv + 1);
	else if (!strcmp(argv[0], "db"))
		ret = cmd_db(argc - 1, argv + 1);
	else {
		(void)fail("unknown command '%s'", argv[0]);
		usage();
		ret = EXIT_USAGE;
	}

 out:
	db_close();
	domain_close();
	config_unload();
	ctl.control_conf = mem_deref(ctl.control_conf);
	libre_close();

	return ret;
}
