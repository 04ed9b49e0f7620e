/**
 * @file decode.c  sipd's sip_msg_decode(), in front of libre's
 *
 * libre 1.1.0 offers no hook between reading bytes and decoding them:
 * over TCP a message its parser refuses closes the connection, and over
 * UDP it is dropped without an answer. Its transports call
 * sip_msg_decode() through the dynamic linker, so the sipd executable
 * (linked with -rdynamic) defines that symbol; libre then calls this
 * function, which calls libre's own and lets wire.c answer or repair what
 * failed. This is ELF symbol interposition, as malloc replacements use.
 *
 * sipd checks at start that it works (the start-up probe must pass here);
 * if it does not, the UDP helper decodes every datagram itself instead.
 * Every message decoded here is counted (stats.c).
 *
 * Copyright (C) 2026 sipd developers
 */

#include <dlfcn.h>
#include <re.h>
#include "core.h"


typedef int (decode_h)(struct sip_msg **msgp, struct mbuf *mb);


static struct {
	decode_h *real;
	uint64_t count;
} dec;


/**
 * libre's decoder itself
 *
 * @param msgp Pointer to the decoded message
 * @param mb   Buffer
 *
 * @return 0 if success, otherwise errorcode
 */
int wire_decode_real(struct sip_msg **msgp, struct mbuf *mb)
{
	if (!dec.real) {
		dec.real = (decode_h *)dlsym(RTLD_NEXT, "sip_msg_decode");
		if (!dec.real)
			return ENOSYS;
	}

	return dec.real(msgp, mb);
}


/**
 * How many messages libre decoded through sipd's decoder
 *
 * @return Count
 */
uint64_t decode_count(void)
{
	return dec.count;
}


int sip_msg_decode(struct sip_msg **msgp, struct mbuf *mb)
{
	size_t pos = mb ? mb->pos : 0;
	int err;

	++dec.count;

	err = wire_decode_real(msgp, mb);
	err = wire_decode(msgp, mb, pos, err);
	if (!err)
		stats_received(*msgp);

	return err;
}
