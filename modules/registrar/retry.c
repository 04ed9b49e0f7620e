/**
 * @file retry.c  REGISTERs that wait for the database
 *
 * When another process (sipctl importing accounts) holds the database's
 * write lock, a REGISTER is not failed and the loop is not blocked: the
 * request waits here, in order of arrival. Every RETRY_INTERVAL the
 * first one tries again (each try may wait the database's busy timeout);
 * once it is saved, the others follow at once. While requests wait, a
 * new one joins the end of the queue without trying, so that a long lock
 * costs one busy timeout a round, not one per request. A request that
 * waited RETRY_LIMIT gets 503 with Retry-After. Retransmissions of a
 * waiting request are dropped: it will be answered.
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
	struct sipd_sock *sock;
	struct sip_msg *msg;
	retry_h *h;
	uint64_t since;
};


static struct {
	struct list queue;         /* struct waiting, oldest first */
	struct tmr tmr;
	bool requeued;             /* the one handled waits again */
} rq;


static void waiting_destructor(void *arg)
{
	struct waiting *w = arg;

	list_unlink(&w->le);
	mem_deref(w->msg);
}


static void refuse(struct waiting *w)
{
	log_warning("registrar: database busy for %u ms: %r refused\n",
		    RETRY_LIMIT, &w->msg->to.auri);

	/* statefully: a retransmission gets the same answer */
	(void)sip_treplyf(NULL, NULL, sock_sip(w->sock), w->msg, false, 503,
			  "Service Unavailable",
			  "Retry-After: 5\r\n"
			  "Content-Length: 0\r\n\r\n");
	mem_deref(w);
}


static void retry_handler(void *arg)
{
	(void)arg;

	while (rq.queue.head) {
		struct waiting *w = rq.queue.head->data;

		list_unlink(&w->le);

		if (tmr_jiffies() - w->since > RETRY_LIMIT) {
			refuse(w);
			continue;
		}

		rq.requeued = false;
		w->h(w->sock, w->msg, w);
		if (rq.requeued)
			break;
	}

	if (rq.queue.head)
		tmr_start(&rq.tmr, RETRY_INTERVAL, retry_handler, NULL);
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
	if (w) {
		/* still busy: first again, the others keep waiting */
		list_prepend(&rq.queue, &w->le, w);
		rq.requeued = true;
		return 0;
	}

	if (list_count(&rq.queue) >= RETRY_MAX)
		return EOVERFLOW;

	w = mem_zalloc(sizeof(*w), waiting_destructor);
	if (!w)
		return ENOMEM;

	w->sock = sock;
	w->msg = mem_ref((void *)msg);
	w->h = h;
	w->since = tmr_jiffies();

	list_append(&rq.queue, &w->le, w);
	if (!tmr_isrunning(&rq.tmr))
		tmr_start(&rq.tmr, RETRY_INTERVAL, retry_handler, NULL);

	return 0;
}


/**
 * Are REGISTERs waiting for the database? Then a new one waits behind
 * them instead of trying.
 *
 * @return True if the queue is not empty
 */
bool retry_pending(void)
{
	return !list_isempty(&rq.queue);
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

	for (le = rq.queue.head; le; le = le->next) {
		const struct waiting *w = le->data;

		if (!pl_cmp(&w->msg->via.branch, &msg->via.branch) &&
		    !pl_cmp(&w->msg->via.sentby, &msg->via.sentby))
			return true;
	}

	return false;
}


void retry_close(void)
{
	tmr_cancel(&rq.tmr);
	list_flush(&rq.queue);
}
