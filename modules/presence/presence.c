/**
 * @file presence.c  The presence role: SUBSCRIBE and PUBLISH (RFC 6665,
 *                   RFC 3903) for the presence, dialog, reg and
 *                   presence.winfo packages
 *
 * It takes SUBSCRIBE and PUBLISH on the sockets where it is listed and
 * routes nothing else. The state it notifies comes from publications,
 * from the location service and from the proxy's call events, which it
 * hears through the core's event registry.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <libxml/parser.h>
#include <re.h>
#include <sipd.h>
#include <digest/digest.h>
#include "presence.h"


static struct tmr tmr_start_;
static uint64_t refused;       /* new subscriptions over a limit */


static int pkg_decode(enum pkg *pkg, const struct pl *event)
{
	struct pl name = *event;
	const char *semi = pl_strchr(event, ';');
	int i;

	if (semi)
		name.l = semi - event->p;

	while (name.l && name.p[name.l-1] == ' ')
		--name.l;

	for (i = 0; i < PKG_COUNT; i++) {
		if (!pl_strcasecmp(&name, pkg_name((enum pkg)i))) {
			*pkg = (enum pkg)i;
			return 0;
		}
	}

	return ENOENT;
}


static int contact_uri(char **dst, const struct sip_msg *msg)
{
	const struct sip_hdr *hdr = sip_msg_hdr(msg, SIP_HDR_CONTACT);
	struct contact c;

	if (!hdr || contact_decode(&c, &hdr->val) || c.star)
		return EBADMSG;

	return pl_strdup(dst, &c.uri);
}


static int route_set(char **dst, const struct sip_msg *msg)
{
	struct mbuf *mb = mbuf_alloc(128);
	struct le *le;
	int err = 0;

	if (!mb)
		return ENOMEM;

	/* a notifier uses the Record-Route values in their order */
	for (le = msg->hdrl.head; le; le = le->next) {
		const struct sip_hdr *hdr = le->data;

		if (hdr->id == SIP_HDR_RECORD_ROUTE)
			err |= mbuf_printf(mb, "%s%r", mb->end ? ", " : "",
					   &hdr->val);
	}

	mb->pos = 0;
	if (!err)
		err = mbuf_strdup(mb, dst, mb->end);

	mem_deref(mb);

	return err;
}


static int reply_sub(struct sipd_sock *sock, const struct sip_msg *msg,
		     const struct sub *sub, uint32_t expires)
{
	/* pending too: RFC 6665 deprecates 202, the NOTIFY tells */
	return sipd_replyf(sock, msg, 200, "OK",
			   "Expires: %u\r\n"
			   "Contact: <sip:%J%s>\r\n"
			   "Allow-Events: presence, dialog, reg,"
			   " presence.winfo\r\n"
			   "Content-Length: 0\r\n\r\n", expires,
			   sock_laddr(sock), sip_transp_param(msg->tp));
}


/*
 * Is a SUBSCRIBE, initial or in a dialog, from its watcher? One rule for
 * both: on a socket that authenticates, a watcher of a served domain is
 * challenged (401) and must be authenticated as that watcher (403).
 */
static bool authorized(struct sipd_sock *sock, const struct sip_msg *msg,
		       const struct uri *watcher)
{
	struct auth_identity id;
	int err;

	/* watchers from outside are not challenged: the policy decides */
	if (!sock_auth(sock) || !domain_is_served(&watcher->host))
		return true;

	/* a watcher subscribes as itself only */
	err = auth_require(&id, sock, msg, AUTH_WWW, watcher);
	if (err == EPERM)
		(void)sipd_reply(sock, msg, 403, "Forbidden");
	else if (err && err != EAUTH)
		(void)sipd_reply(sock, msg, 500, "Server Internal Error");

	return err == 0;
}


static int expires_of(uint32_t *expires, const struct sip_msg *msg)
{
	uint32_t v = presence_conf.default_expires;

	if (pl_isset(&msg->expires))
		v = msg->expires.l > 9 ? presence_conf.max_expires :
			pl_u32(&msg->expires);

	if (v && v < presence_conf.min_expires)
		return ERANGE;

	*expires = MIN(v, presence_conf.max_expires);

	return 0;
}


static void winfo_changed(const char *presentity)
{
	notify_presentity(presentity, PKG_WINFO);
}


/*
 * A SUBSCRIBE in the dialog comes from the subscription's watcher: the
 * dialog's identifiers (Call-ID, tags) are not enough to refresh, end or
 * redirect it. Its remote URI is the From of the initial SUBSCRIBE, the
 * watcher's address; the refresh's own From is not trusted.
 */
static bool refresh_authorized(struct sipd_sock *sock,
			       const struct sip_msg *msg,
			       const struct sub *sub)
{
	struct uri watcher;
	struct pl pl = PL_INIT;

	pl_set_str(&pl, sub->remote_uri);
	if (!pl_isset(&pl) || uri_decode(&watcher, &pl)) {
		log_warning("presence: subscription of %s: bad remote URI"
			    " '%s'\n", sub->watcher, sub->remote_uri);
		(void)sipd_reply(sock, msg, 500, "Server Internal Error");
		return false;
	}

	return authorized(sock, msg, &watcher);
}


/* A SUBSCRIBE inside an existing subscription: refresh or end it */
static void subscribe_refresh(struct sipd_sock *sock,
			      const struct sip_msg *msg)
{
	char *socket = NULL, *contact = NULL;
	struct sub *sub;
	uint32_t expires;

	sub = sub_find_dialog(&msg->callid, &msg->to.tag, &msg->from.tag);
	if (!sub || sub->state == SUB_TERMINATED) {
		(void)sipd_reply(sock, msg, 481,
				 "Subscription Does Not Exist");
		return;
	}

	/* before anything of the subscription changes or is told */
	if (!refresh_authorized(sock, msg, sub))
		return;

	if (msg->cseq.num <= sub->remote_cseq) {
		(void)sipd_reply(sock, msg, 500, "Out Of Order CSeq");
		return;
	}

	if (expires_of(&expires, msg)) {
		(void)sipd_replyf(sock, msg, 423, "Interval Too Brief",
				  "Min-Expires: %u\r\n"
				  "Content-Length: 0\r\n\r\n",
				  presence_conf.min_expires);
		return;
	}

	/* the policy may have changed since (sipctl presence allow|block) */
	if (sub->pkg != PKG_WINFO && expires) {
		enum sub_state state;

		if (policy_decide(&state, sub->presentity, sub->watcher)) {
			(void)sipd_reply(sock, msg, 500,
					 "Server Internal Error");
			return;
		}

		if (state == SUB_TERMINATED) {
			(void)sipd_reply(sock, msg, 403, "Forbidden");
			notify_terminate(sub, "rejected");
			return;
		}

		if (state != sub->state) {
			sub->state = state;
			if (sub->pkg == PKG_PRESENCE)
				winfo_changed(sub->presentity);
		}
	}

	sub->remote_cseq = msg->cseq.num;
	sub->expires = time_now() + expires;

	/* where it came from this time: a NAT binding may have moved */
	sub->received = msg->src;
	sub->tp = msg->tp;
	if (!str_dup(&socket, sock_name(sock))) {
		mem_deref(sub->socket);
		sub->socket = socket;
	}

	/* a new Contact is the new remote target */
	if (!contact_uri(&contact, msg)) {
		mem_deref(sub->contact);
		sub->contact = contact;
	}

	if (sub_save(sub)) {
		(void)sipd_reply_retry(sock, msg, 500, "Server Internal Error",
				       DB_RETRY_AFTER);
		return;
	}

	(void)reply_sub(sock, msg, sub, expires);

	if (!expires) {
		notify_terminate(sub, "timeout");
		return;
	}

	notify_sub(sub);
}


static void subscribe_new(struct sipd_sock *sock, const struct sip_msg *msg,
			  enum pkg pkg)
{
	char presentity[256], watcher[256], user[128];
	enum sub_state state;
	const char *at;
	struct sub *sub = NULL;
	uint32_t expires;
	bool exists = false;
	int err;

	if (msg_aor(presentity, sizeof(presentity), &msg->uri) ||
	    !domain_is_served(&msg->uri.host)) {
		(void)sipd_reply(sock, msg, 404, "Not Found");
		return;
	}

	if (msg_aor(watcher, sizeof(watcher), &msg->from.uri)) {
		(void)sipd_reply(sock, msg, 400, "Bad From");
		return;
	}

	if (!authorized(sock, msg, &msg->from.uri))
		return;

	at = strrchr(presentity, '@');
	str_ncpy(user, presentity, MIN(sizeof(user),
				       (size_t)(at - presentity) + 1));
	/* an account that cannot be read is no missing one */
	if (account_exists(user, at + 1, &exists)) {
		(void)sipd_reply_retry(sock, msg, 500, "Server Internal Error",
				       DB_RETRY_AFTER);
		return;
	}
	if (!exists) {
		(void)sipd_reply(sock, msg, 404, "Not Found");
		return;
	}

	/* who watches the watchers: the presentity alone */
	if (pkg == PKG_WINFO && strcmp(presentity, watcher)) {
		(void)sipd_reply(sock, msg, 403, "Forbidden");
		return;
	}

	if (expires_of(&expires, msg)) {
		(void)sipd_replyf(sock, msg, 423, "Interval Too Brief",
				  "Min-Expires: %u\r\n"
				  "Content-Length: 0\r\n\r\n",
				  presence_conf.min_expires);
		return;
	}

	if (sub_count_watcher(watcher) >= presence_conf.max_per_watcher ||
	    sub_count_presentity(presentity) >=
	    presence_conf.max_per_presentity ||
	    (presence_conf.max_subscriptions &&
	     sub_total() >= presence_conf.max_subscriptions)) {
		++refused;
		(void)sipd_replyf(sock, msg, 503, "Too Many Subscriptions",
				  "Retry-After: 60\r\n"
				  "Content-Length: 0\r\n\r\n");
		return;
	}

	err = policy_decide(&state, presentity, watcher);
	if (err) {
		(void)sipd_reply_retry(sock, msg, 500, "Server Internal Error",
				       DB_RETRY_AFTER);
		return;
	}

	if (state == SUB_TERMINATED) {
		(void)sipd_reply(sock, msg, 403, "Forbidden");
		return;
	}

	err = sub_alloc(&sub);
	if (err)
		goto fail;

	sub->pkg = pkg;
	sub->state = state;
	sub->expires = time_now() + expires;
	sub->received = msg->src;
	sub->tp = msg->tp;
	sub->remote_cseq = msg->cseq.num;
	sub->local_cseq = 0;

	err  = str_dup(&sub->presentity, presentity);
	err |= str_dup(&sub->watcher, watcher);
	err |= pl_strdup(&sub->call_id, &msg->callid);
	err |= re_sdprintf(&sub->local_tag, "%016llx", msg->tag);
	err |= pl_strdup(&sub->remote_tag, &msg->from.tag);
	err |= pl_strdup(&sub->local_uri, &msg->to.auri);
	err |= pl_strdup(&sub->remote_uri, &msg->from.auri);
	err |= str_dup(&sub->socket, sock_name(sock));
	err |= route_set(&sub->route_set, msg);
	if (err)
		goto fail;

	if (contact_uri(&sub->contact, msg)) {
		mem_deref(sub);
		(void)sipd_reply(sock, msg, 400, "Missing Contact");
		return;
	}

	err = sub_save(sub);
	if (err)
		goto fail;

	sub_index(sub);

	(void)reply_sub(sock, msg, sub, expires);

	/* the current state at once; a fetch (Expires 0) ends with it */
	if (!expires)
		notify_terminate(sub, "timeout");
	else
		notify_sub(sub);

	if (pkg == PKG_PRESENCE)
		winfo_changed(presentity);

	return;

 fail:
	mem_deref(sub);
	(void)sipd_reply(sock, msg, 500, "Server Internal Error");
}


static bool request_handler(struct sipd_sock *sock, const struct sip_msg *msg)
{
	const struct sip_hdr *event;
	enum pkg pkg;

	if (msg_method_is(msg, "PUBLISH")) {
		if (!domain_is_served(&msg->uri.host))
			return false;
		return publish_handle(sock, msg);
	}

	/* SUBSCRIBE for users of other domains is for a proxy role */
	if (!pl_isset(&msg->to.tag) && !domain_is_served(&msg->uri.host))
		return false;

	event = sip_msg_hdr(msg, SIP_HDR_EVENT);
	if (!event || pkg_decode(&pkg, &event->val)) {
		(void)sipd_replyf(sock, msg, 489, "Bad Event",
				  "Allow-Events: presence, dialog, reg,"
				  " presence.winfo\r\n"
				  "Content-Length: 0\r\n\r\n");
		return true;
	}

	/* in a dialog that is not ours but routed through us: the proxy's */
	if (pl_isset(&msg->to.tag) && sip_msg_hdr(msg, SIP_HDR_ROUTE) &&
	    !sub_find_dialog(&msg->callid, &msg->to.tag, &msg->from.tag))
		return false;

	if (pl_isset(&msg->to.tag))
		subscribe_refresh(sock, msg);
	else
		subscribe_new(sock, msg, pkg);

	return true;
}


/* A call event, of this process's proxy or told by another process */
static void call_event(const struct call_event *ce)
{
	callstate_event(ce);
	notify_presentity(ce->aor, PKG_DIALOG);
	notify_presentity(ce->aor, PKG_PRESENCE);
	/* terminated calls go once their watchers heard of them */
	callstate_expire(ce->aor);
}


static void event_handler(const struct sipd_event *ev, void *arg)
{
	(void)arg;

	if (ev->call) {
		/* another worker's: once, as another node's */
		if (ev->told) {
			if (!callstate_known(ev->call))
				call_event(ev->call);
			return;
		}
		shared_call_send(ev->call);
		call_event(ev->call);
		return;
	}

	if (!ev->binding || !ev->binding->aor)
		return;

	if (ev->type == EVENT_BINDING_REMOVED ||
	    ev->type == EVENT_BINDING_EXPIRED)
		body_binding_gone(ev->binding,
				  ev->type == EVENT_BINDING_EXPIRED ?
				  "expired" : "unregistered");

	notify_presentity(ev->binding->aor, PKG_REG);
	notify_presentity(ev->binding->aor, PKG_PRESENCE);
}


static struct event_listener listener = {
	.h = event_handler,
};


/*
 * A change another node (or sipctl) committed, told by PostgreSQL: a
 * publication, or a binding, of a presentity whose watchers may be this
 * node's; or the call events of another process (shared.c). Their
 * NOTIFYs go as for a change made here.
 */
static void db_changed(const char *table, const char *key, void *arg)
{
	bool pub = !strcmp(table, "publications");

	(void)arg;

	if (!strcmp(table, "calls")) {
		shared_call_told(key, call_event);
		return;
	}

	if (!key[0] || (!pub && strcmp(table, "bindings")))
		return;

	body_invalidate(key);

	if (pub) {
		busy_invalidate(key);
	}
	else {
		notify_presentity(key, PKG_REG);
	}

	notify_presentity(key, PKG_PRESENCE);
}


static struct db_pg_watch db_watch;


static const char *methods[] = {"SUBSCRIBE", "PUBLISH", NULL};
static const char *needs[] = {"location", "account", "auth", NULL};

static struct role role = {
	.name     = "presence",
	.methods  = methods,
	.needs    = needs,
	.requesth = request_handler,
};


/* Once the loop runs (the database is open): restore and go */
static void start_handler(void *arg)
{
	(void)arg;

	/* of a set of workers, worker 0 has the subscriptions */
	if (worker_index() > 0)
		return;

	if (sub_load())
		log_warning("presence: cannot restore subscriptions\n");

	sub_start();
	publish_start(notify_presentity);
	db_pg_watch_register(&db_watch, NULL, db_changed, NULL);
}


static int policy_config(struct presence_conf *c)
{
	const struct config_line *line = config_find("presence_policy");

	if (!line)
		return 0;

	if (!str_casecmp(line->val, "same-domain"))
		c->policy = POLICY_SAME_DOMAIN;
	else if (!str_casecmp(line->val, "everyone"))
		c->policy = POLICY_EVERYONE;
	else if (!str_casecmp(line->val, "list"))
		c->policy = POLICY_LIST;
	else
		return config_fail(line, "'%s' is not same-domain, everyone"
				   " or list", line->val);

	return 0;
}


/* Read the presence_* keys into c, from the defaults */
static int conf_read(struct presence_conf *c)
{
	int err;

	*c = presence_conf_defaults;

	err  = config_u32("presence_min_expires", &c->min_expires, 1, 86400);
	err |= config_u32("presence_max_expires", &c->max_expires, 1,
			  604800);
	err |= config_u32("presence_default_expires", &c->default_expires,
			  1, 604800);
	err |= config_u32("presence_max_per_watcher", &c->max_per_watcher, 1,
			  100000);
	err |= config_u32("presence_max_per_presentity",
			  &c->max_per_presentity, 1, 1000000);
	err |= config_u32("presence_max_subscriptions",
			  &c->max_subscriptions, 0, 10000000);
	err |= config_u32("presence_notify_interval", &c->notify_interval,
			  0, 60000);
	err |= config_u32("presence_notify_retries", &c->notify_retries, 0,
			  100);
	err |= policy_config(c);
	if (err)
		return EINVAL;

	if (c->min_expires > c->max_expires)
		return config_fail(config_find("presence_min_expires"),
				   "%u is above presence_max_expires (%u)",
				   c->min_expires, c->max_expires);

	c->default_expires = MAX(c->min_expires,
				 MIN(c->default_expires, c->max_expires));

	return 0;
}


/* At reloads: the limits and the policy apply to the next request */
static int conf_reload(bool apply)
{
	struct presence_conf c;
	int err;

	err = conf_read(&c);
	if (err || !apply)
		return err;

	presence_conf = c;

	return 0;
}


static struct reload_hook hook = {
	.name = "presence",
	.h = conf_reload,
};


static uint64_t subscriptions_read(void *arg)
{
	(void)arg;

	return sub_total();
}


static uint64_t publications_read(void *arg)
{
	(void)arg;

	return publish_total();
}


static uint64_t refused_read(void *arg)
{
	(void)arg;

	return refused;
}


static struct stat_figure subscriptions = {
	.name  = STAT_SUBSCRIPTIONS,
	.help  = "Active subscriptions",
	.kind  = STAT_GAUGE,
	.readh = subscriptions_read,
};

static struct stat_figure publications = {
	.name  = STAT_PUBLICATIONS,
	.help  = "Active event publications",
	.kind  = STAT_GAUGE,
	.readh = publications_read,
};


static struct stat_figure refusals = {
	.name  = "subscriptions_refused",
	.help  = "New subscriptions refused with 503: a limit of"
		 " presence_max_* reached",
	.kind  = STAT_COUNTER,
	.readh = refused_read,
};


static int module_init(void)
{
	int err;

	err = conf_read(&presence_conf);
	if (err)
		return err;

	LIBXML_TEST_VERSION;

	err = sub_init(notify_sub, notify_terminate);
	if (err)
		return err;

	event_listen(&listener);
	busy_init();
	role_register(&role);
	reload_register(&hook);
	stats_register(&subscriptions);
	stats_register(&publications);
	stats_register(&refusals);

	tmr_start(&tmr_start_, 0, start_handler, NULL);

	return 0;
}


static int module_close(void)
{
	tmr_cancel(&tmr_start_);
	db_pg_watch_unregister(&db_watch);
	shared_close();
	stats_unregister(&refusals);
	stats_unregister(&publications);
	stats_unregister(&subscriptions);
	reload_unregister(&hook);
	role_unregister(&role);
	event_unlisten(&listener);
	publish_close();
	sub_close();
	callstate_close();
	body_close();
	busy_close();

	/* the statements live in this module's memory */
	db_stmts_release();
	xmlCleanupParser();
	digest_close();

	return 0;
}


EXPORT_SYM const struct mod_export exports = {
	"presence",
	"role",
	module_init,
	module_close
};
