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
#include "listen.h"


enum {
	/* transactions live 5 to 32 s after their last message: a few
	   thousand calls a second hold tens of thousands of them, and each
	   request is matched against one bucket's list */
	CTRANS_HASH_SIZE = 8192,
	STRANS_HASH_SIZE = 32768,
	CONN_HASH_SIZE   = 256,
	UDP_SOCKBUF_SIZE = 4 * 1024 * 1024,
};


static struct {
	struct dnsc *dnsc;
	listen_dnsc_h *dnsc_alloch;
	bool dnsc_wanted;          /* by a part above (pool members) */
	uint32_t sock_count;
} lst;


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
	struct le *le;
	size_t i;
	int err = 0;

	mb = mbuf_alloc(128);
	if (!mb)
		return ENOMEM;

	sock->any_method = false;
	for (le = sock->roles.head; le; le = le->next) {
		const struct role_ref *ref = le->data;

		sock->any_method |= role_takes(ref->role, "*", 1);
	}

	for (i = 0; i < ARRAY_SIZE(order); i++) {
		bool taken = !strcmp(order[i], "OPTIONS");

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
 * A worker of a set: the listen port shared with the other workers
 * (reuseport.c). The worker sends its requests from it too, so a phone
 * behind a NAT sees them come from the port it registered with; the
 * responses reach the worker the kernel's hash picks, which hands them
 * on to the worker their branch names (owner.c).
 */
static int transp_add_shared(struct sip_inst *inst, const struct sa *laddr)
{
	int err;

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
	sock->nat   = spec->nat;
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

	/* a DNS client (its sockets) only for roles that send requests,
	   or parts that do */
	if ((listen_needs("dns") || lst.dnsc_wanted) && lst.dnsc_alloch) {
		err = lst.dnsc_alloch(&lst.dnsc);
		if (err)
			return err;
	}

	for (le = listen_specs()->head; le; le = le->next) {
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


/**
 * Set who gives the sockets their DNS client (a part above the core)
 *
 * @param alloch Its handler, or NULL for none
 */
void listen_dnsc_provider(listen_dnsc_h *alloch)
{
	lst.dnsc_alloch = alloch;
}


/**
 * A part above the core sends requests to host names: the sockets get
 * the DNS client even if no role needs one (before listen_start)
 */
void listen_dnsc_want(void)
{
	lst.dnsc_wanted = true;
}


void listen_close(void)
{
	wire_close();
	list_flush(sock_insts());
	list_flush(listen_specs());
	lst.dnsc = mem_deref(lst.dnsc);
	lst.sock_count = 0;
}
