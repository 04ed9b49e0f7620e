/**
 * @file retry.c  REGISTERs that wait for the database
 *
 * When another process (sipctl importing accounts) holds the database's
 * write lock, a REGISTER is not failed and the loop is not blocked: the
 * request waits here and is handled again every RETRY_INTERVAL, up to
 * RETRY_LIMIT; only then it gets 503 with Retry-After. Retransmissions of
 * a waiting request are dropped: it will be answered.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <re.h>
#include <sipd.h>
#include "registrar.h"


enum {
	RETRY_INTERVAL = 50,        /* ms */
	RETRY_LIMIT    = 5000,      /* ms */
	RETRY_MAX      = 4096,      /* requests waiting at most */
};


struct waiting {
	struct le le;
	struct tmr tmr;
	struct sipd_sock *sock;
	struct sip_msg *msg;
	retry_h *h;
	uint64_t since;
};


static struct list waitl;


static void waiting_destructor(void *arg)
{
	struct waiting *w = arg;

	list_unlink(&w->le);
	tmr_cancel(&w->tmr);
	mem_deref(w->msg);
}


static void retry_handler(void *arg)
{
	struct waiting *w = arg;

	list_unlink(&w->le);

	if (tmr_jiffies() - w->since > RETRY_LIMIT) {
		log_warning("registrar: database busy for %u ms: %r refused\n",
			    RETRY_LIMIT, &w->msg->to.auri);

		/* statefully: a retransmission gets the same answer */
		(void)sip_treplyf(NULL, NULL, sock_sip(w->sock), w->msg,
				  false, 503, "Service Unavailable",
				  "Retry-After: 5\r\n"
				  "Content-Length: 0\r\n\r\n");
		mem_deref(w);
		return;
	}

	w->h(w->sock, w->msg, w);
}


/**
 * Let a REGISTER wait for the database
 *
 * @param sock  Socket it came on
 * @param msg   The REGISTER
 * @param w     Its waiting entry, if it waited before; NULL the first time
 * @param h     Handler to call again
 *
 * @return 0 if it waits, otherwise errorcode (the caller answers)
 */
int retry_later(struct sipd_sock *sock, const struct sip_msg *msg,
		struct waiting *w, retry_h *h)
{
	if (!w) {
		if (list_count(&waitl) >= RETRY_MAX)
			return EOVERFLOW;

		w = mem_zalloc(sizeof(*w), waiting_destructor);
		if (!w)
			return ENOMEM;

		w->sock = sock;
		w->msg = mem_ref((void *)msg);
		w->h = h;
		w->since = tmr_jiffies();
	}

	list_append(&waitl, &w->le, w);
	tmr_start(&w->tmr, RETRY_INTERVAL, retry_handler, w);

	return 0;
}


/**
 * Done with a waiting REGISTER (it was answered)
 *
 * @param w Its waiting entry, or NULL
 */
void retry_done(struct waiting *w)
{
	mem_deref(w);
}


/**
 * Check whether a request is a retransmission of one that waits
 *
 * @param msg The request
 *
 * @return True if it waits already
 */
bool retry_waiting(const struct sip_msg *msg)
{
	struct le *le;

	for (le = waitl.head; le; le = le->next) {
		const struct waiting *w = le->data;

		if (!pl_cmp(&w->msg->via.branch, &msg->via.branch) &&
		    !pl_cmp(&w->msg->via.sentby, &msg->via.sentby))
			return true;
	}

	return false;
}


void retry_close(void)
{
	list_flush(&waitl);
}
