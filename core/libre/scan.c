/**
 * @file scan.c  libre's header decoders as hand-written scanners
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
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include "libre.h"


enum {
	SCAN_NAME_MAX = 64,  /* longer names go to libre */
};

/* what a step of an attempt found */
enum step {
	GO = 0,     /* matched, go on          */
	NEXT,       /* try the next offset     */
	STOP,       /* no match anywhere: ENOENT */
};


typedef bool (class_h)(uint8_t c);


static inline uint8_t lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}


static inline bool is_ws(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}


static inline bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}


/* the character classes of libre's patterns */
static inline bool c_ws(uint8_t c)       { return is_ws(c); }
static inline bool c_digit(uint8_t c)    { return is_digit(c); }
static inline bool c_colon(uint8_t c)    { return c == ':'; }
static inline bool c_eq(uint8_t c)       { return c == '='; }
static inline bool c_nocolon(uint8_t c)  { return c != ':'; }
static inline bool c_noat(uint8_t c)     { return c != '@'; }
static inline bool c_nosemi(uint8_t c)   { return c != ';'; }
static inline bool c_noquery(uint8_t c)  { return c != '?'; }
static inline bool c_nogt(uint8_t c)     { return c != '>'; }
static inline bool c_noamp(uint8_t c)    { return c != '&'; }
static inline bool c_qamp(uint8_t c)     { return c == '?' || c == '&'; }

static inline bool c_alpha(uint8_t c)
{
	c = lower(c);
	return c >= 'a' && c <= 'z';
}

static inline bool c_hex6(uint8_t c)
{
	c = lower(c);
	return is_digit(c) || (c >= 'a' && c <= 'f') || c == ':';
}

static inline bool c_user(uint8_t c)
{
	return c != '@' && c != ':';
}

static inline bool c_hostport(uint8_t c)
{
	return c != '/' && c != ';' && c != '?' && c != ' ';
}

static inline bool c_path(uint8_t c)
{
	return c != ';' && c != '?' && c != ' ';
}

static inline bool c_nows(uint8_t c)
{
	return !is_ws(c);
}

static inline bool c_token(uint8_t c)
{
	return c != ';' && !is_ws(c);
}

static inline bool c_type(uint8_t c)
{
	return c != ';' && c != '/' && !is_ws(c);
}

static inline bool c_pname(uint8_t c)
{
	return c != ';' && c != '=';
}

static inline bool c_wssemieq(uint8_t c)
{
	return is_ws(c) || c == ';' || c == '=';
}

static inline bool c_ltws(uint8_t c)
{
	return c == '<' || is_ws(c);
}

static inline bool c_wssemi(uint8_t c)
{
	return c == ';' || is_ws(c);
}


/* as many bytes of the class as there are, from pos */
static inline size_t span(const struct pl *pl, size_t pos, class_h *in)
{
	size_t n = pos;

	while (n < pl->l && in((uint8_t)pl->p[n]))
		++n;

	return n - pos;
}


/*
 * A "[~...]" class: bytes not in the set, but a quoted string and a
 * backslash-escaped byte are taken whole; one pair of quotes around
 * what was taken is then dropped. Returns the bytes taken.
 */
static size_t qspan(struct pl *cap, const struct pl *pl, size_t pos,
		    class_h *stop)
{
	bool quote = false, esc = false;
	size_t n;

	for (n = pos; n < pl->l; n++) {

		const uint8_t c = pl->p[n];

		if (esc) {
			esc = false;
			continue;
		}

		if (c == '\\') {
			esc = true;
			continue;
		}

		if (c == '"') {
			quote = !quote;
			continue;
		}

		if (!quote && stop(c))
			break;
	}

	cap->p = pl->p + pos;
	cap->l = n - pos;

	if (cap->l > 1 && cap->p[0] == '"' && cap->p[cap->l - 1] == '"') {
		cap->p += 1;
		cap->l -= 2;
	}

	return n - pos;
}


/* a literal byte of the pattern */
static inline enum step lit(const struct pl *pl, size_t *pos, char c)
{
	if (*pos >= pl->l)
		return STOP;

	if (lower(pl->p[*pos]) != lower(c))
		return NEXT;

	++*pos;

	return GO;
}


/* a name printed into the pattern: a literal of n bytes */
static inline enum step lits(const struct pl *pl, size_t *pos,
			     const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {

		const enum step r = lit(pl, pos, s[i]);

		if (r != GO)
			return r;
	}

	return GO;
}


static inline void cap(struct pl *c, const struct pl *pl, size_t pos,
		       size_t n)
{
	c->p = pl->p + pos;
	c->l = n;
}


/* the input from a start offset on */
static inline void tail(struct pl *t, const struct pl *pl, size_t s)
{
	t->p = pl->p + s;
	t->l = pl->l - s;
}


/* at the lead byte s: the name after it, after blanks when ws is set */
static enum step name_at(struct pl *t, size_t *pos, const struct pl *pl,
			 size_t s, bool ws, const char *name, size_t nl)
{
	tail(t, pl, s);
	*pos = 1;
	if (ws)
		*pos += span(t, *pos, c_ws);

	return lits(t, pos, name, nl);
}


/* a name re_regex() reads as literal bytes only */
static bool name_plain(const char *s, size_t n)
{
	size_t i;

	if (!s || n > SCAN_NAME_MAX)
		return false;

	for (i = 0; i < n; i++) {
		if (s[i] == '[' || s[i] == '\\' || s[i] == '\0')
			return false;
	}

	return true;
}


static void *real(void **fp, const char *name)
{
	if (!*fp)
		*fp = libre_original(name);

	return *fp;
}


/*
 * "\\[[0-9a-f:]+\\][:]*[0-9]*" and then "[^:]+[:]*[0-9]*"
 * (uri_decode_hostport(), and via.c's copy of it)
 */
static int hostport(const struct pl *hp, struct pl *host, struct pl *port)
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

	return hostport(hostport_pl, host, port);
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
	    0 == hostport(&hp, &uri->host, &port))
		goto out;

	memset(uri, 0, sizeof(*uri));

	err = uri_nouser(uri, &hp, pl);
	if (err)
		return err;

	err = hostport(&hp, &uri->host, &port);
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

	err = hostport(&via->sentby, &host, &port);
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
