/**
 * @file quiet.c  libre's own prints, into sipd's log
 *
 * libre 1.1.0 prints to stdout and stderr from inside its transports (a
 * line for every WebSocket message sent, every HTTP request, decode
 * errors). It prints with re_printf() and re_fprintf(), which it calls
 * through the dynamic linker: the sipd daemon defines both, and once it
 * has called quiet_libre() their output goes to its log at debug level.
 * Other programs linking the core (sipctl, the tests) print as before.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdio.h>
#include <re.h>
#include "libre.h"


static bool quiet;


/** Send libre's prints to the log from now on */
void quiet_libre(void)
{
	quiet = true;
}


static int to_log(const char *fmt, va_list ap)
{
	char buf[512];
	int n;

	n = re_vsnprintf(buf, sizeof(buf), fmt, ap);
	if (n < 0)
		return n;

	n = MIN(n, (int)sizeof(buf) - 1);

	/* one log line, without libre's own line end */
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';

	if (n)
		log_debug("libre: %s\n", buf);

	return n;
}


int re_printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = quiet ? to_log(fmt, ap) : re_vprintf(fmt, ap);
	va_end(ap);

	return n;
}


int re_fprintf(FILE *stream, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	if (quiet && (stream == stdout || stream == stderr))
		n = to_log(fmt, ap);
	else
		n = re_vfprintf(stream, fmt, ap);
	va_end(ap);

	return n;
}
