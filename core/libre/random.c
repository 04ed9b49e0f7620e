/**
 * @file random.c  sipd's rand_u32(), rand_u64() and rand_bytes(), in
 *                 front of libre's
 *
 * libre 1.1.0 asks OpenSSL's RAND_bytes() for every random number: four
 * bytes at a time for each tag, branch and Call-ID, and each call pays
 * OpenSSL's locking and fork check. A redirect server spent 7 % of its
 * time there. These replacements serve the same generator's output from
 * a pool of bytes that RAND_bytes() fills 4 KB at a time; a byte is
 * handed out once. A child process after fork() empties its pool, so
 * that two processes never hand out the same bytes.
 *
 * libre calls rand_u32() and rand_bytes() through the dynamic linker
 * (rand_u16, rand_char and rand_str are built on them), so these
 * definitions in the sipd executable replace them, as decode.c replaces
 * sip_msg_decode().
 *
 * rand_u64() makes the branch of every request libre sends
 * ("z9hG4bK%016llx"), and libre has no other say in a branch. In a set
 * of workers, all sending from the shared port, the kernel gives the
 * response to whichever worker the sender's address hashes to; the low
 * byte of every rand_u64() is then the index of the worker (the mark,
 * libre_rand_mark()), so that the worker that reads a response knows
 * whose transaction it is (the tags and Call-IDs libre draws the same
 * way keep 56 random bits).
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <pthread.h>
#include <openssl/rand.h>
#include <openssl/err.h>
#include <re.h>
#include "libre.h"


enum {
	POOL_SIZE = 4096,
};


static struct {
	uint8_t pool[POOL_SIZE];
	size_t left;              /* bytes not yet handed out, at the end */
	bool atfork;
	bool marked;
	uint8_t mark;             /* rand_u64()'s low byte when marked */
} rnd;


static void child_after_fork(void)
{
	rnd.left = 0;
}


static void pool_take(uint8_t *p, size_t size)
{
	while (size) {
		size_t n;

		if (!rnd.left) {
			if (!rnd.atfork) {
				(void)pthread_atfork(NULL, NULL,
						     child_after_fork);
				rnd.atfork = true;
			}

			if (RAND_bytes(rnd.pool, sizeof(rnd.pool)) <= 0) {
				ERR_clear_error();
				log_warning("random: RAND_bytes failed\n");
				/* never hand out the same bytes twice */
				(void)RAND_bytes(p, (int)size);
				return;
			}

			rnd.left = sizeof(rnd.pool);
		}

		n = MIN(size, rnd.left);
		memcpy(p, rnd.pool + sizeof(rnd.pool) - rnd.left, n);
		memset(rnd.pool + sizeof(rnd.pool) - rnd.left, 0, n);
		rnd.left -= n;
		p += n;
		size -= n;
	}
}


/**
 * A random 32-bit number (replaces libre's)
 *
 * @return Random number
 */
uint32_t rand_u32(void)
{
	uint32_t v;

	pool_take((uint8_t *)&v, sizeof(v));

	return v;
}


/**
 * Random bytes (replaces libre's)
 *
 * @param p    Buffer
 * @param size Number of bytes
 */
void rand_bytes(uint8_t *p, size_t size)
{
	if (!p)
		return;

	if (size >= POOL_SIZE) {
		if (RAND_bytes(p, (int)size) <= 0)
			ERR_clear_error();
		return;
	}

	pool_take(p, size);
}


/**
 * A random 64-bit number (replaces libre's), its low byte the mark if
 * one is set
 *
 * @return Random number
 */
uint64_t rand_u64(void)
{
	uint64_t v;

	pool_take((uint8_t *)&v, sizeof(v));

	return rnd.marked ? (v & ~(uint64_t)0xff) | rnd.mark : v;
}


/**
 * Make the low byte of every rand_u64() a mark (a worker's index), so
 * that the branches libre draws say which worker sent a request
 *
 * @param on   True to mark, false for plain random numbers
 * @param mark The mark
 */
void libre_rand_mark(bool on, uint8_t mark)
{
	rnd.marked = on;
	rnd.mark = mark;
}
