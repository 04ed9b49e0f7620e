/**
 * @file workers.c  Worker processes, as the core sees them: how many,
 *                  which one this is, the ports of their private sockets
 *
 * With "workers N" (N > 1) sipd runs N worker processes, one libre loop
 * each, under a master (daemon/master.c forks and supervises them). A
 * table in memory shared by the master and the workers, which the master
 * hands to the core (workers_share()), holds each worker's pid and the
 * ports of its private UDP sockets, so that a worker knows its siblings'
 * ports as its own.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <unistd.h>
#include <re.h>
#include "core.h"


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
 * Note a port of this worker's private UDP sockets
 *
 * @param port Port
 */
void workers_port_add(uint16_t port)
{
	struct worker_slot *s;

	if (!wk.slots || wk.index < 0)
		return;

	s = &wk.slots[wk.index];
	if (s->nports < WORKER_PORTS_MAX)
		s->ports[s->nports++] = port;
}


/**
 * Check whether a port is one of the private UDP ports of a worker of
 * the set (this one included)
 *
 * @param port Port
 *
 * @return True if it is
 */
bool workers_port_is_ours(uint16_t port)
{
	uint32_t i, j;

	if (!wk.slots || !port)
		return false;

	for (i = 0; i < wk.n; i++) {
		const struct worker_slot *s = &wk.slots[i];

		for (j = 0; j < s->nports && j < WORKER_PORTS_MAX; j++) {
			if (s->ports[j] == port)
				return true;
		}
	}

	return false;
}
