/**
 * @file fuzz_digest.c  Fuzzing harness: digest header parsing and checks
 *
 * The bytes are a header value. As credentials (Authorization) they are
 * decoded, and what decodes is checked as modules/auth checks it: the
 * algorithm, the response against a known HA1, the nonce and its count.
 * As a challenge (WWW-Authenticate) they are decoded and answered as a
 * client would (digest_cred_write).
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdlib.h>
#include <string.h>
#include <re.h>
#include "core.h"
#include "digest/digest.h"
#include "../../modules/auth/auth.h"
#include "harness.h"


int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const uint8_t key[32] = {1, 2, 3, 4, 5, 6, 7, 8};

	(void)argc;
	(void)argv;

	if (libre_init() || nonce_set_key(key, sizeof(key)))
		abort();

	log_set_stderr(false);

	return 0;
}


static void cred_check(const struct pl *val)
{
	static const struct pl method = PL("REGISTER");
	uint8_t ha1[DIGEST_MAX_SIZE];
	struct digest_cred cred;
	enum digest_alg alg;

	if (digest_cred_decode(&cred, val))
		return;

	if (digest_alg_decode(&alg, &cred.algorithm))
		alg = DIGEST_MD5;

	if (digest_ha1(ha1, alg, "alice", "example.com", "secret"))
		return;

	(void)digest_verify(&cred, alg, ha1, &method);
	(void)nonce_check(&cred.nonce, "example.com", 1000, 300);
	(void)replay_check(&cred.nonce, &cred.nc, 1, 2000);
	replay_flush();
}


static void chall_answer(const struct pl *val)
{
	static const struct pl method = PL("INVITE");
	static const struct pl uri = PL("sip:bob@example.com");
	struct digest_chall ch;
	struct mbuf *mb;

	if (digest_chall_decode(&ch, val))
		return;

	mb = mbuf_alloc(256);
	if (!mb)
		return;

	(void)digest_cred_write(mb, &ch, "alice", "secret", &method, &uri);

	mem_deref(mb);
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pl val;

	val.p = (const char *)data;
	val.l = size;

	cred_check(&val);
	chall_answer(&val);

	return 0;
}
