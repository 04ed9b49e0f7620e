/**
 * @file digest.c  HTTP digest (RFC 2617, RFC 7616, RFC 8760): hashes and
 *                 the credentials of an Authorization header
 *
 * libre 1.1.0 verifies MD5 responses only and its decoder drops the
 * algorithm parameter, so sipd parses credentials and computes responses
 * itself, with OpenSSL for MD5 and SHA-256. The auth module and sipctl
 * share these functions.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <ctype.h>
#include <re.h>
#include "digest.h"


/* The algorithms, fetched once (OpenSSL 3 looks up a legacy EVP_md5()
   at every EVP_DigestInit_ex()), and one context used again: the
   process is single-threaded */
static struct {
	EVP_MD *md5;
	EVP_MD *sha256;
	EVP_MD_CTX *ctx;
} dg;


static EVP_MD *alg_md(enum digest_alg alg)
{
	switch (alg) {

	case DIGEST_MD5:
		if (!dg.md5)
			dg.md5 = EVP_MD_fetch(NULL, "MD5", NULL);
		return dg.md5;

	case DIGEST_SHA256:
		if (!dg.sha256)
			dg.sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
		return dg.sha256;

	default:
		return NULL;
	}
}


/**
 * Size of a hash of an algorithm
 *
 * @param alg Digest algorithm
 *
 * @return Size in bytes
 */
size_t digest_size(enum digest_alg alg)
{
	return alg == DIGEST_SHA256 ? 32 : 16;
}


/**
 * Name of an algorithm as written in challenges
 *
 * @param alg Digest algorithm
 *
 * @return "MD5" or "SHA-256"
 */
const char *digest_alg_name(enum digest_alg alg)
{
	return alg == DIGEST_SHA256 ? "SHA-256" : "MD5";
}


/**
 * Decode an algorithm parameter; absent means MD5
 *
 * @param alg Result
 * @param pl  Parameter value, may be unset
 *
 * @return 0 if success, ENOTSUP for an algorithm sipd does not offer
 */
int digest_alg_decode(enum digest_alg *alg, const struct pl *pl)
{
	if (!pl_isset(pl) || !pl_strcasecmp(pl, "MD5"))
		*alg = DIGEST_MD5;
	else if (!pl_strcasecmp(pl, "SHA-256"))
		*alg = DIGEST_SHA256;
	else
		return ENOTSUP;

	return 0;
}


static int hash_print(uint8_t *out, enum digest_alg alg,
		      const char *fmt, ...)
{
	const EVP_MD *md = alg_md(alg);
	unsigned int len = 0;
	char *str = NULL;
	va_list ap;
	int err;

	if (!md)
		return EINVAL;

	va_start(ap, fmt);
	err = re_vsdprintf(&str, fmt, ap);
	va_end(ap);
	if (err)
		return err;

	if (!dg.ctx)
		dg.ctx = EVP_MD_CTX_new();
	if (!dg.ctx) {
		mem_deref(str);
		return ENOMEM;
	}

	if (!EVP_DigestInit_ex(dg.ctx, md, NULL) ||
	    !EVP_DigestUpdate(dg.ctx, str, strlen(str)) ||
	    !EVP_DigestFinal_ex(dg.ctx, out, &len))
		err = EIO;

	mem_deref(str);

	return err;
}


/**
 * Compute HA1 = H(user:realm:password)
 *
 * @param ha1      Buffer of DIGEST_MAX_SIZE bytes
 * @param alg      Digest algorithm
 * @param user     User name
 * @param realm    Realm (the account's domain)
 * @param password Password
 *
 * @return 0 if success, otherwise errorcode
 */
int digest_ha1(uint8_t *ha1, enum digest_alg alg, const char *user,
	       const char *realm, const char *password)
{
	if (!ha1 || !user || !realm || !password)
		return EINVAL;

	return hash_print(ha1, alg, "%s:%s:%s", user, realm, password);
}


/**
 * Compute the expected response of digest credentials
 *
 * @param resp   Buffer of DIGEST_MAX_SIZE bytes
 * @param alg    Digest algorithm
 * @param ha1    HA1 of the account
 * @param cred   Decoded credentials (nonce, nc, cnonce, qop, uri)
 * @param method Request method
 *
 * @return 0 if success, otherwise errorcode
 */
int digest_response(uint8_t *resp, enum digest_alg alg, const uint8_t *ha1,
		    const struct digest_cred *cred, const struct pl *method)
{
	uint8_t ha2[DIGEST_MAX_SIZE];
	size_t n = digest_size(alg);
	int err;

	err = hash_print(ha2, alg, "%r:%r", method, &cred->uri);
	if (err)
		return err;

	if (pl_isset(&cred->qop)) {
		return hash_print(resp, alg, "%w:%r:%r:%r:%r:%w",
				  ha1, n, &cred->nonce, &cred->nc,
				  &cred->cnonce, &cred->qop, ha2, n);
	}

	return hash_print(resp, alg, "%w:%r:%w", ha1, n, &cred->nonce, ha2, n);
}


static int hex_decode(uint8_t *out, size_t n, const struct pl *hex)
{
	size_t i;

	if (hex->l != 2 * n)
		return EINVAL;

	for (i = 0; i < n; i++) {
		int hi = ch_hex(hex->p[2*i]);
		int lo = ch_hex(hex->p[2*i+1]);

		if (!isxdigit((unsigned char)hex->p[2*i]) ||
		    !isxdigit((unsigned char)hex->p[2*i+1]))
			return EINVAL;

		out[i] = (uint8_t)(hi << 4 | lo);
	}

	return 0;
}


/**
 * Check the response of digest credentials, in constant time
 *
 * @param cred   Decoded credentials
 * @param alg    Digest algorithm
 * @param ha1    HA1 of the account
 * @param method Request method
 *
 * @return True if the response is right
 */
bool digest_verify(const struct digest_cred *cred, enum digest_alg alg,
		   const uint8_t *ha1, const struct pl *method)
{
	uint8_t expect[DIGEST_MAX_SIZE], got[DIGEST_MAX_SIZE];
	size_t n = digest_size(alg);

	if (digest_response(expect, alg, ha1, cred, method))
		return false;

	if (hex_decode(got, n, &cred->response))
		return false;

	return 0 == CRYPTO_memcmp(expect, got, n);
}


typedef void (param_h)(const struct pl *name, const struct pl *val,
		      void *arg);


/* Walk the name=value and name="quoted" parameters after "Digest" */
static int params_apply(const struct pl *hval, param_h *h, void *arg)
{
	const char *p, *end;
	struct pl scheme;

	if (re_regex(hval->p, hval->l, "[ \t\r\n]*[^ \t\r\n]+", NULL,
		     &scheme))
		return EBADMSG;

	if (pl_strcasecmp(&scheme, "Digest"))
		return ENOTSUP;

	p = scheme.p + scheme.l;
	end = hval->p + hval->l;

	while (p < end) {
		struct pl name, val;

		while (p < end && strchr(" \t\r\n,", *p))
			++p;
		if (p >= end)
			break;

		name.p = p;
		while (p < end && *p != '=' && !strchr(" \t\r\n,", *p))
			++p;
		name.l = p - name.p;

		while (p < end && strchr(" \t\r\n", *p))
			++p;
		if (p >= end || *p != '=' || !name.l)
			return EBADMSG;
		++p;
		while (p < end && strchr(" \t\r\n", *p))
			++p;

		if (p < end && *p == '"') {
			++p;
			val.p = p;
			while (p < end && *p != '"') {
				if (*p == '\\' && p + 1 < end)
					++p;
				++p;
			}
			if (p >= end)
				return EBADMSG;
			val.l = p - val.p;
			++p;
		}
		else {
			val.p = p;
			while (p < end && !strchr(" \t\r\n,", *p))
				++p;
			val.l = p - val.p;
		}

		h(&name, &val, arg);
	}

	return 0;
}


static void cred_param(const struct pl *name, const struct pl *val,
		       void *arg)
{
	static const struct {
		const char *name;
		size_t off;
	} fields[] = {
		{"username",  offsetof(struct digest_cred, username)},
		{"realm",     offsetof(struct digest_cred, realm)},
		{"nonce",     offsetof(struct digest_cred, nonce)},
		{"uri",       offsetof(struct digest_cred, uri)},
		{"response",  offsetof(struct digest_cred, response)},
		{"algorithm", offsetof(struct digest_cred, algorithm)},
		{"cnonce",    offsetof(struct digest_cred, cnonce)},
		{"opaque",    offsetof(struct digest_cred, opaque)},
		{"qop",       offsetof(struct digest_cred, qop)},
		{"nc",        offsetof(struct digest_cred, nc)},
		{"userhash",  offsetof(struct digest_cred, userhash)},
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fields); i++) {
		if (!pl_strcasecmp(name, fields[i].name)) {
			*(struct pl *)((char *)arg + fields[i].off) = *val;
			return;
		}
	}
}


/**
 * Decode the credentials of an Authorization or Proxy-Authorization
 * header value: Digest name=value, name="quoted value", ...
 *
 * @param cred Result; unset fields stay unset
 * @param hval Header value
 *
 * @return 0 if success, EBADMSG if malformed, ENOTSUP if not Digest
 */
int digest_cred_decode(struct digest_cred *cred, const struct pl *hval)
{
	int err;

	memset(cred, 0, sizeof(*cred));

	err = params_apply(hval, cred_param, cred);
	if (err)
		return err;

	if (!pl_isset(&cred->username) || !pl_isset(&cred->realm) ||
	    !pl_isset(&cred->nonce) || !pl_isset(&cred->uri) ||
	    !pl_isset(&cred->response))
		return EBADMSG;

	if (pl_isset(&cred->qop) && (!pl_isset(&cred->nc) ||
				     !pl_isset(&cred->cnonce)))
		return EBADMSG;

	return 0;
}


static void chall_param(const struct pl *name, const struct pl *val,
			void *arg)
{
	struct digest_chall *ch = arg;

	if (!pl_strcasecmp(name, "realm"))
		ch->realm = *val;
	else if (!pl_strcasecmp(name, "nonce"))
		ch->nonce = *val;
	else if (!pl_strcasecmp(name, "opaque"))
		ch->opaque = *val;
	else if (!pl_strcasecmp(name, "algorithm"))
		ch->algorithm = *val;
	else if (!pl_strcasecmp(name, "qop"))
		ch->qop = *val;
	else if (!pl_strcasecmp(name, "stale"))
		ch->stale = *val;
}


/**
 * Decode a WWW-Authenticate or Proxy-Authenticate header value
 *
 * @param ch   Result
 * @param hval Header value
 *
 * @return 0 if success, EBADMSG if malformed, ENOTSUP if not Digest
 */
int digest_chall_decode(struct digest_chall *ch, const struct pl *hval)
{
	int err;

	memset(ch, 0, sizeof(*ch));

	err = params_apply(hval, chall_param, ch);
	if (err)
		return err;

	if (!pl_isset(&ch->realm) || !pl_isset(&ch->nonce))
		return EBADMSG;

	return 0;
}


/**
 * Answer a challenge: print credentials as a client (a trunk's
 * challenge, answered by sipd for its users)
 *
 * @param mb       Buffer to write the header value to
 * @param ch       Decoded challenge
 * @param user     User name
 * @param password Password
 * @param method   Request method
 * @param uri      Request-URI
 *
 * @return 0 if success, ENOTSUP for an unknown algorithm
 */
int digest_cred_write(struct mbuf *mb, const struct digest_chall *ch,
		      const char *user, const char *password,
		      const struct pl *method, const struct pl *uri)
{
	uint8_t ha1[DIGEST_MAX_SIZE], resp[DIGEST_MAX_SIZE];
	struct digest_cred cred;
	enum digest_alg alg;
	char realm[128], cnonce[17];
	bool qop = false;
	int err;

	err = digest_alg_decode(&alg, &ch->algorithm);
	if (err)
		return err;

	/* qop "auth" when offered, alone or in a list such as "auth,auth-int" */
	if (pl_isset(&ch->qop)) {
		const char *p = ch->qop.p, *end = p + ch->qop.l;

		while (p < end && !qop) {
			const char *comma = memchr(p, ',', end - p);
			struct pl tok;

			tok.p = p;
			tok.l = (comma ? comma : end) - p;
			while (tok.l && tok.p[0] == ' ')
				++tok.p, --tok.l;
			while (tok.l && tok.p[tok.l-1] == ' ')
				--tok.l;

			qop = !pl_strcasecmp(&tok, "auth");
			p = comma ? comma + 1 : end;
		}

		if (!qop)
			return ENOTSUP;
	}

	if (pl_strcpy(&ch->realm, realm, sizeof(realm)))
		return EINVAL;

	rand_str(cnonce, sizeof(cnonce));

	memset(&cred, 0, sizeof(cred));
	cred.nonce = ch->nonce;
	cred.uri = *uri;
	pl_set_str(&cred.cnonce, cnonce);
	if (qop) {
		pl_set_str(&cred.qop, "auth");
		pl_set_str(&cred.nc, "00000001");
	}

	err  = digest_ha1(ha1, alg, user, realm, password);
	err |= digest_response(resp, alg, ha1, &cred, method);
	if (err)
		return err;

	err = mbuf_printf(mb, "Digest username=\"%s\", realm=\"%r\","
			 " nonce=\"%r\", uri=\"%r\", response=\"%w\","
			 " algorithm=%s", user, &ch->realm, &ch->nonce, uri,
			 resp, digest_size(alg), digest_alg_name(alg));

	if (pl_isset(&ch->opaque))
		err |= mbuf_printf(mb, ", opaque=\"%r\"", &ch->opaque);

	if (qop)
		err |= mbuf_printf(mb, ", qop=auth, nc=00000001,"
				  " cnonce=\"%s\"", cnonce);

	return err;
}


/**
 * Free what the digests keep (in a module's close: the library's copy
 * goes with the module)
 */
void digest_close(void)
{
	EVP_MD_CTX_free(dg.ctx);
	EVP_MD_free(dg.md5);
	EVP_MD_free(dg.sha256);
	memset(&dg, 0, sizeof(dg));
}
