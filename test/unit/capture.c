/**
 * @file capture.c  A log sink that keeps what it gets, for assertions
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include "core.h"
#include "capture.h"


static char text[16384];
static size_t len;


static void sink_handler(enum log_level level, const char *line, void *arg)
{
	size_t n = strlen(line);
	(void)level;
	(void)arg;

	if (len + n + 2 >= sizeof(text))
		return;

	memcpy(text + len, line, n);
	len += n;
	text[len++] = '\n';
	text[len] = '\0';
}


static struct log_sink sink = {.h = sink_handler};


void capture_start(void)
{
	len = 0;
	text[0] = '\0';
	log_set_stderr(false);
	log_sink_register(&sink);
}


void capture_stop(void)
{
	log_sink_unregister(&sink);
	log_set_stderr(true);
}


bool capture_has(const char *substr)
{
	return strstr(text, substr) != NULL;
}


const char *capture_text(void)
{
	return text;
}
