/**
 * @file pools.h  Server pools: what the files of lib/pool share
 *
 * Copyright (C) 2026 sipd developers
 */

#ifndef SIPD_POOLS_H
#define SIPD_POOLS_H

#include "pool/pool.h"

enum pool_alg {
	POOL_LEAST_BUSY = 0,
	POOL_WEIGHTED,
	POOL_ROUND_ROBIN,
	POOL_HASH,
};

enum member_state {
	MEMBER_UNKNOWN = 0,    /* not probed yet: chosen */
	MEMBER_UP,
	MEMBER_DOWN,
};

enum {
	REDIRECT_BINS = 60,    /* the pool_hold_time window, in bins */
};

struct probe;

/** A server of a pool: kept over a reload when its pool keeps it */
struct pool_member {
	struct le le;              /* in its pool's members */
	char *pool;                /* name of its pool */
	char *uri;                 /* sip:HOST[:PORT][;transport=T] */
	struct uri u;              /* decoded, into uri */
	enum sip_transp tp;
	uint32_t weight;           /* >= 1 */
	uint32_t max;              /* 0: unlimited */
	unsigned lineno;           /* of its pool line */

	enum member_state state;
	uint32_t failures;         /* probes unanswered in a row */
	uint64_t drained_until;    /* tmr_jiffies(), 0 if not drained */
	uint32_t calls;            /* in progress (proxy roles) */
	uint32_t bin_count[REDIRECT_BINS];
	uint64_t bin_epoch[REDIRECT_BINS];
	uint16_t last_code;        /* of the last probe answer, 0: none */
	const char *last_result;   /* "timeout", "unresolved", "error" */
	int64_t last_time;         /* epoch seconds, 0: never */
	struct probe *probe;       /* in flight */
};

/** A pool: its members in the order of the configuration */
struct pool {
	struct le le;
	char *name;
	enum pool_alg alg;
	bool alg_set;
	unsigned lineno;           /* first line */
	struct list members;       /* struct pool_member */
	uint32_t rr;               /* rotation */
};

struct pool_settings {
	uint32_t interval;         /* pool_probe_interval, seconds */
	uint32_t failures;         /* pool_probe_failures */
	uint32_t hold;             /* pool_hold_time, seconds */
};

/* member.c */
const struct pool_settings *pool_settings(void);
void pool_settings_set(const struct pool_settings *set);
void member_probe_cancel(struct pool_member *m);
struct list *pool_list(void);
struct pool *pool_find(const struct list *pools, const char *name);
bool member_live(const struct pool_member *m, uint64_t now);
bool member_drained(const struct pool_member *m, uint64_t now);
uint32_t member_redirects(const struct pool_member *m);
const char *member_state_name(const struct pool_member *m);
const char *pool_alg_name(enum pool_alg alg);
int  pool_alg_decode(enum pool_alg *alg, const char *s);

/* pool.c */
int  pool_config(bool apply);
void pool_close(void);

/* conf.c */
int  pool_conf_read(struct list *pools);

/* probe.c */
void probe_start(void);
void probe_stop(void);

/* command.c */
void pool_command_register(void);
void pool_command_unregister(void);

#endif
