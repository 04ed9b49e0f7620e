/**
 * @file scan_msg.c  libre's header decoders as hand-written scanners:
 *                   name-addr, Via, CSeq, Content-Type, parameters
 *
 * What scan_uri.c says of the URI decoders holds here: each scanner does
 * what re_regex() does with libre's pattern, with the same results to the
 * byte (test/unit/test_scan.c, test/fuzz/fuzz_scan.c).
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include "libre.h"
#include "scan.h"


/* "[~ \t\r\n<]*[ \t\r\n]*<[^>]+>[^]*" */
static int addr_nameaddr(struct sip_addr *addr, const struct pl *pl)
{
	size_t s, pos, n;
	struct pl t;

	for (s = 0; s < pl->l; s++) {

		enum step r;

		tail(&t, pl, s);

		pos = qspan(&addr->dname, &t, 0, c_ltws);
		pos += span(&t, pos, c_ws);

		r = lit(&t, &pos, '<');
		if (r == STOP)
			return ENOENT;
		if (r == NEXT)
			continue;

		n = span(&t, pos, c_nogt);
		if (!n)
			continue;
		cap(&addr->auri, &t, pos, n);
		pos += n;

		if (lit(&t, &pos, '>') != GO)
			return ENOENT;

		cap(&addr->params, &t, pos, t.l - pos);

		return 0;
	}

	return ENOENT;
}


int sip_addr_decode(struct sip_addr *addr, const struct pl *pl)
{
	size_t s;
	int err;

	if (!addr || !pl)
		return EINVAL;

	memset(addr, 0, sizeof(*addr));

	if (pl->p && 0 == addr_nameaddr(addr, pl)) {

		if (!addr->dname.l)
			addr->dname.p = NULL;

		if (!addr->params.l)
			addr->params.p = NULL;

		goto uri;
	}

	/* "[^;]+[^]*" */
	memset(addr, 0, sizeof(*addr));

	if (!pl->p)
		return EBADMSG;

	for (s = 0; s < pl->l; s++) {

		struct pl t;
		size_t n;

		if (pl->p[s] == ';')
			continue;

		tail(&t, pl, s);
		n = span(&t, 0, c_nosemi);
		cap(&addr->auri, &t, 0, n);
		cap(&addr->params, &t, n, t.l - n);
		break;
	}

	if (s == pl->l)
		return EBADMSG;

 uri:
	err = uri_decode(&addr->uri, &addr->auri);
	if (err)
		memset(addr, 0, sizeof(*addr));

	return err;
}


/*
 * "SIP[ \t\r\n]*\/[ \t\r\n]*2.0[ \t\r\n]*\/[ \t\r\n]*[A-Z]+[ \t\r\n]*"
 * "[^; \t\r\n]+[ \t\r\n]*[^]*"
 */
static int via_scan(struct sip_via *via, struct pl *transp,
		    const struct pl *pl)
{
	static const char lits1[] = "SIP", lits2[] = "2.0";
	size_t s, pos, n;
	struct pl t;

	for (s = 0; s < pl->l; s++) {

		enum step r;

		tail(&t, pl, s);
		pos = 0;

		r = lits(&t, &pos, lits1, 3);
		if (r == GO) {
			pos += span(&t, pos, c_ws);
			r = lit(&t, &pos, '/');
		}
		if (r == GO) {
			pos += span(&t, pos, c_ws);
			r = lits(&t, &pos, lits2, 3);
		}
		if (r == GO) {
			pos += span(&t, pos, c_ws);
			r = lit(&t, &pos, '/');
		}
		if (r == STOP)
			return ENOENT;
		if (r == NEXT)
			continue;

		pos += span(&t, pos, c_ws);

		n = span(&t, pos, c_alpha);
		if (!n)
			continue;
		cap(transp, &t, pos, n);
		pos += n;
		pos += span(&t, pos, c_ws);

		n = span(&t, pos, c_token);
		if (!n)
			continue;
		cap(&via->sentby, &t, pos, n);
		pos += n;
		pos += span(&t, pos, c_ws);

		cap(&via->params, &t, pos, t.l - pos);

		return 0;
	}

	return ENOENT;
}


int sip_via_decode(struct sip_via *via, const struct pl *pl)
{
	struct pl transp, host, port;
	int err;

	if (!via || !pl)
		return EINVAL;

	if (!pl->p)
		return EINVAL;

	err = via_scan(via, &transp, pl);
	if (err)
		return err;

	if (!pl_strcmp(&transp, "TCP"))
		via->tp = SIP_TRANSP_TCP;
	else if (!pl_strcmp(&transp, "TLS"))
		via->tp = SIP_TRANSP_TLS;
	else if (!pl_strcmp(&transp, "UDP"))
		via->tp = SIP_TRANSP_UDP;
	else
		via->tp = SIP_TRANSP_NONE;

	err = scan_hostport(&via->sentby, &host, &port);
	if (err)
		return err;

	sa_init(&via->addr, AF_INET);

	(void)sa_set(&via->addr, &host, 0);

	if (pl_isset(&port))
		sa_set_port(&via->addr, pl_u32(&port));

	via->val = *pl;

	return msg_param_decode(&via->params, "branch", &via->branch);
}


/* "[0-9]+[ \t\r\n]+[^ \t\r\n]+" */
int sip_cseq_decode(struct sip_cseq *cseq, const struct pl *pl)
{
	size_t s, pos, n;
	struct pl t, num;

	if (!cseq || !pl)
		return EINVAL;

	if (!pl->p)
		return EINVAL;

	for (s = 0; s < pl->l; s++) {

		tail(&t, pl, s);

		n = span(&t, 0, c_digit);
		if (!n)
			continue;
		cap(&num, &t, 0, n);
		pos = n;

		n = span(&t, pos, c_ws);
		if (!n)
			continue;
		pos += n;

		n = span(&t, pos, c_nows);
		if (!n)
			continue;
		cap(&cseq->met, &t, pos, n);

		cseq->num = pl_u32(&num);

		return 0;
	}

	return ENOENT;
}


/*
 * "[ \t\r\n]*[^ \t\r\n;/]+[ \t\r\n]*\/[ \t\r\n]*[^ \t\r\n;]+[^]*"
 * and the match must start at the first byte
 */
int msg_ctype_decode(struct msg_ctype *ctype, const struct pl *pl)
{
	size_t s, pos, n;
	struct pl t;

	if (!ctype || !pl)
		return EINVAL;

	if (!pl->p)
		return EBADMSG;

	for (s = 0; s < pl->l; s++) {

		enum step r;

		tail(&t, pl, s);

		pos = span(&t, 0, c_ws);

		n = span(&t, pos, c_type);
		if (!n)
			continue;
		cap(&ctype->type, &t, pos, n);
		pos += n;
		pos += span(&t, pos, c_ws);

		r = lit(&t, &pos, '/');
		if (r == STOP)
			return EBADMSG;
		if (r == NEXT)
			continue;

		pos += span(&t, pos, c_ws);

		n = span(&t, pos, c_token);
		if (!n)
			continue;
		cap(&ctype->subtype, &t, pos, n);
		pos += n;

		cap(&ctype->params, &t, pos, t.l - pos);

		return s ? EBADMSG : 0;
	}

	return EBADMSG;
}


/* ";[ \t\r\n]*NAME[ \t\r\n]*=[ \t\r\n]*[~ \t\r\n;]+" */
int msg_param_decode(const struct pl *pl, const char *name, struct pl *val)
{
	static void *fp;
	size_t s, pos, nl;
	struct pl t, v;

	if (!pl || !name || !val)
		return EINVAL;

	nl = strlen(name);
	if (!name_plain(name, nl)) {
		int (*f)(const struct pl *, const char *, struct pl *) =
			real(&fp, "msg_param_decode");
		return f ? f(pl, name, val) : ENOSYS;
	}

	if (!pl->p)
		return ENOENT;

	for (s = 0; s < pl->l; s++) {

		enum step r;

		if (pl->p[s] != ';')
			continue;

		r = name_at(&t, &pos, pl, s, true, name, nl);
		if (r == GO) {
			pos += span(&t, pos, c_ws);
			r = lit(&t, &pos, '=');
		}
		if (r == STOP)
			return ENOENT;
		if (r == NEXT)
			continue;

		pos += span(&t, pos, c_ws);

		(void)qspan(&v, &t, pos, c_wssemi);
		if (!v.l)
			continue;

		*val = v;

		return 0;
	}

	return ENOENT;
}


/* ";[ \t\r\n]*NAME[ \t\r\n;=]*" */
int msg_param_exists(const struct pl *pl, const char *name, struct pl *val)
{
	static void *fp;
	size_t s, pos, nl, n;
	struct pl t;

	if (!pl || !name || !val)
		return EINVAL;

	nl = strlen(name);
	if (!name_plain(name, nl)) {
		int (*f)(const struct pl *, const char *, struct pl *) =
			real(&fp, "msg_param_exists");
		return f ? f(pl, name, val) : ENOSYS;
	}

	if (!pl->p)
		return ENOENT;

	for (s = 0; s < pl->l; s++) {

		enum step r;

		if (pl->p[s] != ';')
			continue;

		r = name_at(&t, &pos, pl, s, true, name, nl);
		if (r == STOP)
			return ENOENT;
		if (r == NEXT)
			continue;

		n = span(&t, pos, c_wssemieq);

		if (!n && pos < t.l)
			return ENOENT;

		val->p = t.p;
		val->l = pos;

		return 0;
	}

	return ENOENT;
}
