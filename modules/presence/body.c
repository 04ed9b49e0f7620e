/**
 * @file body.c  What a NOTIFY says: the document of each package
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <sqlite3.h>
#include <re.h>
#include <sipd.h>
#include "presence.h"


struct presence_conf presence_conf = {
	.min_expires        = 60,
	.max_expires        = 3600,
	.default_expires    = 3600,
	.policy             = POLICY_SAME_DOMAIN,
	.max_per_watcher    = 100,
	.max_per_presentity = 1000,
	.notify_interval    = 1000,
	.notify_retries     = 3,
};


static const struct {
	const char *name;
	const char *ctype;
} pkgs[PKG_COUNT] = {
	{"presence",       "application/pidf+xml"},
	{"dialog",         "application/dialog-info+xml"},
	{"reg",            "application/reginfo+xml"},
	{"presence.winfo", "application/watcherinfo+xml"},
};


/** A binding that just went away, for the next reginfo document */
static struct {
	struct binding *b;
	const char *event;
	uint64_t when;
} gone;



const char *pkg_name(enum pkg pkg)
{
	return pkg < PKG_COUNT ? pkgs[pkg].name : "?";
}


const char *pkg_ctype(enum pkg pkg)
{
	return pkg < PKG_COUNT ? pkgs[pkg].ctype : "";
}


static void state_store(const char *presentity, const char *pidf,
			const char *sources)
{
	static struct db_stmt st = {
		.sql = "INSERT INTO presence_state (presentity, pidf, sources,"
		       " updated) VALUES (?1, ?2, ?3, ?4)"
		       " ON CONFLICT (presentity) DO UPDATE SET"
		       " pidf = excluded.pidf, sources = excluded.sources,"
		       " updated = excluded.updated"
	};
	sqlite3_stmt *stmt = db_stmt(&st);

	if (!stmt)
		return;

	sqlite3_bind_text(stmt, 1, presentity, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, pidf, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, sources, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, time_now());
	(void)sqlite3_step(stmt);
	sqlite3_reset(stmt);
}


/**
 * Compose the PIDF of a presentity from its publications, bindings and
 * calls, and remember it for sipctl presence show
 *
 * @param docp       Pointer to the allocated document
 * @param presentity user@domain
 *
 * @return 0 if success, otherwise errorcode
 */
int presence_compose(char **docp, const char *presentity)
{
	struct list bodies = LIST_INIT, bindings = LIST_INIT;
	bool busy = callstate_busy(presentity);
	char sources[128];
	int err;

	err = publish_bodies(&bodies, presentity);
	if (err)
		goto out;

	err = location_lookup(&bindings, presentity);
	if (err)
		goto out;

	err = pidf_compose(docp, presentity, &bodies,
			   !list_isempty(&bindings), busy);
	if (err)
		goto out;

	re_snprintf(sources, sizeof(sources), "publications=%u bindings=%u"
		    " on-the-phone=%s", list_count(&bodies),
		    list_count(&bindings), busy ? "yes" : "no");
	state_store(presentity, *docp, sources);

 out:
	list_flush(&bodies);
	list_flush(&bindings);

	return err;
}


/**
 * The body of the next NOTIFY of a subscription
 *
 * @param mb  Buffer to print to
 * @param sub Subscription (its version grows)
 *
 * @return 0 if success, otherwise errorcode
 */
int notify_body(struct mbuf *mb, struct sub *sub)
{
	char *doc = NULL;
	int err;

	switch (sub->pkg) {

	case PKG_PRESENCE:
		err = presence_compose(&doc, sub->presentity);
		if (!err)
			err = mbuf_write_str(mb, doc);
		mem_deref(doc);
		return err;

	case PKG_DIALOG:
		++sub->version;
		return dialoginfo_print(mb, sub->presentity, sub->version);

	case PKG_REG:
		++sub->version;
		return reginfo_print(mb, sub->presentity, sub->version,
				     gone.b && tmr_jiffies() - gone.when <
				     2000 && !strcmp(gone.b->aor,
						     sub->presentity) ?
				     gone.b : NULL, gone.event);

	case PKG_WINFO:
		++sub->version;
		return winfo_print(mb, sub->presentity, sub->version);

	default:
		return EINVAL;
	}
}


/**
 * Remember a binding that went away, for the reginfo document that
 * reports it
 *
 * @param b     The binding
 * @param event "expired" or "unregistered"
 */
void body_binding_gone(const struct binding *b, const char *event)
{
	gone.b = mem_deref(gone.b);
	(void)binding_dup(&gone.b, b);
	gone.event = event;
	gone.when = tmr_jiffies();
}


void body_close(void)
{
	gone.b = mem_deref(gone.b);
}
