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
#include <sqlite3.h>
#include <re.h>
#include <sipd.h>
#include "presence.h"


enum {
	TICK = 1000,
	EXPIRE_BATCH = 100,
};


static struct tmr tmr_expire;


static struct db_stmt st_find = {
	.sql = "SELECT id, presentity FROM publications WHERE etag = ?1"
	       " AND event = 'presence' AND expires > ?2"
};

static struct db_stmt st_insert = {
	.sql = "INSERT INTO publications (presentity, event, etag, expires,"
	       " content_type, body, source, created, updated)"
	       " VALUES (?1, 'presence', ?2, ?3, ?4, ?5, ?6, ?7, ?7)"
};

static struct db_stmt st_refresh = {
	.sql = "UPDATE publications SET etag = ?2, expires = ?3, updated = ?4"
	       " WHERE id = ?1"
};

static struct db_stmt st_modify = {
	.sql = "UPDATE publications SET etag = ?2, expires = ?3, updated = ?4,"
	       " content_type = ?5, body = ?6 WHERE id = ?1"
};

static struct db_stmt st_remove = {
	.sql = "DELETE FROM publications WHERE id = ?1"
};

static struct db_stmt st_bodies = {
	.sql = "SELECT body FROM publications WHERE presentity = ?1"
	       " AND event = 'presence' AND expires > ?2"
	       " ORDER BY updated DESC, id DESC"
};

static struct db_stmt st_count = {
	.sql = "SELECT COUNT(*) FROM publications WHERE expires > ?1"
};

static struct db_stmt st_expired = {
	.sql = "SELECT id, presentity FROM publications WHERE expires <= ?1"
	       " LIMIT ?2"
};


static int step_done(sqlite3_stmt *stmt)
{
	int rc = sqlite3_step(stmt);

	sqlite3_reset(stmt);

	if (rc == SQLITE_DONE)
		return 0;

	return rc == SQLITE_BUSY ? EBUSY : EIO;
}


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
	sqlite3_stmt *stmt = db_stmt(&st_bodies);
	int rc, err = 0;

	if (!stmt)
		return db_error();

	sqlite3_bind_text(stmt, 1, presentity, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, time_now());

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct pub_body *pb;

		pb = mem_zalloc(sizeof(*pb), body_destructor);
		if (!pb) {
			err = ENOMEM;
			break;
		}

		list_append(bodies, &pb->le, pb);

		err = str_dup(&pb->text,
			      (const char *)sqlite3_column_text(stmt, 0));
		if (err)
			break;

		pl_set_str(&pb->pl, pb->text);
	}

	sqlite3_reset(stmt);

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
	sqlite3_stmt *stmt = db_stmt(&st_find);
	int64_t id = 0;

	if (!stmt)
		return -1;

	sqlite3_bind_text(stmt, 1, etag->p, (int)etag->l, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, time_now());

	if (sqlite3_step(stmt) == SQLITE_ROW &&
	    !strcmp((const char *)sqlite3_column_text(stmt, 1), presentity))
		id = sqlite3_column_int64(stmt, 0);

	sqlite3_reset(stmt);

	return id;
}


static void changed(const char *presentity)
{
	notify_presentity(presentity, PKG_PRESENCE);
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
	sqlite3_stmt *stmt;
	int64_t id = 0;
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
		if (account_exists(user, at + 1, &exists) || !exists) {
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
		stmt = db_stmt(&st_remove);
		if (!stmt)
			goto fail;
		sqlite3_bind_int64(stmt, 1, id);
	}
	else if (id && !body.l) {
		stmt = db_stmt(&st_refresh);
		if (!stmt)
			goto fail;
		sqlite3_bind_int64(stmt, 1, id);
		sqlite3_bind_text(stmt, 2, etag, -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 3, time_now() + expires);
		sqlite3_bind_int64(stmt, 4, time_now());
	}
	else if (id) {
		stmt = db_stmt(&st_modify);
		if (!stmt)
			goto fail;
		sqlite3_bind_int64(stmt, 1, id);
		sqlite3_bind_text(stmt, 2, etag, -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 3, time_now() + expires);
		sqlite3_bind_int64(stmt, 4, time_now());
		sqlite3_bind_text(stmt, 5, ctype, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 6, body.p, (int)body.l,
				  SQLITE_STATIC);
	}
	else {
		if (!expires) {
			(void)sipd_reply(sock, msg, 412,
					 "Conditional Request Failed");
			return true;
		}

		stmt = db_stmt(&st_insert);
		if (!stmt)
			goto fail;
		sqlite3_bind_text(stmt, 1, presentity, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 2, etag, -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 3, time_now() + expires);
		sqlite3_bind_text(stmt, 4, ctype, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 5, body.p, (int)body.l,
				  SQLITE_STATIC);
		sqlite3_bind_text(stmt, 6, src, -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 7, time_now());
	}

	err = step_done(stmt);
	if (err) {
		log_warning("presence: cannot store the publication of %s:"
			    " %m\n", presentity, err);
		goto fail;
	}

	(void)reply_ok(sock, msg, etag, expires);

	/* a refresh changes nothing that watchers see */
	if (!id || body.l || !expires)
		changed(presentity);

	return true;

 fail:
	(void)sipd_replyf(sock, msg, 500, "Server Internal Error",
			  "Retry-After: 5\r\nContent-Length: 0\r\n\r\n");

	return true;
}


/** An expired publication, read before it is removed */
struct expired {
	struct le le;
	int64_t id;
	char *presentity;
};


static void expired_destructor(void *arg)
{
	struct expired *e = arg;

	mem_deref(e->presentity);
}


static void expire_handler(void *arg)
{
	struct list gone = LIST_INIT;
	sqlite3_stmt *stmt;
	struct le *le;
	uint32_t n = 0;
	(void)arg;

	stmt = db_stmt(&st_expired);
	if (stmt) {
		sqlite3_bind_int64(stmt, 1, time_now());
		sqlite3_bind_int64(stmt, 2, EXPIRE_BATCH);

		while (sqlite3_step(stmt) == SQLITE_ROW) {
			struct expired *e;

			e = mem_zalloc(sizeof(*e), expired_destructor);
			if (!e)
				break;

			list_append(&gone, &e->le, e);
			e->id = sqlite3_column_int64(stmt, 0);
			if (str_dup(&e->presentity, (const char *)
				    sqlite3_column_text(stmt, 1)))
				break;
		}

		sqlite3_reset(stmt);
	}

	for (le = gone.head; le; le = le->next) {
		const struct expired *e = le->data;

		if (!e->presentity)
			break;

		stmt = db_stmt(&st_remove);
		if (!stmt)
			break;
		sqlite3_bind_int64(stmt, 1, e->id);
		if (step_done(stmt))
			break;

		++n;
		changed(e->presentity);
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
	sqlite3_stmt *stmt = db_stmt(&st_count);
	uint32_t n = 0;

	if (!stmt)
		return 0;

	sqlite3_bind_int64(stmt, 1, time_now());

	if (sqlite3_step(stmt) == SQLITE_ROW)
		n = (uint32_t)sqlite3_column_int64(stmt, 0);

	sqlite3_reset(stmt);

	return n;
}


void publish_start(void)
{
	tmr_start(&tmr_expire, TICK, expire_handler, NULL);
}


void publish_close(void)
{
	tmr_cancel(&tmr_expire);
}
