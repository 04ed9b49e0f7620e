/**
 * @file digest.h  HTTP digest (RFC 2617, RFC 7616, RFC 8760) and keyed
 *                 HMAC-SHA-256: a static library (lib/digest) for the
 *                 auth, location and proxy modules and sipctl
 *
 * Copyright (C) 2026 sipd developers
 */

#ifndef SIPD_DIGEST_H
#define SIPD_DIGEST_H

#include "sipd.h"



/** Credentials of an Authorization or Proxy-Authorization header */
struct digest_cred {
	struct pl username;
	struct pl realm;
	struct pl nonce;
	struct pl uri;
	struct pl response;
	struct pl algorithm;
	struct pl cnonce;
	struct pl opaque;
	struct pl qop;
	struct pl nc;
	struct pl userhash;
};

/** A challenge of a WWW-Authenticate or Proxy-Authenticate header */
struct digest_chall {
	struct pl realm;
	struct pl nonce;
	struct pl opaque;
	struct pl algorithm;
	struct pl qop;
	struct pl stale;
};

/* HMAC-SHA-256 with a key set once */
struct hmac;
int  hmac_alloc(struct hmac **hp, const uint8_t *key, size_t len);
int  hmac_sha256(struct hmac *h, uint8_t *out, size_t outl,
		 const uint8_t *data, size_t len);

size_t digest_size(enum digest_alg alg);
const char *digest_alg_name(enum digest_alg alg);
int  digest_alg_decode(enum digest_alg *alg, const struct pl *pl);
int  digest_ha1(uint8_t *ha1, enum digest_alg alg, const char *user,
		const char *realm, const char *password);
int  digest_response(uint8_t *resp, enum digest_alg alg, const uint8_t *ha1,
		     const struct digest_cred *cred, const struct pl *method);
bool digest_verify(const struct digest_cred *cred, enum digest_alg alg,
		   const uint8_t *ha1, const struct pl *method);
int  digest_cred_decode(struct digest_cred *cred, const struct pl *hval);
void digest_close(void);
int  digest_chall_decode(struct digest_chall *ch, const struct pl *hval);
int  digest_cred_write(struct mbuf *mb, const struct digest_chall *ch,
		       const char *user, const char *password,
		       const struct pl *method, const struct pl *uri);

#endif
