/**
 * @file redirect.c  Redirect role (RFC 3261 sections 8.3 and 21.3)
 *
 * A request for an address-of-record of a served domain gets
 * "302 Moved Temporarily" listing every current contact, best q first,
 * with q and expires parameters. Unknown user: 404. Known user without a
 * binding: 480. The ACK to the 302 is absorbed by the transaction.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include <sipd.h>
#include <sipmsg/sipmsg.h>


struct redirect_reply {
	const struct list *bindings;
	int64_t now;
};


static int contacts_print(struct re_printf *pf, void *arg)
{
	const struct redirect_reply *rr = arg;
	struct le *le;
	int err = 0;

	for (le = rr->bindings->head; le; le = le->next) {
		const struct binding *b = le->data;
		int64_t left = b->expires - rr->now;

		err |= re_hprintf(pf, "Contact: <%s>;q=%u.%03u;expires=%lld"
				  "\r\n", b->contact, b->q / 1000,
				  b->q % 1000,
				  (long long)(left > 0 ? left : 0));
	}

	return err;
}


static void reply(struct sipd_sock *sock, const struct sip_msg *msg,
		  uint16_t scode, const char *reason, const char *fmt, ...)
{
	struct mbuf *mb = NULL;
	va_list ap;
	int err = 0;

	if (fmt) {
		mb = mbuf_alloc(512);
		if (!mb)
			return;

		va_start(ap, fmt);
		err = mbuf_vprintf(mb, fmt, ap);
		va_end(ap);
	}

	if (err)
		goto out;

	/* an INVITE is answered statefully so that its ACK is absorbed */
	if (msg_method_is(msg, "INVITE"))
		(void)sip_treplyf(NULL, NULL, sock_sip(sock), msg, false,
				  scode, reason, "%b%s",
				  mb ? mb->buf : (uint8_t *)"", mb ? mb->end : 0,
				  mb ? "" : "Content-Length: 0\r\n\r\n");
	else
		(void)sip_replyf(sock_sip(sock), msg, scode, reason, "%b%s",
				 mb ? mb->buf : (uint8_t *)"", mb ? mb->end : 0,
				 mb ? "" : "Content-Length: 0\r\n\r\n");

 out:
	mem_deref(mb);
}


static bool authorized(struct sipd_sock *sock, const struct sip_msg *msg)
{
	struct auth_identity id;
	int err;

	/* callers from outside are not challenged; local users are */
	if (!sock_auth(sock) || !domain_is_served(&msg->from.uri.host))
		return true;

	/* a caller calls as itself only */
	err = auth_require(&id, sock, msg, AUTH_WWW, &msg->from.uri);
	if (err == EPERM)
		reply(sock, msg, 403, "Forbidden", NULL);
	else if (err && err != EAUTH)
		reply(sock, msg, 500, "Server Internal Error", NULL);

	return err == 0;
}


static bool request_handler(struct sipd_sock *sock, const struct sip_msg *msg)
{
	struct list bindings = LIST_INIT;
	struct redirect_reply rr;
	char aor[256], user[128], domain[128], unsup[256];
	const char *at;
	bool exists = false;
	static const char *supported[] = {NULL};
	int err;

	if (msg_method_is(msg, "ACK"))
		return true;   /* an ACK to a 2xx we never sent: drop */

	if (!domain_is_served(&msg->uri.host))
		return false;

	if (msg_require_check(msg, SIP_HDR_REQUIRE, supported, unsup,
			      sizeof(unsup))) {
		reply(sock, msg, 420, "Bad Extension", "Unsupported: %s\r\n"
		      "Content-Length: 0\r\n\r\n", unsup);
		return true;
	}

	if (!authorized(sock, msg))
		return true;

	if (msg_aor(aor, sizeof(aor), &msg->uri)) {
		reply(sock, msg, 404, "Not Found", NULL);
		return true;
	}

	at = strrchr(aor, '@');
	str_ncpy(user, aor, MIN(sizeof(user), (size_t)(at - aor) + 1));
	str_ncpy(domain, at + 1, sizeof(domain));

	/* bindings are only stored for accounts (and go with them): only
	   an address without any needs the accounts table */
	err = location_lookup(&bindings, aor);
	if (!err)
		exists = !list_isempty(&bindings);
	if (!err && !exists)
		err = account_exists(user, domain, &exists);

	if (err) {
		log_warning("redirect: lookup of %s: %m\n", aor, err);
		reply(sock, msg, 500, "Server Internal Error", NULL);
	}
	else if (!exists) {
		reply(sock, msg, 404, "Not Found", NULL);
	}
	else if (list_isempty(&bindings)) {
		reply(sock, msg, 480, "Temporarily Unavailable", NULL);
	}
	else {
		rr.bindings = &bindings;
		rr.now = time_now();
		reply(sock, msg, 302, "Moved Temporarily",
		      "%HContent-Length: 0\r\n\r\n", contacts_print, &rr);
	}

	list_flush(&bindings);

	return true;
}


static const char *methods[] = {
	"INVITE", "ACK", "OPTIONS", "MESSAGE", "SUBSCRIBE", "REFER", NULL
};
static const char *needs[] = {"location", "account", "auth", NULL};

static struct role role = {
	.name     = "redirect",
	.methods  = methods,
	.needs    = needs,
	.requesth = request_handler,
};


static int module_init(void)
{
	role_register(&role);

	return 0;
}


static int module_close(void)
{
	role_unregister(&role);

	return 0;
}


EXPORT_SYM const struct mod_export exports = {
	"redirect",
	"role",
	module_init,
	module_close
};
