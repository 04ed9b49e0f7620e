/**
 * @file reg.c  sipctl reg add and del: what they change, wherever they run
 *
 * The daemon runs them for sipctl on its control socket with
 * location_save(), which tells the presence role of the change; sipctl
 * runs them itself with store_binding_save() when no daemon runs. The
 * same function decides what changes in both.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include <sipd.h>
#include "store.h"
#include <sipmsg/sipmsg.h>


enum {
	CALLID_SIZE = 25,
};


static int split(char *user, size_t usize, char *domain, size_t dsize,
		 const char *aor)
{
	const char *at = strrchr(aor, '@');

	if (!at || at == aor || !at[1] || (size_t)(at - aor) >= usize ||
	    strlen(at + 1) >= dsize)
		return EINVAL;

	memcpy(user, aor, at - aor);
	user[at - aor] = '\0';
	str_ncpy(domain, at + 1, dsize);

	return 0;
}


/* Move the bindings of an AOR whose contact is a URI (or any) to a list */
static int bindings_of(struct list *out, const char *aor,
		       const char *contact)
{
	struct list all = LIST_INIT;
	struct pl want;
	int err;

	err = store_binding_list(&all, aor, 0);
	if (err)
		goto out;

	if (contact)
		pl_set_str(&want, contact);

	while (all.head) {
		struct binding *b = all.head->data;
		struct pl have;

		list_unlink(&b->le);

		pl_set_str(&have, b->contact ? b->contact : "");
		if (contact && !uri_equal_str(&want, &have)) {
			mem_deref(b);
			continue;
		}

		list_append(out, &b->le, b);
	}

 out:
	list_flush(&all);

	return err;
}


/**
 * Add a binding, or update the one of the same contact (RFC 3261 19.1.4)
 *
 * @param msg     What to tell the operator, or why it failed
 * @param aor     Address-of-record, user@domain
 * @param contact Contact URI (sip: or sips:)
 * @param expires Seconds
 * @param q       q-value times 1000
 * @param saveh   How to save: location_save() or store_binding_save()
 *
 * @return 0 if saved, ENOENT without the account, otherwise errorcode
 */
int store_reg_add(struct mbuf *msg, const char *aor, const char *contact,
		  uint32_t expires, uint16_t q, store_save_h *saveh)
{
	char user[128], domain[128];
	struct list found = LIST_INIT, up = LIST_INIT;
	int64_t now = time_now();
	struct binding *b = NULL;
	bool exists = false, existing = false;
	struct pl pl;
	struct uri u;
	int err;

	if (!msg || !aor || !contact || !saveh)
		return EINVAL;

	pl_set_str(&pl, contact);
	if (split(user, sizeof(user), domain, sizeof(domain), aor) ||
	    uri_decode(&u, &pl) || (pl_strcasecmp(&u.scheme, "sip") &&
				    pl_strcasecmp(&u.scheme, "sips"))) {
		(void)mbuf_printf(msg, "reg add: '%s' '%s' is not USER@DOMAIN"
				  " and a SIP URI\n", aor, contact);
		return EINVAL;
	}

	err = store_account_exists(user, domain, &exists);
	if (err)
		goto out;

	if (!exists) {
		(void)mbuf_printf(msg, "reg add: no account %s (add it with"
				  " 'sipctl user add')\n", aor);
		return ENOENT;
	}

	err = bindings_of(&found, aor, contact);
	if (err)
		goto out;

	if (found.head) {
		b = found.head->data;
		list_unlink(&b->le);
		existing = true;
	}
	else {
		char callid[CALLID_SIZE];

		err = binding_alloc(&b);
		if (err)
			goto out;

		rand_str(callid, sizeof(callid));

		err  = str_dup(&b->aor, aor);
		err |= str_dup(&b->contact, contact);
		err |= str_dup(&b->params, "");
		err |= str_dup(&b->callid, callid);
		err |= str_dup(&b->sock, "");
		err |= str_dup(&b->user_agent, "sipctl");
		if (err) {
			err = ENOMEM;
			goto out;
		}

		b->cseq = 1;
		b->created = now;
	}

	b->expires = now + expires;
	b->q = q;
	b->updated = now;

	list_append(&up, &b->le, b);

	err = saveh(aor, &up, NULL);
	if (err)
		goto out;

	(void)mbuf_printf(msg, "%s %s -> %s for %u seconds\n",
			  existing ? "updated" : "added",
			  aor, contact, expires);

 out:
	if (err && err != ENOENT && err != EINVAL)
		(void)mbuf_printf(msg, "reg add: %s\n", err == EBUSY ?
				  "the database is busy" : "database error");
	list_flush(&found);
	list_flush(&up);

	return err;
}


/**
 * Remove the bindings of an address-of-record, or the one of a contact
 *
 * @param msg     What to tell the operator, or why it failed
 * @param aor     Address-of-record, user@domain
 * @param contact Contact URI compared by RFC 3261 19.1.4, NULL for all
 * @param saveh   How to save: location_save() or store_binding_save()
 *
 * @return 0 if removed, ENOENT if none matched, otherwise errorcode
 */
int store_reg_del(struct mbuf *msg, const char *aor, const char *contact,
		  store_save_h *saveh)
{
	struct list rm = LIST_INIT;
	uint32_t n;
	int err;

	if (!msg || !aor || !saveh)
		return EINVAL;

	err = bindings_of(&rm, aor, contact);
	if (err)
		goto out;

	n = list_count(&rm);
	if (!n) {
		(void)mbuf_printf(msg, "reg del: no binding of %s%s%s\n", aor,
				  contact ? " matches " : "",
				  contact ? contact : "");
		err = ENOENT;
		goto out;
	}

	err = saveh(aor, NULL, &rm);
	if (err)
		goto out;

	(void)mbuf_printf(msg, "removed %u binding%s of %s\n", n,
			  n == 1 ? "" : "s", aor);

 out:
	if (err && err != ENOENT)
		(void)mbuf_printf(msg, "reg del: %s\n", err == EBUSY ?
				  "the database is busy" : "database error");
	list_flush(&rm);

	return err;
}
