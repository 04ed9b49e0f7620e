/**
 * @file recall.c  The nonce a request was challenged with, given again to
 *                 its retransmissions
 *
 * Challenges are sent without a transaction, so that a scanner leaves no
 * state behind. A retransmitted request (its first 401 late or lost) used
 * to get a new nonce, so a response that differed from the first; a
 * client that recognises a retransmitted response by its bytes (SIPp)
 * took it for a new one, and failed the registration it was completing.
 *
 * The time and random bytes of each challenge are kept in a fixed table,
 * a slot per transaction key (the Via branch and sent-by, Call-ID, From
 * tag and CSeq): the same request within the window gets the same nonce,
 * so the same response. The table never grows: a flood of requests only
 * overwrites slots, and a request whose slot was taken gets a new nonce,
 * as before.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include <sipd.h>
#include "auth.h"


enum {
	SLOTS = 16384,         /* a power of two: 384 KB once used */
	WINDOW_MAX = 32,       /* s: 64*T1, a non-INVITE transaction's life */
};


struct slot {
	uint64_t key;          /* 0 when empty */
	int64_t at;            /* the nonce's time */
	uint8_t rnd[NONCE_RND];
};


static struct slot *slots;


static uint64_t fnv(uint64_t h, const struct pl *pl)
{
	size_t i;

	for (i = 0; i < pl->l; i++) {
		h ^= (uint8_t)pl->p[i];
		h *= 0x100000001b3ULL;
	}

	/* a separator: "ab"+"c" differs from "a"+"bc" */
	h ^= 0xff;
	h *= 0x100000001b3ULL;

	return h;
}


static uint64_t transaction_key(const struct sip_msg *msg)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	h = fnv(h, &msg->via.branch);
	h = fnv(h, &msg->via.sentby);
	h = fnv(h, &msg->callid);
	h = fnv(h, &msg->from.tag);
	h = fnv(h, &msg->cseq.met);
	h ^= msg->cseq.num;
	h *= 0x100000001b3ULL;

	return h ? h : 1;
}


/**
 * The nonce to challenge a request with: the one its first copy got
 * if that was at most window seconds ago, otherwise a new one
 *
 * @param nonce  Buffer of at least NONCE_SIZE + 1 characters
 * @param size   Buffer size
 * @param msg    The request
 * @param now    Current time, epoch seconds
 * @param window Seconds a nonce is given again (at most 32)
 * @param realm  Realm it is for
 *
 * @return 0 if success, otherwise errorcode
 */
int recall_nonce(char *nonce, size_t size, const struct sip_msg *msg,
		 int64_t now, uint32_t window, const char *realm)
{
	uint64_t key = transaction_key(msg);
	struct slot *s;

	if (!slots) {
		slots = mem_zalloc(SLOTS * sizeof(*slots), NULL);
		if (!slots)
			return nonce_make(nonce, size, now, realm);
	}

	s = &slots[key & (SLOTS - 1)];

	if (s->key != key || now < s->at ||
	    now - s->at > (int64_t)MIN(window, WINDOW_MAX)) {
		s->key = key;
		s->at = now;
		rand_bytes(s->rnd, sizeof(s->rnd));
	}

	return nonce_encode(nonce, size, s->at, s->rnd, realm);
}


/**
 * Forget every challenge (the module closes)
 */
void recall_flush(void)
{
	slots = mem_deref(slots);
}
