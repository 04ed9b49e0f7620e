/**
 * @file validate.c  Checks on a decoded request before any role sees it
 *
 * libre's parser is lenient; these checks give the answers RFC 3261 and
 * the RFC 4475 torture tests expect for requests it accepts: missing or
 * repeated mandatory headers, a CSeq that disagrees with the method,
 * out-of-range numbers, a bad Content-Length, and malformed To and From.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <ctype.h>
#include <re.h>
#include "core.h"


enum {
	MAX_FORWARDS_MAX = 255,
};


static bool digits(const struct pl *pl, size_t maxlen)
{
	size_t i;

	if (!pl->l || pl->l > maxlen)
		return false;

	for (i = 0; i < pl->l; i++) {
		if (pl->p[i] < '0' || pl->p[i] > '9')
			return false;
	}

	return true;
}


static bool single(const struct sip_msg *msg, enum sip_hdrid id)
{
	return sip_msg_hdr_count(msg, id) <= 1;
}


/* name-addr: no white space inside <...>, quotes balanced */
static bool addr_valid(const struct pl *val)
{
	bool quoted = false;
	size_t i;

	for (i = 0; i < val->l; i++) {
		char c = val->p[i];

		if (quoted) {
			if (c == '\\')
				++i;
			else if (c == '"')
				quoted = false;
			continue;
		}

		if (c == '"') {
			quoted = true;
		}
		else if (c == '<') {
			const char *gt = memchr(val->p + i, '>', val->l - i);
			size_t j;

			if (!gt)
				return false;

			for (j = i + 1; val->p + j < gt; j++) {
				char d = val->p[j];
				if (d == ' ' || d == '\t' || d == '\r' ||
				    d == '\n')
					return false;
			}

			i = gt - val->p;
		}
	}

	return !quoted;
}


/* Via parameters: each one a token after a ';', none empty */
static bool via_params_valid(const struct pl *params)
{
	bool need = false, any = false, quoted = false;
	size_t i;

	for (i = 0; i < params->l; i++) {
		char c = params->p[i];

		if (quoted) {
			if (c == '\\')
				++i;
			else if (c == '"')
				quoted = false;
			continue;
		}

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;

		if (c == ';') {
			if (need)
				return false;
			need = true;
			continue;
		}

		if (!need && !any)
			return false;

		if (c == '"')
			quoted = true;

		need = false;
		any = true;
	}

	return !need && !quoted;
}


/**
 * Is the port of a Via sent-by out of range (libre would truncate it to
 * 16 bits and answer another port)?
 *
 * @param sentby The sent-by of a Via
 *
 * @return True if it has a port above 65535
 */
bool validate_port_bad(const struct pl *sentby)
{
	const char *p, *end;
	uint32_t port = 0;
	size_t digits = 0;

	if (!pl_isset(sentby))
		return false;

	/* the port follows the last ':' after an IPv6 reference's ']' */
	p = sentby->p;
	end = p + sentby->l;
	if (*p == '[') {
		p = memchr(p, ']', sentby->l);
		if (!p)
			return false;
	}

	p = memchr(p, ':', (size_t)(end - p));
	if (!p)
		return false;

	for (++p; p < end && *p >= '0' && *p <= '9'; ++p) {
		if (++digits > 5)
			return true;
		port = port * 10 + (uint32_t)(*p - '0');
	}

	return port > 65535;
}


/* every Via value "SIP/2.0/TRANSPORT sent-by;params", none empty */
static bool via_bad(const struct sip_hdr *h, const struct sip_msg *msg,
		    void *arg)
{
	struct sip_via via;
	int err;
	(void)msg;
	(void)arg;

	memset(&via, 0, sizeof(via));
	err = sip_via_decode(&via, &h->val);
	if (err && err != ENOENT)     /* a lower Via may lack a branch */
		return true;

	/* sip_via_decode() does not anchor its pattern */
	if (h->val.l < 3 || memcmp(h->val.p, "SIP", 3) ||
	    !pl_isset(&via.sentby) || validate_port_bad(&via.sentby))
		return true;

	return !via_params_valid(&via.params);
}


/* The host and port of a sip or sips Request-URI: an IPv6 address in
   brackets (RFC 3261 25.1: sip:2001:db8::1 is not a URI), a port of
   digits */
static bool ruri_hostport_valid(const struct pl *ruri)
{
	const char *p, *e, *at, *end = ruri->p + ruri->l;

	p = memchr(ruri->p, ':', ruri->l);
	if (!p)
		return false;

	for (e = ++p; e < end && *e != ';' && *e != '?'; e++)
		;

	for (at = e; at > p && at[-1] != '@'; at--)
		;
	p = at;

	if (p < e && *p == '[') {
		p = memchr(p, ']', e - p);
		if (!p)
			return false;
		++p;
	}
	else {
		while (p < e && *p != ':')
			++p;
	}

	if (p == e)
		return true;

	if (*p++ != ':' || p == e)
		return false;

	for (; p < e; p++) {
		if (!isdigit((unsigned char)*p))
			return false;
	}

	return true;
}


static const struct sip_hdr *hdr(const struct sip_msg *msg,
				 enum sip_hdrid id)
{
	return sip_msg_hdr(msg, id);
}


static int check_cseq(const struct sip_msg *msg, const char **reason)
{
	const struct sip_hdr *h = hdr(msg, SIP_HDR_CSEQ);
	struct pl num;

	if (!h || re_regex(h->val.p, h->val.l, "[0-9]+", &num) ||
	    num.p != h->val.p || !digits(&num, 10) ||
	    pl_u64(&num) > 0xffffffffULL) {
		*reason = "Bad CSeq";
		return 400;
	}

	if (pl_cmp(&msg->cseq.met, &msg->met)) {
		*reason = "CSeq Method Does Not Match";
		return 400;
	}

	return 0;
}


static int check_numbers(const struct sip_msg *msg, const char **reason)
{
	struct pl clen;

	/* leading zeros are allowed (RFC 4475 3.1.1.1) */
	if (pl_isset(&msg->maxfwd) &&
	    (!digits(&msg->maxfwd, 9) ||
	     pl_u32(&msg->maxfwd) > MAX_FORWARDS_MAX)) {
		*reason = "Bad Max-Forwards";
		return 400;
	}

	if (pl_isset(&msg->expires) && !digits(&msg->expires, 20)) {
		*reason = "Bad Expires";
		return 400;
	}

	clen = msg->clen;
	if (pl_isset(&clen)) {
		if (!digits(&clen, 9)) {
			*reason = "Bad Content-Length";
			return 400;
		}

		if (msg->tp == SIP_TRANSP_UDP &&
		    pl_u32(&clen) > mbuf_get_left(msg->mb)) {
			*reason = "Content-Length Exceeds Message";
			return 400;
		}
	}

	return 0;
}


/**
 * Check a request that libre decoded
 *
 * @param msg        The request
 * @param any_method True if a role of its socket takes methods sipd
 *                   does not know (no 501 for them)
 * @param reason     Set to the reason phrase when the request is refused
 *
 * @return 0 if the request may go on, otherwise the status code to answer
 */
int validate_request(const struct sip_msg *msg, bool any_method,
		     const char **reason)
{
	const struct sip_hdr *h;
	size_t i;
	int scode;

	if (!pl_isset(&msg->via.sentby) || !pl_isset(&msg->callid) ||
	    !pl_isset(&msg->cseq.met) || !pl_isset(&msg->from.auri) ||
	    !pl_isset(&msg->to.auri)) {
		*reason = "Missing Mandatory Header";
		return 400;
	}

	if (!single(msg, SIP_HDR_TO) || !single(msg, SIP_HDR_FROM) ||
	    !single(msg, SIP_HDR_CALL_ID) || !single(msg, SIP_HDR_CSEQ) ||
	    !single(msg, SIP_HDR_MAX_FORWARDS) ||
	    !single(msg, SIP_HDR_CONTENT_LENGTH) ||
	    !single(msg, SIP_HDR_CONTENT_TYPE) ||
	    !single(msg, SIP_HDR_EXPIRES)) {
		*reason = "Repeated Single-Value Header";
		return 400;
	}

	/* an unknown method gets 501 before anything else about it */
	if (!any_method && !method_known(&msg->met)) {
		*reason = "Not Implemented";
		return 501;
	}

	scode = check_cseq(msg, reason);
	if (scode)
		return scode;

	scode = check_numbers(msg, reason);
	if (scode)
		return scode;

	if (!pl_strcmp(&msg->via.branch, "z9hG4bK")) {
		*reason = "Missing Transaction Identifier";
		return 400;
	}

	if (sip_msg_hdr_apply(msg, true, SIP_HDR_VIA, via_bad, NULL)) {
		*reason = "Malformed Via";
		return 400;
	}

	h = hdr(msg, SIP_HDR_TO);
	if (h && !addr_valid(&h->val)) {
		*reason = "Malformed To";
		return 400;
	}

	h = hdr(msg, SIP_HDR_FROM);
	if (h && !addr_valid(&h->val)) {
		*reason = "Malformed From";
		return 400;
	}

	for (i = 0; i < msg->ruri.l; i++) {
		if (strchr("<>\" \t", msg->ruri.p[i])) {
			*reason = "Malformed Request-URI";
			return 400;
		}
	}

	if (pl_isset(&msg->uri.headers)) {
		*reason = "Headers Not Allowed In Request-URI";
		return 400;
	}

	if (pl_strcasecmp(&msg->uri.scheme, "sip") &&
	    pl_strcasecmp(&msg->uri.scheme, "sips")) {
		*reason = "Unsupported URI Scheme";
		return 416;
	}

	if (!ruri_hostport_valid(&msg->ruri)) {
		*reason = "Malformed Request-URI";
		return 400;
	}

	return 0;
}


/**
 * Check whether a request leaves its stream without a usable framing:
 * a Content-Length that is not a number, or more than one of them
 *
 * @param msg The request
 *
 * @return True if the bytes after it cannot be trusted
 */
bool validate_framing_broken(const struct sip_msg *msg)
{
	if (!single(msg, SIP_HDR_CONTENT_LENGTH))
		return true;

	return pl_isset(&msg->clen) && !digits(&msg->clen, 9);
}
