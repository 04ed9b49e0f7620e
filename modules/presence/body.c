/**
 * @file body.c  What a NOTIFY says: the document of each package
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include <sipd.h>
#include <store/store.h>
#include "presence.h"


/** Bindings that went away lately, for the reginfo documents that
    report them: each reg subscription reports those that went since
    its previous NOTIFY */
static struct list gonel;

enum {
	GONE_MAX = 1024,
};


static void gone_destructor(void *arg)
{
	struct reg_gone *g = arg;

	list_unlink(&g->le);
	mem_deref(g->b);
}


/* Forget what every subscription had the time to hear */
static void gone_prune(void)
{
	uint64_t keep = 2 * (uint64_t)presence_conf.notify_interval + 10000;
	uint64_t now = tmr_jiffies();

	while (gonel.head) {
		struct reg_gone *g = gonel.head->data;

		if (now - g->when <= keep && list_count(&gonel) <= GONE_MAX)
			break;

		mem_deref(g);
	}
}


static void state_store(const char *presentity, const char *pidf,
			const char *sources)
{
	(void)store_pstate_save(presentity, pidf, sources, time_now());
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


/** The composed PIDF of a presentity, until it changes */
struct cached_doc {
	struct le he;
	struct le le;
	char *presentity;
	char *doc;
};

enum {
	DOC_HASH_SIZE = 1024,
	DOC_MAX = 10000,
};

static struct {
	struct hash *ht;
	struct list order;
	uint32_t count;
} docs;


static void cached_destructor(void *arg)
{
	struct cached_doc *cd = arg;

	hash_unlink(&cd->he);
	list_unlink(&cd->le);
	mem_deref(cd->presentity);
	mem_deref(cd->doc);
	--docs.count;
}


static bool cached_cmp(struct le *le, void *arg)
{
	const struct cached_doc *cd = le->data;

	return !strcmp(cd->presentity, arg);
}


static struct cached_doc *cached_find(const char *presentity)
{
	if (!docs.ht)
		return NULL;

	return list_ledata(hash_lookup(docs.ht, hash_joaat_str(presentity),
				       cached_cmp, (void *)presentity));
}


static int doc_get(const char **docp, const char *presentity)
{
	struct cached_doc *cd = cached_find(presentity);
	int err;

	if (cd) {
		*docp = cd->doc;
		return 0;
	}

	if (!docs.ht && hash_alloc(&docs.ht, DOC_HASH_SIZE))
		return ENOMEM;

	if (docs.count >= DOC_MAX && docs.order.head)
		mem_deref(docs.order.head->data);

	cd = mem_zalloc(sizeof(*cd), cached_destructor);
	if (!cd)
		return ENOMEM;

	++docs.count;
	hash_append(docs.ht, hash_joaat_str(presentity), &cd->he, cd);
	list_append(&docs.order, &cd->le, cd);

	err  = str_dup(&cd->presentity, presentity);
	err |= presence_compose(&cd->doc, presentity);
	if (err) {
		mem_deref(cd);
		return err;
	}

	*docp = cd->doc;

	return 0;
}


/**
 * Forget the composed document of a presentity: its state changed
 *
 * @param presentity user@domain
 */
void body_invalidate(const char *presentity)
{
	mem_deref(cached_find(presentity));
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
	const char *doc = NULL;
	int err;

	switch (sub->pkg) {

	case PKG_PRESENCE:
		/* composed once a change, for all the watchers */
		err = doc_get(&doc, sub->presentity);
		if (!err)
			err = mbuf_write_str(mb, doc);
		return err;

	case PKG_DIALOG:
		++sub->version;
		return dialoginfo_print(mb, sub->presentity, sub->version);

	case PKG_REG: {
		struct list gone = LIST_INIT;
		struct le *le;
		int e;

		gone_prune();

		/* the bindings that went since its previous NOTIFY */
		for (le = gonel.head; le; le = le->next) {
			struct reg_gone *g = le->data;
			struct reg_gone *c;

			if (strcmp(g->b->aor, sub->presentity) ||
			    g->when < sub->last_notify)
				continue;

			c = mem_zalloc(sizeof(*c), NULL);
			if (!c)
				break;
			c->b = g->b;      /* borrowed */
			c->event = g->event;
			list_append(&gone, &c->le, c);
		}

		++sub->version;
		e = reginfo_print(mb, sub->presentity, sub->version, &gone,
				  &sub->reg_active);
		list_flush(&gone);
		return e;
	}

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
	struct reg_gone *g = mem_zalloc(sizeof(*g), gone_destructor);

	if (!g)
		return;

	if (binding_dup(&g->b, b)) {
		mem_deref(g);
		return;
	}

	g->event = event;
	g->when = tmr_jiffies();
	list_append(&gonel, &g->le, g);

	gone_prune();
}


void body_close(void)
{
	list_flush(&gonel);
	hash_flush(docs.ht);
	docs.ht = mem_deref(docs.ht);
	list_init(&docs.order);
	docs.count = 0;
}
