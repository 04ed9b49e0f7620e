/**
 * @file sock.c  The listening sockets sipd has open: found by address,
 *               index, name or transport
 *
 * listen.c opens them (one libre SIP instance per local address, a
 * socket per transport of it) and adds each instance to the list kept
 * here; everything else finds them here.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include "core.h"


static struct list insts;         /* struct sip_inst */


/**
 * The open instances, in the order they opened (listen.c adds them)
 *
 * @return List of struct sip_inst
 */
struct list *sock_insts(void)
{
	return &insts;
}


/**
 * Apply a handler to every listening socket, in the order they opened
 *
 * @param h   Handler; returning true stops
 * @param arg Handler argument
 */
void sock_apply(sock_apply_h *h, void *arg)
{
	struct le *le, *sl;

	for (le = insts.head; le; le = le->next) {
		struct sip_inst *inst = le->data;

		for (sl = inst->socks.head; sl; sl = sl->next) {
			if (h(sl->data, arg))
				return;
		}
	}
}


struct sip_inst *inst_find(const struct sa *laddr)
{
	struct le *le;

	for (le = insts.head; le; le = le->next) {
		struct sip_inst *inst = le->data;

		if (sa_cmp(&inst->laddr, laddr, SA_ALL))
			return inst;
	}

	return NULL;
}


struct sipd_sock *inst_sock(const struct sip_inst *inst, enum sip_transp tp)
{
	struct le *le;

	for (le = inst->socks.head; le; le = le->next) {
		struct sipd_sock *sock = le->data;

		if (sock->tp == tp)
			return sock;
	}

	return NULL;
}


/**
 * Find the socket of a transport and local address
 *
 * @param tp    Transport
 * @param laddr Local address and port
 *
 * @return Socket, or NULL if sipd does not listen there
 */
struct sipd_sock *sock_for_laddr(enum sip_transp tp, const struct sa *laddr)
{
	struct sip_inst *inst = inst_find(laddr);

	return inst ? inst_sock(inst, tp) : NULL;
}


uint32_t sock_index(const struct sipd_sock *sock)
{
	return sock ? sock->index : 0;
}


/**
 * Find a socket by its index (the "si" parameter of sipd's Via)
 *
 * @param index Index, from 1
 *
 * @return Socket, or NULL
 */
struct sipd_sock *sock_by_index(uint32_t index)
{
	struct le *le, *sl;

	for (le = insts.head; le; le = le->next) {
		struct sip_inst *inst = le->data;

		for (sl = inst->socks.head; sl; sl = sl->next) {
			struct sipd_sock *sock = sl->data;

			if (sock->index == index)
				return sock;
		}
	}

	return NULL;
}


/**
 * Choose a socket to send from
 *
 * @param tp     Transport needed
 * @param af     Address family needed (AF_UNSPEC: any)
 * @param prefer Socket to prefer, or one of its address, or NULL
 *
 * @return Socket, or NULL if no socket has that transport and family
 */
struct sipd_sock *sock_choose(enum sip_transp tp, int af,
			      struct sipd_sock *prefer)
{
	struct le *le;

	if (prefer) {
		struct sipd_sock *s = inst_sock(prefer->inst, tp);

		if (s && (af == AF_UNSPEC || sa_af(&s->laddr) == af))
			return s;
	}

	for (le = insts.head; le; le = le->next) {
		struct sip_inst *inst = le->data;
		struct sipd_sock *s = inst_sock(inst, tp);

		if (s && (af == AF_UNSPEC || sa_af(&s->laddr) == af))
			return s;
	}

	return NULL;
}


struct sip *sock_sip(const struct sipd_sock *sock)
{
	return sock ? sock->inst->sip : NULL;
}


bool sock_auth(const struct sipd_sock *sock)
{
	return sock ? sock->auth : true;
}


/**
 * Which bindings registered on a socket are behind a NAT: its listen
 * line's nat= parameter
 *
 * @param sock Socket, NULL for the default
 *
 * @return SOCK_NAT_AUTO, SOCK_NAT_ALWAYS or SOCK_NAT_NEVER
 */
enum sock_nat sock_nat(const struct sipd_sock *sock)
{
	return sock ? sock->nat : SOCK_NAT_AUTO;
}


const char *sock_name(const struct sipd_sock *sock)
{
	return sock ? sock->name : "";
}


enum sip_transp sock_transp(const struct sipd_sock *sock)
{
	return sock ? sock->tp : SIP_TRANSP_NONE;
}


const struct sa *sock_laddr(const struct sipd_sock *sock)
{
	return sock ? &sock->laddr : NULL;
}


/**
 * Find a socket by its name, such as "udp:127.0.0.1:5060"
 *
 * @param name Socket name
 *
 * @return Socket, or NULL if sipd does not listen there now
 */
struct sipd_sock *sock_find(const char *name)
{
	struct le *le, *sl;

	if (!name)
		return NULL;

	for (le = insts.head; le; le = le->next) {
		struct sip_inst *inst = le->data;

		for (sl = inst->socks.head; sl; sl = sl->next) {
			struct sipd_sock *sock = sl->data;

			if (!strcmp(sock->name, name))
				return sock;
		}
	}

	return NULL;
}


/**
 * Print the Allow header value of a socket: the methods of its roles
 *
 * @param pf   Print handler
 * @param arg  Socket (struct sipd_sock)
 *
 * @return 0 if success, otherwise errorcode
 */
int sock_allow(struct re_printf *pf, void *arg)
{
	const struct sipd_sock *sock = arg;

	return re_hprintf(pf, "%s", sock && sock->allow ? sock->allow : "");
}
