/**
 * @file msg.c  Helpers on SIP requests: the body, the Require option tags
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <ctype.h>
#include <re.h>
#include "sipmsg.h"


/**
 * Get the body of a message, as long as its Content-Length says
 *
 * @param msg  SIP message
 * @param body Set to the body (may be empty)
 *
 * @return 0 if success, EBADMSG if Content-Length exceeds the message
 */
int msg_body(const struct sip_msg *msg, struct pl *body)
{
	size_t left = mbuf_get_left(msg->mb);
	size_t len = left;

	if (pl_isset(&msg->clen)) {
		len = pl_u32(&msg->clen);
		if (len > left)
			return EBADMSG;
	}

	body->p = (const char *)mbuf_buf(msg->mb);
	body->l = len;

	return 0;
}


/**
 * Find option tags of a Require or Proxy-Require header that sipd does
 * not support
 *
 * @param msg       SIP request
 * @param id        SIP_HDR_REQUIRE or SIP_HDR_PROXY_REQUIRE
 * @param supported Option tags supported, NULL-terminated
 * @param unsup     Buffer for the unsupported tags, comma separated
 * @param size      Buffer size
 *
 * @return Number of unsupported option tags
 */
int msg_require_check(const struct sip_msg *msg, enum sip_hdrid id,
		      const char *const *supported, char *unsup, size_t size)
{
	struct le *le;
	size_t n = 0;
	int count = 0;

	if (size)
		unsup[0] = '\0';

	for (le = list_head(hash_list(msg->hdrht, id)); le; le = le->next) {
		const struct sip_hdr *hdr = le->data;
		const char *const *s;
		bool ok = false;

		if (hdr->id != id)
			continue;

		for (s = supported; s && *s; s++) {
			if (!pl_strcasecmp(&hdr->val, *s))
				ok = true;
		}

		if (ok)
			continue;

		++count;
		if (n + hdr->val.l + 3 < size) {
			n += re_snprintf(unsup + n, size - n, "%s%r",
					 n ? ", " : "", &hdr->val);
		}
	}

	return count;
}


/**
 * Reply statelessly with Retry-After: a request that needs what is away
 * for now (the database's server), worth sending again later
 *
 * @param sock   Socket the request arrived on
 * @param msg    The request
 * @param scode  Status code (500 or 503)
 * @param reason Reason phrase
 * @param secs   Seconds for Retry-After
 *
 * @return 0 if success, otherwise errorcode
 */
int sipd_reply_retry(struct sipd_sock *sock, const struct sip_msg *msg,
		     uint16_t scode, const char *reason, uint32_t secs)
{
	return sipd_replyf(sock, msg, scode, reason,
			   "Retry-After: %u\r\n"
			   "Content-Length: 0\r\n\r\n", secs);
}
