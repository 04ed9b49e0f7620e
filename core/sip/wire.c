/**
 * @file wire.c  Messages that libre's SIP parser would drop in silence
 *
 * libre decodes a message once, through sipd's decoder (libre/decode.c),
 * which calls the hook set here; a UDP helper in front of libre's socket
 * tells it which datagram and sender it is. For a message libre cannot
 * decode it
 *
 *  - adds a branch to the top Via of an RFC 2543 request (no branch, so
 *    libre refuses it), computed from the request's identity so that a
 *    retransmission, its ACK and its CANCEL match the same transaction;
 *  - answers 505 to a request of another SIP version;
 *  - answers 400 to any other malformed request it can find a Via in;
 *  - drops malformed responses and everything else, counting them.
 *
 * Over a connection of a TCP or TLS socket (the libre layer says which
 * one it reads) it answers the same before libre closes the connection,
 * also for a complete message whose start line libre would wait behind
 * forever (leading blanks).
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <strings.h>
#include <ctype.h>
#include <re.h>
#include "libre/libre.h"


enum {
	LAYER = 0,
	MAX_DATAGRAM = 65535,
};


/* Where an answer to raw bytes goes: a datagram's source, a connection */
struct wire_to {
	struct udp_sock *us;
	struct sa dst;
	struct tcp_conn *tc;
};


struct wire_helper {
	struct le le;
	struct udp_helper *uh;
	struct udp_sock *us;
	struct sipd_sock *sock;
};


static struct {
	struct list helpers;
	uint64_t rfc2543;
	bool interposed;
	struct mbuf *cur_mb;       /* the datagram libre is decoding */
	struct udp_sock *cur_us;
	struct sa cur_src;
} wire;


static bool cseq_mismatch(const struct sip_msg *msg)
{
	return msg->req && method_known(&msg->met) &&
		pl_cmp(&msg->cseq.met, &msg->met);
}


static int reply_raw(const struct wire_to *to, const struct raw_hdr *hv,
		     size_t hc, uint16_t scode, const char *reason)
{
	struct mbuf *mb;
	size_t i;
	bool to_tag = false;
	int err;

	mb = mbuf_alloc(512);
	if (!mb)
		return ENOMEM;

	err = mbuf_printf(mb, "SIP/2.0 %u %s\r\n", scode, reason);

	for (i = 0; i < hc; i++) {
		const struct raw_hdr *h = &hv[i];

		if (raw_is_hdr(&h->name, "Via", 'v')) {
			err |= mbuf_printf(mb, "%r\r\n", &h->line);
		}
		else if (raw_is_hdr(&h->name, "To", 't')) {
			struct pl tag;

			if (to_tag)
				continue;
			to_tag = true;
			err |= mbuf_printf(mb, "%r", &h->line);
			if (msg_param_decode(&h->val, "tag", &tag))
				err |= mbuf_printf(mb, ";tag=%016llx",
						   rand_u64());
			err |= mbuf_write_str(mb, "\r\n");
		}
		else if (raw_is_hdr(&h->name, "From", 'f') ||
			 raw_is_hdr(&h->name, "Call-ID", 'i') ||
			 raw_is_hdr(&h->name, "CSeq", '\0')) {
			err |= mbuf_printf(mb, "%r\r\n", &h->line);
		}
	}

	err |= mbuf_printf(mb, "Server: sipd/%s\r\n"
			   "Content-Length: 0\r\n\r\n", SIPD_VERSION);
	if (!err) {
		mb->pos = 0;
		err = to->tc ? tcp_send(to->tc, mb) :
			udp_send(to->us, &to->dst, mb);
	}

	mem_deref(mb);

	return err;
}


/*
 * An RFC 2543 request has no branch in its top Via. Give it one, built
 * from what RFC 3261 section 17.2.3 says identifies its transaction
 * (Request-URI, From tag, Call-ID, CSeq number, top Via), so that the
 * INVITE, its retransmissions, its ACK and its CANCEL share it.
 */
static int add_branch(struct mbuf *mb, const struct raw_hdr *hv, size_t hc,
		      const struct pl *ruri)
{
	const struct raw_hdr *via, *from, *callid, *cseq;
	struct pl cseqnum = PL_INIT, ftag = PL_INIT, value, pend;
	char branch[48];
	const char *comma;
	size_t off;
	uint32_t h1, h2;
	int err;

	via    = raw_find(hv, hc, "Via", 'v');
	from   = raw_find(hv, hc, "From", 'f');
	callid = raw_find(hv, hc, "Call-ID", 'i');
	cseq   = raw_find(hv, hc, "CSeq", '\0');

	if (!via || !from || !callid || !cseq)
		return EBADMSG;

	/* only the first value of the top Via line */
	value = via->val;
	comma = pl_strchr(&value, ',');
	if (comma)
		value.l = comma - value.p;

	while (value.l && (value.p[value.l-1] == ' ' ||
			   value.p[value.l-1] == '\t'))
		--value.l;

	if (!msg_param_exists(&value, "branch", &pend))
		return EBADMSG;

	(void)re_regex(cseq->val.p, cseq->val.l, "[0-9]+", &cseqnum);
	(void)msg_param_decode(&from->val, "tag", &ftag);

	h1 = hash_joaat_pl(ruri) ^ hash_joaat_pl(&callid->val);
	h2 = hash_joaat_pl(&ftag) ^ hash_joaat_pl(&cseqnum) ^
		hash_joaat_pl(&value);

	re_snprintf(branch, sizeof(branch), ";branch=z9hG4bK2543.%08x%08x",
		    h1, h2);

	off = value.p + value.l - (const char *)mb->buf;

	/* insert at off: move the tail, then write */
	err = mbuf_resize(mb, mb->end + strlen(branch));
	if (err)
		return err;

	memmove(mb->buf + off + strlen(branch), mb->buf + off,
		mb->end - off);
	memcpy(mb->buf + off, branch, strlen(branch));
	mb->end += strlen(branch);

	return 0;
}


/*
 * The three tokens of a start line, however many blanks separate them;
 * libre wants exactly one space, this is only for an answer.
 */
static int start_line(struct pl *met, struct pl *ruri, struct pl *ver,
		      const char *p, size_t l)
{
	const char *end = memchr(p, '\n', MIN(l, 8192));
	struct pl *tok[3];
	int i;

	if (!end)
		return EBADMSG;

	tok[0] = met;
	tok[1] = ruri;
	tok[2] = ver;

	for (i = 0; i < 3; i++) {
		while (p < end && (*p == ' ' || *p == '\t'))
			++p;

		tok[i]->p = p;
		while (p < end && *p != ' ' && *p != '\t' && *p != '\r')
			++p;
		tok[i]->l = p - tok[i]->p;

		if (!tok[i]->l)
			return EBADMSG;
	}

	return 0;
}


/*
 * Whether libre can decode the message. *mismatch tells a request whose
 * CSeq method is not its method: libre matches server transactions by
 * the CSeq method, RFC 3261 section 17.2.3 by the request method, so such
 * a request could be taken for a retransmission of another transaction.
 */
static bool decodes(struct mbuf *mb, bool *mismatch)
{
	struct sip_msg *msg;
	size_t pos = mb->pos;
	int err;

	err = libre_decode_real(&msg, mb);
	mb->pos = pos;

	if (err)
		return false;

	if (mismatch)
		*mismatch = cseq_mismatch(msg);

	mem_deref(msg);

	return true;
}


/* A Request-URI of a scheme other than sip and sips (RFC 3986 3.1) */
static bool other_scheme(const struct pl *ruri)
{
	size_t i;

	for (i = 0; i < ruri->l && ruri->p[i] != ':'; i++) {
		char c = ruri->p[i];

		if (!(isalpha((unsigned char)c) ||
		      (i && (isdigit((unsigned char)c) || c == '+' ||
			     c == '-' || c == '.'))))
			return false;
	}

	if (!i || i == ruri->l)
		return false;

	return !(i == 3 && !strncasecmp(ruri->p, "sip", 3)) &&
		!(i == 4 && !strncasecmp(ruri->p, "sips", 4));
}


/*
 * A stream libre's decoder refused (or waits on): whether to answer it,
 * and on which connection. A connection of a SIP TCP or TLS socket is
 * answered (not one sipd opened, not a WebSocket). Waiting for data is
 * right unless a whole header block is there already.
 */
static bool stream_answerable(struct wire_to *to, const struct mbuf *mb,
			      size_t start, int err)
{
	struct tcp_conn *tc = libre_tcp_current();
	const uint8_t *p = mb->buf + start;
	size_t l = mb->end - start;
	struct sa la;

	if (err == ENODATA && (l < 4 || !memmem(p, MIN(l, 8192),
					       "\r\n\r\n", 4)))
		return false;

	if (!tc || tcp_conn_local_get(tc, &la) ||
	    (!sock_for_laddr(SIP_TRANSP_TCP, &la) &&
	     !sock_for_laddr(SIP_TRANSP_TLS, &la)))
		return err != ENODATA;

	to->tc = tc;
	(void)tcp_conn_peer_get(tc, &to->dst);

	return true;
}


/*
 * A datagram libre cannot decode. With a UDP socket to answer from:
 * 505, 416 or 400 (or nothing for what is not a request). Returns 0 when
 * an RFC 2543 request got a branch and decodes now.
 */
static int rescue(struct mbuf *mb, const struct wire_to *to)
{
	struct raw_hdr hv[64];
	struct pl met, ruri, ver;
	const char *p = (const char *)mbuf_buf(mb);
	size_t l = mbuf_get_left(mb), hc, hdrend;
	int err;

	if (l <= 4)   /* keep-alives */
		return EBADMSG;

	/* responses and things that are not SIP: nothing to answer */
	if (start_line(&met, &ruri, &ver, p, l) ||
	    (met.l >= 4 && !strncasecmp(met.p, "SIP/", 4))) {
		stats_count(STATS_MALFORMED);
		return EBADMSG;
	}

	hc = raw_headers(hv, ARRAY_SIZE(hv), p, l, &hdrend);

	if (!raw_find(hv, hc, "Via", 'v')) {
		stats_count(STATS_MALFORMED);
		return EBADMSG;
	}

	if (ver.l >= 4 && !strncasecmp(ver.p, "SIP/", 4) &&
	    pl_strcmp(&ver, "SIP/2.0")) {
		stats_count(STATS_MALFORMED);
		if (to)
			(void)reply_raw(to, hv, hc, 505,
					"Version Not Supported");
		return EBADMSG;
	}

	err = add_branch(mb, hv, hc, &ruri);
	if (!err && decodes(mb, NULL)) {
		++wire.rfc2543;
		return 0;
	}

	stats_count(STATS_MALFORMED);

	if (!to)
		return EBADMSG;

	/* the branch may have been added and the buffer moved: read the
	   start line and the headers again */
	p = (const char *)mbuf_buf(mb);
	l = mbuf_get_left(mb);
	(void)start_line(&met, &ruri, &ver, p, l);
	hc = raw_headers(hv, ARRAY_SIZE(hv), p, l, &hdrend);

	/* an absoluteURI libre cannot decode (RFC 3261 8.2.2.1) */
	if (!pl_strcmp(&ver, "SIP/2.0") && other_scheme(&ruri)) {
		(void)reply_raw(to, hv, hc, 416, "Unsupported URI Scheme");
		return EBADMSG;
	}

	log_debug("malformed request from %J%s: answered 400\n", &to->dst,
		  to->tc ? " (over a connection)" : "");
	(void)reply_raw(to, hv, hc, 400, "Bad Request");

	return EBADMSG;
}


static bool mismatch_reply(struct mbuf *mb, const struct wire_to *to)
{
	struct raw_hdr hv[64];
	struct pl met, ruri, ver;
	const char *p = (const char *)mbuf_buf(mb);
	size_t l = mbuf_get_left(mb), hc, hdrend;

	hc = raw_headers(hv, ARRAY_SIZE(hv), p, l, &hdrend);

	stats_count(STATS_MALFORMED);
	if (start_line(&met, &ruri, &ver, p, l) || pl_strcmp(&met, "ACK"))
		(void)reply_raw(to, hv, hc, 400,
				"CSeq Method Does Not Match");

	return true;
}


/* A character of a token (RFC 3261 25.1): what a method is made of */
static bool token_char(uint8_t c)
{
	return isalnum(c) || (c && strchr("-.!%*_+`'~", c));
}


/*
 * What a datagram starts with: a request (a method: a token, whose case
 * matters, so "register" is an unknown method and gets 501), a response,
 * a keepalive (CR LF) or STUN (libre answers binding requests: the first
 * two bits are zero), maybe behind blanks. Anything else is not SIP and
 * is dropped unparsed.
 */
static enum kind {
	KIND_JUNK,
	KIND_REQUEST,
	KIND_OPTIONS,
	KIND_OTHER,
} datagram_kind(const struct mbuf *mb)
{
	const uint8_t *p = mbuf_buf(mb);
	size_t n = mbuf_get_left(mb);

	if (!n)
		return KIND_JUNK;

	if (p[0] < 0x04 || p[0] == '\r' || p[0] == '\n')
		return KIND_OTHER;

	if (n >= 8 && !memcmp(p, "SIP/2.0 ", 8))
		return KIND_OTHER;

	if (n >= 8 && !memcmp(p, "OPTIONS ", 8))
		return KIND_OPTIONS;

	/* a request behind blanks is malformed, and answered 400 */
	while (n > 1 && (*p == ' ' || *p == '\t')) {
		++p;
		--n;
	}

	return token_char(p[0]) ? KIND_REQUEST : KIND_JUNK;
}


static bool recv_helper(struct sa *src, struct mbuf *mb, void *arg)
{
	struct wire_helper *wh = arg;
	struct wire_to to;
	bool mismatch = false;

	memset(&to, 0, sizeof(to));
	enum kind kind;

	if (ban_check(src))
		return true;

	kind = datagram_kind(mb);
	if (kind == KIND_JUNK) {
		stats_count(STATS_JUNK);
		return true;
	}

	if (kind != KIND_OTHER && filter_flood(src, kind == KIND_OPTIONS))
		return true;

	/* a response to another worker's request goes to it */
	if (kind == KIND_OTHER && owner_elsewhere(wh->sock, src, mb))
		return true;

	/* decoded once, by libre, through wire_decode() */
	if (wire.interposed) {
		wire.cur_mb  = mb;
		wire.cur_us  = wh->us;
		wire.cur_src = *src;
		return false;
	}

	/* without the interposition: decode here as well */
	to.us = wh->us;
	to.dst = *src;
	if (decodes(mb, &mismatch))
		return mismatch ? mismatch_reply(mb, &to) : false;

	return rescue(mb, &to) != 0;
}


/**
 * What sipd does around libre's decoder (see libre/decode.c): a request whose
 * CSeq method differs from its method is refused (libre would match it
 * to another transaction, RFC 3261 17.2.3), and what libre cannot decode
 * is answered or repaired. Called for every message libre decodes.
 *
 * @param msgp  Pointer to the decoded message
 * @param mb    The buffer
 * @param start Where the message starts in it
 * @param err   What libre's decoder returned
 *
 * @return The result for libre: 0 with *msgp set, or an error
 */
static int decode_fix(struct sip_msg **msgp, struct mbuf *mb, size_t start,
		      int err)
{
	bool datagram = mb && mb == wire.cur_mb;
	struct wire_to to;

	memset(&to, 0, sizeof(to));

	/* one decode for each datagram */
	if (datagram) {
		wire.cur_mb = NULL;
		to.us = wire.cur_us;
		to.dst = wire.cur_src;
	}

	if (!err) {
		if (datagram && cseq_mismatch(*msgp)) {
			*msgp = mem_deref(*msgp);
			mb->pos = start;
			(void)mismatch_reply(mb, &to);
			return EBADMSG;
		}
		return 0;
	}

	if (!mb)
		return err;

	/* a stream waits for the rest of the message, unless what it has
	   is a whole header block behind a start line libre cannot read */
	if (!datagram && !stream_answerable(&to, mb, start, err))
		return err;

	mb->pos = start;
	if (rescue(mb, datagram || to.tc ? &to : NULL))
		return err == ENODATA ? EBADMSG : err;

	mb->pos = start;

	return libre_decode_real(msgp, mb);
}


/* libre's decoder's hook: fixed, then counted (stats.c) */
static int decode_hook(struct sip_msg **msgp, struct mbuf *mb, size_t start,
		       int err)
{
	err = decode_fix(msgp, mb, start, err);
	if (!err)
		stats_received(*msgp);

	return err;
}


/**
 * Stand behind libre's decoder (listen.c, before any socket opens)
 */
void wire_init(void)
{
	libre_decode_hook(decode_hook);
}


/**
 * The interposition works: libre decoded the start-up probe through
 * sipd's decoder. From now on the UDP helper does not decode.
 */
void wire_interposed(void)
{
	wire.interposed = true;
}


static void helper_destructor(void *arg)
{
	struct wire_helper *wh = arg;

	list_unlink(&wh->le);
	mem_deref(wh->uh);
}


/**
 * Put the malformed-datagram helper in front of a UDP socket
 *
 * @param us   libre's UDP socket of a SIP transport
 * @param sock The sipd socket it belongs to
 *
 * @return 0 if success, otherwise errorcode
 */
int wire_attach_udp(struct udp_sock *us, struct sipd_sock *sock)
{
	struct wire_helper *wh;
	int err;

	wh = mem_zalloc(sizeof(*wh), helper_destructor);
	if (!wh)
		return ENOMEM;

	wh->us = us;
	wh->sock = sock;

	err = udp_register_helper(&wh->uh, us, LAYER, NULL, recv_helper, wh);
	if (err) {
		mem_deref(wh);
		return err;
	}

	list_append(&wire.helpers, &wh->le, wh);

	return 0;
}


/**
 * Feed a datagram that another worker read to libre, as if the shared
 * UDP socket of a sipd socket had read it here (daemon/handoff.c; the
 * libre layer's libre_udp_feed())
 *
 * @param sock The sipd socket
 * @param src  Source address
 * @param mb   The datagram
 *
 * @return 0 if fed, otherwise errorcode
 */
int wire_feed(const struct sipd_sock *sock, const struct sa *src,
	      struct mbuf *mb)
{
	struct le *le;

	for (le = wire.helpers.head; le; le = le->next) {
		const struct wire_helper *wh = le->data;
		struct sa la;

		/* the shared socket, not the worker's private one */
		if (wh->sock != sock || udp_local_get(wh->us, &la) ||
		    sa_port(&la) != sa_port(sock_laddr(sock)))
			continue;

		if (wire.interposed) {
			wire.cur_mb  = mb;
			wire.cur_us  = wh->us;
			wire.cur_src = *src;
		}

		return libre_udp_feed(wh->us, src, mb);
	}

	return ENOENT;
}


void wire_close(void)
{
	libre_decode_hook(NULL);
	list_flush(&wire.helpers);
}
