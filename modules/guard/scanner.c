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
#include <sipd.h>
#include "guard.h"


enum {
	AGENTS_MAX = 64,
};


static const char *default_agents[] = {
	"friendly-scanner", "sipvicious", "sipcli", "sip-scan", "sipscan",
	"iwar", "sivus", "vaxsipuseragent", "vaxipuseragent", "voipsec",
	"smap", "sundayddr", "pplsip", "sip-caller",
};


struct settings {
	char *agents[AGENTS_MAX];
	uint32_t agentc;
	bool configured;
	bool none;
	uint32_t ban_time;
};


static struct {
	struct settings set;
	uint64_t drops;
} sc = {
	.set = {
		.ban_time = 3600,
	},
};


static void settings_reset(struct settings *set)
{
	uint32_t i;

	for (i = 0; i < set->agentc; i++)
		set->agents[i] = mem_deref(set->agents[i]);

	memset(set, 0, sizeof(*set));
	set->ban_time = 3600;
}


static int agent_handler(const struct config_line *line, void *arg)
{
	struct settings *set = arg;

	if (!str_casecmp(line->val, "none") || set->none) {
		if (set->configured)
			return config_fail(line, "'none' must be the only"
					   " scanner_user_agent line");
		set->configured = set->none = true;
		return 0;
	}

	if (set->agentc >= AGENTS_MAX)
		return config_fail(line, "at most %u scanner_user_agent"
				   " lines", AGENTS_MAX);

	if (!*line->val)
		return config_fail(line, "empty user agent");

	set->configured = true;

	return str_dup(&set->agents[set->agentc++], line->val);
}


/**
 * Read the scanner_* settings (a reload applies them)
 *
 * @param apply Make them current; false only checks them
 *
 * @return 0 if success, otherwise errorcode
 */
int scanner_config(bool apply)
{
	struct settings set;
	size_t i;
	int err;

	memset(&set, 0, sizeof(set));
	settings_reset(&set);

	err  = config_u32("scanner_ban_time", &set.ban_time, 0, 604800);
	err |= config_apply("scanner_user_agent", agent_handler, &set);

	for (i = 0; !err && !set.configured && i < ARRAY_SIZE(default_agents);
	     i++)
		err = str_dup(&set.agents[set.agentc++], default_agents[i]);

	if (err || !apply) {
		settings_reset(&set);
		return err ? EINVAL : 0;
	}

	settings_reset(&sc.set);
	sc.set = set;

	return 0;
}


static uint64_t drops_read(void *arg)
{
	(void)arg;

	return sc.drops;
}


static struct stat_figure figure = {
	.name  = STAT_SCANNER_DROPS,
	.help  = "Requests dropped in silence for a scanner's User-Agent",
	.kind  = STAT_COUNTER,
	.readh = drops_read,
};


/**
 * Register the figure of the drops
 */
void scanner_init(void)
{
	stats_register(&figure);
}


/**
 * Release the scanner list
 */
void scanner_close(void)
{
	stats_unregister(&figure);
	settings_reset(&sc.set);
}


/* Does a value contain a string, whatever the case? */
static bool contains(const struct pl *val, const char *s)
{
	size_t i, n = strlen(s);

	if (n > val->l)
		return false;

	for (i = 0; i + n <= val->l; i++) {
		if (!strncasecmp(val->p + i, s, n))
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

	if (!sc.set.agentc)
		return false;

	ua = sip_msg_hdr(msg, SIP_HDR_USER_AGENT);
	if (!ua)
		return false;

	for (i = 0; i < sc.set.agentc; i++) {
		if (!contains(&ua->val, sc.set.agents[i]))
			continue;

		++sc.drops;
		if (sc.set.ban_time)
			bans_add(&msg->src, sc.set.ban_time, "scanner");

		return true;
	}

	return false;
}

