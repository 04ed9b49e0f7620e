/**
 * @file nonce.c  Nonces the server checks without storing them
 *
 * A nonce is the time it was made, eight random bytes and an HMAC-SHA256
 * over both and the realm, in hex. The HMAC key is kept in the database,
 * so nonces stay valid across a restart.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <openssl/crypto.h>
#include <ctype.h>
#include <re.h>
#include <sipd.h>
#include "auth.h"


enum {
	KEY_SIZE = 32,
	MAC_SIZE = 16,
};


static struct {
	struct hmac *hmac;    /* NULL until the key is loaded */
} nk;


/**
 * Set the HMAC key (tests use it; sipd loads it from the database)
 *
 * @param key Key bytes
 * @param len Length, at most 32
 *
 * @return 0 if success, EINVAL if too long
 */
int nonce_set_key(const uint8_t *key, size_t len)
{
	uint8_t k[KEY_SIZE] = {0};

	if (len > KEY_SIZE)
		return EINVAL;

	memcpy(k, key, len);
	nk.hmac = mem_deref(nk.hmac);

	return hmac_alloc(&nk.hmac, k, sizeof(k));
}


/**
 * Load the HMAC key from the database, creating it the first time
 *
 * @return 0 if success, otherwise errorcode
 */
int nonce_load_key(void)
{
	uint8_t key[KEY_SIZE];
	int err;

	if (nk.hmac)
		return 0;

	err = db_secret("nonce_key", key, sizeof(key));
	if (!err)
		err = hmac_alloc(&nk.hmac, key, sizeof(key));

	return err;
}


/**
 * Forget the key (the module closes)
 */
void nonce_close(void)
{
	nk.hmac = mem_deref(nk.hmac);
}


static int mac(uint8_t *out, const uint8_t *stamp, size_t stampl,
	       const char *realm)
{
	uint8_t buf[16 + 256];
	size_t rl = strlen(realm);

	if (rl > 256)
		rl = 256;

	memcpy(buf, stamp, stampl);
	memcpy(buf + stampl, realm, rl);

	return hmac_sha256(nk.hmac, out, MAC_SIZE, buf, stampl + rl);
}


static void stamp_encode(uint8_t *stamp, int64_t now, const uint8_t *rnd)
{
	int i;

	for (i = 0; i < 8; i++)
		stamp[i] = (uint8_t)((uint64_t)now >> (56 - 8 * i));

	memcpy(stamp + 8, rnd, NONCE_RND);
}


/**
 * Encode the nonce of a time and eight random bytes (the same pair
 * gives the same nonce)
 *
 * @param nonce Buffer of at least NONCE_SIZE + 1 characters
 * @param size  Buffer size
 * @param at    Time it is made, epoch seconds
 * @param rnd   Its eight random bytes
 * @param realm Realm it is for
 *
 * @return 0 if success, otherwise errorcode
 */
int nonce_encode(char *nonce, size_t size, int64_t at,
		 const uint8_t rnd[NONCE_RND], const char *realm)
{
	uint8_t stamp[16], m[MAC_SIZE];
	int err;

	if (size < NONCE_SIZE + 1)
		return EINVAL;

	err = nonce_load_key();
	if (err)
		return err;

	stamp_encode(stamp, at, rnd);

	err = mac(m, stamp, sizeof(stamp), realm);
	if (err)
		return err;

	(void)re_snprintf(nonce, size, "%w%w", stamp, sizeof(stamp),
			  m, sizeof(m));

	return 0;
}


/**
 * Make a new nonce
 *
 * @param nonce Buffer of at least NONCE_SIZE + 1 characters
 * @param size  Buffer size
 * @param now   Current time, epoch seconds
 * @param realm Realm it is for
 *
 * @return 0 if success, otherwise errorcode
 */
int nonce_make(char *nonce, size_t size, int64_t now, const char *realm)
{
	uint8_t rnd[NONCE_RND];

	rand_bytes(rnd, sizeof(rnd));

	return nonce_encode(nonce, size, now, rnd, realm);
}


static int hex_bytes(uint8_t *out, const char *hex, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!isxdigit((unsigned char)hex[2*i]) ||
		    !isxdigit((unsigned char)hex[2*i+1]))
			return EINVAL;

		out[i] = (uint8_t)(ch_hex(hex[2*i]) << 4 | ch_hex(hex[2*i+1]));
	}

	return 0;
}


/**
 * Check a nonce that a client returned
 *
 * @param nonce  The nonce
 * @param realm  Realm of the credentials
 * @param now    Current time
 * @param expiry Seconds a nonce is valid
 *
 * @return 0 if valid, ETIMEDOUT if genuine but expired, EINVAL if forged
 */
int nonce_check(const struct pl *nonce, const char *realm, int64_t now,
		uint32_t expiry)
{
	uint8_t stamp[16], m[MAC_SIZE], expect[MAC_SIZE];
	int64_t made = 0;
	int i, err;

	if (!nonce || nonce->l != NONCE_SIZE)
		return EINVAL;

	err = nonce_load_key();
	if (err)
		return err;

	if (hex_bytes(stamp, nonce->p, sizeof(stamp)) ||
	    hex_bytes(m, nonce->p + 2 * sizeof(stamp), sizeof(m)))
		return EINVAL;

	err = mac(expect, stamp, sizeof(stamp), realm);
	if (err)
		return err;

	if (CRYPTO_memcmp(m, expect, sizeof(m)))
		return EINVAL;

	for (i = 0; i < 8; i++)
		made = (int64_t)((uint64_t)made << 8 | stamp[i]);

	if (made > now + 5 || now - made > (int64_t)expiry)
		return ETIMEDOUT;

	return 0;
}
