/**
 * @file sipmsg.h  Helpers on SIP messages for the modules: bodies, Require
 *                 option tags, URI comparison (RFC 3261 19.1.4), Contact
 *                 values, NAT detection, call forwarding targets; a
 *                 static library (lib/sipmsg)
 *                 linked into the modules that use it
 *
 * Copyright (C) 2026 sipd developers
 */

#ifndef SIPD_SIPMSG_H
#define SIPD_SIPMSG_H

#include "sipd.h"


int  msg_body(const struct sip_msg *msg, struct pl *body);
int  sipd_reply_retry(struct sipd_sock *sock, const struct sip_msg *msg,
		      uint16_t scode, const char *reason, uint32_t secs);
int  msg_require_check(const struct sip_msg *msg, enum sip_hdrid id,
		       const char *const *supported, char *unsup,
		       size_t size);
bool uri_equal(const struct uri *a, const struct uri *b);
bool uri_equal_str(const struct pl *a, const struct pl *b);

/** One value of a Contact header */
struct contact {
	struct pl val;         /**< The whole value                      */
	struct pl uri;         /**< The URI without < >                  */
	struct pl params;      /**< Header params after the URI          */
	bool star;             /**< The value is "*"                     */
	bool angle;            /**< The URI was enclosed in < >          */
};

int  contact_decode(struct contact *c, const struct pl *pl);

bool nat_detect(const struct pl *contact, const struct sip_msg *msg,
		enum sock_nat mode);
bool binding_behind_nat(const struct binding *b);

/* Check and normalise a forwarding target: a sip:/sips: URI (kept as
   given, must decode with uri_decode and have a host), USER@DOMAIN
   (becomes sip:USER@DOMAIN), or a number (digits, optionally a leading
   '+', and '*' '#') kept as is (the daemon makes it sip:NUMBER@<the
   forwarding user's domain>, where the routes match it).
   Returns 0, or EINVAL with a reason in why[] */
int  forward_target_norm(char *buf, size_t size, const char *target,
			 char *why, size_t wsize);

#endif
