/**
 * @file flow.c  Flow tokens: where both sides of a dialog really are
 *
 * A phone behind a NAT puts its private address in its Contact, so an
 * in-dialog request sent to that Contact is lost. When sipd record-routes
 * a dialog it writes, as the user part of its Record-Route URI, a token
 * with both flows of the dialog-creating request: the socket, transport
 * and source address it came from, and the socket, transport and address
 * it went to (the idea of RFC 5626's flow tokens). An in-dialog request
 * that comes from one of them goes to the other. The token is protected
 * by an HMAC with a key kept in the database, so that it survives a
 * restart and cannot be forged to make sipd send elsewhere.
 *
 * A node token (flow_node_token()) names a callee instead: another node
 * that shares the database (and so the key) routes a request for a phone
 * whose flow this node holds with a Route of this node whose user part
 * is the token, and this node sends it down the phone's flow. Only the
 * nodes can make one; it is never shown to a phone (the node it names
 * removes its Route).
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <ctype.h>
#include <openssl/crypto.h>
#include <re.h>
#include "engine.h"


enum {
	KEY_SIZE = 32,
	MAC_SIZE = 8,
	SIDE_MAX = 2 + 1 + 1 + 16 + 2,      /* socket, tp, af, addr, port */
	TOKEN_MAX = 2 * SIDE_MAX + MAC_SIZE,
	NODE_AOR_MAX = 255,
	NODE_DOMAIN = 0xff,        /* a node token's MAC: not a dialog's */
};


static struct {
	struct hmac *hmac;    /* NULL until the key is loaded */
} fk;


/**
 * Set the token key (tests use it; sipd keeps it in the database)
 *
 * @param key Key bytes, 32
 */
void flow_set_key(const uint8_t *key)
{
	fk.hmac = mem_deref(fk.hmac);
	(void)hmac_alloc(&fk.hmac, key, KEY_SIZE);
}


/**
 * Forget the token key (the proxy engine's close)
 */
void flow_close(void)
{
	fk.hmac = mem_deref(fk.hmac);
}


static int key_load(void)
{
	uint8_t key[KEY_SIZE];
	int err;

	if (fk.hmac)
		return 0;

	err = db_secret("flow_key", key, sizeof(key));
	if (!err)
		err = hmac_alloc(&fk.hmac, key, sizeof(key));

	return err;
}


static size_t side_encode(uint8_t *p, const struct flow *f)
{
	size_t n = 0;

	p[n++] = (uint8_t)(f->sock >> 8);
	p[n++] = (uint8_t)f->sock;
	p[n++] = (uint8_t)f->tp;

	if (sa_af(&f->addr) == AF_INET6) {
		p[n++] = 6;
		memcpy(p + n, &f->addr.u.in6.sin6_addr, 16);
		n += 16;
	}
	else {
		uint32_t a = sa_in(&f->addr);

		p[n++] = 4;
		p[n++] = (uint8_t)(a >> 24);
		p[n++] = (uint8_t)(a >> 16);
		p[n++] = (uint8_t)(a >> 8);
		p[n++] = (uint8_t)a;
	}

	p[n++] = (uint8_t)(sa_port(&f->addr) >> 8);
	p[n++] = (uint8_t)sa_port(&f->addr);

	return n;
}


static int side_decode(struct flow *f, const uint8_t *p, size_t len,
		       size_t *used)
{
	size_t n = 0;

	if (len < 4)
		return EBADMSG;

	f->sock = (uint32_t)p[0] << 8 | p[1];
	f->tp = (enum sip_transp)p[2];
	n = 4;

	if (f->tp >= SIP_TRANSPC)
		return EBADMSG;

	if (p[3] == 6) {
		struct in6_addr a6;

		if (len < n + 18)
			return EBADMSG;
		memcpy(&a6, p + n, 16);
		sa_set_in6(&f->addr, a6.s6_addr, 0);
		n += 16;
	}
	else if (p[3] == 4) {
		if (len < n + 6)
			return EBADMSG;
		sa_set_in(&f->addr, (uint32_t)p[n] << 24 |
			  (uint32_t)p[n+1] << 16 | (uint32_t)p[n+2] << 8 |
			  p[n+3], 0);
		n += 4;
	}
	else {
		return EBADMSG;
	}

	sa_set_port(&f->addr, (uint16_t)(p[n] << 8 | p[n+1]));
	n += 2;

	*used = n;

	return 0;
}


static int mac(uint8_t *out, const uint8_t *data, size_t len)
{
	return hmac_sha256(fk.hmac, out, MAC_SIZE, data, len);
}


/**
 * Print the token of the two flows of a dialog, as a URI user part
 *
 * @param buf  Buffer, at least 2 * TOKEN_MAX + 2 characters
 * @param size Buffer size
 * @param a    The flow the request came on
 * @param b    The flow it leaves on
 *
 * @return 0 if success, otherwise errorcode
 */
int flow_token(char *buf, size_t size, const struct flow *a,
	       const struct flow *b)
{
	uint8_t raw[TOKEN_MAX];
	size_t n;
	int err;

	err = key_load();
	if (err)
		return err;

	n  = side_encode(raw, a);
	n += side_encode(raw + n, b);

	err = mac(raw + n, raw, n);
	if (err)
		return err;

	n += MAC_SIZE;

	if (size < 2 * n + 2)
		return ENOMEM;

	(void)re_snprintf(buf, size, "f%w", raw, n);

	return 0;
}


/**
 * Read the flows of a token that sipd wrote
 *
 * @param a     The flow the dialog-creating request came on
 * @param b     The flow it left on
 * @param token User part of a Route URI of sipd's
 *
 * @return 0 if genuine, EBADMSG otherwise
 */
int flow_decode(struct flow *a, struct flow *b, const struct pl *token)
{
	uint8_t raw[TOKEN_MAX], want[MAC_SIZE];
	size_t i, n, used1, used2;

	if (key_load())
		return EBADMSG;

	if (token->l < 1 || token->p[0] != 'f' || (token->l - 1) % 2 ||
	    (token->l - 1) / 2 > sizeof(raw))
		return EBADMSG;

	n = (token->l - 1) / 2;
	for (i = 0; i < n; i++) {
		char hi = token->p[1 + 2*i], lo = token->p[2 + 2*i];

		if (!isxdigit((unsigned char)hi) ||
		    !isxdigit((unsigned char)lo))
			return EBADMSG;

		raw[i] = (uint8_t)(ch_hex(hi) << 4 | ch_hex(lo));
	}

	if (n <= MAC_SIZE)
		return EBADMSG;

	if (side_decode(a, raw, n - MAC_SIZE, &used1) ||
	    side_decode(b, raw + used1, n - MAC_SIZE - used1, &used2) ||
	    used1 + used2 + MAC_SIZE != n)
		return EBADMSG;

	if (mac(want, raw, n - MAC_SIZE) ||
	    CRYPTO_memcmp(want, raw + n - MAC_SIZE, MAC_SIZE))
		return EBADMSG;

	return 0;
}


/**
 * Print the node token of a callee, as a URI user part
 *
 * @param buf  Buffer, 2 * (strlen(aor) + 8) + 2 characters at least
 * @param size Buffer size
 * @param aor  The callee, user@domain
 *
 * @return 0 if success, otherwise errorcode
 */
int flow_node_token(char *buf, size_t size, const char *aor)
{
	uint8_t raw[1 + NODE_AOR_MAX + MAC_SIZE];
	size_t n, i, len;
	int err;

	if (!buf || !aor)
		return EINVAL;

	len = strlen(aor);
	if (!len || len > NODE_AOR_MAX)
		return EINVAL;

	err = key_load();
	if (err)
		return err;

	raw[0] = NODE_DOMAIN;
	memcpy(raw + 1, aor, len);
	err = mac(raw + 1 + len, raw, 1 + len);
	if (err)
		return err;

	n = len + MAC_SIZE;
	if (size < 2 * n + 2)
		return ENOMEM;

	buf[0] = 'n';
	for (i = 0; i < n; i++)
		(void)re_snprintf(buf + 1 + 2 * i, 3, "%02x", raw[1 + i]);

	return 0;
}


/**
 * Read the callee of a node token that a node of this database wrote
 *
 * @param aor   Buffer for the callee, user@domain
 * @param size  Its size
 * @param token User part of a Route URI of sipd's
 *
 * @return 0 if genuine, EBADMSG otherwise
 */
int flow_node_decode(char *aor, size_t size, const struct pl *token)
{
	uint8_t raw[1 + NODE_AOR_MAX + MAC_SIZE], want[MAC_SIZE];
	size_t i, n, len;

	if (!aor || !token || token->l < 1 || token->p[0] != 'n' ||
	    (token->l - 1) % 2)
		return EBADMSG;

	n = (token->l - 1) / 2;
	if (n <= MAC_SIZE || n > NODE_AOR_MAX + MAC_SIZE)
		return EBADMSG;

	len = n - MAC_SIZE;
	if (len >= size || key_load())
		return EBADMSG;

	raw[0] = NODE_DOMAIN;
	for (i = 0; i < n; i++) {
		char hi = token->p[1 + 2*i], lo = token->p[2 + 2*i];

		if (!isxdigit((unsigned char)hi) ||
		    !isxdigit((unsigned char)lo))
			return EBADMSG;

		raw[1 + i] = (uint8_t)(ch_hex(hi) << 4 | ch_hex(lo));
	}

	if (mac(want, raw, 1 + len) ||
	    CRYPTO_memcmp(want, raw + 1 + len, MAC_SIZE))
		return EBADMSG;

	if (memchr(raw + 1, '\0', len))
		return EBADMSG;

	memcpy(aor, raw + 1, len);
	aor[len] = '\0';

	return 0;
}
