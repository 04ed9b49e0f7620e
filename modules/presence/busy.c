/**
 * @file busy.c  Has a user published busy? The presence role's answer
 *               to the availability service (lib/avail)
 *
 * Only what the user's agents published counts (the publications in the
 * store), not the composed state: the composed state adds the calls the
 * proxy saw, which the availability service counts itself.
 *
 * A user has published busy when one of its publications says:
 *
 * - an RPID activity busy or on-the-phone (<rpid:activities><rpid:busy/>,
 *   as Linphone publishes Busy and Do not disturb, and as baresip reads
 *   a watched contact's busy); on-the-phone counts: the agent says its
 *   user talks, maybe through another service;
 * - do not disturb: an activity <rpid:other> or a note (<note>,
 *   <dm:note>, <rpid:note>) that says "dnd" or "do not disturb";
 * - an older RPID form, <activity>busy</activity> in any namespace;
 *
 * or when every tuple of its publications is closed (<basic>closed,
 * as baresip publishes "presence closed"). One open tuple anywhere
 * (another device) and no busy activity: not busy.
 *
 * Asked on every call to a user, so the answer is kept per user, at most
 * CACHE_MAX users (the oldest go), until a publication of the user
 * expires or changes. Worker 0 handles every PUBLISH and expiry and is
 * told (publish.c: busy_invalidate); any worker also checks the store's
 * data version (store_version(), one cheap read once the database was
 * written): when it moved, the user's publications are listed again,
 * and parsed again only if their ids or entity tags changed (a PUBLISH
 * gives a new tag each time).
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <strings.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <re.h>
#include <sipd.h>
#include <store/store.h>
#include <avail/avail.h>
#include "presence.h"


#define NS_PIDF  "urn:ietf:params:xml:ns:pidf"
#define NS_DM    "urn:ietf:params:xml:ns:pidf:data-model"
#define NS_RPID  "urn:ietf:params:xml:ns:pidf:rpid"

enum {
	HASH_SIZE = 256,
	CACHE_MAX = 10000,
};


/** What the publications of a user said */
struct busy_scan {
	bool busy;             /* a busy activity or a dnd note */
	uint32_t tuples;
	uint32_t open;
};

/** The answer for a user, until its publications change */
struct answer {
	struct le he;
	struct le le;
	char *aor;
	bool published;
	bool busy;
	int64_t until;         /* the first publication expires */
	uint64_t version;      /* store_version() when read     */
	bool versioned;        /* version known                 */
	uint32_t print;        /* ids and tags of its publications */
};


static struct {
	struct hash *ht;
	struct list order;
	uint32_t count;
} cache;


static bool el_is(const xmlNode *n, const char *name, const char *ns)
{
	return n && n->type == XML_ELEMENT_NODE &&
		!xmlStrcmp(n->name, (const xmlChar *)name) &&
		(!ns || (n->ns && !xmlStrcmp(n->ns->href,
					     (const xmlChar *)ns)));
}


/* The text of an element, its blanks trimmed, is one of the words */
static bool text_is(xmlNode *n, const char *const *words)
{
	xmlChar *c = xmlNodeGetContent(n);
	struct pl pl;
	bool found = false;
	size_t i;

	if (!c)
		return false;

	pl_set_str(&pl, (const char *)c);
	while (pl.l && strchr(" \t\r\n", pl.p[0]))
		pl_advance(&pl, 1);
	while (pl.l && strchr(" \t\r\n", pl.p[pl.l - 1]))
		--pl.l;

	for (i = 0; words[i] && !found; i++)
		found = !pl_strcasecmp(&pl, words[i]);

	xmlFree(c);

	return found;
}


static const char *const dnd_words[] = {
	"dnd", "do not disturb", "do-not-disturb", NULL
};

static const char *const busy_words[] = {
	"busy", "on-the-phone", "dnd", "do not disturb", NULL
};


static bool activity_busy(xmlNode *n)
{
	if (el_is(n, "busy", NS_RPID) || el_is(n, "on-the-phone", NS_RPID))
		return true;

	return el_is(n, "other", NS_RPID) && text_is(n, dnd_words);
}


static void scan_tuple(struct busy_scan *bs, xmlNode *tuple)
{
	xmlNode *s, *b;

	++bs->tuples;

	for (s = tuple->children; s; s = s->next) {
		if (!el_is(s, "status", NS_PIDF))
			continue;

		for (b = s->children; b; b = b->next) {
			static const char *const open[] = {"open", NULL};

			if (el_is(b, "basic", NS_PIDF) && text_is(b, open)) {
				++bs->open;
				return;
			}
		}
	}
}


/* Every element below n: activities, notes */
static void scan_tree(struct busy_scan *bs, xmlNode *n, uint32_t depth)
{
	xmlNode *c;

	if (depth > 32)
		return;

	for (; n && !bs->busy; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;

		if (el_is(n, "activities", NS_RPID)) {
			for (c = n->children; c && !bs->busy; c = c->next)
				bs->busy = activity_busy(c);
		}
		else if ((el_is(n, "note", NS_PIDF) ||
			  el_is(n, "note", NS_DM) ||
			  el_is(n, "note", NS_RPID)) &&
			 text_is(n, dnd_words)) {
			bs->busy = true;
		}
		else if (el_is(n, "activity", NULL) &&
			 text_is(n, busy_words)) {
			bs->busy = true;
		}

		scan_tree(bs, n->children, depth + 1);
	}
}


static void scan_body(struct busy_scan *bs, const struct pl *body)
{
	xmlDocPtr doc;
	xmlNode *root, *n;

	if (!body->l)
		return;

	doc = xmlReadMemory(body->p, (int)body->l, NULL, NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR |
			    XML_PARSE_NOWARNING);
	if (!doc)
		return;

	root = xmlDocGetRootElement(doc);
	if (el_is(root, "presence", NS_PIDF)) {
		for (n = root->children; n; n = n->next) {
			if (el_is(n, "tuple", NS_PIDF))
				scan_tuple(bs, n);
		}

		scan_tree(bs, root->children, 0);
	}

	xmlFreeDoc(doc);
}


/**
 * Do these publications of a user say busy?
 *
 * @param bodies Its published PIDF bodies (struct pub_body)
 *
 * @return True if one says busy or dnd, or every tuple is closed
 */
bool busy_decide(const struct list *bodies)
{
	struct busy_scan bs = {false, 0, 0};
	struct le *le;

	for (le = bodies ? bodies->head : NULL; le && !bs.busy;
	     le = le->next) {
		const struct pub_body *pb = le->data;

		scan_body(&bs, &pb->pl);
	}

	return bs.busy || (bs.tuples && !bs.open);
}


static void answer_destructor(void *arg)
{
	struct answer *a = arg;

	hash_unlink(&a->he);
	list_unlink(&a->le);
	mem_deref(a->aor);
	--cache.count;
}


static bool answer_cmp(struct le *le, void *arg)
{
	const struct answer *a = le->data;

	return !strcmp(a->aor, arg);
}


static struct answer *answer_find(const char *aor)
{
	if (!cache.ht)
		return NULL;

	return list_ledata(hash_lookup(cache.ht, hash_joaat_str(aor),
				       answer_cmp, (void *)aor));
}


/* The ids and entity tags of the publications, hashed */
static uint32_t fingerprint(const struct list *pubs)
{
	uint32_t h = 0;
	struct le *le;

	for (le = pubs->head; le; le = le->next) {
		const struct store_pub *p = le->data;

		h = h * 31 + (uint32_t)p->id;
		h = h * 31 + hash_joaat_str(p->etag ? p->etag : "");
	}

	return h;
}


/* Read the publications of a user, and decide if they changed */
static int answer_read(struct answer *a, bool fresh, int64_t now)
{
	struct list pubs = LIST_INIT, bodies = LIST_INIT;
	uint32_t print;
	struct le *le;
	int err;

	a->versioned = !store_version(&a->version);

	err = store_pub_list(&pubs, a->aor, now, true);
	if (err)
		goto out;

	a->until = INT64_MAX;
	for (le = pubs.head; le; le = le->next) {
		const struct store_pub *p = le->data;

		if (p->expires < a->until)
			a->until = p->expires;
	}

	print = fingerprint(&pubs);
	if (!fresh && print == a->print)
		goto out;                /* the same publications */

	for (le = pubs.head; le; le = le->next) {
		struct store_pub *p = le->data;
		struct pub_body *pb = mem_zalloc(sizeof(*pb), NULL);

		if (!pb) {
			err = ENOMEM;
			goto out;
		}

		pl_set_str(&pb->pl, p->body ? p->body : "");
		list_append(&bodies, &pb->le, pb);
	}

	a->print = print;
	a->published = !list_isempty(&pubs);
	a->busy = busy_decide(&bodies);

 out:
	list_flush(&bodies);
	list_flush(&pubs);

	return err;
}


/* Has something been committed since the answer was read? */
static bool moved(const struct answer *a)
{
	uint64_t version;

	if (!a->versioned || store_version(&version))
		return true;

	return version != a->version;
}


static int presence_busy(bool *busy, const char *aor)
{
	int64_t now = time_now();
	struct answer *a;
	int err;

	if (!busy || !aor || !*aor)
		return EINVAL;

	a = answer_find(aor);
	if (a && now >= a->until)
		a = mem_deref(a);

	if (a && moved(a)) {
		err = answer_read(a, false, now);
		if (err) {
			mem_deref(a);
			return err;
		}
	}
	else if (!a) {
		if (!cache.ht && hash_alloc(&cache.ht, HASH_SIZE))
			return ENOMEM;

		if (cache.count >= CACHE_MAX && cache.order.head)
			mem_deref(cache.order.head->data);

		a = mem_zalloc(sizeof(*a), answer_destructor);
		if (!a)
			return ENOMEM;

		++cache.count;
		hash_append(cache.ht, hash_joaat_str(aor), &a->he, a);
		list_append(&cache.order, &a->le, a);

		err = str_dup(&a->aor, aor);
		if (!err)
			err = answer_read(a, true, now);
		if (err) {
			mem_deref(a);
			return err;
		}
	}

	if (!a->published)
		return ENOENT;

	*busy = a->busy;

	return 0;
}


static struct avail_source avail_src = {
	.name = "presence",
	.presence_busyh = presence_busy,
};


/**
 * Forget the answer for a user: its publications changed
 *
 * @param presentity user@domain
 */
void busy_invalidate(const char *presentity)
{
	if (presentity)
		mem_deref(answer_find(presentity));
}


/**
 * Answer the availability service (the role starts)
 */
void busy_init(void)
{
	avail_register(&avail_src);
}


void busy_close(void)
{
	avail_unregister(&avail_src);
	hash_flush(cache.ht);
	cache.ht = mem_deref(cache.ht);
	list_init(&cache.order);
	cache.count = 0;
}
