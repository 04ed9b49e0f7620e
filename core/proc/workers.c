/**
 * @file workers.c  Worker processes, as the core sees them: how many,
 *                  which one this is, whose transaction a branch is
 *
 * With "workers N" (N > 1) sipd runs N worker processes, one libre loop
 * each, under a master (daemon/master.c forks and supervises them). A
 * table in memory shared by the master and the workers, which the master
 * hands to the core (workers_share()), holds each worker's pid. Every
 * worker sends from the shared listen ports, and marks the branches of
 * the requests it sends with its index (the libre layer's random.c), so
 * that a response the kernel gives to another worker is handed to it.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <ctype.h>
#include <string.h>
#include <unistd.h>
#include <re.h>
#include "core.h"
#include "libre/libre.h"


static struct {
	uint32_t n;                 /* configured */
	int index;                  /* this worker's, -1 in the master */
	struct worker_slot *slots;  /* shared, NULL with one process */
} wk = {1, 0, NULL};


/**
 * Read the "workers" key
 *
 * @param apply True to make it the running value
 *
 * @return 0 if success, otherwise errorcode (reported)
 */
int workers_config(bool apply)
{
	const struct config_line *line = config_find("workers");
	uint32_t n = 1;

	if (line && !str_casecmp(line->val, "auto")) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);

		n = (uint32_t)MIN(MAX(c, 1), WORKERS_MAX);
	}
	else {
		int err = config_u32("workers", &n, 1, WORKERS_MAX);

		if (err)
			return err;
	}

	if (apply)
		wk.n = n;

	return 0;
}


/**
 * The number of worker processes configured
 *
 * @return 1 or more
 */
uint32_t workers_count(void)
{
	return wk.n;
}


/**
 * This process's worker index: 0 when sipd runs one process, -1 in the
 * master of a set
 *
 * @return Index
 */
int worker_index(void)
{
	return wk.index;
}


/**
 * Share the table of the set (the master, before it forks)
 *
 * @param slots WORKERS_MAX slots in memory shared by the set
 * @param index This process's index, -1 in the master
 */
void workers_share(struct worker_slot *slots, int index)
{
	wk.slots = slots;
	wk.index = index;

	/* a worker's branches say it sent them */
	libre_rand_mark(slots && index >= 0, (uint8_t)MAX(index, 0));
}


/**
 * The pid of a worker
 *
 * @param i Index
 *
 * @return Pid, 0 if it does not run
 */
int worker_pid(uint32_t i)
{
	if (!wk.slots)
		return i == 0 ? (int)getpid() : 0;

	return i < wk.n ? (int)wk.slots[i].pid : 0;
}


/**
 * The worker whose transaction a branch is: libre draws the branches of
 * the requests a worker sends as "z9hG4bK" and 16 hex digits, the last
 * two its index (random.c)
 *
 * @param branch The top Via's branch of a response
 *
 * @return The worker's index, or -1 if no worker of the set made it
 *         (or sipd runs one process)
 */
int worker_of_branch(const struct pl *branch)
{
	static const char prefix[] = "z9hG4bK";
	const size_t plen = sizeof(prefix) - 1;
	uint32_t w;

	if (!wk.slots || !branch || branch->l != plen + 16 ||
	    memcmp(branch->p, prefix, plen) ||
	    !isxdigit((unsigned char)branch->p[branch->l - 2]) ||
	    !isxdigit((unsigned char)branch->p[branch->l - 1]))
		return -1;

	w = (uint32_t)(ch_hex(branch->p[branch->l - 2]) << 4 |
		       ch_hex(branch->p[branch->l - 1]));

	return w < wk.n ? (int)w : -1;
}
