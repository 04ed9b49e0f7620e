/**
 * @file dbcopy.c  sipctl db copy: an SQLite installation into PostgreSQL
 *
 * sipctl db copy [--force] FROM-CONF TO-CONF reads the database of
 * FROM-CONF (an SQLite file) and writes its accounts (with their HA1s and
 * busy limits), bindings, forwarding rules, presence rules, publications
 * and subscriptions into the database of TO-CONF (PostgreSQL, its schema
 * created when missing), in one transaction: all of it or nothing. The
 * presence documents last composed are not copied (sipd composes them
 * again from the publications). A target with rows is refused unless
 * --force, which adds to it (accounts, forwards and rules of the same
 * key replaced; a clash of another row fails the whole copy).
 *
 * Both engines are open at once: lib/db holds one SQLite and one
 * PostgreSQL connection, and store_engine_set() says which one the
 * store's calls go to.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <re.h>
#include "core.h"
#include <db/db.h>
#include <store/store.h>
#include "sipctl.h"


/** What is copied, read from the source */
struct copy {
	struct list accounts;      /* struct store_account            */
	struct list bindings;      /* struct binding, by AOR          */
	struct list fwds;          /* struct store_forward            */
	struct list rules;         /* struct store_rule               */
	struct list pubs;          /* struct store_pub                */
	struct list subs;          /* struct store_sub                */
};


static void copy_flush(struct copy *c)
{
	list_flush(&c->accounts);
	list_flush(&c->bindings);
	list_flush(&c->fwds);
	list_flush(&c->rules);
	list_flush(&c->pubs);
	list_flush(&c->subs);
}


/* The db value of a configuration file (loaded, and left loaded so that
   problems name its db line) */
static int conf_db(const char *conf, char *db, size_t size)
{
	config_unload();

	if (config_load(conf) || config_errors())
		return fail("%s: cannot read the configuration", conf);

	return db_value(db, size);
}


static int read_source(struct copy *c)
{
	int err;

	err = store_account_list(&c->accounts, 0);
	if (!err)
		err = store_binding_list(&c->bindings, NULL, 0);
	if (!err)
		err = store_forward_list(&c->fwds, NULL);
	if (!err)
		err = store_rule_list(&c->rules, NULL);
	if (!err)
		err = store_pub_list(&c->pubs, NULL, 0, false);
	if (!err)
		err = store_sub_list(&c->subs, NULL, 0, false);

	return err;
}


/* The HA1s are not in a listing: read each */
static int read_ha1s(struct copy *c)
{
	struct le *le;

	for (le = c->accounts.head; le; le = le->next) {
		struct store_account *a = le->data;
		size_t len = sizeof(a->ha1_md5);
		int err;

		err = store_account_ha1(a->user, a->domain, DIGEST_MD5,
					a->ha1_md5, &len);
		len = sizeof(a->ha1_sha256);
		if (!err)
			err = store_account_ha1(a->user, a->domain,
						DIGEST_SHA256, a->ha1_sha256,
						&len);
		if (err)
			return err;
	}

	return 0;
}


/* Rows in the target already, as a phrase ("" for none) */
static int target_rows(char *buf, size_t size)
{
	struct copy t;
	uint64_t nb = 0, np = 0;
	int err;

	memset(&t, 0, sizeof(t));

	err = store_account_list(&t.accounts, 0);
	if (!err)
		err = store_binding_count(&nb, 0);
	if (!err)
		err = store_forward_list(&t.fwds, NULL);
	if (!err)
		err = store_rule_list(&t.rules, NULL);
	if (!err)
		err = store_pub_count(&np, 0);
	if (!err)
		err = store_sub_list(&t.subs, NULL, 0, false);

	buf[0] = '\0';
	if (!err && (list_count(&t.accounts) || nb || list_count(&t.fwds) ||
		     list_count(&t.rules) || np || list_count(&t.subs)))
		(void)re_snprintf(buf, size, "%u accounts, %llu bindings,"
				  " %u forwards, %u presence rules, %llu"
				  " publications, %u subscriptions",
				  list_count(&t.accounts),
				  (unsigned long long)nb, list_count(&t.fwds),
				  list_count(&t.rules),
				  (unsigned long long)np, list_count(&t.subs));

	copy_flush(&t);

	return err;
}


/* The bindings of one AOR at a time, as one registration */
static int write_bindings(struct list *bindings)
{
	while (bindings->head) {
		struct binding *first = bindings->head->data;
		struct list one = LIST_INIT;
		struct le *le;
		int err;

		while ((le = bindings->head)) {
			struct binding *b = le->data;

			if (strcmp(b->aor, first->aor))
				break;
			list_unlink(le);
			b->id = 0;
			list_append(&one, le, b);
		}

		err = store_binding_save(first->aor, &one, NULL);
		list_flush(&one);
		if (err)
			return err;
	}

	return 0;
}


static int write_target(struct copy *c)
{
	struct le *le;
	int err;

	err = store_account_import(&c->accounts);
	for (le = c->accounts.head; le && !err; le = le->next) {
		const struct store_account *a = le->data;

		if (a->busy_limit)
			err = store_account_busy_limit_set(a->user, a->domain,
							   a->busy_limit);
	}

	for (le = c->fwds.head; le && !err; le = le->next) {
		const struct store_forward *f = le->data;

		err = store_forward_set(f->aor, f->kind, f->target, f->after);
	}

	for (le = c->rules.head; le && !err; le = le->next) {
		const struct store_rule *r = le->data;

		err = store_rule_set(r->presentity, r->watcher, r->rule,
				     time_now());
	}

	for (le = c->pubs.head; le && !err; le = le->next) {
		const struct store_pub *p = le->data;
		struct pl body;
		int64_t id;

		pl_set_str(&body, p->body ? p->body : "");
		err = store_pub_add(&id, p->presentity, p->etag, p->expires,
				    p->ctype ? p->ctype :
				    "application/pidf+xml", &body,
				    p->source ? p->source : "", p->updated);
	}

	for (le = c->subs.head; le && !err; le = le->next) {
		struct store_sub *s = le->data;

		s->id = 0;
		err = store_sub_save(s);
	}

	if (!err)
		err = write_bindings(&c->bindings);

	return err;
}


static int copy_run(bool force)
{
	struct copy c;
	char rows[256];
	unsigned na, nb, nf, nr, np, ns;
	int err;

	memset(&c, 0, sizeof(c));

	store_engine_set(&store_sqlite);
	err = read_source(&c);
	if (!err)
		err = read_ha1s(&c);
	if (err) {
		copy_flush(&c);
		return fail("db copy: cannot read the source: %m", err);
	}

	na = list_count(&c.accounts);
	nb = list_count(&c.bindings);
	nf = list_count(&c.fwds);
	nr = list_count(&c.rules);
	np = list_count(&c.pubs);
	ns = list_count(&c.subs);

	store_engine_set(&store_pg);

	err = target_rows(rows, sizeof(rows));
	if (!err && rows[0] && !force) {
		copy_flush(&c);
		return fail("db copy: the target database is not empty (%s):"
			    " --force adds to it", rows);
	}

	if (!err)
		err = store_begin();
	if (!err) {
		err = write_target(&c);
		if (err)
			store_rollback();
		else
			err = store_commit();
	}

	copy_flush(&c);

	if (err)
		return fail("db copy: nothing copied: %m (%s)", err,
			    store_pg_errmsg());

	(void)printf("copied %u accounts, %u bindings, %u forwards,"
		     " %u presence rules, %u publications, %u subscriptions\n",
		     na, nb, nf, nr, np, ns);

	return 0;
}


/**
 * sipctl db copy [--force] FROM-CONF TO-CONF
 *
 * @param argc Argument count after "copy"
 * @param argv Arguments after "copy"
 *
 * @return Exit status
 */
int cmd_db_copy(int argc, char *argv[])
{
	char from[512], to[512];
	bool force = false;

	if (argc > 0 && !strcmp(argv[0], "--force")) {
		force = true;
		--argc;
		++argv;
	}

	if (argc != 2) {
		(void)fail("usage: sipctl db copy [--force] FROM-CONF"
			   " TO-CONF");
		return EXIT_USAGE;
	}

	/* the source: an SQLite file of the current schema */
	if (conf_db(argv[0], from, sizeof(from)))
		return 1;
	if (db_is_uri(from))
		return db_key_fail("the source of a copy must be an SQLite"
				   " database"), 1;
	if (access(from, F_OK))
		return db_key_fail("no database %s", from), 1;
	if (db_open(from, false, false))
		return 1;

	/* the target: PostgreSQL, its schema made when missing */
	if (conf_db(argv[1], to, sizeof(to)))
		return 1;
	if (!db_is_uri(to))
		return db_key_fail("the target of a copy must be a PostgreSQL"
				   " connection URI"), 1;
	if (db_pg_use(to, true, false, false))
		return 1;

	return copy_run(force) ? 1 : 0;
}
