/**
 * @file hmac.c  HMAC-SHA-256 with a key set once
 *
 * OpenSSL 3's one-shot HMAC() looks up the algorithm and sets the key
 * on every call; digest nonces and flow tokens are made and checked for
 * every REGISTER and every routed request. An hmac object keeps a MAC
 * context with its key, and each use only restarts it.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <re.h>
#include "digest.h"


/** HMAC-SHA-256 with its key */
struct hmac {
	EVP_MAC_CTX *ctx;
};


static void destructor(void *arg)
{
	struct hmac *h = arg;

	EVP_MAC_CTX_free(h->ctx);
}


/**
 * Set up HMAC-SHA-256 with a key
 *
 * @param hp  Pointer to allocated object
 * @param key Key
 * @param len Key length
 *
 * @return 0 if success, otherwise errorcode
 */
int hmac_alloc(struct hmac **hp, const uint8_t *key, size_t len)
{
	OSSL_PARAM params[2];
	struct hmac *h;
	EVP_MAC *mac;

	if (!hp || !key)
		return EINVAL;

	h = mem_zalloc(sizeof(*h), destructor);
	if (!h)
		return ENOMEM;

	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (mac) {
		h->ctx = EVP_MAC_CTX_new(mac);
		EVP_MAC_free(mac);
	}

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						     "SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();

	if (!h->ctx || !EVP_MAC_init(h->ctx, key, len, params)) {
		mem_deref(h);
		return EIO;
	}

	*hp = h;

	return 0;
}


/**
 * Compute the MAC of data, truncated to a length
 *
 * @param h    HMAC object
 * @param out  Buffer for the MAC
 * @param outl Bytes wanted (at most 32)
 * @param data Data
 * @param len  Data length
 *
 * @return 0 if success, otherwise errorcode
 */
int hmac_sha256(struct hmac *h, uint8_t *out, size_t outl,
		const uint8_t *data, size_t len)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	size_t mdl = 0;

	if (!h || !out || outl > 32)
		return EINVAL;

	/* no key: the one given to hmac_alloc() is used again */
	if (!EVP_MAC_init(h->ctx, NULL, 0, NULL) ||
	    !EVP_MAC_update(h->ctx, data, len) ||
	    !EVP_MAC_final(h->ctx, md, &mdl, sizeof(md)) || mdl < outl)
		return EIO;

	memcpy(out, md, outl);

	return 0;
}
