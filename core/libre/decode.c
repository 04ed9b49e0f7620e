/**
 * @file decode.c  sipd's sip_msg_decode(), in front of libre's
 *
 * libre 1.1.0 offers no hook between reading bytes and decoding them:
 * over TCP a message its parser refuses closes the connection, and over
 * UDP it is dropped without an answer. Its transports call
 * sip_msg_decode() through the dynamic linker, so the sipd executable
 * (linked with -rdynamic) defines that symbol; libre then calls this
 * function, which calls libre's own and then the hook registered from
 * above (wire.c), which answers or repairs what failed and counts what
 * was decoded. This is ELF symbol interposition, as malloc replacements
 * use.
 *
 * sipd checks at start that it works (the start-up probe must pass here);
 * if it does not, the UDP helper decodes every datagram itself instead.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <re.h>
#include "libre.h"


typedef int (decode_h)(struct sip_msg **msgp, struct mbuf *mb);


static struct {
	decode_h *real;
	libre_decode_h *hook;
	uint64_t count;
} dec;


/**
 * Set what runs after libre's decoder, with its result
 *
 * @param h Hook, or NULL for none
 */
void libre_decode_hook(libre_decode_h *h)
{
	dec.hook = h;
}


/**
 * libre's decoder itself
 *
 * @param msgp Pointer to the decoded message
 * @param mb   Buffer
 *
 * @return 0 if success, otherwise errorcode
 */
int libre_decode_real(struct sip_msg **msgp, struct mbuf *mb)
{
	if (!dec.real)
		dec.real = (decode_h *)libre_original("sip_msg_decode");

	return dec.real(msgp, mb);
}


/**
 * How many messages libre decoded through sipd's decoder
 *
 * @return Count
 */
uint64_t libre_decode_count(void)
{
	return dec.count;
}


int sip_msg_decode(struct sip_msg **msgp, struct mbuf *mb)
{
	size_t pos = mb ? mb->pos : 0;
	int err;

	++dec.count;

	err = libre_decode_real(msgp, mb);
	if (dec.hook)
		err = dec.hook(msgp, mb, pos, err);

	return err;
}
