/**
 * @file msg.c  Helpers on SIP messages: the method, the AOR of a URI
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <time.h>
#include <ctype.h>
#include <re.h>
#include "core.h"


/**
 * The current time
 *
 * @return Epoch seconds
 */
int64_t time_now(void)
{
	return (int64_t)time(NULL);
}


/**
 * Check the method of a request
 *
 * @param msg SIP request
 * @param met Method name
 *
 * @return True if it is that method
 */
bool msg_method_is(const struct sip_msg *msg, const char *met)
{
	return 0 == pl_strcmp(&msg->met, met);
}


static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;

	return -1;
}


static bool unreserved(char c)
{
	return isalnum((unsigned char)c) ||
		(c && strchr("-_.!~*'()", c) != NULL);
}


/*
 * Print a URI user part in one canonical form: escapes of unreserved
 * characters undone, the remaining escapes in upper case.
 */
static int user_canon(char *buf, size_t size, const struct pl *user)
{
	size_t i, n = 0;

	for (i = 0; i < user->l; i++) {
		char c = user->p[i];

		if (n + 4 > size)
			return ENAMETOOLONG;

		if (c == '%' && i + 2 < user->l &&
		    hexval(user->p[i+1]) >= 0 && hexval(user->p[i+2]) >= 0) {
			char d = (char)(hexval(user->p[i+1]) * 16 +
					hexval(user->p[i+2]));
			if (unreserved(d)) {
				buf[n++] = d;
			}
			else {
				buf[n++] = '%';
				buf[n++] = (char)toupper(user->p[i+1]);
				buf[n++] = (char)toupper(user->p[i+2]);
			}
			i += 2;
			continue;
		}

		buf[n++] = c;
	}

	buf[n] = '\0';

	return 0;
}


/**
 * Print the address-of-record of a URI: user@domain, domain in lower case
 *
 * @param buf  Buffer
 * @param size Buffer size
 * @param uri  Decoded URI
 *
 * @return 0 if success, EINVAL without a user or host, ENAMETOOLONG
 */
int msg_aor(char *buf, size_t size, const struct uri *uri)
{
	size_t n, i;
	int err;

	if (!buf || !uri || !pl_isset(&uri->user) || !pl_isset(&uri->host))
		return EINVAL;

	err = user_canon(buf, size, &uri->user);
	if (err)
		return err;

	n = strlen(buf);
	if (n + 1 + uri->host.l + 1 > size)
		return ENAMETOOLONG;

	buf[n++] = '@';
	for (i = 0; i < uri->host.l; i++)
		buf[n++] = (char)tolower((unsigned char)uri->host.p[i]);
	buf[n] = '\0';

	return 0;
}
