/**
 * @file conf.c  Server pools: the "pool" lines of the configuration
 *
 *   pool NAME [algorithm=least-busy|weighted|round-robin|hash]
 *        URI[;weight=N][;max=N] [URI...]
 *
 * A member URI is sip:HOST[:PORT][;transport=udp|tcp|tls]. Another line
 * of the same NAME adds members; its algorithm=, if any, must agree.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <stdlib.h>
#include <errno.h>
#include <ctype.h>
#include <re.h>
#include "pools.h"


static void member_destructor(void *arg)
{
	struct pool_member *m = arg;

	list_unlink(&m->le);
	member_probe_cancel(m);
	mem_deref(m->pool);
	mem_deref(m->uri);
}


static void pool_destructor(void *arg)
{
	struct pool *p = arg;

	list_unlink(&p->le);
	list_flush(&p->members);
	mem_deref(p->name);
}


static bool name_valid(const char *s)
{
	if (!*s)
		return false;

	for (; *s; s++) {
		if (!isalnum((unsigned char)*s) && !strchr("-_.", *s))
			return false;
	}

	return true;
}


/* A decimal number >= 1 */
static int number_decode(uint32_t *n, const struct pl *pl)
{
	size_t i;

	if (!pl->l || pl->l > 9)
		return EINVAL;

	for (i = 0; i < pl->l; i++) {
		if (!isdigit((unsigned char)pl->p[i]))
			return EINVAL;
	}

	*n = pl_u32(pl);

	return *n ? 0 : EINVAL;
}


/* HOST of a member: a name or an IP address, nothing to quote */
static bool host_valid(const struct pl *host)
{
	size_t i;

	if (!host->l)
		return false;

	for (i = 0; i < host->l; i++) {
		char c = host->p[i];

		if (!isalnum((unsigned char)c) && !strchr("-.:_[]", c))
			return false;
	}

	return true;
}


static int member_decode(struct pool_member *m,
			 const struct config_line *line, const char *word)
{
	struct pl w, addr, params, host, port = {NULL, 0};
	char tpbuf[8] = "";
	struct pl pname, pval;
	const char *p, *end;
	char *q;
	int err;

	pl_set_str(&w, word);
	if (!strncasecmp(word, "sips:", 5))
		return config_fail(line, "'%s': sips: is not allowed (libre"
				   " refuses it): use sip:...;transport=tls",
				   word);

	if (strncasecmp(word, "sip:", 4))
		return config_fail(line, "'%s' is not a member URI"
				   " sip:HOST[:PORT][;transport=udp|tcp|tls]",
				   word);

	addr.p = word + 4;
	p = strchr(addr.p, ';');
	addr.l = p ? (size_t)(p - addr.p) : strlen(addr.p);
	params.p = p ? p : addr.p + addr.l;
	params.l = strlen(params.p);

	if (addr.l && addr.p[0] == '[') {
		const char *rb = pl_strchr(&addr, ']');

		if (!rb)
			goto bad;
		host.p = addr.p;
		host.l = rb - addr.p + 1;
		if ((size_t)(rb + 1 - addr.p) < addr.l) {
			if (rb[1] != ':')
				goto bad;
			port.p = rb + 2;
			port.l = addr.p + addr.l - port.p;
		}
	}
	else {
		const char *colon = pl_strchr(&addr, ':');

		host.p = addr.p;
		host.l = colon ? (size_t)(colon - addr.p) : addr.l;
		if (colon) {
			port.p = colon + 1;
			port.l = addr.p + addr.l - port.p;
		}
	}

	if (pl_strchr(&host, '@'))
		return config_fail(line, "'%s': a member is a server"
				   " (sip:HOST[:PORT]), not a user", word);

	if (!host_valid(&host) ||
	    (host.p[0] != '[' && pl_strchr(&host, ':')))
		goto bad;

	if (port.p) {
		uint32_t n;

		if (number_decode(&n, &port) || n > 65535)
			return config_fail(line, "'%s': the port must be 1 to"
					   " 65535", word);
	}

	m->weight = 1;
	m->max = 0;
	m->tp = SIP_TRANSP_UDP;

	/* the parameters */
	end = params.p + params.l;
	for (p = params.p; p < end; ) {
		struct pl seg;
		const char *next;

		next = memchr(p + 1, ';', end - p - 1);
		seg.p = p + 1;
		seg.l = (next ? next : end) - seg.p;
		p = next ? next : end;

		if (re_regex(seg.p, seg.l, "[^=]+=[^]*", &pname, &pval) ||
		    pname.l != seg.l - pval.l - 1)
			return config_fail(line, "'%s': parameter '%r' is not"
					   " NAME=VALUE", word, &seg);

		if (!pl_strcasecmp(&pname, "weight")) {
			if (number_decode(&m->weight, &pval))
				return config_fail(line, "'%s': weight must"
						   " be a number >= 1", word);
		}
		else if (!pl_strcasecmp(&pname, "max")) {
			if (number_decode(&m->max, &pval))
				return config_fail(line, "'%s': max must be a"
						   " number >= 1 (leave it out"
						   " for no limit)", word);
		}
		else if (!pl_strcasecmp(&pname, "transport")) {
			if (transp_decode(&m->tp, &pval) ||
			    (m->tp != SIP_TRANSP_UDP &&
			     m->tp != SIP_TRANSP_TCP &&
			     m->tp != SIP_TRANSP_TLS))
				return config_fail(line, "'%s': transport"
						   " must be udp, tcp or tls",
						   word);
			(void)re_snprintf(tpbuf, sizeof(tpbuf), "%s",
					  transp_name(m->tp));
		}
		else {
			return config_fail(line, "'%s': unknown parameter"
					   " '%r'", word, &pname);
		}
	}

	/* the URI as it is shown and probed */
	err = re_sdprintf(&m->uri, "sip:%r%s%r%s%s", &host,
			  port.p ? ":" : "", &port,
			  tpbuf[0] ? ";transport=" : "", tpbuf);
	if (err)
		return err;

	/* host names compare without case */
	for (q = m->uri + 4; *q && *q != ';'; q++)
		*q = (char)tolower((unsigned char)*q);

	pl_set_str(&w, m->uri);
	if (uri_decode(&m->u, &w))
		goto bad;

	return 0;

 bad:
	return config_fail(line, "'%s' is not a member URI"
			   " sip:HOST[:PORT][;transport=udp|tcp|tls]", word);
}


static bool member_listed(const struct pool *p, const char *uri)
{
	struct le *le;

	for (le = p->members.head; le; le = le->next) {
		const struct pool_member *m = le->data;

		if (!strcmp(m->uri, uri))
			return true;
	}

	return false;
}


static int word_handle(struct pool *p, const struct config_line *line,
		       const char *word)
{
	struct pool_member *m;
	int err;

	if (!strncasecmp(word, "algorithm=", 10)) {
		enum pool_alg alg;

		if (pool_alg_decode(&alg, word + 10))
			return config_fail(line, "pool '%s': unknown algorithm"
					   " '%s' (least-busy, weighted,"
					   " round-robin or hash)", p->name,
					   word + 10);

		if (p->alg_set && alg != p->alg)
			return config_fail(line, "pool '%s': algorithm=%s"
					   " disagrees with algorithm=%s of"
					   " line %u", p->name, word + 10,
					   pool_alg_name(p->alg), p->lineno);
		p->alg = alg;
		p->alg_set = true;
		return 0;
	}

	m = mem_zalloc(sizeof(*m), member_destructor);
	if (!m)
		return ENOMEM;

	m->lineno = line->lineno;
	err = member_decode(m, line, word);
	if (!err)
		err = str_dup(&m->pool, p->name);
	if (err)
		goto out;

	if (member_listed(p, m->uri)) {
		err = config_fail(line, "pool '%s': %s is listed twice",
				  p->name, m->uri);
		goto out;
	}

	list_append(&p->members, &m->le, m);
	m = NULL;

 out:
	mem_deref(m);
	return err;
}


static int line_handler(const struct config_line *line, void *arg)
{
	struct list *pools = arg;
	char *copy, *word, *save = NULL;
	struct pool *p;
	int err = 0;

	err = str_dup(&copy, line->val);
	if (err)
		return err;

	word = strtok_r(copy, " \t", &save);
	if (!word || !name_valid(word)) {
		err = config_fail(line, "'%s' is not a pool name (letters,"
				  " digits, '-', '_' and '.')",
				  word ? word : "");
		goto out;
	}

	p = pool_find(pools, word);
	if (!p) {
		p = mem_zalloc(sizeof(*p), pool_destructor);
		if (!p || str_dup(&p->name, word)) {
			mem_deref(p);
			err = ENOMEM;
			goto out;
		}
		p->lineno = line->lineno;
		list_append(pools, &p->le, p);
	}

	while ((word = strtok_r(NULL, " \t", &save))) {
		int e = word_handle(p, line, word);

		if (e && !err)
			err = e;
	}

 out:
	mem_deref(copy);
	return err;
}


/**
 * Read the pool lines into a list of pools
 *
 * @param pools The list, empty (struct pool)
 *
 * @return 0 if success, otherwise errorcode (every problem reported)
 */
int pool_conf_read(struct list *pools)
{
	struct le *le;
	int err;

	err = config_apply_words("pool", line_handler, pools);

	for (le = pools->head; le; le = le->next) {
		const struct pool *p = le->data;
		struct config_line line;

		if (!list_isempty(&p->members))
			continue;

		memset(&line, 0, sizeof(line));
		line.key = (char *)"pool";
		line.lineno = p->lineno;
		err = config_fail(&line, "pool '%s' has no members", p->name);
	}

	return err;
}
