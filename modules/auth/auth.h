/**
 * @file auth.h  Internal interface of the digest auth module
 *
 * Copyright (C) 2026 sipd developers
 */

#include <sipmsg/sipmsg.h>

#include <digest/digest.h>

enum {
	NONCE_SIZE = 64,       /* hex characters */
	NONCE_RND  = 8,        /* random bytes in a nonce */
};

/* nonce.c */
int  nonce_set_key(const uint8_t *key, size_t len);
int  nonce_load_key(void);
void nonce_close(void);
int  nonce_make(char *nonce, size_t size, int64_t now, const char *realm);
int  nonce_encode(char *nonce, size_t size, int64_t at,
		  const uint8_t rnd[NONCE_RND], const char *realm);
int  nonce_check(const struct pl *nonce, const char *realm, int64_t now,
		 uint32_t expiry);

/* recall.c */
int  recall_nonce(char *nonce, size_t size, const struct sip_msg *msg,
		  int64_t now, uint32_t window, const char *realm);
void recall_flush(void);

/* replay.c */
int  replay_check(const struct pl *nonce, const struct pl *nc,
		  uint32_t branch_hash, int64_t expires);
void replay_flush(void);
uint32_t replay_count(void);

/* throttle.c */
struct throttle_conf {
	uint32_t throttle;     /* failures before one try per second */
	uint32_t limit;        /* failures before a ban                 */
	uint32_t window;       /* seconds a failure counts              */
	uint32_t ban_time;     /* seconds of a ban, 0 for none          */
};

void throttle_configure(const struct throttle_conf *conf);
bool throttle_blocked(const struct sa *src, uint64_t now_ms);
bool throttle_fail(const struct sa *src, uint64_t now_ms);
void throttle_flush(void);
