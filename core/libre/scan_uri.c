/**
 * @file scan_uri.c  libre's URI decoders as hand-written scanners
 *
 * libre 1.1.0 decodes URIs, name-addrs, Via, CSeq, Content-Type and
 * parameters with re_regex(), which reads its pattern again at every
 * byte; that was a tenth of sipd's CPU time. libre calls these exported
 * functions through the dynamic linker, so the sipd executable (linked
 * with -rdynamic) defines them, as decode.c does for sip_msg_decode().
 *
 * Each scanner does what re_regex() does with libre's pattern, step by
 * step: a match is tried at every start offset in turn, each character
 * class takes as many bytes as it can and never gives any back, a
 * literal byte ends the search (ENOENT) when the input is used up and
 * tries the next start offset when it differs, and classes and literals
 * compare ASCII letters without case. The results are the same to the
 * byte, fields a failed attempt wrote included; test/unit/test_scan.c
 * and test/fuzz/fuzz_scan.c compare them with libre's own.
 *
 * A parameter or header name that re_regex() would read as pattern
 * syntax ('[' or '\'), or that is long, goes to libre's function.
 *
 * The header decoders are in scan_msg.c, the steps both use in scan.h.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include "libre.h"
#include "scan.h"


/*
 * "\\[[0-9a-f:]+\\][:]*[0-9]*" and then "[^:]+[:]*[0-9]*"
 * (uri_decode_hostport(), and via.c's copy of it)
 */
int scan_hostport(const struct pl *hp, struct pl *host, struct pl *port)
{
	size_t s, pos, n;
	struct pl t;

	if (!hp->p)
		return EINVAL;

	for (s = 0; s < hp->l; s++) {

		enum step r;

		tail(&t, hp, s);
		pos = 0;

		if (t.p[0] != '[')
			continue;
		++pos;

		n = span(&t, pos, c_hex6);
		if (!n)
			continue;
		cap(host, &t, pos, n);
		pos += n;

		r = lit(&t, &pos, ']');
		if (r == STOP)
			break;
		if (r == NEXT)
			continue;

		pos += span(&t, pos, c_colon);
		cap(port, &t, pos, span(&t, pos, c_digit));

		return 0;
	}

	for (s = 0; s < hp->l; s++) {

		if (hp->p[s] == ':')
			continue;

		tail(&t, hp, s);
		n = span(&t, 0, c_nocolon);
		cap(host, &t, 0, n);
		pos = n + span(&t, n, c_colon);
		cap(port, &t, pos, span(&t, pos, c_digit));

		return 0;
	}

	return ENOENT;
}


int uri_decode_hostport(const struct pl *hostport_pl, struct pl *host,
			struct pl *port)
{
	if (!hostport_pl || !host || !port)
		return EINVAL;

	return scan_hostport(hostport_pl, host, port);
}


/* "[^:]+:[^@:]*[:]*[^@]*@[^/;? ]+[^;? ]*[^?]*[^]*" */
static int uri_userinfo(struct uri *uri, struct pl *hp, const struct pl *pl)
{
	size_t s, pos, n;
	struct pl t;

	for (s = 0; s < pl->l; s++) {

		tail(&t, pl, s);

		n = span(&t, 0, c_nocolon);
		if (!n)
			continue;
		cap(&uri->scheme, &t, 0, n);
		pos = n;

		if (lit(&t, &pos, ':') != GO)
			return ENOENT;

		n = span(&t, pos, c_user);
		cap(&uri->user, &t, pos, n);
		pos += n;
		pos += span(&t, pos, c_colon);
		n = span(&t, pos, c_noat);
		cap(&uri->password, &t, pos, n);
		pos += n;

		if (lit(&t, &pos, '@') != GO)
			return ENOENT;

		n = span(&t, pos, c_hostport);
		if (!n)
			continue;
		cap(hp, &t, pos, n);
		pos += n;

		n = span(&t, pos, c_path);
		cap(&uri->path, &t, pos, n);
		pos += n;
		n = span(&t, pos, c_noquery);
		cap(&uri->params, &t, pos, n);
		pos += n;
		cap(&uri->headers, &t, pos, t.l - pos);

		return 0;
	}

	return ENOENT;
}


/* "[^:]+:[^/;? ]+[^;? ]*[^?]*[^]*" */
static int uri_nouser(struct uri *uri, struct pl *hp, const struct pl *pl)
{
	size_t s, pos, n;
	struct pl t;

	for (s = 0; s < pl->l; s++) {

		tail(&t, pl, s);

		n = span(&t, 0, c_nocolon);
		if (!n)
			continue;
		cap(&uri->scheme, &t, 0, n);
		pos = n;

		if (lit(&t, &pos, ':') != GO)
			return ENOENT;

		n = span(&t, pos, c_hostport);
		if (!n)
			continue;
		cap(hp, &t, pos, n);
		pos += n;

		n = span(&t, pos, c_path);
		cap(&uri->path, &t, pos, n);
		pos += n;
		n = span(&t, pos, c_noquery);
		cap(&uri->params, &t, pos, n);
		pos += n;
		cap(&uri->headers, &t, pos, t.l - pos);

		return 0;
	}

	return ENOENT;
}


int uri_decode(struct uri *uri, const struct pl *pl)
{
	struct pl port = PL_INIT;
	struct pl hp;
	struct sa addr;
	int err;

	if (!uri || !pl)
		return EINVAL;

	memset(uri, 0, sizeof(*uri));

	if (!pl->p)
		return EINVAL;

	if (0 == uri_userinfo(uri, &hp, pl) &&
	    0 == scan_hostport(&hp, &uri->host, &port))
		goto out;

	memset(uri, 0, sizeof(*uri));

	err = uri_nouser(uri, &hp, pl);
	if (err)
		return err;

	err = scan_hostport(&hp, &uri->host, &port);
	if (err)
		return err;

 out:
	if (0 == sa_set(&addr, &uri->host, 0))
		uri->af = sa_af(&addr);
	else
		uri->af = AF_UNSPEC;

	if (pl_isset(&port))
		uri->port = (uint16_t)pl_u32(&port);

	return 0;
}


/* ";NAME[=]*[^;]*" */
int uri_param_get(const struct pl *pl, const struct pl *pname,
		  struct pl *pvalue)
{
	static void *fp;
	size_t s, pos;
	struct pl t;

	if (!pl || !pname || !pvalue)
		return EINVAL;

	if (!pname->p || !name_plain(pname->p, pname->l)) {
		int (*f)(const struct pl *, const struct pl *, struct pl *) =
			real(&fp, "uri_param_get");
		return f ? f(pl, pname, pvalue) : ENOSYS;
	}

	if (!pl->p)
		return EINVAL;

	for (s = 0; s < pl->l; s++) {

		enum step r;

		if (pl->p[s] != ';')
			continue;

		r = name_at(&t, &pos, pl, s, false, pname->p, pname->l);
		if (r == STOP)
			return ENOENT;
		if (r == NEXT)
			continue;

		pos += span(&t, pos, c_eq);
		cap(pvalue, &t, pos, span(&t, pos, c_nosemi));

		return 0;
	}

	return ENOENT;
}


/* ";[^;=]+[=]*[^;]*", again after each match */
int uri_params_apply(const struct pl *pl, uri_apply_h *ah, void *arg)
{
	struct pl plr, pname, eq, pvalue;
	int err = 0;

	if (!pl || !ah)
		return EINVAL;

	plr = *pl;

	while (plr.l > 0) {

		size_t s, pos, n;
		struct pl t;

		if (!plr.p)
			return EINVAL;

		err = ENOENT;

		for (s = 0; s < plr.l; s++) {

			if (plr.p[s] != ';')
				continue;

			tail(&t, &plr, s);

			n = span(&t, 1, c_pname);
			if (!n)
				continue;
			cap(&pname, &t, 1, n);
			pos = 1 + n;

			n = span(&t, pos, c_eq);
			cap(&eq, &t, pos, n);
			pos += n;

			cap(&pvalue, &t, pos, span(&t, pos, c_nosemi));

			err = 0;
			break;
		}

		if (err)
			break;

		pl_advance(&plr, 1 + pname.l + eq.l + pvalue.l);

		err = ah(&pname, &pvalue, arg);
		if (err)
			break;
	}

	return err;
}


/* "[?&]1NAME=[^&]+" */
int uri_header_get(const struct pl *pl, const struct pl *hname,
		   struct pl *hvalue)
{
	static void *fp;
	size_t s, pos, n;
	struct pl t;

	if (!pl || !hname || !hvalue)
		return EINVAL;

	if (!hname->p || !name_plain(hname->p, hname->l)) {
		int (*f)(const struct pl *, const struct pl *, struct pl *) =
			real(&fp, "uri_header_get");
		return f ? f(pl, hname, hvalue) : ENOSYS;
	}

	if (!pl->p)
		return EINVAL;

	for (s = 0; s < pl->l; s++) {

		enum step r;

		if (!c_qamp((uint8_t)pl->p[s]))
			continue;

		r = name_at(&t, &pos, pl, s, false, hname->p, hname->l);
		if (r == GO)
			r = lit(&t, &pos, '=');
		if (r == STOP)
			return ENOENT;
		if (r == NEXT)
			continue;

		n = span(&t, pos, c_noamp);
		if (!n)
			continue;
		cap(hvalue, &t, pos, n);

		return 0;
	}

	return ENOENT;
}
