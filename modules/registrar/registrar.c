/**
 * @file registrar.c  Registrar role (RFC 3261 section 10)
 *
 * Adds, refreshes and removes bindings of the address-of-record in To.
 * The 200 is sent only after the change is committed to the database, and
 * lists every current binding with its remaining time.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include <sipd.h>
#include "registrar.h"


static const struct registrar_conf defaults = {
	.min_expires     = 60,
	.max_expires     = 3600,
	.default_expires = 3600,
	.max_contacts    = 10,
	.overflow        = OVERFLOW_REPLACE,
};

static struct registrar_conf conf;

static const char *supported[] = {"path", "outbound", "gruu", NULL};


struct ok_reply {
	const struct sip_msg *msg;
	const struct list *bindings;
	int64_t now;
	bool path;
};


static int contacts_print(struct re_printf *pf, void *arg)
{
	const struct ok_reply *ok = arg;
	struct le *le;
	int err = 0;

	for (le = ok->bindings->head; le; le = le->next) {
		struct reg_contact rc;

		rc.b = le->data;
		rc.now = ok->now;
		err |= re_hprintf(pf, "Contact: %H\r\n", reg_contact_print,
				  &rc);
	}

	/* the Path of this request, as it came (RFC 3327 section 5.3) */
	for (le = ok->msg->hdrl.head; ok->path && le; le = le->next) {
		const struct sip_hdr *hdr = le->data;

		if (hdr->id == SIP_HDR_PATH)
			err |= re_hprintf(pf, "Path: %r\r\n", &hdr->val);
	}

	return err;
}


/* The 200 listing the bindings of the address */
static void reply_bindings(struct sipd_sock *sock, const struct sip_msg *msg,
			   const struct list *bindings)
{
	struct ok_reply ok;

	ok.msg = msg;
	ok.bindings = bindings;
	ok.now = time_now();
	ok.path = sip_msg_hdr_has_value(msg, SIP_HDR_SUPPORTED, "path") &&
		sip_msg_hdr(msg, SIP_HDR_PATH);

	(void)sipd_replyf(sock, msg, 200, "OK",
			  "%H"
			  "Date: %H\r\n"
			  "Supported: path, outbound\r\n"
			  "Content-Length: 0\r\n\r\n",
			  contacts_print, &ok, fmt_gmtime, NULL);
}


/* The store failed: 500 with Retry-After (a lost database server is
   logged once, by the core, not here for each request) */
static void store_failed(struct sipd_sock *sock, const struct sip_msg *msg,
			 const char *aor, int err)
{
	if (err != ENOTCONN)
		log_warning("registrar: cannot read %s: %m\n", aor, err);

	(void)sipd_reply_retry(sock, msg, 500, "Server Internal Error",
			       DB_RETRY_AFTER);
}


static void reply_ok(struct sipd_sock *sock, const struct sip_msg *msg,
		     const char *aor)
{
	struct list bindings = LIST_INIT;
	int err;

	err = location_lookup(&bindings, aor);
	if (err)
		store_failed(sock, msg, aor, err);
	else
		reply_bindings(sock, msg, &bindings);

	list_flush(&bindings);
}


static bool authorized(struct sipd_sock *sock, const struct sip_msg *msg,
		       const char *user, const char *domain)
{
	struct auth_identity id;
	bool exists = false;
	int err;

	if (!sock_auth(sock)) {
		err = account_exists(user, domain, &exists);
		if (err) {
			store_failed(sock, msg, user, err);
			return false;
		}

		if (!exists) {
			(void)sipd_reply(sock, msg, 404, "Not Found");
			return false;
		}

		return true;
	}

	/* the To user registers itself only */
	err = auth_require(&id, sock, msg, AUTH_WWW, &msg->to.uri);
	if (err == EPERM)
		(void)sipd_reply(sock, msg, 403, "Forbidden");
	else if (err && err != EAUTH)
		(void)sipd_reply(sock, msg, 500, "Server Internal Error");

	return err == 0;
}


/* A REGISTER saved in a group transaction: its 200 once that commits */
struct committed {
	struct sipd_sock *sock;
	struct sip_msg *msg;
	struct list bindings;
};


static void committed_destructor(void *arg)
{
	struct committed *c = arg;

	list_flush(&c->bindings);
	mem_deref(c->msg);
}


static void group_committed(int err, void *arg)
{
	struct committed *c = arg;

	/* the group's failure is logged once, by lib/db */
	if (err)
		(void)sipd_reply_retry(c->sock, c->msg, 500,
				       "Server Internal Error",
				       DB_RETRY_AFTER);
	else
		reply_bindings(c->sock, c->msg, &c->bindings);

	mem_deref(c);
}


/* 0 if the 200 waits for the group's commit (the bindings move) */
static int reply_after_commit(struct sipd_sock *sock,
			      const struct sip_msg *msg, struct list *bindings)
{
	struct committed *c;
	int err;

	c = mem_zalloc(sizeof(*c), committed_destructor);
	if (!c)
		return ENOMEM;

	c->sock = sock;
	c->msg = mem_ref((void *)msg);

	err = db_group_after(group_committed, c);
	if (err) {
		mem_deref(c);
		return err;
	}

	while (bindings->head) {
		struct le *le = bindings->head;
		list_unlink(le);
		list_append(&c->bindings, le, le->data);
	}

	return 0;
}


/* The changes saved: over UDP in the group transaction of several
   REGISTERs on SQLite (EBUSY if its lock is taken); alone on PostgreSQL
   and over a connection, whose answers keep the order of its requests
   (a 200 that waited could find the connection closed) */
static int save(const struct sip_msg *msg, const char *aor,
		const struct list *upserts, const struct list *removes,
		bool *grouped)
{
	int err;

	if (db_pg_on() || msg->tp != SIP_TRANSP_UDP)
		return location_save(aor, upserts, removes);

	err = db_group_enter();
	if (err)
		return err;

	err = location_save(aor, upserts, removes);
	db_group_leave();
	*grouped = !err;

	return err;
}


/* Seconds until the last of the bindings expires */
static uint32_t last_expiry(const struct list *bindings)
{
	int64_t now = time_now(), last = now;
	struct le *le;

	for (le = bindings->head; le; le = le->next) {
		const struct binding *b = le->data;

		last = MAX(last, b->expires);
	}

	return (uint32_t)(last - now);
}


/* Is one of the bindings behind a NAT? */
static bool any_nated(const struct list *bindings)
{
	struct le *le;

	for (le = bindings->head; le; le = le->next) {
		if (binding_behind_nat(le->data))
			return true;
	}

	return false;
}


/**
 * Handle a REGISTER, or handle it again after it waited for the database
 *
 * @param sock Socket it came on
 * @param msg  The REGISTER
 * @param w    Its waiting entry when it waited, else NULL
 */
static void registrar_handle(struct sipd_sock *sock,
			     const struct sip_msg *msg, struct waiting *w)
{
	struct list changes = LIST_INIT, current = LIST_INIT;
	struct list upserts = LIST_INIT, removes = LIST_INIT;
	char aor[256], user[128], unsup[256];
	const char *reason = NULL, *at;
	uint16_t scode = 0;
	bool star = false, grouped = false;
	int err;

	if (msg_require_check(msg, SIP_HDR_REQUIRE, supported, unsup,
			      sizeof(unsup))) {
		(void)sipd_replyf(sock, msg, 420, "Bad Extension",
				  "Unsupported: %s\r\n"
				  "Content-Length: 0\r\n\r\n", unsup);
		goto out;
	}

	if ((pl_strcasecmp(&msg->to.uri.scheme, "sip") &&
	     pl_strcasecmp(&msg->to.uri.scheme, "sips")) ||
	    msg_aor(aor, sizeof(aor), &msg->to.uri)) {
		(void)sipd_reply(sock, msg, 400, "Bad To Address");
		goto out;
	}

	if (!domain_is_served(&msg->to.uri.host)) {
		(void)sipd_reply(sock, msg, 404, "Domain Not Served Here");
		goto out;
	}

	at = strrchr(aor, '@');
	str_ncpy(user, aor, MIN(sizeof(user), (size_t)(at - aor) + 1));

	/* a request that can never succeed is answered before the client
	   is asked for credentials */
	err = reg_changes_decode(&changes, msg, &conf, &star, &scode,
				 &reason);
	if (err) {
		if (scode == 423)
			(void)sipd_replyf(sock, msg, 423, reason,
					  "Min-Expires: %u\r\n"
					  "Content-Length: 0\r\n\r\n",
					  conf.min_expires);
		else
			(void)sipd_reply(sock, msg, scode, reason);
		goto out;
	}

	/* with credentials: the bindings asked for in the round trip of
	   the HA1's (PostgreSQL) */
	if (sock_auth(sock) && sip_msg_hdr(msg, SIP_HDR_AUTHORIZATION))
		location_ahead(aor);

	if (!authorized(sock, msg, user, at + 1))
		goto out;

	/* contacts never outlive the maximum */
	{
		struct le *le;
		for (le = changes.head; le; le = le->next) {
			struct reg_change *c = le->data;
			if (c->expires > conf.max_expires)
				c->expires = conf.max_expires;
		}
	}

	if (!star && list_isempty(&changes)) {
		reply_ok(sock, msg, aor);
		goto out;
	}

	err = location_lookup(&current, aor);
	if (err) {
		store_failed(sock, msg, aor, err);
		goto out;
	}

	if (star) {
		struct le *le;

		/* RFC 3261 10.3 step 6: an older request removes nothing */
		for (le = current.head; le; le = le->next) {
			const struct binding *b = le->data;

			if (b->callid && !pl_strcmp(&msg->callid, b->callid) &&
			    msg->cseq.num < b->cseq) {
				(void)sipd_reply(sock, msg, 400,
						 "Out Of Order CSeq");
				goto out;
			}
		}

		while (current.head) {
			struct le *le2 = current.head;
			list_unlink(le2);
			list_append(&removes, le2, le2->data);
		}
	}
	else {
		err = reg_apply(&upserts, &removes, &current, &changes, msg,
				aor, sock, &conf, time_now(),
				&scode, &reason);
		if (err) {
			(void)sipd_reply(sock, msg, scode, reason);
			goto out;
		}
	}

	/* behind others that wait for the database: wait too, in order */
	if (!w && retry_pending())
		err = EBUSY;
	else
		err = save(msg, aor, &upserts, &removes, &grouped);
	if (err == EBUSY && !retry_later(sock, msg, w, registrar_handle)) {
		w = NULL;   /* it waits again */
		goto out;
	}
	else if (err) {
		if (err != ENOTCONN)
			log_warning("registrar: cannot save %s: %m\n", aor,
				    err);
		(void)sip_treplyf(NULL, NULL, sock_sip(sock), msg, false, 500,
				  "Server Internal Error",
				  "Retry-After: %u\r\n"
				  "Content-Length: 0\r\n\r\n", DB_RETRY_AFTER);
		goto out;
	}

	log_debug("registrar: %s: %u saved, %u removed\n", aor,
		  list_count(&upserts), list_count(&removes));

	if (!list_isempty(&upserts))
		conns_register(sock, msg, last_expiry(&upserts),
			       any_nated(&upserts));

	/* what is stored now: the bindings kept and those written, as
	   committed; no second read of the database */
	while (upserts.head) {
		struct le *le = upserts.head;
		list_unlink(le);
		list_append(&current, le, le->data);
	}
	list_sort(&current, binding_before, NULL);

	if (grouped && !reply_after_commit(sock, msg, &current))
		goto out;

	reply_bindings(sock, msg, &current);

 out:
	list_flush(&changes);
	list_flush(&current);
	list_flush(&upserts);
	list_flush(&removes);
	retry_done(w);
}


static bool request_handler(struct sipd_sock *sock, const struct sip_msg *msg)
{
	/* a REGISTER for another domain is for a proxy role, if any */
	if (!domain_is_served(&msg->uri.host))
		return false;

	/* the first copy waits for the database: it will be answered */
	if (retry_waiting(msg))
		return true;

	/* a save may follow: an open group waits for it */
	db_group_busy();

	registrar_handle(sock, msg, NULL);

	return true;
}


/* arg: NULL for the commits, "saves" for the saves */
static uint64_t group_count_read(void *arg)
{
	uint64_t commits, saves;

	db_group_counts(&commits, &saves);

	return arg ? saves : commits;
}


static struct stat_figure group_commits = {
	.name  = "registrar_group_commits",
	.help  = "SQLite transactions that committed the saves of REGISTERs",
	.kind  = STAT_COUNTER,
	.readh = group_count_read,
};


static struct stat_figure group_saves = {
	.name  = "registrar_group_saves",
	.help  = "REGISTERs whose bindings were saved in those transactions",
	.kind  = STAT_COUNTER,
	.readh = group_count_read,
	.arg   = "saves",
};


static const char *methods[] = {"REGISTER", NULL};
static const char *needs[] = {"location", "account", "auth", NULL};

static struct role role = {
	.name     = "registrar",
	.methods  = methods,
	.needs    = needs,
	.requesth = request_handler,
};


/* Read the keys into settings that start from the defaults */
static int conf_read(struct registrar_conf *c)
{
	const struct config_line *line;
	int err;

	*c = defaults;

	err  = config_u32("registrar_min_expires", &c->min_expires,
			  1, 86400);
	err |= config_u32("registrar_max_expires", &c->max_expires,
			  1, 604800);
	err |= config_u32("registrar_default_expires", &c->default_expires,
			  1, 604800);
	err |= config_u32("registrar_max_contacts", &c->max_contacts,
			  1, 1000);

	line = config_find("registrar_overflow");
	if (line) {
		if (!str_casecmp(line->val, "replace"))
			c->overflow = OVERFLOW_REPLACE;
		else if (!str_casecmp(line->val, "reject"))
			c->overflow = OVERFLOW_REJECT;
		else
			return config_fail(line, "'%s' is not replace or"
					   " reject", line->val);
	}

	if (err)
		return EINVAL;

	if (c->min_expires > c->max_expires) {
		return config_fail(config_find("registrar_min_expires"),
				   "%u is above registrar_max_expires (%u)",
				   c->min_expires, c->max_expires);
	}

	line = config_find("registrar_default_expires");
	if (!line) {
		/* the built-in default follows the limits it must respect */
		c->default_expires = MAX(c->min_expires,
					 MIN(c->default_expires,
					     c->max_expires));
	}
	else if (c->default_expires < c->min_expires ||
		 c->default_expires > c->max_expires) {
		return config_fail(line, "%u is outside registrar_min_expires"
				   " .. registrar_max_expires (%u .. %u)",
				   c->default_expires, c->min_expires,
				   c->max_expires);
	}

	return 0;
}


/* At reloads: the expiry limits apply to the next REGISTER */
static int conf_reload(bool apply)
{
	struct registrar_conf c;
	int err;

	err  = conf_read(&c);
	err |= keepalive_conf(false);
	if (err || !apply)
		return err ? EINVAL : 0;

	conf = c;

	return keepalive_conf(true);
}


static struct reload_hook hook = {
	.name = "registrar",
	.h = conf_reload,
};


static int module_init(void)
{
	int err;

	err = conf_read(&conf);
	if (err)
		return err;

	err = keepalive_init();
	if (err)
		return err;

	role_register(&role);
	reload_register(&hook);
	stats_register(&group_commits);
	stats_register(&group_saves);

	return 0;
}


static int module_close(void)
{
	(void)db_group_commit();
	stats_unregister(&group_saves);
	stats_unregister(&group_commits);
	reload_unregister(&hook);
	role_unregister(&role);
	keepalive_close();
	retry_close();

	return 0;
}


EXPORT_SYM const struct mod_export exports = {
	"registrar",
	"role",
	module_init,
	module_close
};
