/**
 * @file groups.c  Ring groups of the configuration
 *
 *   group NUMBER@DOMAIN parallel|sequential [--ring SECONDS] MEMBER...
 *
 * A call to the group's address rings its members' phones: all at once
 * (parallel), or one member after the other, each for --ring seconds
 * (sequential, default 20). A MEMBER is USER@DOMAIN, sip:USER@DOMAIN or
 * USER (in the group's domain). Members are users, not groups: a group
 * inside a group (itself or another) is refused, so a call never loops
 * through groups. A parallel group with --ring gives up after that long.
 *
 * Groups live in the configuration, beside the routes and numbers they
 * complete, so that "sipd -t" checks them and a reload changes them at
 * once.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <ctype.h>
#include <re.h>
#include "engine.h"


enum {
	RING_DEFAULT = 20,     /* s, sequential */
	RING_MAX = 600,
	MEMBERS_MAX = 32,
};


static struct list groups;     /* struct ring_group */


static void group_destructor(void *arg)
{
	struct ring_group *g = arg;
	uint32_t i;

	list_unlink(&g->le);
	mem_deref(g->aor);
	for (i = 0; i < g->memberc; i++)
		mem_deref(g->members[i]);
}


/* USER@DOMAIN, sip:USER@DOMAIN or USER (in the group's domain) */
static int member_aor(char **aorp, const struct pl *tok,
		      const struct pl *domain)
{
	struct pl pl = *tok;
	struct uri uri;
	char buf[256];

	if (pl.l > 4 && !strncasecmp(pl.p, "sip:", 4)) {
		if (uri_decode(&uri, &pl) || !pl_isset(&uri.user))
			return EINVAL;
		if (msg_aor(buf, sizeof(buf), &uri))
			return EINVAL;
		return str_dup(aorp, buf);
	}

	if (pl_strchr(&pl, '@'))
		return re_sdprintf(aorp, "%r", &pl);

	return re_sdprintf(aorp, "%r@%r", &pl, domain);
}


static bool member_is_group(const struct list *l, const char *aor)
{
	struct le *le;

	for (le = l->head; le; le = le->next) {
		const struct ring_group *g = le->data;

		if (!str_casecmp(g->aor, aor))
			return true;
	}

	return false;
}


static int group_handler(const struct config_line *line, void *arg)
{
	struct list *fresh = arg;
	struct ring_group *g;
	struct pl rest, tok, user, domain;
	bool have_mode = false;
	int err = 0;

	g = mem_zalloc(sizeof(*g), group_destructor);
	if (!g)
		return ENOMEM;

	pl_set_str(&rest, line->val);

	if (re_regex(rest.p, rest.l, "[^ \t]+[ \t]*[^]*", &tok, NULL,
		     &rest) ||
	    re_regex(tok.p, tok.l, "[^@]+@[^]+", &user, &domain)) {
		err = config_fail(line, "expected NUMBER@DOMAIN parallel|"
				  "sequential [--ring SECONDS] MEMBER...");
		goto out;
	}

	if (!domain_listed(&domain)) {
		err = config_fail(line, "%r is not a served domain", &domain);
		goto out;
	}

	err = pl_strdup(&g->aor, &tok);
	if (err)
		goto out;

	g->line = line;

	if (member_is_group(fresh, g->aor)) {
		err = config_fail(line, "group %s is already defined",
				  g->aor);
		goto out;
	}

	while (rest.l) {
		if (re_regex(rest.p, rest.l, "[^ \t]+[ \t]*[^]*", &tok, NULL,
			     &rest))
			break;

		if (!have_mode) {
			if (!pl_strcmp(&tok, "parallel")) {
				g->sequential = false;
			}
			else if (!pl_strcmp(&tok, "sequential")) {
				g->sequential = true;
				g->ring = RING_DEFAULT;
			}
			else {
				err = config_fail(line, "'%r' is not parallel"
						  " or sequential", &tok);
				goto out;
			}
			have_mode = true;
			continue;
		}

		if (!pl_strcmp(&tok, "--ring")) {
			struct pl secs;
			uint32_t i;
			bool digits = true;

			if (re_regex(rest.p, rest.l, "[^ \t]+[ \t]*[^]*",
				     &secs, NULL, &rest))
				secs.l = 0;
			for (i = 0; i < secs.l; i++) {
				if (!isdigit((unsigned char)secs.p[i]))
					digits = false;
			}
			if (!secs.l || !digits || secs.l > 4 ||
			    pl_u32(&secs) < 1 || pl_u32(&secs) > RING_MAX) {
				err = config_fail(line, "--ring needs SECONDS,"
						  " 1 to %u", RING_MAX);
				goto out;
			}
			g->ring = pl_u32(&secs);
			continue;
		}

		if (g->memberc >= MEMBERS_MAX) {
			err = config_fail(line, "more than %u members",
					  MEMBERS_MAX);
			goto out;
		}

		err = member_aor(&g->members[g->memberc], &tok, &domain);
		if (err == EINVAL) {
			err = config_fail(line, "member '%r' is not USER,"
					  " USER@DOMAIN or sip:USER@DOMAIN",
					  &tok);
			goto out;
		}
		if (err)
			goto out;

		if (!str_casecmp(g->members[g->memberc], g->aor)) {
			err = config_fail(line, "group %s cannot be a member"
					  " of itself", g->aor);
			mem_deref(g->members[g->memberc]);
			goto out;
		}

		++g->memberc;
	}

	if (!have_mode) {
		err = config_fail(line, "group %s: parallel or sequential"
				  " expected", g->aor);
		goto out;
	}

	if (!g->memberc) {
		err = config_fail(line, "group %s has no members", g->aor);
		goto out;
	}

	list_append(fresh, &g->le, g);

 out:
	if (err)
		mem_deref(g);

	return err;
}


/* A group that names another group: refused (groups do not nest) */
static int nesting_check(const struct list *fresh)
{
	struct le *le;
	uint32_t i;

	for (le = fresh->head; le; le = le->next) {
		const struct ring_group *g = le->data;

		for (i = 0; i < g->memberc; i++) {
			if (!member_is_group(fresh, g->members[i]))
				continue;

			return config_fail(g->line, "member %s is a group:"
					   " a group cannot contain a group",
					   g->members[i]);
		}
	}

	return 0;
}


/**
 * Read the "group" lines of the configuration
 *
 * @param apply True to use them from now on, false to check them
 *
 * @return 0 if success, otherwise errorcode (reported)
 */
int groups_config(bool apply)
{
	struct list fresh = LIST_INIT;
	int err;

	err = config_apply_words("group", group_handler, &fresh);
	if (!err)
		err = nesting_check(&fresh);

	if (!err && apply)
		reload_list(&groups, &fresh);

	list_flush(&fresh);

	return err ? EINVAL : 0;
}


void groups_close(void)
{
	list_flush(&groups);
}


/**
 * Find the ring group of an address
 *
 * @param aor user@domain
 *
 * @return The group, or NULL
 */
const struct ring_group *groups_find(const char *aor)
{
	struct le *le;

	for (le = groups.head; le; le = le->next) {
		const struct ring_group *g = le->data;

		if (!str_casecmp(g->aor, aor))
			return g;
	}

	return NULL;
}


/**
 * The ring groups, in file order
 *
 * @return List of struct ring_group
 */
const struct list *groups_list(void)
{
	return &groups;
}
