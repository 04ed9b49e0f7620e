/**
 * @file strans.c  sipd's sip_strans_reply(), in front of libre's: a
 *                 finished transaction keeps less of its request
 *
 * Over UDP libre keeps a server transaction 32 s after its final
 * response (Timer J; Timer L after an INVITE's 2xx) to absorb
 * retransmissions, and with it the whole decoded request: its bytes and
 * its header index (a hash table and an entry per header, about half of
 * what a decoded message costs). Matching a retransmission or an ACK
 * and resending the response read only the parsed fields (Via branch
 * and sent-by, CSeq, Call-ID, From tag, Request-URI), the socket and the
 * transport. At the end of the loop turn of a final response over UDP,
 * a request that nothing but its transaction holds any more loses its
 * header index: sip_msg_hdr() finds nothing in it after that. The
 * response the transaction keeps to resend moves to a buffer of its
 * length (cut in place, the rest would be a hole few allocations fit);
 * an INVITE's 2xx, which it never resends, keeps no buffer at all.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include "libre.h"


enum {
	PENDING_MAX = 1024,   /* requests a loop turn may leave to slim */
	SLACK_MAX   = 128,    /* unused bytes a kept response may have */
};


typedef int (strans_reply_h)(struct sip_strans **stp, struct sip *sip,
			     const struct sip_msg *msg, const struct sa *dst,
			     uint16_t scode, struct mbuf *mb);


static struct {
	strans_reply_h *real;
	struct tmr tmr;
	struct sip_msg *pending[PENDING_MAX];
	uint32_t npending;
} slim;


/* the header index goes; the parsed fields and the bytes stay */
static void msg_slim(struct sip_msg *msg)
{
	list_flush(&msg->hdrl);       /* the list's reference to each */
	hash_flush(msg->hdrht);       /* the index's, and each header */
	msg->hdrht = mem_deref(msg->hdrht);
}


/* sent over UDP: nothing points into the buffer any more */
static void buffer_fit(struct mbuf *mb)
{
	uint8_t *buf = mem_alloc(mb->end, NULL);

	if (!buf)
		return;

	memcpy(buf, mb->buf, mb->end);
	mem_deref(mb->buf);
	mb->buf  = buf;
	mb->size = mb->end;
}


static void turn_end(void *arg)
{
	uint32_t i;
	(void)arg;

	for (i = 0; i < slim.npending; i++) {
		struct sip_msg *msg = slim.pending[i];

		/* its transaction's reference and this one: nobody else */
		if (mem_nrefs(msg) == 2 && msg->hdrht)
			msg_slim(msg);

		mem_deref(msg);
	}

	slim.npending = 0;
}


int sip_strans_reply(struct sip_strans **stp, struct sip *sip,
		     const struct sip_msg *msg, const struct sa *dst,
		     uint16_t scode, struct mbuf *mb)
{
	int err;

	if (!slim.real)
		slim.real = (strans_reply_h *)
			libre_original("sip_strans_reply");

	err = slim.real(stp, sip, msg, dst, scode, mb);

	/* over UDP the transaction now holds the request for 32 s */
	if (err || scode < 200 || !msg || msg->tp != SIP_TRANSP_UDP)
		return err;

	/* an INVITE's 2xx: the transaction never sends it again (Accepted,
	   RFC 6026; a proxy forwards the 2xx retransmissions itself) */
	if (scode < 300 && !pl_strcmp(&msg->met, "INVITE"))
		mbuf_reset(mb);
	else if (mb->size > mb->end + SLACK_MAX)
		buffer_fit(mb);

	if (slim.npending == PENDING_MAX)
		return err;

	slim.pending[slim.npending++] = mem_ref((void *)msg);
	if (!tmr_isrunning(&slim.tmr))
		tmr_start(&slim.tmr, 0, turn_end, NULL);

	return err;
}
