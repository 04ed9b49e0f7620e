/**
 * @file command.c  The control socket's avail command: sipctl avail
 *
 *   avail USER@DOMAIN        calls N, published busy yes|no
 *
 * What the proxy and redirect roles would learn of the user now. With
 * workers, worker 0 has the control socket: the calls are those worker
 * 0 saw.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <strings.h>
#include <re.h>
#include "sipd.h"
#include "avail/avail.h"


/* user@domain, both parts there, no blank */
static bool aor_valid(const char *aor)
{
	const char *at = strchr(aor, '@');

	return at && at != aor && at[1] && !strchr(at + 1, '@') &&
		!strpbrk(aor, " \t;<>");
}


static int avail_handler(struct mbuf *mb, int argc, char *argv[])
{
	const char *aor;

	if (argc != 2)
		return command_reply(mb, false, "usage: avail USER@DOMAIN\n");

	aor = argv[1];
	if (!strncasecmp(aor, "sip:", 4))
		aor += 4;

	if (!aor_valid(aor))
		return command_reply(mb, false, "'%s' is not USER@DOMAIN\n",
				     argv[1]);

	return command_reply(mb, true, "calls %u, published busy %s\n",
			     avail_calls(aor),
			     avail_published_busy(aor) ? "yes" : "no");
}


static struct command avail_command = {
	.name = "avail",
	.h    = avail_handler,
};


void avail_command_register(void)
{
	command_register(&avail_command);
}


void avail_command_unregister(void)
{
	command_unregister(&avail_command);
}
