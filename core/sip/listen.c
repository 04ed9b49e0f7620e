/**
 * @file listen.c  Listening sockets: one libre SIP instance per address
 *
 * A "listen" line names a transport, an address and the roles that handle
 * requests arriving there. libre 1.1.0 picks the outgoing transport of a
 * struct sip without looking at the destination and refuses to bind
 * 0.0.0.0, so every local address gets its own struct sip; the transports
 * of one address (udp and tcp on the same IP:port) share it.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <unistd.h>
#include <ctype.h>
#include <re.h>
#include "libre/libre.h"


enum {
	/* transactions live 5 to 32 s after their last message: a few
	   thousand calls a second hold tens of thousands of them, and each
	   request is matched against one bucket's list */
	CTRANS_HASH_SIZE = 8192,
	STRANS_HASH_SIZE = 32768,
	CONN_HASH_SIZE   = 256,
	UDP_SOCKBUF_SIZE = 4 * 1024 * 1024,
};


/** A parsed listen line */
struct listen_spec {
	struct le le;
	enum sip_transp tp;
	struct sa addr;
	struct list roles;            /* struct role_ref */
	bool auth;
	char *cert;                   /* tls, wss: certificate (chain)  */
	char *key;                    /* its key, if not in cert        */
	char *ca;                     /* CAs to verify clients          */
	bool verify;                  /* require client certificates    */
	struct tls *tls;
	const struct config_line *line;
};

static struct {
	struct list specs;            /* struct listen_spec */
	struct dnsc *dnsc;
	uint32_t sock_count;
} lst;


static void role_ref_destructor(void *arg)
{
	struct role_ref *ref = arg;

	list_unlink(&ref->le);
	mem_deref(ref->name);
}


static void spec_destructor(void *arg)
{
	struct listen_spec *spec = arg;

	list_unlink(&spec->le);
	list_flush(&spec->roles);
	mem_deref(spec->cert);
	mem_deref(spec->key);
	mem_deref(spec->ca);
	mem_deref(spec->tls);
}


static void sock_destructor(void *arg)
{
	struct sipd_sock *sock = arg;

	list_unlink(&sock->le);
	list_flush(&sock->roles);
	mem_deref(sock->allow);
}


static void inst_destructor(void *arg)
{
	struct sip_inst *inst = arg;

	list_unlink(&inst->le);
	inst->lsnr_req = mem_deref(inst->lsnr_req);
	inst->lsnr_resp = mem_deref(inst->lsnr_resp);

	if (inst->sip) {
		sip_close(inst->sip, true);
		inst->sip = mem_deref(inst->sip);
	}

	list_flush(&inst->socks);
}


static bool transp_secure(enum sip_transp tp)
{
	return tp == SIP_TRANSP_TLS || tp == SIP_TRANSP_WSS;
}


static int addr_decode(struct sa *sa, const struct pl *pl)
{
	struct pl host, port = PL_INIT;
	uint32_t portn = SIP_PORT;
	char buf[64];

	if (pl->l && pl->p[0] == '[') {
		if (re_regex(pl->p, pl->l, "\\[[^\\]]+\\][:]*[^]*",
			     &host, NULL, &port))
			return EINVAL;
	}
	else if (re_regex(pl->p, pl->l, "[^:]+[:]*[^]*", &host, NULL, &port))
		return EINVAL;

	if (pl_isset(&port)) {
		if (re_regex(port.p, port.l, "[0-9]+", NULL) || port.l > 5)
			return EINVAL;

		portn = pl_u32(&port);
		if (portn < 1 || portn > 65535)
			return ERANGE;
	}

	if (pl_strcpy(&host, buf, sizeof(buf)))
		return EINVAL;

	return sa_set_str(sa, buf, (uint16_t)portn);
}


static int roles_decode(struct listen_spec *spec, const struct pl *val)
{
	const char *p = val->p, *end = val->p + val->l;

	if (!val->l)
		return EINVAL;

	while (p <= end) {
		const char *comma = memchr(p, ',', end - p);
		struct role_ref *ref;
		struct pl name;
		size_t i;

		name.p = p;
		name.l = (comma ? comma : end) - p;

		if (!name.l)
			return EINVAL;

		for (i = 0; i < name.l; i++) {
			char c = name.p[i];
			if (!(isalnum((unsigned char)c) || c == '-' ||
			      c == '_'))
				return EINVAL;
		}

		ref = mem_zalloc(sizeof(*ref), role_ref_destructor);
		if (!ref)
			return ENOMEM;

		list_append(&spec->roles, &ref->le, ref);

		if (pl_strdup(&ref->name, &name))
			return ENOMEM;

		if (!comma)
			break;

		p = comma + 1;
	}

	return 0;
}


static bool redirect_only(const struct listen_spec *spec)
{
	struct le *le;

	for (le = spec->roles.head; le; le = le->next) {
		const struct role_ref *ref = le->data;

		if (str_casecmp(ref->name, "redirect"))
			return false;
	}

	return true;
}


/* tls and wss need a certificate; the others take no TLS parameters */
static int tls_params_check(const struct listen_spec *spec,
			    const struct config_line *line)
{
	if (!transp_secure(spec->tp)) {
		if (spec->cert || spec->key || spec->ca || spec->verify)
			return config_fail(line, "cert, key, ca and verify are"
					   " for tls and wss only");
		return 0;
	}

	if (!spec->cert)
		return config_fail(line, "%s needs cert=FILE (and key=FILE"
				   " unless the key is in it)",
				   spec->tp == SIP_TRANSP_TLS ? "tls" : "wss");

	/* libre's wss listener takes a certificate and nothing more */
	if (spec->tp == SIP_TRANSP_WSS && (spec->ca || spec->verify))
		return config_fail(line, "ca and verify are for tls only");

	if (spec->verify && !spec->ca)
		return config_fail(line, "verify=on needs ca=FILE");

	if (spec->ca && tls_ca_check(line, spec->ca))
		return EINVAL;

	return tls_files_check(line, spec->cert, spec->key);
}


static int spec_params(struct listen_spec *spec, const struct pl *params,
		       const struct config_line *line)
{
	struct pl rest = *params;
	bool have_roles = false, have_auth = false;
	int err;

	while (rest.l) {
		struct pl name, val = PL_INIT, more = PL_INIT;

		if (rest.p[0] == ';') {
			++rest.p;
			--rest.l;
			continue;
		}

		if (re_regex(rest.p, rest.l, "[^=;]+[=]*[^;]*[^]*",
			     &name, NULL, &val, &more))
			return config_fail(line, "bad parameters '%r'", &rest);

		if (!pl_strcasecmp(&name, "roles")) {
			err = roles_decode(spec, &val);
			if (err == ENOMEM)
				return err;
			if (err)
				return config_fail(line, "bad role list '%r'",
						   &val);
			have_roles = true;
		}
		else if (!pl_strcasecmp(&name, "auth")) {
			char buf[8];

			if (pl_strcpy(&val, buf, sizeof(buf)) ||
			    config_parse_bool(&spec->auth, buf))
				return config_fail(line, "auth must be on or"
						   " off, not '%r'", &val);
			have_auth = true;
		}
		else if (!pl_strcasecmp(&name, "verify")) {
			char buf[8];

			if (pl_strcpy(&val, buf, sizeof(buf)) ||
			    config_parse_bool(&spec->verify, buf))
				return config_fail(line, "verify must be on or"
						   " off, not '%r'", &val);
		}
		else if (!pl_strcasecmp(&name, "cert") ||
			 !pl_strcasecmp(&name, "key") ||
			 !pl_strcasecmp(&name, "ca")) {
			char **dst = !pl_strcasecmp(&name, "cert") ?
				&spec->cert : !pl_strcasecmp(&name, "key") ?
				&spec->key : &spec->ca;

			if (!val.l)
				return config_fail(line, "%r needs a file",
						   &name);
			mem_deref(*dst);
			*dst = NULL;
			err = pl_strdup(dst, &val);
			if (err)
				return err;
		}
		else {
			return config_fail(line, "unknown parameter '%r'",
					   &name);
		}

		rest = more;
	}

	if (!have_roles)
		return config_fail(line, "missing roles=ROLE[,ROLE...]");

	if (!have_auth)
		spec->auth = !redirect_only(spec);

	return tls_params_check(spec, line);
}


static bool spec_clash(const struct listen_spec *a,
		       const struct listen_spec *b)
{
	return a->tp == b->tp && sa_cmp(&a->addr, &b->addr, SA_ALL);
}


static int listen_handler(const struct config_line *line, void *arg)
{
	struct list *specs = arg;
	struct listen_spec *spec;
	struct pl val, tp, addr, params = PL_INIT;
	struct le *le;
	int err;

	pl_set_str(&val, line->val);

	if (re_regex(val.p, val.l, "[^:]+:[^;]+[^]*", &tp, &addr, &params))
		return config_fail(line, "expected TRANSPORT:IP:PORT;roles=..."
				   ", got '%s'", line->val);

	spec = mem_zalloc(sizeof(*spec), spec_destructor);
	if (!spec)
		return ENOMEM;

	spec->line = line;

	if (transp_decode(&spec->tp, &tp)) {
		err = config_fail(line, "unknown transport '%r' (use udp,"
				  " tcp, tls, ws or wss)", &tp);
		goto out;
	}

	err = addr_decode(&spec->addr, &addr);
	if (err == ERANGE) {
		err = config_fail(line, "port out of range in '%r'", &addr);
		goto out;
	}
	else if (err) {
		err = config_fail(line, "'%r' is not an IP address with an"
				  " optional port (IPv6 as [::1]:5060)",
				  &addr);
		goto out;
	}

	err = spec_params(spec, &params, line);
	if (err)
		goto out;

	for (le = specs->head; le; le = le->next) {
		const struct listen_spec *other = le->data;

		if (spec_clash(spec, other)) {
			err = config_fail(line, "%s %J is already used on"
					  " line %u", transp_name(spec->tp),
					  &spec->addr, other->line->lineno);
			goto out;
		}
	}

	list_append(specs, &spec->le, spec);

 out:
	if (err)
		mem_deref(spec);

	return err;
}


/* A reload checks role names without loading modules */
static int roles_check(const struct list *specs)
{
	struct le *le, *re;
	int err = 0;

	for (le = specs->head; le; le = le->next) {
		const struct listen_spec *spec = le->data;

		for (re = spec->roles.head; re; re = re->next) {
			const struct role_ref *ref = re->data;

			if (role_find(ref->name) ||
			    module_available(ref->name))
				continue;

			err = config_fail(spec->line, "unknown role '%s'",
					  ref->name);
		}
	}

	return err;
}


/**
 * Read the "listen" lines of the configuration
 *
 * @param apply True to keep them for the start, false to check them (a
 *              reload: sockets change only at a restart)
 *
 * @return 0 if success, otherwise errorcode
 */
int listen_config(bool apply)
{
	struct list fresh = LIST_INIT;
	int err;

	err = config_apply("listen", listen_handler, &fresh);
	if (!err && list_isempty(&fresh))
		err = config_fail(NULL, "no 'listen' line: sipd needs at"
				  " least one socket");

	if (!err && !apply)
		err = roles_check(&fresh);

	if (!err && apply)
		reload_list(&lst.specs, &fresh);

	list_flush(&fresh);

	return err;
}


/**
 * Collect the module names that the roles of the listen lines need
 *
 * @param names List to append strings (struct role_ref) to
 *
 * @return 0 if success, otherwise errorcode
 */
int listen_modules(struct list *names)
{
	struct le *le, *re;

	for (le = lst.specs.head; le; le = le->next) {
		const struct listen_spec *spec = le->data;

		for (re = spec->roles.head; re; re = re->next) {
			const struct role_ref *ref = re->data;
			struct role_ref *name;
			struct le *ne;
			bool dup = false;
			char *p;

			for (ne = names->head; ne; ne = ne->next) {
				const struct role_ref *n = ne->data;
				if (!str_casecmp(n->name, ref->name))
					dup = true;
			}

			if (dup)
				continue;

			name = mem_zalloc(sizeof(*name), role_ref_destructor);
			if (!name)
				return ENOMEM;

			if (str_dup(&name->name, ref->name)) {
				mem_deref(name);
				return ENOMEM;
			}

			name->line = spec->line;

			for (p = name->name; *p; p++) {
				if (*p == '-')
					*p = '_';
			}

			list_append(names, &name->le, name);
		}
	}

	return 0;
}


/**
 * Resolve the role names of every listen line, after modules are loaded
 *
 * @return 0 if every role is known, otherwise errorcode (reported)
 */
int listen_resolve_roles(void)
{
	struct le *le, *re;
	int err = 0;

	for (le = lst.specs.head; le; le = le->next) {
		struct listen_spec *spec = le->data;

		for (re = spec->roles.head; re; re = re->next) {
			struct role_ref *ref = re->data;

			ref->role = role_find(ref->name);
			if (!ref->role) {
				err = config_fail(spec->line, "unknown role"
						  " '%s'", ref->name);
			}
		}
	}

	return err;
}


/* Does a role of some listen line need a service? */
static bool listen_needs(const char *service)
{
	struct le *le, *re;

	for (le = lst.specs.head; le; le = le->next) {
		const struct listen_spec *spec = le->data;

		for (re = spec->roles.head; re; re = re->next) {
			const struct role_ref *ref = re->data;
			const char *const *need;

			if (!ref->role || !ref->role->needs)
				continue;

			for (need = ref->role->needs; *need; need++) {
				if (!str_casecmp(*need, service))
					return true;
			}
		}
	}

	return false;
}


static const char *service_module(const char *service)
{
	if (!str_casecmp(service, "account"))
		return "location";

	return service;
}


/**
 * Check that every service a role needs has a backend
 *
 * @return 0 if all are available, otherwise EINVAL (reported)
 */
int listen_check_needs(void)
{
	struct le *le, *re;
	int err = 0;

	for (le = lst.specs.head; le; le = le->next) {
		const struct listen_spec *spec = le->data;

		for (re = spec->roles.head; re; re = re->next) {
			const struct role_ref *ref = re->data;
			const char *const *need;

			if (!ref->role || !ref->role->needs)
				continue;

			for (need = ref->role->needs; *need; need++) {

				if (!str_casecmp(*need, "auth") && !spec->auth)
					continue;

				/* the core provides it */
				if (!str_casecmp(*need, "dns"))
					continue;

				if (service_available(*need))
					continue;

				err = config_fail(spec->line, "role %s needs"
						  " the %s service: add"
						  " 'module %s'", ref->name,
						  *need,
						  service_module(*need));
			}
		}
	}

	return err;
}


static bool request_handler(const struct sip_msg *msg, void *arg)
{
	struct sip_inst *inst = arg;
	struct sipd_sock *sock = inst_sock(inst, msg->tp);

	if (!sock)
		return true;

	return dispatch_request(sock, msg);
}


static bool response_handler(const struct sip_msg *msg, void *arg)
{
	struct sip_inst *inst = arg;
	struct sipd_sock *sock;

	/* the start-up probe that tells which udp_sock is ours */
	if (msg->tp == SIP_TRANSP_UDP && inst->probe[0] &&
	    0 == pl_strcmp(&msg->via.branch, inst->probe)) {

		inst->probe[0] = '\0';
		stats_unreceived(msg);
		sock = inst_sock(inst, SIP_TRANSP_UDP);
		if (sock && msg->sock) {
			(void)udp_sockbuf_set(msg->sock, UDP_SOCKBUF_SIZE);
			(void)wire_attach_udp(msg->sock, sock);
		}

		/* did libre decode the probe through sipd's decoder? */
		if (libre_decode_count())
			wire_interposed();
		else
			log_notice("libre does not call sipd's decoder: UDP"
				   " messages are decoded twice\n");
		return true;
	}

	sock = inst_sock(inst, msg->tp);
	if (role_response(sock, msg))
		return true;

	log_debug("dropped a response that matches no transaction:"
		  " %u %r from %J\n", msg->scode, &msg->reason, &msg->src);

	return true;
}


/*
 * libre 1.1.0 gives no access to the UDP socket of a SIP transport, yet
 * sipd must see datagrams that libre cannot parse (to answer them 400 or
 * 505 instead of dropping them silently). The socket shows up as msg->sock
 * on the first message it delivers, so sipd sends itself one response
 * datagram at start and attaches its helper when that arrives.
 */
static int inst_probe(struct sip_inst *inst, const struct sa *laddr)
{
	struct mbuf *mb;
	int err;

	rand_str(inst->probe + 7, 24);
	memcpy(inst->probe, "z9hG4bK", 7);

	mb = mbuf_alloc(256);
	if (!mb)
		return ENOMEM;

	/* reuseport.c steers it to this worker by its reason phrase */
	err = mbuf_printf(mb,
			  "SIP/2.0 200 sipd-probe-%c\r\n"
			  "Via: SIP/2.0/UDP %J;branch=%s\r\n"
			  "From: <sip:probe@invalid>;tag=probe\r\n"
			  "To: <sip:probe@invalid>;tag=probe\r\n"
			  "Call-ID: %s\r\n"
			  "CSeq: 1 OPTIONS\r\n"
			  "Content-Length: 0\r\n\r\n",
			  '0' + MAX(worker_index(), 0), laddr, inst->probe,
			  inst->probe);
	if (!err) {
		struct udp_sock *us = NULL;
		struct sa any;

		/* from a socket of the address's own family */
		sa_init(&any, sa_af(laddr));
		err = udp_listen(&us, &any, NULL, NULL);
		if (!err) {
			mb->pos = 0;
			err = udp_send(us, laddr, mb);
		}
		mem_deref(us);
	}

	mem_deref(mb);

	return err;
}


static int inst_alloc(struct sip_inst **instp, const struct sa *laddr)
{
	struct sip_inst *inst;
	int err;

	inst = mem_zalloc(sizeof(*inst), inst_destructor);
	if (!inst)
		return ENOMEM;

	list_append(sock_insts(), &inst->le, inst);
	inst->laddr = *laddr;

	err = sip_alloc(&inst->sip, lst.dnsc, CTRANS_HASH_SIZE,
			STRANS_HASH_SIZE, CONN_HASH_SIZE,
			"sipd/" SIPD_VERSION, NULL, NULL);
	if (err)
		goto out;

	err  = sip_listen(&inst->lsnr_req, inst->sip, true,
			  request_handler, inst);
	err |= sip_listen(&inst->lsnr_resp, inst->sip, false,
			  response_handler, inst);

 out:
	if (err)
		mem_deref(inst);
	else
		*instp = inst;

	return err;
}


static int sock_allow_build(struct sipd_sock *sock)
{
	static const char *order[] = {
		"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER",
		"PRACK", "SUBSCRIBE", "NOTIFY", "PUBLISH", "INFO", "REFER",
		"MESSAGE", "UPDATE",
	};
	struct mbuf *mb;
	size_t i;
	int err = 0;

	mb = mbuf_alloc(128);
	if (!mb)
		return ENOMEM;

	for (i = 0; i < ARRAY_SIZE(order); i++) {
		bool taken = !strcmp(order[i], "OPTIONS");
		struct le *le;

		for (le = sock->roles.head; le && !taken; le = le->next) {
			const struct role_ref *ref = le->data;

			taken = role_takes(ref->role, order[i],
					   strlen(order[i]));
		}

		if (!taken)
			continue;

		err |= mbuf_printf(mb, "%s%s", mb->end ? ", " : "", order[i]);
	}

	mb->pos = 0;
	if (!err)
		err = mbuf_strdup(mb, &sock->allow, mb->end);

	mem_deref(mb);

	return err;
}


static int tls_make(struct listen_spec *spec)
{
	const char *keyfile;
	int err;

	if (spec->tls)
		return 0;

	err = tls_keyfile(&keyfile, spec->cert, spec->key);
	if (err)
		return err;

	err = tls_alloc(&spec->tls, TLS_METHOD_SSLV23, keyfile, NULL);
	if (err)
		return err;

	if (spec->ca) {
		err = tls_add_ca(spec->tls, spec->ca);
		if (err)
			return err;
	}

	if (spec->verify)
		return tls_verify_clients(spec->tls, spec->ca);

	return 0;
}


/*
 * A worker of a set: first a private UDP socket on the same address with
 * a port of its own, then the listen port shared with the other workers
 * (reuseport.c). libre sends the requests of an instance from its first
 * UDP transport and names it in their Via, so the responses to the
 * requests this worker sends come back to it; replies to requests leave
 * from the socket the request came on, the shared one.
 */
static int transp_add_shared(struct sip_inst *inst, const struct sa *laddr)
{
	struct sa priv = *laddr;
	int err;

	sa_set_port(&priv, 0);
	err = sip_transp_add(inst->sip, SIP_TRANSP_UDP, &priv);
	if (err)
		return err;

	err = sip_transp_laddr(inst->sip, &inst->priv, SIP_TRANSP_UDP,
			       laddr);
	if (err)
		return err;

	workers_port_add(sa_port(&inst->priv));

	reuseport_next(true, worker_index() == 0);
	err = sip_transp_add(inst->sip, SIP_TRANSP_UDP, laddr);
	reuseport_next(false, false);

	return err;
}


static int transp_add(struct sip_inst *inst, struct listen_spec *spec,
		      const struct sa *laddr)
{
	const char *keyfile;
	int err;

	switch (spec->tp) {

	case SIP_TRANSP_TLS:
		err = tls_make(spec);
		if (err)
			return err;
		return sip_transp_add(inst->sip, spec->tp, laddr, spec->tls);

	case SIP_TRANSP_WS:
		return sip_transp_add_websock(inst->sip, spec->tp, laddr, true,
					      NULL);

	case SIP_TRANSP_WSS:
		err = tls_keyfile(&keyfile, spec->cert, spec->key);
		if (err)
			return err;
		return sip_transp_add_websock(inst->sip, spec->tp, laddr, true,
					      keyfile);

	case SIP_TRANSP_UDP:
		if (workers_count() > 1)
			return transp_add_shared(inst, laddr);
		return sip_transp_add(inst->sip, spec->tp, laddr);

	default:
		return sip_transp_add(inst->sip, spec->tp, laddr);
	}
}


static int sock_add(struct listen_spec *spec, const struct sa *laddr)
{
	struct sip_inst *inst;
	struct sipd_sock *sock;
	struct le *le;
	int err;

	/* of a set of workers, worker 0 has every connection */
	if (spec->tp != SIP_TRANSP_UDP && worker_index() > 0) {
		++lst.sock_count;        /* the same index in every worker */
		return 0;
	}

	inst = inst_find(laddr);
	if (!inst) {
		err = inst_alloc(&inst, laddr);
		if (err)
			return err;
	}

	if (inst_sock(inst, spec->tp))
		return config_fail(spec->line, "%s %J is already in use",
				   transp_name(spec->tp), laddr);

	sock = mem_zalloc(sizeof(*sock), sock_destructor);
	if (!sock)
		return ENOMEM;

	sock->inst  = inst;
	sock->index = ++lst.sock_count;
	sock->laddr = *laddr;
	sock->tp    = spec->tp;
	sock->auth  = spec->auth;
	sock->line  = spec->line;

	if (sa_af(laddr) == AF_INET6)
		re_snprintf(sock->name, sizeof(sock->name), "%s:[%j]:%u",
			    transp_name(spec->tp), laddr, sa_port(laddr));
	else
		re_snprintf(sock->name, sizeof(sock->name), "%s:%J",
			    transp_name(spec->tp), laddr);

	for (le = spec->roles.head; le; le = le->next) {
		const struct role_ref *src = le->data;
		struct role_ref *ref;

		ref = mem_zalloc(sizeof(*ref), role_ref_destructor);
		if (!ref) {
			err = ENOMEM;
			goto out;
		}

		list_append(&sock->roles, &ref->le, ref);
		ref->role = src->role;
		err = str_dup(&ref->name, src->name);
		if (err)
			goto out;
	}

	err = sock_allow_build(sock);
	if (err)
		goto out;

	err = transp_add(inst, spec, laddr);
	if (err) {
		err = config_fail(spec->line, "cannot listen on %s: %m",
				  sock->name, err);
		goto out;
	}

	list_append(&inst->socks, &sock->le, sock);

	if (spec->tp == SIP_TRANSP_UDP) {
		err = inst_probe(inst, laddr);
		if (err) {
			err = config_fail(spec->line, "cannot probe %s: %m",
					  sock->name, err);
			goto out;
		}
	}

	log_info("listening on %s: %s%s\n", sock->name, spec->line->val,
		 sock->auth ? "" : " (digest auth off)");

 out:
	if (err)
		mem_deref(sock);

	return err;
}


struct expand {
	struct listen_spec *spec;
	int err;
	unsigned count;
};


static bool if_handler(const char *ifname, const struct sa *sa, void *arg)
{
	struct expand *ex = arg;
	struct sip_inst *inst;
	struct sa laddr;
	(void)ifname;

	if (sa_af(sa) != sa_af(&ex->spec->addr))
		return false;

	if (sa_is_linklocal(sa))
		return false;

	laddr = *sa;
	sa_set_port(&laddr, sa_port(&ex->spec->addr));

	/* an interface may list an address twice */
	inst = inst_find(&laddr);
	if (inst && inst_sock(inst, ex->spec->tp))
		return false;

	ex->err = sock_add(ex->spec, &laddr);
	if (!ex->err)
		++ex->count;

	return ex->err != 0;
}


/**
 * Open every socket of the listen lines
 *
 * @return 0 if success, otherwise errorcode (reported)
 */
int listen_start(void)
{
	struct le *le;
	int err;

	wire_init();

	/* a DNS client (its sockets) only for roles that send requests */
	if (listen_needs("dns")) {
		err = dns_client_alloc(&lst.dnsc);
		if (err)
			return err;
	}

	for (le = lst.specs.head; le; le = le->next) {
		struct listen_spec *spec = le->data;

		if (sa_is_any(&spec->addr)) {
			struct expand ex = {spec, 0, 0};

			err = net_if_apply(if_handler, &ex);
			if (!err)
				err = ex.err;
			if (!err && !ex.count)
				err = config_fail(spec->line, "no local"
						  " address to listen on");
		}
		else {
			err = sock_add(spec, &spec->addr);
		}

		if (err)
			return err;
	}

	return 0;
}


void listen_close(void)
{
	wire_close();
	list_flush(sock_insts());
	list_flush(&lst.specs);
	lst.dnsc = mem_deref(lst.dnsc);
	dns_client_closed();
	lst.sock_count = 0;
}


