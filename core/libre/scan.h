/**
 * @file scan.h  The scanners' steps: character classes, spans, literals
 *               and captures as re_regex() takes them (scan_uri.c,
 *               scan_msg.c)
 *
 * Copyright (C) 2026 sipd developers
 */

#ifndef SIPD_SCAN_H
#define SIPD_SCAN_H


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
static inline size_t qspan(struct pl *cap, const struct pl *pl, size_t pos,
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
static inline enum step name_at(struct pl *t, size_t *pos, const struct pl *pl,
			 size_t s, bool ws, const char *name, size_t nl)
{
	tail(t, pl, s);
	*pos = 1;
	if (ws)
		*pos += span(t, *pos, c_ws);

	return lits(t, pos, name, nl);
}


/* a name re_regex() reads as literal bytes only */
static inline bool name_plain(const char *s, size_t n)
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


/* scan_uri.c */
int scan_hostport(const struct pl *hp, struct pl *host, struct pl *port);

#endif
