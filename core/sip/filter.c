/**
 * @file filter.c  The source filter a module registers: the checks that
 *                 drop a message before it is handled
 *
 * wire.c asks it about every datagram before it is parsed (a banned
 * source, a source over its request rate), dispatch.c about every request
 * (the same for streams, then the request itself: a scanner's). Modules
 * ban through it (ban_add). The guard module registers it; without one
 * nothing is dropped.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <re.h>
#include "core.h"


static const struct filter *flt;


/**
 * Register the source filter (in the module's init)
 *
 * @param f Static filter, every handler set; it replaces the one before
 */
void filter_register(const struct filter *f)
{
	if (f && f->bannedh && f->banh && f->floodh && f->requesth)
		flt = f;
}


/**
 * Unregister the source filter (in the module's close)
 *
 * @param f Filter
 */
void filter_unregister(const struct filter *f)
{
	if (f && f == flt)
		flt = NULL;
}


/**
 * Check whether a source address is banned now
 *
 * @param src Source address (the port is ignored)
 *
 * @return True if its messages must be dropped
 */
bool ban_check(const struct sa *src)
{
	return flt && flt->bannedh(src);
}


/**
 * Ban a source address
 *
 * @param src     Source address (the port is ignored)
 * @param seconds How long
 * @param reason  Short reason, for the log and for sipctl
 */
void ban_add(const struct sa *src, uint32_t seconds, const char *reason)
{
	if (flt)
		flt->banh(src, seconds, reason);
}


/**
 * Count a request from a source against its rate
 *
 * @param src     Source address
 * @param options True for an OPTIONS request
 *
 * @return True if it is over the limit and must be dropped
 */
bool filter_flood(const struct sa *src, bool options)
{
	return flt && flt->floodh(src, options);
}


/**
 * Check a request before it is handled (a scanner's User-Agent)
 *
 * @param msg The request
 *
 * @return True if it must be dropped without an answer
 */
bool filter_request(const struct sip_msg *msg)
{
	return flt && flt->requesth(msg);
}
