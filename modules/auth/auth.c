/**
 * @file auth.c  Digest auth module: challenges and checks credentials
 *
 * RFC 3261 digest with qop=auth, MD5 and SHA-256 (RFC 7616, RFC 8760):
 * both challenges are offered, SHA-256 first. Nonces are checked without
 * being stored, nonce counts are checked for replays, and a source that
 * keeps failing is throttled, then banned. An unknown user and a wrong
 * password get the same answer, so extensions cannot be enumerated.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include <sipd.h>
#include "auth.h"


enum {
	MAX_ALGS = 2,
};


struct md5_agent {
	struct le le;
	char *substr;
};


/** The settings of the module's keys */
struct auth_conf {
	uint32_t nonce_expiry;
	enum digest_alg algs[MAX_ALGS];
	size_t algc;
	struct list md5_agents;        /* struct md5_agent */
	struct throttle_conf throttle;
	bool in_dialog;                /* challenge in-dialog requests */
};

static const struct auth_conf defaults = {
	.nonce_expiry = 300,
	.algs = {DIGEST_SHA256, DIGEST_MD5},
	.algc = 2,
	.md5_agents = LIST_INIT,
	.throttle = {5, 10, 300, 900},
};

static struct {
	struct auth_conf conf;
	uint64_t failures;
} auth = {
	.conf = {
		.md5_agents = LIST_INIT,
	},
};


/*
 * User agents known to fail on a challenge whose algorithm they do not
 * support instead of skipping it (RFC 8760 says skip): libre 1.1.0 and so
 * baresip, and agents built on it; the browser libraries JsSIP and SIP.js,
 * which read the first challenge only. They get the MD5 challenge only.
 */
static const char *default_md5_agents[] = {
	"baresip",
	"libre",
	"JsSIP",
	"SIP.js",
};


enum outcome {
	OUTCOME_BAD_URI,       /* credentials for another URI: 400          */
	OUTCOME_CHALLENGE,     /* no usable credentials: challenge          */
	OUTCOME_STALE,         /* right answer to an expired nonce           */
	OUTCOME_FAILURE,       /* wrong: count it, then challenge or ban     */
	OUTCOME_UNAVAILABLE,   /* the accounts cannot be read: 500, retry    */
	OUTCOME_OK,
};


static bool md5_only(const struct sip_msg *msg)
{
	const struct sip_hdr *ua = sip_msg_hdr(msg, SIP_HDR_USER_AGENT);
	struct le *le;

	if (!ua)
		return false;

	for (le = auth.conf.md5_agents.head; le; le = le->next) {
		const struct md5_agent *a = le->data;
		size_t n = strlen(a->substr), i;

		for (i = 0; i + n <= ua->val.l; i++) {
			if (!strncasecmp(ua->val.p + i, a->substr, n))
				return true;
		}
	}

	return false;
}


static bool alg_offered(enum digest_alg alg)
{
	size_t i;

	for (i = 0; i < auth.conf.algc; i++) {
		if (auth.conf.algs[i] == alg)
			return true;
	}

	return false;
}


static int challenge(struct sipd_sock *sock, const struct sip_msg *msg,
		     enum auth_kind kind, const char *realm, bool stale)
{
	const char *hname = kind == AUTH_PROXY ? "Proxy-Authenticate" :
		"WWW-Authenticate";
	char nonce[NONCE_SIZE + 1];
	struct mbuf *mb;
	bool only_md5 = md5_only(msg);
	size_t i;
	int err;

	/* a retransmission gets its first copy's nonce, while the nonce
	   has half its life left */
	err = recall_nonce(nonce, sizeof(nonce), msg, time_now(),
			   auth.conf.nonce_expiry / 2, realm);
	if (err) {
		log_error("auth: cannot make a nonce: %m\n", err);
		(void)sipd_reply(sock, msg, 500, "Server Internal Error");
		return err;
	}

	mb = mbuf_alloc(512);
	if (!mb)
		return ENOMEM;

	/* an MD5-only agent gets MD5 alone, when MD5 is offered at all */
	only_md5 = only_md5 && alg_offered(DIGEST_MD5);

	for (i = 0; i < auth.conf.algc; i++) {
		if (only_md5 && auth.conf.algs[i] != DIGEST_MD5)
			continue;

		err |= mbuf_printf(mb, "%s: Digest realm=\"%s\", nonce=\"%s\","
				   " algorithm=%s, qop=\"auth\"%s\r\n",
				   hname, realm, nonce,
				   digest_alg_name(auth.conf.algs[i]),
				   stale ? ", stale=true" : "");
	}

	err |= mbuf_write_str(mb, "Content-Length: 0\r\n\r\n");
	if (!err) {
		err = sipd_replyf(sock, msg, kind == AUTH_PROXY ? 407 : 401,
				  kind == AUTH_PROXY ?
				  "Proxy Authentication Required" :
				  "Unauthorized", "%b", mb->buf, mb->end);
	}

	mem_deref(mb);

	return err;
}


struct find {
	const char *realm;
	struct digest_cred cred;
	bool found;
	bool malformed;
};


static bool cred_handler(const struct sip_hdr *hdr, const struct sip_msg *msg,
			 void *arg)
{
	struct find *f = arg;
	struct digest_cred cred;
	int err;
	(void)msg;

	err = digest_cred_decode(&cred, &hdr->val);
	if (err == ENOTSUP)
		return false;          /* another scheme: ignore it */
	if (err) {
		f->malformed = true;
		return false;
	}

	if (pl_strcasecmp(&cred.realm, f->realm))
		return false;

	f->cred = cred;
	f->found = true;

	return true;
}


static enum outcome verify(struct auth_identity *id,
			   const struct sip_msg *msg,
			   const struct digest_cred *cred,
			   const char *realm)
{
	uint8_t ha1[DIGEST_MAX_SIZE];
	enum digest_alg alg;
	size_t len;
	bool known, right;
	char user[sizeof(id->user)];
	int nerr, err;

	if (digest_alg_decode(&alg, &cred->algorithm) || !alg_offered(alg))
		return OUTCOME_CHALLENGE;

	if (!pl_isset(&cred->qop) || pl_strcasecmp(&cred->qop, "auth"))
		return OUTCOME_CHALLENGE;

	if (pl_isset(&cred->userhash) &&
	    !pl_strcasecmp(&cred->userhash, "true"))
		return OUTCOME_CHALLENGE;

	/* the credentials must be for this request (RFC 7616 3.4.6) */
	if (pl_cmp(&cred->uri, &msg->ruri) &&
	    !uri_equal_str(&cred->uri, &msg->ruri))
		return OUTCOME_BAD_URI;

	nerr = nonce_check(&cred->nonce, realm, time_now(),
			   auth.conf.nonce_expiry);
	if (nerr == EINVAL)
		return OUTCOME_FAILURE;    /* not a nonce we made */
	else if (nerr && nerr != ETIMEDOUT)
		return OUTCOME_CHALLENGE;

	if (pl_strcpy(&cred->username, user, sizeof(user)))
		return OUTCOME_FAILURE;

	err = account_ha1(user, realm, alg, ha1, &len);
	known = !err;
	if (err && err != ENOENT) {
		/* a lost database server is logged once, by the core */
		if (err != ENOTCONN)
			log_warning("auth: credentials of %s@%s: %m\n", user,
				    realm, err);
		return OUTCOME_UNAVAILABLE;
	}

	/* an unknown user costs the same work as a known one */
	if (!known)
		memset(ha1, 0, sizeof(ha1));

	right = digest_verify(cred, alg, ha1, &msg->met) && known;
	if (!right)
		return OUTCOME_FAILURE;

	if (nerr == ETIMEDOUT)
		return OUTCOME_STALE;

	err = replay_check(&cred->nonce, &cred->nc,
			   hash_joaat_pl(&msg->via.branch),
			   time_now() + auth.conf.nonce_expiry);
	if (err == EALREADY)
		return OUTCOME_FAILURE;
	else if (err)
		return OUTCOME_CHALLENGE;

	str_ncpy(id->user, user, sizeof(id->user));
	str_ncpy(id->domain, realm, sizeof(id->domain));

	return OUTCOME_OK;
}


static int auth_check_handler(struct auth_identity *id,
			      struct sipd_sock *sock,
			      const struct sip_msg *msg, enum auth_kind kind,
			      const char *realm)
{
	struct find f;
	enum outcome outcome;
	uint64_t now = tmr_jiffies();

	memset(&f, 0, sizeof(f));
	f.realm = realm;

	(void)sip_msg_hdr_apply(msg, true, kind == AUTH_PROXY ?
				SIP_HDR_PROXY_AUTHORIZATION :
				SIP_HDR_AUTHORIZATION, cred_handler, &f);

	if (!f.found) {
		if (f.malformed) {
			(void)sipd_reply(sock, msg, 400,
					 "Malformed Credentials");
			return EAUTH;
		}

		(void)challenge(sock, msg, kind, realm, false);
		return EAUTH;
	}

	if (throttle_blocked(&msg->src, now)) {
		log_debug("auth: throttled %J\n", &msg->src);
		return EAUTH;
	}

	outcome = verify(id, msg, &f.cred, realm);

	switch (outcome) {

	case OUTCOME_OK:
		return 0;

	case OUTCOME_STALE:
		(void)challenge(sock, msg, kind, realm, true);
		return EAUTH;

	case OUTCOME_BAD_URI:
		(void)sipd_reply(sock, msg, 400, "Credentials For Another URI");
		return EAUTH;

	case OUTCOME_UNAVAILABLE:
		(void)sipd_reply_retry(sock, msg, 500, "Server Internal Error",
				       DB_RETRY_AFTER);
		return EAUTH;

	case OUTCOME_FAILURE:
		++auth.failures;
		log_info("auth: failed digest for '%r' at %s from %J\n",
			 &f.cred.username, realm, &msg->src);
		if (throttle_fail(&msg->src, now))
			return EAUTH;   /* banned: no answer */
		(void)challenge(sock, msg, kind, realm, false);
		return EAUTH;

	default:
		(void)challenge(sock, msg, kind, realm, false);
		return EAUTH;
	}
}


static bool in_dialog_handler(void)
{
	return auth.conf.in_dialog;
}


static struct auth_backend backend = {
	.name      = "digest",
	.check     = auth_check_handler,
	.in_dialog = in_dialog_handler,
};


static void agent_destructor(void *arg)
{
	struct md5_agent *a = arg;

	list_unlink(&a->le);
	mem_deref(a->substr);
}


static int agent_add(struct list *agents, const char *substr)
{
	struct md5_agent *a;

	a = mem_zalloc(sizeof(*a), agent_destructor);
	if (!a)
		return ENOMEM;

	if (str_dup(&a->substr, substr)) {
		mem_deref(a);
		return ENOMEM;
	}

	list_append(agents, &a->le, a);

	return 0;
}


static int agent_handler(const struct config_line *line, void *arg)
{
	struct list *agents = arg;

	/* "none" forgets the agents listed so far, built-in ones too */
	if (!str_casecmp(line->val, "none")) {
		list_flush(agents);
		return 0;
	}

	return agent_add(agents, line->val);
}


static int algorithms_config(struct auth_conf *c)
{
	const struct config_line *line = config_find("auth_algorithms");
	struct pl rest, name;

	if (!line)
		return 0;

	c->algc = 0;
	pl_set_str(&rest, line->val);

	while (rest.l) {
		enum digest_alg alg;
		const char *comma = pl_strchr(&rest, ',');
		size_t i;

		name.p = rest.p;
		name.l = comma ? (size_t)(comma - rest.p) : rest.l;

		if (digest_alg_decode(&alg, &name) || !name.l)
			return config_fail(line, "'%r' is not MD5 or SHA-256",
					   &name);

		for (i = 0; i < c->algc; i++) {
			if (c->algs[i] == alg)
				return config_fail(line, "%r is listed twice",
						   &name);
		}

		c->algs[c->algc++] = alg;

		if (!comma)
			break;

		rest.p = comma + 1;
		rest.l -= name.l + 1;
	}

	if (!c->algc)
		return config_fail(line, "no algorithm");

	return 0;
}


/* Read the keys into settings that start from the defaults */
static int conf_read(struct auth_conf *c)
{
	size_t i;
	int err;

	for (i = 0; i < ARRAY_SIZE(default_md5_agents); i++) {
		err = agent_add(&c->md5_agents, default_md5_agents[i]);
		if (err)
			return err;
	}

	err  = config_u32("auth_nonce_expiry", &c->nonce_expiry, 10, 86400);
	err |= config_u32("auth_throttle", &c->throttle.throttle, 0, 1000);
	err |= config_u32("auth_fail_limit", &c->throttle.limit, 1, 100000);
	err |= config_u32("auth_fail_window", &c->throttle.window, 1,
			  86400);
	err |= config_u32("auth_ban_time", &c->throttle.ban_time, 0,
			  604800);
	err |= config_bool("auth_in_dialog", &c->in_dialog);
	err |= algorithms_config(c);
	err |= config_apply("auth_md5_user_agent", agent_handler,
			    &c->md5_agents);

	return err ? EINVAL : 0;
}


/* At start and at reloads: read the keys; apply them when asked */
static int conf_reload(bool apply)
{
	struct auth_conf c = defaults;
	int err;

	list_init(&c.md5_agents);

	err = conf_read(&c);
	if (!err && apply) {
		auth.conf.nonce_expiry = c.nonce_expiry;
		memcpy(auth.conf.algs, c.algs, sizeof(c.algs));
		auth.conf.algc = c.algc;
		auth.conf.throttle = c.throttle;
		auth.conf.in_dialog = c.in_dialog;
		reload_list(&auth.conf.md5_agents, &c.md5_agents);
		throttle_configure(&auth.conf.throttle);
	}

	list_flush(&c.md5_agents);

	return err;
}


static struct reload_hook hook = {
	.name = "auth",
	.h = conf_reload,
};


static uint64_t failures_read(void *arg)
{
	(void)arg;

	return auth.failures;
}


static struct stat_figure failures = {
	.name  = STAT_AUTH_FAILURES,
	.help  = "Failed digest authentications",
	.kind  = STAT_COUNTER,
	.readh = failures_read,
};


static int module_init(void)
{
	int err;

	err = conf_reload(true);
	if (err)
		return err;

	auth_register(&backend);
	reload_register(&hook);
	stats_register(&failures);

	return 0;
}


static int module_close(void)
{
	stats_unregister(&failures);
	reload_unregister(&hook);
	auth_unregister(&backend);
	list_flush(&auth.conf.md5_agents);
	replay_flush();
	throttle_flush();
	recall_flush();
	nonce_close();
	digest_close();

	return 0;
}


EXPORT_SYM const struct mod_export exports = {
	"auth",
	"backend",
	module_init,
	module_close
};
