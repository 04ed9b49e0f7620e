/**
 * @file publish.c  PUBLISH (RFC 3903): the event state compositor
 *
 * A publication without SIP-If-Match creates an entity (SIP-ETag in the
 * 200); with SIP-If-Match it refreshes (no body), modifies (a body) or
 * removes (Expires: 0) the entity it names, which gets a new tag each
 * time; an unknown tag gets 412. Bodies are checked with libxml2 (400 if
 * malformed). Only the presentity's own user may publish for it. Expired
 * publications are removed a few at a time.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include <sipd.h>
#include <store/store.h>
#include "presence.h"


enum {
	TICK = 1000,
	EXPIRE_BATCH = 100,
};


static struct tmr tmr_expire;
static publish_changed_h *changedh;     /* notify.c: tell the watchers */


static void body_destructor(void *arg)
{
	struct pub_body *pb = arg;

	mem_deref(pb->text);
}


/**
 * Read the live published PIDF bodies of a presentity
 *
 * @param bodies     List to fill with struct pub_body
 * @param presentity user@domain
 *
 * @return 0 if success, otherwise errorcode
 */
int publish_bodies(struct list *bodies, const char *presentity)
{
	struct list pubs = LIST_INIT;
	struct le *le;
	int err;

	err = store_pub_list(&pubs, presentity, time_now(), true);

	for (le = pubs.head; le && !err; le = le->next) {
		struct store_pub *p = le->data;
		struct pub_body *pb;

		pb = mem_zalloc(sizeof(*pb), body_destructor);
		if (!pb) {
			err = ENOMEM;
			break;
		}

		list_append(bodies, &pb->le, pb);

		pb->text = mem_ref(p->body);
		if (!pb->text) {
			err = str_dup(&pb->text, "");
			if (err)
				break;
		}

		pl_set_str(&pb->pl, pb->text);
	}

	list_flush(&pubs);

	return err;
}


static void etag_make(char *etag, size_t size)
{
	rand_str(etag, size);
}


static int reply_ok(struct sipd_sock *sock, const struct sip_msg *msg,
		    const char *etag, uint32_t expires)
{
	return sipd_replyf(sock, msg, 200, "OK",
			   "SIP-ETag: %s\r\n"
			   "Expires: %u\r\n"
			   "Content-Length: 0\r\n\r\n", etag, expires);
}


static bool authorized(struct sipd_sock *sock, const struct sip_msg *msg)
{
	struct auth_identity id;
	int err;

	if (!sock_auth(sock))
		return true;

	/* a user publishes for itself only: the Request-URI */
	err = auth_require(&id, sock, msg, AUTH_WWW, &msg->uri);
	if (err == EPERM)
		(void)sipd_reply(sock, msg, 403, "Forbidden");
	else if (err && err != EAUTH)
		(void)sipd_reply(sock, msg, 500, "Server Internal Error");

	return err == 0;
}


static int expires_of(uint32_t *expires, const struct sip_msg *msg,
		      struct sipd_sock *sock)
{
	uint32_t v = 3600;

	if (pl_isset(&msg->expires))
		v = msg->expires.l > 9 ? presence_conf.max_expires :
			pl_u32(&msg->expires);

	if (v && v < presence_conf.min_expires) {
		(void)sipd_replyf(sock, msg, 423, "Interval Too Brief",
				  "Min-Expires: %u\r\n"
				  "Content-Length: 0\r\n\r\n",
				  presence_conf.min_expires);
		return ERANGE;
	}

	*expires = MIN(v, presence_conf.max_expires);

	return 0;
}


/* Find the publication a SIP-If-Match names, for this presentity */
static int64_t find_etag(const struct pl *etag, const char *presentity)
{
	char owner[256];
	int64_t id = 0;
	int err;

	err = store_pub_find(&id, owner, sizeof(owner), etag, time_now());
	if (err == ENOENT)
		return 0;
	else if (err)
		return -1;

	return strcmp(owner, presentity) ? 0 : id;
}


static void changed(const char *presentity)
{
	busy_invalidate(presentity);

	if (changedh)
		changedh(presentity, PKG_PRESENCE);
}


/**
 * Handle a PUBLISH
 *
 * @param sock Socket it came on
 * @param msg  The request
 *
 * @return True: the request is answered
 */
bool publish_handle(struct sipd_sock *sock, const struct sip_msg *msg)
{
	const struct sip_hdr *event = sip_msg_hdr(msg, SIP_HDR_EVENT);
	const struct sip_hdr *ifm = sip_msg_hdr(msg, SIP_HDR_SIP_IF_MATCH);
	char presentity[256], etag[24], ctype[64] = "", src[64];
	uint32_t expires;
	struct pl body;
	int64_t id = 0, added;
	bool exists = false;
	int err;

	if (!event || pl_strcasecmp(&event->val, "presence")) {
		(void)sipd_replyf(sock, msg, 489, "Bad Event",
				  "Allow-Events: presence\r\n"
				  "Content-Length: 0\r\n\r\n");
		return true;
	}

	if (msg_aor(presentity, sizeof(presentity), &msg->uri)) {
		(void)sipd_reply(sock, msg, 404, "Not Found");
		return true;
	}

	if (!authorized(sock, msg))
		return true;

	{
		char user[128];
		const char *at = strrchr(presentity, '@');

		str_ncpy(user, presentity,
			 MIN(sizeof(user), (size_t)(at - presentity) + 1));
		/* an account that cannot be read is no missing one */
		if (account_exists(user, at + 1, &exists)) {
			(void)sipd_reply_retry(sock, msg, 500,
					       "Server Internal Error",
					       DB_RETRY_AFTER);
			return true;
		}
		if (!exists) {
			(void)sipd_reply(sock, msg, 404, "Not Found");
			return true;
		}
	}

	if (expires_of(&expires, msg, sock))
		return true;

	if (msg_body(msg, &body))
		body.l = 0;

	if (body.l) {
		if (pl_strcasecmp(&msg->ctyp.type, "application") ||
		    pl_strcasecmp(&msg->ctyp.subtype, "pidf+xml")) {
			(void)sipd_replyf(sock, msg, 415,
					  "Unsupported Media Type",
					  "Accept: application/pidf+xml\r\n"
					  "Content-Length: 0\r\n\r\n");
			return true;
		}

		err = pidf_check(&body);
		if (err == EFBIG) {
			(void)sipd_reply(sock, msg, 413,
					 "Request Entity Too Large");
			return true;
		}
		else if (err) {
			(void)sipd_reply(sock, msg, 400, "Malformed PIDF");
			return true;
		}

		re_snprintf(ctype, sizeof(ctype), "%r/%r", &msg->ctyp.type,
			    &msg->ctyp.subtype);
	}

	if (ifm) {
		id = find_etag(&ifm->val, presentity);
		if (id <= 0) {
			(void)sipd_reply(sock, msg, 412,
					 "Conditional Request Failed");
			return true;
		}
	}
	else if (!body.l) {
		(void)sipd_reply(sock, msg, 400, "PUBLISH Without Body");
		return true;
	}

	etag_make(etag, sizeof(etag));
	re_snprintf(src, sizeof(src), "%J", &msg->src);

	if (id && !expires) {
		err = store_pub_delete(id);
	}
	else if (id) {
		err = store_pub_modify(id, etag, time_now() + expires, ctype,
				       body.l ? &body : NULL, time_now());
	}
	else {
		if (!expires) {
			(void)sipd_reply(sock, msg, 412,
					 "Conditional Request Failed");
			return true;
		}

		err = store_pub_add(&added, presentity, etag,
				    time_now() + expires, ctype, &body, src,
				    time_now());
	}

	if (err) {
		/* a lost database server is logged once, by the core */
		if (err != ENOTCONN)
			log_warning("presence: cannot store the publication"
				    " of %s: %m\n", presentity, err);
		goto fail;
	}

	(void)reply_ok(sock, msg, etag, expires);

	/* a refresh changes nothing that watchers see */
	if (!id || body.l || !expires)
		changed(presentity);

	return true;

 fail:
	(void)sipd_reply_retry(sock, msg, 500, "Server Internal Error",
			       DB_RETRY_AFTER);

	return true;
}


static void expire_handler(void *arg)
{
	struct list gone = LIST_INIT;
	struct le *le;
	uint32_t n = 0;
	(void)arg;

	(void)store_pub_expired(&gone, time_now(), EXPIRE_BATCH);

	for (le = gone.head; le; le = le->next) {
		const struct store_pub *p = le->data;

		if (!p->presentity || store_pub_delete(p->id))
			break;

		++n;
		changed(p->presentity);
	}

	list_flush(&gone);

	tmr_start(&tmr_expire, n == EXPIRE_BATCH ? 20 : TICK, expire_handler,
		  NULL);
}


/**
 * Count the publications that have not expired
 *
 * @return Count (0 if the database cannot say)
 */
uint32_t publish_total(void)
{
	uint64_t n = 0;

	if (store_pub_count(&n, time_now()))
		return 0;

	return (uint32_t)n;
}


/**
 * Start expiring publications
 *
 * @param h Told of each presentity whose publications changed (notify.c)
 */
void publish_start(publish_changed_h *h)
{
	changedh = h;

	tmr_start(&tmr_expire, TICK, expire_handler, NULL);
}


void publish_close(void)
{
	tmr_cancel(&tmr_expire);
}
