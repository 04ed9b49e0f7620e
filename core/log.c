/**
 * @file log.c  Logging: stderr in the foreground, syslog when daemonized
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <re.h>
#include "core.h"


static struct {
	enum log_level level;
	bool syslog;
	bool quiet;
	struct list sinks;     /* struct log_sink */
	const char *ident;
} lg = {
	LOG_LEVEL_INFO, false, false, LIST_INIT, "sipd"
};


/**
 * Set the program name that starts every line on stderr
 *
 * @param ident Program name, such as "sipctl"
 */
void log_set_ident(const char *ident)
{
	lg.ident = ident;
}


static const char *level_names[] = {
	"debug", "info", "notice", "warning", "error"
};


/**
 * Parse a log level name
 *
 * @param level Result
 * @param str   debug, info, notice, warning or error
 *
 * @return 0 if success, EINVAL if unknown
 */
int log_level_parse(enum log_level *level, const char *str)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(level_names); i++) {
		if (!str_casecmp(str, level_names[i])) {
			*level = (enum log_level)i;
			return 0;
		}
	}

	return EINVAL;
}


void log_set_level(enum log_level level)
{
	lg.level = level;
}


void log_use_syslog(bool enable)
{
	if (enable && !lg.syslog)
		openlog("sipd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	else if (!enable && lg.syslog)
		closelog();

	lg.syslog = enable;
}


/**
 * Turn output to stderr on or off (tests use it to keep output clean)
 *
 * @param enable True to print on stderr
 */
void log_set_stderr(bool enable)
{
	lg.quiet = !enable;
}


bool log_enabled(enum log_level level)
{
	return level >= lg.level;
}


void log_vprintf(enum log_level level, const char *fmt, va_list ap)
{
	static const int prio[] = {
		LOG_DEBUG, LOG_INFO, LOG_NOTICE, LOG_WARNING, LOG_ERR
	};
	char buf[1024];
	struct le *le;
	size_t n;

	if (level < lg.level)
		return;

	if (re_vsnprintf(buf, sizeof(buf), fmt, ap) < 0)
		return;

	n = strlen(buf);
	if (n && buf[n-1] == '\n')
		buf[n-1] = '\0';

	for (le = lg.sinks.head; le; le = le->next) {
		struct log_sink *sink = le->data;
		sink->h(level, buf, sink->arg);
	}

	if (lg.syslog) {
		syslog(prio[level], "%s", buf);
		return;
	}

	if (lg.quiet)
		return;

	if (level >= LOG_LEVEL_WARNING || lg.level == LOG_LEVEL_DEBUG) {
		(void)fprintf(stderr, "%s: %s: %s\n", lg.ident,
			      level_names[level], buf);
	}
	else {
		(void)fprintf(stderr, "%s: %s\n", lg.ident, buf);
	}
}


void log_printf(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprintf(level, fmt, ap);
	va_end(ap);
}


/**
 * Register a log sink; it gets every line at or above the log level
 *
 * @param sink Static sink
 */
void log_sink_register(struct log_sink *sink)
{
	if (sink)
		list_append(&lg.sinks, &sink->le, sink);
}


void log_sink_unregister(struct log_sink *sink)
{
	if (sink)
		list_unlink(&sink->le);
}
