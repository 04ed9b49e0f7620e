/**
 * @file raw.c  A tolerant scan of the header lines of a raw message,
 *              before libre decodes it (or when it cannot)
 *
 * wire.c answers what libre's parser refuses from the lines it finds;
 * owner.c reads the top Via of a response for another worker.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <ctype.h>
#include <re.h>
#include "core.h"


/**
 * Is a header name this header's, in full or compact form?
 *
 * @param name    The name
 * @param full    Full name
 * @param compact Compact form, or '\0' for none
 *
 * @return True if it is
 */
bool raw_is_hdr(const struct pl *name, const char *full, char compact)
{
	if (name->l == 1)
		return tolower((unsigned char)name->p[0]) == compact;

	return 0 == pl_strcasecmp(name, full);
}


/**
 * Walk the header lines of a raw message (folded lines are joined by the
 * reader's eye: a continuation line belongs to the line before it)
 *
 * @param hv     Header lines found, in order
 * @param hc     Room in hv
 * @param p      The message
 * @param l      Its length
 * @param hdrend Set to where the headers end (after the empty line)
 *
 * @return Header lines found
 */
size_t raw_headers(struct raw_hdr *hv, size_t hc, const char *p, size_t l,
		   size_t *hdrend)
{
	const char *end = p + l, *line = p;
	size_t n = 0;

	/* skip the start line */
	while (line < end && *line != '\n')
		++line;
	if (line < end)
		++line;

	while (line < end) {
		const char *eol = memchr(line, '\n', end - line);
		const char *next = eol ? eol + 1 : end;
		const char *stop = eol ? eol : end;
		const char *colon;
		struct raw_hdr *h;

		if (stop > line && stop[-1] == '\r')
			--stop;

		if (stop == line) {        /* empty line: end of headers */
			line = next;
			break;
		}

		if (*line == ' ' || *line == '\t') {   /* folded */
			if (n) {
				h = &hv[n-1];
				h->val.l = stop - h->val.p;
				h->line.l = stop - h->line.p;
			}
			line = next;
			continue;
		}

		colon = memchr(line, ':', stop - line);
		if (colon && n < hc) {
			const char *v = colon + 1, *ne = colon;

			while (ne > line && (ne[-1] == ' ' || ne[-1] == '\t'))
				--ne;
			while (v < stop && (*v == ' ' || *v == '\t'))
				++v;

			h = &hv[n++];
			h->name.p = line;
			h->name.l = ne - line;
			h->val.p  = v;
			h->val.l  = stop - v;
			h->line.p = line;
			h->line.l = stop - line;
		}

		line = next;
	}

	*hdrend = line - p;

	return n;
}


/**
 * The first header line of a name among those found
 *
 * @param hv      Header lines
 * @param hc      How many
 * @param full    Full name
 * @param compact Compact form, or '\0' for none
 *
 * @return The line, or NULL if none
 */
const struct raw_hdr *raw_find(const struct raw_hdr *hv, size_t hc,
			       const char *full, char compact)
{
	size_t i;

	for (i = 0; i < hc; i++) {
		if (raw_is_hdr(&hv[i].name, full, compact))
			return &hv[i];
	}

	return NULL;
}
