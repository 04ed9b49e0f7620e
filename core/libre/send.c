/**
 * @file send.c  sipd's sip_transp_send(), in front of libre's: counts
 *               every SIP message sent
 *
 * Every message libre sends for sipd (replies, forwarded requests and
 * responses, retransmissions, ACKs and CANCELs of its transactions, the
 * registrar's pings) passes libre's sip_transp_send(), which libre calls
 * through the dynamic linker. The sipd executable (linked with -rdynamic)
 * defines it, counts the message by its start line and calls libre's
 * own, as decode.c does for the decoder.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <dlfcn.h>
#include <re.h>
#include "core.h"


struct sip_connqent;

typedef int (send_h)(struct sip_connqent **qentp, struct sip *sip,
		     void *sock, enum sip_transp tp, const struct sa *dst,
		     struct mbuf *mb, void *transph, void *arg);

int sip_transp_send(struct sip_connqent **qentp, struct sip *sip, void *sock,
		    enum sip_transp tp, const struct sa *dst, struct mbuf *mb,
		    void *transph, void *arg);


static send_h *real_send;


int sip_transp_send(struct sip_connqent **qentp, struct sip *sip, void *sock,
		    enum sip_transp tp, const struct sa *dst, struct mbuf *mb,
		    void *transph, void *arg)
{
	size_t pos = mb ? mb->pos : 0, after;
	int err;

	if (!real_send) {
		real_send = (send_h *)dlsym(RTLD_NEXT, "sip_transp_send");
		if (!real_send)
			return ENOSYS;
	}

	err = real_send(qentp, sip, sock, tp, dst, mb, transph, arg);
	if (err) {
		stats_count(STATS_SEND_ERRORS);
	}
	else if (mb) {
		/* the message as it was given */
		after = mb->pos;
		mb->pos = pos;
		stats_sent(mb);
		mb->pos = after;
	}

	return err;
}
