/**
 * @file pidf.c  PIDF documents (RFC 3863) with libxml2: check what is
 *               published, compose what is notified
 *
 * A presentity's state is composed from its publications (every tuple of
 * every device, and their person elements with RPID activities such as
 * away), from its registrations when nothing is published (a tuple open
 * while a binding exists, closed otherwise), and from its calls (the
 * activity on-the-phone while one is confirmed).
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <re.h>
#include <sipd.h>
#include "presence.h"


#define NS_PIDF  "urn:ietf:params:xml:ns:pidf"
#define NS_DM    "urn:ietf:params:xml:ns:pidf:data-model"
#define NS_RPID  "urn:ietf:params:xml:ns:pidf:rpid"

enum {
	PIDF_MAX = 32768,      /* under libre's 64 KiB TCP message limit */
};


static xmlDocPtr parse(const char *buf, size_t len)
{
	/* no network, no entity expansion, quiet */
	return xmlReadMemory(buf, (int)len, NULL, NULL,
			     XML_PARSE_NONET | XML_PARSE_NOERROR |
			     XML_PARSE_NOWARNING);
}


static bool is_el(const xmlNode *n, const char *name, const char *ns)
{
	return n && n->type == XML_ELEMENT_NODE &&
		!xmlStrcmp(n->name, (const xmlChar *)name) &&
		n->ns && !xmlStrcmp(n->ns->href, (const xmlChar *)ns);
}


/**
 * Check a published PIDF document: well-formed XML whose root is a PIDF
 * presence element
 *
 * @param body The body
 *
 * @return 0 if acceptable, EFBIG if too large, EBADMSG otherwise
 */
int pidf_check(const struct pl *body)
{
	xmlDocPtr doc;
	xmlNode *root;
	int err = 0;

	if (body->l > PIDF_MAX)
		return EFBIG;

	if (!body->l)
		return EBADMSG;

	doc = parse(body->p, body->l);
	if (!doc)
		return EBADMSG;

	/* PIDF has no DTD: one is at best useless, at worst an entity bomb */
	root = xmlDocGetRootElement(doc);
	if (doc->intSubset || doc->extSubset ||
	    !is_el(root, "presence", NS_PIDF))
		err = EBADMSG;

	xmlFreeDoc(doc);

	return err;
}


static xmlNode *find_person(xmlNode *root)
{
	xmlNode *n;

	for (n = root->children; n; n = n->next) {
		if (is_el(n, "person", NS_DM))
			return n;
	}

	return NULL;
}


static void add_on_the_phone(xmlDocPtr doc, xmlNode *root)
{
	xmlNsPtr dm, rpid;
	xmlNode *person, *acts = NULL, *n;

	person = find_person(root);
	if (!person) {
		dm = xmlNewNs(root, (const xmlChar *)NS_DM,
			      (const xmlChar *)"dm");
		person = xmlNewChild(root, dm, (const xmlChar *)"person",
				     NULL);
		xmlNewProp(person, (const xmlChar *)"id",
			   (const xmlChar *)"sipd-call");
	}

	rpid = xmlSearchNsByHref(doc, person, (const xmlChar *)NS_RPID);
	if (!rpid)
		rpid = xmlNewNs(root, (const xmlChar *)NS_RPID,
				(const xmlChar *)"rpid");

	for (n = person->children; n; n = n->next) {
		if (is_el(n, "activities", NS_RPID))
			acts = n;
	}

	if (!acts)
		acts = xmlNewChild(person, rpid,
				   (const xmlChar *)"activities", NULL);

	for (n = acts->children; n; n = n->next) {
		if (is_el(n, "on-the-phone", NS_RPID))
			return;
	}

	xmlNewChild(acts, rpid, (const xmlChar *)"on-the-phone", NULL);
}


static void add_reg_tuple(xmlNode *root, xmlNsPtr pidf, bool registered)
{
	xmlNode *tuple, *status;

	tuple = xmlNewChild(root, pidf, (const xmlChar *)"tuple", NULL);
	xmlNewProp(tuple, (const xmlChar *)"id", (const xmlChar *)"sipd-reg");
	status = xmlNewChild(tuple, pidf, (const xmlChar *)"status", NULL);
	xmlNewChild(status, pidf, (const xmlChar *)"basic",
		    (const xmlChar *)(registered ? "open" : "closed"));
}


/* Is there already a child of root with this element name and id? */
static bool has_id(xmlNode *root, const xmlNode *n)
{
	xmlChar *id = xmlGetProp((xmlNode *)n, (const xmlChar *)"id");
	xmlNode *c;
	bool found = false;

	if (!id)
		return false;

	for (c = root->children; c && !found; c = c->next) {
		xmlChar *cid;

		if (c->type != XML_ELEMENT_NODE ||
		    xmlStrcmp(c->name, n->name))
			continue;

		cid = xmlGetProp(c, (const xmlChar *)"id");
		found = cid && !xmlStrcmp(cid, id);
		xmlFree(cid);
	}

	xmlFree(id);

	return found;
}


/* Copy the tuples, persons, devices and notes of a publication; the
   bodies come newest first, so an id seen already is an older state */
static void merge(xmlDocPtr doc, xmlNode *root, const struct pl *body)
{
	xmlDocPtr pub;
	xmlNode *proot, *n;

	pub = parse(body->p, body->l);
	if (!pub)
		return;

	proot = xmlDocGetRootElement(pub);

	for (n = proot ? proot->children : NULL; n; n = n->next) {
		xmlNode *copy;

		if (n->type != XML_ELEMENT_NODE || has_id(root, n))
			continue;

		copy = xmlDocCopyNode(n, doc, 1);
		if (!copy)
			continue;

		xmlAddChild(root, copy);
	}

	xmlReconciliateNs(doc, root);
	xmlFreeDoc(pub);
}


/**
 * Compose the PIDF document of a presentity
 *
 * @param docp         Pointer to the allocated document text
 * @param presentity   user@domain
 * @param bodies       Published PIDF bodies (struct pub_body), may be
 *                     empty
 * @param registered   True if it has a binding
 * @param on_the_phone True while it is in a call
 *
 * @return 0 if success, otherwise errorcode
 */
int pidf_compose(char **docp, const char *presentity,
		 const struct list *bodies, bool registered,
		 bool on_the_phone)
{
	xmlDocPtr doc;
	xmlNode *root;
	xmlNsPtr pidf;
	xmlChar *out = NULL;
	char entity[300];
	struct le *le;
	int len = 0, err = 0;

	doc = xmlNewDoc((const xmlChar *)"1.0");
	if (!doc)
		return ENOMEM;

	root = xmlNewNode(NULL, (const xmlChar *)"presence");
	pidf = xmlNewNs(root, (const xmlChar *)NS_PIDF, NULL);
	xmlSetNs(root, pidf);
	xmlDocSetRootElement(doc, root);

	re_snprintf(entity, sizeof(entity), "sip:%s", presentity);
	xmlNewProp(root, (const xmlChar *)"entity", (const xmlChar *)entity);

	for (le = bodies ? bodies->head : NULL; le; le = le->next) {
		const struct pub_body *pb = le->data;
		merge(doc, root, &pb->pl);
	}

	if (!bodies || list_isempty(bodies))
		add_reg_tuple(root, pidf, registered);

	if (on_the_phone)
		add_on_the_phone(doc, root);

	xmlDocDumpFormatMemoryEnc(doc, &out, &len, "UTF-8", 1);
	if (!out) {
		err = ENOMEM;
		goto out;
	}

	err = str_dup(docp, (const char *)out);

 out:
	xmlFree(out);
	xmlFreeDoc(doc);

	return err;
}
