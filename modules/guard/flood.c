/**
 * @file flood.c  Per-source rate limits: floods dropped, then banned
 *
 * Every request from a source address (the port is ignored) takes a
 * token from that source's bucket, which refills at flood_rate a second
 * up to flood_burst. A request without a token is dropped without an
 * answer and counted; a source that has had flood_burst requests dropped
 * is banned for flood_ban_time (ban.c), after which its datagrams are
 * dropped before they are parsed.
 *
 * The buckets are a fixed table indexed by a hash of the address: memory
 * stays the same however many addresses a flood comes from. An address
 * whose slot another one holds shares that bucket while it is in use;
 * once it is full again the slot goes to the newcomer (so a flood from
 * many addresses cannot reset the bucket of one that is flooding).
 * Networks listed in flood_exempt (a trunk, a load test) are not counted.
 *
 * OPTIONS has a bucket of its own, refilled at flood_options_rate: a
 * sweep that asks for one extension after the other with OPTIONS is
 * dropped in silence long before the general limit, while a monitor or
 * a trunk that pings every few seconds is answered.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include <sipd.h>
#include "guard.h"


enum {
	SLOTS = 65536,         /* a power of two */
	EXEMPT_MAX = 32,
	SCALE = 1000,          /* tokens are counted in thousandths */
};


struct bucket {
	uint8_t addr[16];
	uint8_t len;           /* 4 or 16, 0 for a free slot */
	uint32_t tokens;       /* thousandths */
	uint32_t opt_tokens;   /* thousandths, for OPTIONS */
	uint32_t dropped;
	uint64_t last;         /* tmr_jiffies() of the last refill */
};

struct net {
	struct sa addr;
	uint32_t prefix;
};


struct settings {
	uint32_t rate;         /* requests a second, 0 = off */
	uint32_t burst;
	uint32_t opt_rate;     /* OPTIONS a second, 0 = no own limit */
	uint32_t ban_time;     /* s */
	struct net exempt[EXEMPT_MAX];
	uint32_t exemptc;
};


static const struct settings defaults = {
	.rate = 200,
	.burst = 400,
	.opt_rate = 5,
	.ban_time = 60,
};


static struct {
	struct settings set;
	struct bucket *slots;
	uint64_t drops;
	uint64_t opt_drops;
} fl = {
	.set = {
		.rate = 200,
		.burst = 400,
		.opt_rate = 5,
		.ban_time = 60,
	},
};


static size_t addr_bytes(const struct sa *sa, const uint8_t **p)
{
	switch (sa_af(sa)) {

	case AF_INET:
		*p = (const uint8_t *)&sa->u.in.sin_addr;
		return 4;

	case AF_INET6:
		*p = (const uint8_t *)&sa->u.in6.sin6_addr;
		return 16;

	default:
		return 0;
	}
}


/* Does an address lie in a network (address/prefix)? */
static bool net_match(const struct net *net, const struct sa *sa)
{
	const uint8_t *a, *b;
	size_t la = addr_bytes(&net->addr, &a);
	size_t lb = addr_bytes(sa, &b);
	uint32_t bits = net->prefix, i;

	if (!la || la != lb)
		return false;

	for (i = 0; bits >= 8; i++, bits -= 8) {
		if (a[i] != b[i])
			return false;
	}

	if (bits) {
		uint8_t mask = (uint8_t)(0xff << (8 - bits));

		if ((a[i] & mask) != (b[i] & mask))
			return false;
	}

	return true;
}


static int exempt_handler(const struct config_line *line, void *arg)
{
	struct settings *set = arg;
	struct net *net = &set->exempt[set->exemptc];
	struct pl addr, prefix = {NULL, 0};
	uint32_t max;

	if (set->exemptc >= EXEMPT_MAX)
		return config_fail(line, "at most %u flood_exempt lines",
				   EXEMPT_MAX);

	if (re_regex(line->val, strlen(line->val), "[^/]+[/]*[0-9]*", &addr,
		     NULL, &prefix) ||
	    sa_set(&net->addr, &addr, 0))
		return config_fail(line, "'%s' is not ADDRESS[/PREFIX]",
				   line->val);

	max = sa_af(&net->addr) == AF_INET ? 32 : 128;
	net->prefix = pl_isset(&prefix) ? pl_u32(&prefix) : max;
	if ((pl_isset(&prefix) && prefix.l > 3) || net->prefix > max)
		return config_fail(line, "prefix of '%s' is not 0 to %u",
				   line->val, max);

	++set->exemptc;

	return 0;
}


/**
 * Read the flood_* settings (a reload applies them)
 *
 * @param apply Make them current; false only checks them
 *
 * @return 0 if success, otherwise errorcode
 */
int flood_config(bool apply)
{
	struct settings set = defaults;
	int err;

	err  = config_u32("flood_rate", &set.rate, 0, 1000000);
	err |= config_u32("flood_burst", &set.burst, 1, 1000000);
	err |= config_u32("flood_ban_time", &set.ban_time, 0, 86400);
	err |= config_u32("flood_options_rate", &set.opt_rate, 0, 1000000);
	err |= config_apply("flood_exempt", exempt_handler, &set);
	if (err)
		return EINVAL;

	if (set.rate && set.burst < set.rate)
		return config_fail(config_find("flood_burst"), "%u is less"
				   " than flood_rate (%u)", set.burst,
				   set.rate);

	if (apply)
		fl.set = set;

	return 0;
}


static bool exempt(const struct sa *src)
{
	uint32_t i;

	for (i = 0; i < fl.set.exemptc; i++) {
		if (net_match(&fl.set.exempt[i], src))
			return true;
	}

	return false;
}


static void refill(struct bucket *b, uint64_t now)
{
	uint64_t ms = now - b->last;
	uint64_t max = (uint64_t)fl.set.burst * SCALE;
	uint64_t opt_max = 2 * (uint64_t)fl.set.opt_rate * SCALE;

	/* a rate of r a second refills r thousandths a millisecond */
	b->tokens = (uint32_t)MIN(max, b->tokens + ms * fl.set.rate);
	b->opt_tokens = (uint32_t)MIN(opt_max,
				      b->opt_tokens + ms * fl.set.opt_rate);
	b->last = now;

	/* quiet for a while: its drops are forgiven */
	if (b->tokens == max)
		b->dropped = 0;
}


/**
 * Count a request from a source
 *
 * @param src     Source address
 * @param options True for an OPTIONS request
 *
 * @return True if it is over the limit and must be dropped
 */
bool flood_check(const struct sa *src, bool options)
{
	const uint8_t *a;
	size_t len = addr_bytes(src, &a);
	uint64_t now;
	struct bucket *b;

	if (!fl.set.rate || !len || exempt(src))
		return false;

	if (!fl.slots) {
		fl.slots = mem_zalloc(SLOTS * sizeof(*fl.slots), NULL);
		if (!fl.slots)
			return false;
	}

	now = tmr_jiffies();
	b = &fl.slots[sa_hash(src, SA_ADDR) & (SLOTS - 1)];

	if (b->len != len || memcmp(b->addr, a, len)) {

		/* another source's slot: taken once that bucket is full */
		if (b->len) {
			refill(b, now);
			if (b->tokens < (uint64_t)fl.set.burst * SCALE)
				goto take;
		}

		memcpy(b->addr, a, len);
		b->len = (uint8_t)len;
		b->tokens = fl.set.burst * SCALE;
		b->opt_tokens = 2 * fl.set.opt_rate * SCALE;
		b->dropped = 0;
		b->last = now;
	}

	refill(b, now);

 take:
	if (options && fl.set.opt_rate) {
		if (b->opt_tokens < SCALE) {
			++fl.opt_drops;
			return true;
		}
		b->opt_tokens -= SCALE;
	}

	if (b->tokens >= SCALE) {
		b->tokens -= SCALE;
		return false;
	}

	++fl.drops;

	if (++b->dropped >= fl.set.burst && fl.set.ban_time) {
		bans_add(src, fl.set.ban_time, "request flood");
		b->dropped = 0;
	}

	return true;
}


static uint64_t counter_read(void *arg)
{
	return *(uint64_t *)arg;
}


static struct stat_figure figures[] = {
	{.name = STAT_FLOOD_DROPS,
	 .help = "Requests dropped in silence for their source's request"
	 " rate", .kind = STAT_COUNTER, .readh = counter_read,
	 .arg = &fl.drops},
	{.name = STAT_FLOOD_OPTIONS_DROPS,
	 .help = "OPTIONS dropped in silence for their source's OPTIONS rate",
	 .kind = STAT_COUNTER, .readh = counter_read, .arg = &fl.opt_drops},
};


/**
 * Register the figures of the drops
 */
void flood_init(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(figures); i++)
		stats_register(&figures[i]);
}


void flood_close(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(figures); i++)
		stats_unregister(&figures[i]);

	fl.slots = mem_deref(fl.slots);
}
