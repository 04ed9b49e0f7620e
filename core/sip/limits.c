/**
 * @file limits.c  Limits on the size and shape of a request
 *
 * A request larger than max_message_size gets 513 Message Too Large
 * (RFC 3261 21.5.14); one with more than max_headers header fields or
 * more than max_via Via values gets 400 (70 by default: a request that
 * starts with Max-Forwards 70 has at most that many hops behind it; the
 * RFC 4475 torture message "longreq" has 34). libre itself drops a
 * message over 64 KiB on a connection, closing it.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <re.h>
#include "core.h"


struct settings {
	uint32_t message_size;
	uint32_t headers;
	uint32_t via;
};


static const struct settings defaults = {
	.message_size = 65535,
	.headers = 128,
	.via = 70,
};


static struct settings lim = {
	.message_size = 65535,
	.headers = 128,
	.via = 70,
};


/**
 * Read max_message_size, max_headers and max_via (a reload applies them)
 *
 * @param apply Make them current; false only checks them
 *
 * @return 0 if success, otherwise errorcode
 */
int limits_config(bool apply)
{
	struct settings set = defaults;
	int err;

	err  = config_u32("max_message_size", &set.message_size, 1024, 65535);
	err |= config_u32("max_headers", &set.headers, 16, 1024);
	err |= config_u32("max_via", &set.via, 2, 256);
	if (err)
		return EINVAL;

	if (apply)
		lim = set;

	return 0;
}


static bool count_via(const struct sip_hdr *hdr, const struct sip_msg *msg,
		      void *arg)
{
	uint32_t *n = arg;
	(void)hdr;
	(void)msg;

	return ++*n > lim.via;
}


/**
 * Check a request against the limits
 *
 * @param msg    The request
 * @param reason Reason phrase of the answer
 *
 * @return 0 if within them, otherwise the status code of the answer
 */
int limits_check(const struct sip_msg *msg, const char **reason)
{
	uint32_t vias = 0;

	if (msg->mb && msg->mb->end > lim.message_size) {
		*reason = "Message Too Large";
		return 513;
	}

	if (list_count(&msg->hdrl) > lim.headers) {
		*reason = "Too Many Header Fields";
		return 400;
	}

	if (sip_msg_hdr_apply(msg, true, SIP_HDR_VIA, count_via, &vias)) {
		*reason = "Too Many Via Header Fields";
		return 400;
	}

	return 0;
}
