/**
 * @file contact.c  Contact header values, decoded
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <ctype.h>
#include <re.h>
#include "sipmsg.h"


/* --- Contact ------------------------------------------------------------ */

/**
 * Decode one value of a Contact header
 *
 * @param c  Decoded contact
 * @param pl The value (libre splits Contact headers at commas)
 *
 * @return 0 if success, EBADMSG if malformed
 */
int contact_decode(struct contact *c, const struct pl *pl)
{
	struct pl v = *pl;
	bool quoted = false;
	size_t i;

	memset(c, 0, sizeof(*c));

	while (v.l && (v.p[0] == ' ' || v.p[0] == '\t'))
		++v.p, --v.l;
	while (v.l && (v.p[v.l-1] == ' ' || v.p[v.l-1] == '\t'))
		--v.l;

	c->val = v;

	if (v.l == 1 && v.p[0] == '*') {
		c->star = true;
		return 0;
	}

	for (i = 0; i < v.l; i++) {
		char ch = v.p[i];

		if (quoted) {
			if (ch == '\\')
				++i;
			else if (ch == '"')
				quoted = false;
			continue;
		}

		if (ch == '"') {
			quoted = true;
		}
		else if (ch == '<') {
			const char *gt = memchr(v.p + i, '>', v.l - i);

			if (!gt)
				return EBADMSG;

			c->angle = true;
			c->uri.p = v.p + i + 1;
			c->uri.l = gt - c->uri.p;
			c->params.p = gt + 1;
			c->params.l = v.p + v.l - c->params.p;
			break;
		}
	}

	if (quoted)
		return EBADMSG;

	if (!c->angle) {
		const char *semi = pl_strchr(&v, ';');

		c->uri.p = v.p;
		c->uri.l = semi ? (size_t)(semi - v.p) : v.l;
		c->params.p = v.p + c->uri.l;
		c->params.l = v.l - c->uri.l;

		/* an addr-spec cannot carry headers or commas without < > */
		if (pl_strchr(&c->uri, '?') || pl_strchr(&c->uri, ','))
			return EBADMSG;
	}

	while (c->params.l && (c->params.p[0] == ' ' ||
			       c->params.p[0] == '\t'))
		++c->params.p, --c->params.l;

	if (c->params.l && c->params.p[0] != ';')
		return EBADMSG;

	if (!c->uri.l)
		return EBADMSG;

	return 0;
}
