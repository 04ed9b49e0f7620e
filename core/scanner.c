/**
 * @file scanner.c  SIP scanners: dropped in silence, then banned
 *
 * Tools that sweep the internet for SIP servers and guess extensions and
 * passwords (SIPVicious and its kind) name themselves in User-Agent. A
 * request whose User-Agent contains one of the scanner_user_agent
 * strings (any case) gets no answer, so the scanner learns nothing, and
 * its source is banned for scanner_ban_time. The default list holds the
 * names seen in the wild; "scanner_user_agent none" empties it.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include "core.h"


enum {
	AGENTS_MAX = 64,
};


static const char *default_agents[] = {
	"friendly-scanner", "sipvicious", "sipcli", "sip-scan", "sipscan",
	"iwar", "sivus", "vaxsipuseragent", "vaxipuseragent", "voipsec",
	"smap", "sundayddr", "pplsip", "sip-caller",
};


static struct {
	struct pl agents[AGENTS_MAX];
	uint32_t agentc;
	bool configured;
	bool none;
	uint32_t ban_time;
	uint64_t dropped;
} sc = {
	.ban_time = 3600,
};


static int agent_handler(const struct config_line *line, void *arg)
{
	(void)arg;

	if (!str_casecmp(line->val, "none") || sc.none) {
		if (sc.configured)
			return config_fail(line, "'none' must be the only"
					   " scanner_user_agent line");
		sc.configured = sc.none = true;
		return 0;
	}

	if (sc.agentc >= AGENTS_MAX)
		return config_fail(line, "at most %u scanner_user_agent"
				   " lines", AGENTS_MAX);

	if (!*line->val)
		return config_fail(line, "empty user agent");

	pl_set_str(&sc.agents[sc.agentc++], line->val);
	sc.configured = true;

	return 0;
}


/**
 * Read the scanner_* settings
 *
 * @return 0 if success, otherwise errorcode
 */
int scanner_config(void)
{
	size_t i;
	int err;

	sc.agentc = 0;
	sc.configured = false;
	sc.none = false;

	err  = config_u32("scanner_ban_time", &sc.ban_time, 0, 604800);
	err |= config_apply("scanner_user_agent", agent_handler, NULL);
	if (err)
		return EINVAL;

	if (sc.configured)
		return 0;

	for (i = 0; i < ARRAY_SIZE(default_agents); i++)
		pl_set_str(&sc.agents[sc.agentc++], default_agents[i]);

	return 0;
}


/* Does a value contain a string, whatever the case? */
static bool contains(const struct pl *val, const struct pl *s)
{
	size_t i;

	if (s->l > val->l)
		return false;

	for (i = 0; i + s->l <= val->l; i++) {
		if (!strncasecmp(val->p + i, s->p, s->l))
			return true;
	}

	return false;
}


/**
 * Is a request from a scanner? If it is, its source is banned.
 *
 * @param msg The request
 *
 * @return True if it must be dropped without an answer
 */
bool scanner_check(const struct sip_msg *msg)
{
	const struct sip_hdr *ua;
	uint32_t i;

	if (!sc.agentc)
		return false;

	ua = sip_msg_hdr(msg, SIP_HDR_USER_AGENT);
	if (!ua)
		return false;

	for (i = 0; i < sc.agentc; i++) {
		if (!contains(&ua->val, &sc.agents[i]))
			continue;

		++sc.dropped;
		if (sc.ban_time)
			ban_add(&msg->src, sc.ban_time, "scanner");

		return true;
	}

	return false;
}


/**
 * Requests from scanners dropped
 *
 * @return Count
 */
uint64_t scanner_dropped(void)
{
	return sc.dropped;
}
