/**
 * @file bindings.c  From a REGISTER to binding changes (RFC 3261 10.3)
 *
 * Decodes the Contact headers of a REGISTER into changes, matches them to
 * the current bindings (by +sip.instance and reg-id, else by URI
 * comparison), checks Call-ID and CSeq ordering and the contact limit, and
 * yields the bindings to write and to remove.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include <sipd.h>
#include <node/node.h>
#include "registrar.h"


static void change_destructor(void *arg)
{
	struct reg_change *c = arg;

	list_unlink(&c->le);
	mem_deref(c->instance);
}


static int q_decode(uint16_t *q, const struct pl *pl)
{
	struct pl ip, fp = PL_INIT;
	uint32_t v, scale = 100;
	size_t i;

	if (re_regex(pl->p, pl->l, "[0-9]+[.]*[0-9]*", &ip, NULL, &fp) ||
	    ip.p != pl->p || ip.l + (fp.l ? fp.l + 1 : 0) != pl->l ||
	    ip.l > 1 || fp.l > 3)
		return EINVAL;

	v = pl_u32(&ip) * 1000;
	for (i = 0; i < fp.l; i++) {
		v += (fp.p[i] - '0') * scale;
		scale /= 10;
	}

	if (v > 1000)
		return EINVAL;

	*q = (uint16_t)v;

	return 0;
}


static int delta_decode(uint32_t *val, const struct pl *pl)
{
	uint64_t v;
	size_t i;

	if (!pl->l)
		return EINVAL;

	for (i = 0; i < pl->l; i++) {
		if (pl->p[i] < '0' || pl->p[i] > '9')
			return EINVAL;
	}

	/* larger than 2^32-1 counts as 2^32-1 (RFC 3261 section 20.19) */
	v = pl->l > 10 ? 0xffffffffULL : pl_u64(pl);
	*val = v > 0xffffffffULL ? 0xffffffffU : (uint32_t)v;

	return 0;
}


/* The params a binding keeps: all but expires, q (sipd writes those) */
static int params_keep(struct mbuf *mb, const struct pl *params)
{
	const char *p = params->p, *end = params->p + params->l;
	int err = 0;

	while (p < end) {
		const char *semi;
		struct pl name, one;

		while (p < end && (*p == ';' || *p == ' ' || *p == '\t'))
			++p;
		if (p >= end)
			break;

		semi = p;
		{
			bool quoted = false;
			while (semi < end && (quoted || *semi != ';')) {
				if (*semi == '"')
					quoted = !quoted;
				++semi;
			}
		}

		one.p = p;
		one.l = semi - p;
		name.p = p;
		name.l = 0;
		while (name.l < one.l && p[name.l] != '=' &&
		       p[name.l] != ' ')
			++name.l;

		if (pl_strcasecmp(&name, "expires") &&
		    pl_strcasecmp(&name, "q"))
			err |= mbuf_printf(mb, ";%r", &one);

		p = semi;
	}

	return err;
}


static int change_decode(struct reg_change **cp, const struct contact *ct,
			 const struct sip_msg *msg,
			 const struct registrar_conf *conf,
			 uint16_t *scode, const char **reason)
{
	struct reg_change *c;
	struct pl val;
	struct uri uri;

	if (uri_decode(&uri, &ct->uri) ||
	    (pl_strcasecmp(&uri.scheme, "sip") &&
	     pl_strcasecmp(&uri.scheme, "sips")) || !pl_isset(&uri.host)) {
		*scode = 400;
		*reason = "Bad Contact URI";
		return EBADMSG;
	}

	c = mem_zalloc(sizeof(*c), change_destructor);
	if (!c)
		return ENOMEM;

	c->uri = ct->uri;
	c->params = ct->params;
	c->q = 1000;

	if (!msg_param_decode(&ct->params, "expires", &val)) {
		if (delta_decode(&c->expires, &val))
			goto bad;
	}
	else if (pl_isset(&msg->expires)) {
		if (delta_decode(&c->expires, &msg->expires))
			goto bad;
	}
	else {
		c->expires = conf->default_expires;
	}

	if (!msg_param_decode(&ct->params, "q", &val) && q_decode(&c->q, &val))
		goto bad;

	if (!msg_param_decode(&ct->params, "+sip.instance", &val)) {
		if (val.l >= 2 && val.p[0] == '"' && val.p[val.l-1] == '"') {
			++val.p;
			val.l -= 2;
		}
		if (!val.l || pl_strdup(&c->instance, &val))
			goto bad;

		if (!msg_param_decode(&ct->params, "reg-id", &val) &&
		    delta_decode(&c->reg_id, &val))
			goto bad;
	}

	*cp = c;

	return 0;

 bad:
	mem_deref(c);
	*scode = 400;
	*reason = "Bad Contact Parameter";

	return EBADMSG;
}


static bool change_same(const struct reg_change *a,
			const struct reg_change *b)
{
	if (a->instance || b->instance) {
		return a->instance && b->instance &&
			!strcmp(a->instance, b->instance) &&
			a->reg_id == b->reg_id;
	}

	return uri_equal_str(&a->uri, &b->uri);
}


static void change_drop_same(struct list *changes, const struct reg_change *c)
{
	struct le *le = changes->head;

	while (le) {
		struct reg_change *old = le->data;

		le = le->next;

		if (change_same(old, c))
			mem_deref(old);
	}
}


/**
 * Decode the Contact headers of a REGISTER
 *
 * @param changes List of struct reg_change to fill
 * @param msg     The REGISTER
 * @param conf    Registrar settings (expires limits)
 * @param star    Set when the request is "Contact: *" (remove all)
 * @param scode   Set to the status code to answer on error
 * @param reason  Set to the reason phrase on error
 *
 * @return 0 if success, otherwise errorcode with scode and reason set
 */
int reg_changes_decode(struct list *changes, const struct sip_msg *msg,
		       const struct registrar_conf *conf, bool *star,
		       uint16_t *scode, const char **reason)
{
	struct le *le;
	uint32_t count = 0;
	int err;

	*star = false;

	for (le = list_head(hash_list(msg->hdrht, SIP_HDR_CONTACT)); le;
	     le = le->next) {
		const struct sip_hdr *hdr = le->data;
		struct reg_change *c;
		struct contact ct;

		if (hdr->id != SIP_HDR_CONTACT)
			continue;

		++count;

		if (contact_decode(&ct, &hdr->val)) {
			*scode = 400;
			*reason = "Malformed Contact";
			return EBADMSG;
		}

		if (ct.star) {
			*star = true;
			continue;
		}

		err = change_decode(&c, &ct, msg, conf, scode, reason);
		if (err)
			return err;

		/* the same contact twice: the later one wins */
		change_drop_same(changes, c);
		list_append(changes, &c->le, c);
	}

	if (*star) {
		uint32_t expires = 1;

		if (count > 1 || !pl_isset(&msg->expires) ||
		    delta_decode(&expires, &msg->expires) || expires != 0) {
			*scode = 400;
			*reason = "Contact * Needs Expires 0 And No Other"
				" Contact";
			return EBADMSG;
		}
	}

	/* Min-Expires applies to every contact that is not a removal */
	for (le = changes->head; le; le = le->next) {
		const struct reg_change *c = le->data;

		if (c->expires && c->expires < conf->min_expires) {
			*scode = 423;
			*reason = "Interval Too Brief";
			return ERANGE;
		}
	}

	return 0;
}


static bool change_matches(const struct reg_change *c, const struct binding *b)
{
	struct pl buri;

	if (c->instance || b->instance) {
		return c->instance && b->instance &&
			!strcmp(c->instance, b->instance) &&
			c->reg_id == b->reg_id;
	}

	pl_set_str(&buri, b->contact);

	return uri_equal_str(&c->uri, &buri);
}


static int path_join(char **pathp, const struct sip_msg *msg)
{
	struct mbuf *mb;
	struct le *le;
	int err = 0;

	*pathp = NULL;

	if (!sip_msg_hdr(msg, SIP_HDR_PATH))
		return 0;

	mb = mbuf_alloc(128);
	if (!mb)
		return ENOMEM;

	for (le = msg->hdrl.head; le; le = le->next) {
		const struct sip_hdr *hdr = le->data;

		if (hdr->id != SIP_HDR_PATH)
			continue;

		err |= mbuf_printf(mb, "%s%r", mb->end ? "," : "", &hdr->val);
	}

	if (!err) {
		mb->pos = 0;
		err = mbuf_strdup(mb, pathp, mb->end);
	}

	mem_deref(mb);

	return err;
}


static int fill(struct binding *b, const struct reg_change *c,
		const struct sip_msg *msg, const char *aor,
		const struct sipd_sock *sock, const char *path, int64_t now)
{
	const struct sip_hdr *ua = sip_msg_hdr(msg, SIP_HDR_USER_AGENT);
	struct mbuf *mb;
	int err = 0;

	b->contact    = mem_deref(b->contact);
	b->params     = mem_deref(b->params);
	b->callid     = mem_deref(b->callid);
	b->sock       = mem_deref(b->sock);
	b->path       = mem_deref(b->path);
	b->user_agent = mem_deref(b->user_agent);
	b->instance   = mem_deref(b->instance);
	b->node       = mem_deref(b->node);

	mb = mbuf_alloc(64);
	if (!mb)
		return ENOMEM;

	err = params_keep(mb, &c->params);
	mb->pos = 0;
	err |= mbuf_strdup(mb, &b->params, mb->end);
	mem_deref(mb);

	if (!b->aor)
		err |= str_dup(&b->aor, aor);

	err |= pl_strdup(&b->contact, &c->uri);
	err |= pl_strdup(&b->callid, &msg->callid);
	err |= str_dup(&b->sock, sock_name(sock));
	if (path)
		err |= str_dup(&b->path, path);
	if (ua)
		err |= pl_strdup(&b->user_agent, &ua->val);
	if (c->instance)
		err |= str_dup(&b->instance, c->instance);

	/* the flow is this node's: the others send to it (lib/node) */
	if (node_self())
		err |= str_dup(&b->node, node_self());

	b->expires  = now + c->expires;
	b->q        = c->q;
	b->cseq     = msg->cseq.num;
	b->received = msg->src;
	b->tp       = msg->tp;
	b->reg_id   = c->reg_id;
	b->nat      = nat_detect(&c->uri, msg, sock_nat(sock)) ?
		BINDING_NAT_YES : BINDING_NAT_NO;
	b->updated  = now;
	if (!b->created)
		b->created = now;

	return err ? ENOMEM : 0;
}


static bool order_ok(const struct binding *b, const struct sip_msg *msg)
{
	if (pl_strcmp(&msg->callid, b->callid ? b->callid : ""))
		return true;

	/* equal CSeq: a retransmission, answered as the original was */
	return msg->cseq.num >= b->cseq;
}


static struct binding *oldest(const struct list *current,
			      const struct list *keep_out)
{
	struct binding *old = NULL;
	struct le *le;

	for (le = current->head; le; le = le->next) {
		struct binding *b = le->data;
		struct le *k;
		bool skip = false;

		for (k = keep_out->head; k; k = k->next) {
			const struct reg_change *c = k->data;
			if (c->match == b)
				skip = true;
		}

		if (skip)
			continue;

		if (!old || b->updated < old->updated)
			old = b;
	}

	return old;
}


/**
 * Work out the bindings to write and to remove for a REGISTER
 *
 * @param upserts  Filled with bindings to insert or update
 * @param removes  Filled with bindings to remove (moved from current)
 * @param current  Current bindings of the AOR (entries may move out)
 * @param changes  Decoded contacts of the request
 * @param msg      The REGISTER
 * @param aor      Address-of-record
 * @param sock     Socket it arrived on (its name, its nat=)
 * @param conf     Registrar settings
 * @param now      Current time
 * @param scode    Status code on error
 * @param reason   Reason phrase on error
 *
 * @return 0 if success, otherwise errorcode with scode and reason set
 */
int reg_apply(struct list *upserts, struct list *removes,
	      struct list *current, struct list *changes,
	      const struct sip_msg *msg, const char *aor,
	      const struct sipd_sock *sock, const struct registrar_conf *conf,
	      int64_t now, uint16_t *scode, const char **reason)
{
	uint32_t total = list_count(current);
	char *path = NULL;
	struct le *le, *bl;
	int err;

	err = path_join(&path, msg);
	if (err)
		goto nomem;

	/* match every change to a current binding */
	for (le = changes->head; le; le = le->next) {
		struct reg_change *c = le->data;

		for (bl = current->head; bl && !c->match; bl = bl->next) {
			if (change_matches(c, bl->data))
				c->match = bl->data;
		}

		if (c->match && !order_ok(c->match, msg)) {
			*scode = 400;
			*reason = "Out Of Order CSeq";
			err = EALREADY;
			goto out;
		}

		if (!c->match && c->expires)
			++total;
		else if (c->match && !c->expires)
			--total;
	}

	while (total > conf->max_contacts) {
		struct binding *old;

		if (conf->overflow == OVERFLOW_REJECT) {
			*scode = 403;
			*reason = "Too Many Contacts";
			err = EDQUOT;
			goto out;
		}

		old = oldest(current, changes);
		if (!old) {
			*scode = 403;
			*reason = "Too Many Contacts";
			err = EDQUOT;
			goto out;
		}

		list_unlink(&old->le);
		list_append(removes, &old->le, old);
		--total;
	}

	for (le = changes->head; le; le = le->next) {
		struct reg_change *c = le->data;
		struct binding *b = c->match;

		if (!c->expires) {
			if (b && b->le.list == current) {
				list_unlink(&b->le);
				list_append(removes, &b->le, b);
			}
			continue;
		}

		if (b) {
			list_unlink(&b->le);
		}
		else {
			err = binding_alloc(&b);
			if (err)
				goto nomem;
		}

		list_append(upserts, &b->le, b);

		err = fill(b, c, msg, aor, sock, path, now);
		if (err)
			goto nomem;
	}

	goto out;

 nomem:
	*scode = 500;
	*reason = "Server Internal Error";
	err = err ? err : ENOMEM;

 out:
	mem_deref(path);

	return err;
}


/**
 * Print a binding as a Contact header value of a 200 to REGISTER
 *
 * @param pf  Print handler
 * @param arg The binding and the time (struct reg_contact)
 *
 * @return 0 if success, otherwise errorcode
 */
int reg_contact_print(struct re_printf *pf, void *arg)
{
	const struct reg_contact *rc = arg;
	const struct binding *b = rc->b;
	int64_t left = b->expires - rc->now;
	int err;

	err = re_hprintf(pf, "<%s>;expires=%lld", b->contact,
			 (long long)(left > 0 ? left : 0));

	if (b->q != 1000)
		err |= re_hprintf(pf, ";q=%u.%03u", b->q / 1000, b->q % 1000);

	if (b->params && *b->params)
		err |= re_hprintf(pf, "%s", b->params);

	return err;
}


/**
 * Remove one binding (it became unreachable) from the location service
 *
 * @param b The binding, with its id and aor
 *
 * @return 0 if removed, otherwise errorcode
 */
int reg_binding_remove(const struct binding *b)
{
	struct list removes = LIST_INIT;
	struct binding *copy;
	int err;

	err = binding_dup(&copy, b);
	if (err)
		return err;

	list_append(&removes, &copy->le, copy);
	err = location_save(b->aor, NULL, &removes);
	list_flush(&removes);

	return err;
}
