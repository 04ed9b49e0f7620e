/**
 * @file send.c  sipd's sip_transp_send(), in front of libre's: counts
 *               every SIP message sent, says where TLS goes
 *
 * Every message libre sends for sipd (replies, forwarded requests and
 * responses, retransmissions, ACKs and CANCELs of its transactions, the
 * registrar's pings) passes libre's sip_transp_send(), which libre calls
 * through the dynamic linker. The sipd executable (linked with -rdynamic)
 * defines it, calls libre's own and gives the message, or the error, to
 * the hook registered from above (stats.c counts them).
 *
 * A TLS connection sipd opens is made inside it (libre's conn_send()
 * connects and calls tls_start_tcp() there), and nowhere else: while it
 * sends over TLS, libre_sending_tls() names the destination, for the
 * SSL object made meanwhile (ssl.c).
 *
 * Copyright (C) 2026 sipd developers
 */

#include <re.h>
#include "libre.h"


struct sip_connqent;

typedef int (send_h)(struct sip_connqent **qentp, struct sip *sip,
		     void *sock, enum sip_transp tp, const struct sa *dst,
		     struct mbuf *mb, void *transph, void *arg);

int sip_transp_send(struct sip_connqent **qentp, struct sip *sip, void *sock,
		    enum sip_transp tp, const struct sa *dst, struct mbuf *mb,
		    void *transph, void *arg);


static send_h *real_send;
static libre_sent_h *sent_hook;
static const struct sa *tls_dst;  /* while libre sends over TLS */


/**
 * Set what is told of every message sent
 *
 * @param h Hook, or NULL for none
 */
void libre_sent_hook(libre_sent_h *h)
{
	sent_hook = h;
}


/**
 * Where libre sends over TLS now
 *
 * @return The destination while libre's sip_transp_send() sends a
 *         message over TLS (a connection it opens for it is for there),
 *         otherwise NULL
 */
const struct sa *libre_sending_tls(void)
{
	return tls_dst;
}


int sip_transp_send(struct sip_connqent **qentp, struct sip *sip, void *sock,
		    enum sip_transp tp, const struct sa *dst, struct mbuf *mb,
		    void *transph, void *arg)
{
	const struct sa *prev = tls_dst;
	size_t pos = mb ? mb->pos : 0, after;
	int err;

	if (!real_send)
		real_send = (send_h *)libre_original("sip_transp_send");

	tls_dst = tp == SIP_TRANSP_TLS ? dst : NULL;
	err = real_send(qentp, sip, sock, tp, dst, mb, transph, arg);
	tls_dst = prev;
	if (!sent_hook)
		return err;

	if (err) {
		sent_hook(NULL, err);
	}
	else if (mb) {
		/* the message as it was given */
		after = mb->pos;
		mb->pos = pos;
		sent_hook(mb, 0);
		mb->pos = after;
	}

	return err;
}
