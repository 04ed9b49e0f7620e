/**
 * @file master.c  The master of a set of worker processes
 *
 * With "workers N" (N > 1) the process started is a master that only
 * supervises. It has read the configuration, loaded the modules and
 * created or checked the database; it closes the database and forks the
 * workers one at a time: worker i opens its own database connection,
 * its sockets (UDP ones shared by SO_REUSEPORT, see core/proc/reuseport.c)
 * and says it is ready on a pipe before worker i+1 is forked, so that the
 * workers join each SO_REUSEPORT group in the order of their index.
 *
 * The master forwards SIGTERM, SIGINT and SIGHUP to the workers and exits
 * when they have all exited. A worker that dies unexpectedly makes the
 * master stop the others and start the whole set again, in order. The
 * table of the set (pids, ports) is shared memory the master maps and
 * hands to the core (workers_share()).
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <errno.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <re.h>
#include "ops.h"


enum {
	RESTART_PAUSE = 1,     /* s between a death and the new set */
};


static struct {
	uint32_t n;                 /* workers of the set */
	int index;                  /* this worker's, -1 in the master */
	int ready_fd;               /* worker: write end of its pipe */
	struct worker_slot *slots;  /* shared */
	uint32_t restarts;          /* of the set (a worker inherits it) */
} wk = {1, 0, -1, NULL, 0};

static volatile sig_atomic_t stopping;


/**
 * Print the workers for "sipctl status": JSON members, or a text line
 *
 * @param pf   Print handler
 * @param json True for JSON
 *
 * @return 0 if success, otherwise errorcode
 */
int workers_print(struct re_printf *pf, bool json)
{
	uint32_t i;
	int err;

	if (json) {
		err = re_hprintf(pf, ", \"workers\": %u, \"worker\": %d,"
				 " \"master_pid\": %d, \"worker_restarts\": %u,"
				 " \"worker_pids\": [",
				 wk.n, wk.index,
				 wk.slots ? (int)getppid() : 0, wk.restarts);
		for (i = 0; i < wk.n; i++)
			err |= re_hprintf(pf, "%s%d", i ? ", " : "",
					  worker_pid(i));
		return err | re_hprintf(pf, "]");
	}

	if (!wk.slots)
		return re_hprintf(pf, "%-20s 1\n", "workers");

	err = re_hprintf(pf, "%-20s %u, master pid %d, pids", "workers",
			 wk.n, (int)getppid());
	for (i = 0; i < wk.n; i++)
		err |= re_hprintf(pf, " %d", worker_pid(i));

	return err | re_hprintf(pf, " (figures below: worker %d's)\n",
				wk.index);
}


static void master_signal(int sig, siginfo_t *si, void *ctx)
{
	uint32_t i;
	pid_t from = si ? si->si_pid : 0;
	(void)ctx;

	if (sig == SIGCHLD)
		return;

	if (sig != SIGHUP)
		stopping = 1;

	/* a SIGHUP from a worker (sipctl reload) reaches the others */
	for (i = 0; i < wk.n; i++) {
		pid_t pid = wk.slots[i].pid;

		if (pid > 0 && !(sig == SIGHUP && pid == from))
			(void)kill(pid, sig);
	}
}


static void master_signals(bool on)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGCHLD};
	struct sigaction sa;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaddset(&sa.sa_mask, sigs[i]);

	for (i = 0; i < ARRAY_SIZE(sigs); i++) {
		if (on) {
			sa.sa_sigaction = master_signal;
			sa.sa_flags = SA_SIGINFO | SA_RESTART;
		}
		else {
			sa.sa_handler = sigs[i] == SIGHUP ? SIG_IGN : SIG_DFL;
			sa.sa_flags = 0;
		}
		(void)sigaction(sigs[i], &sa, NULL);
	}
}


/* Fork worker i and wait until it is ready; the child returns 1 */
static int worker_fork(uint32_t i, int *errp)
{
	static char ident[16];
	pid_t master = getpid(), pid;
	int fds[2];
	char st = 1;
	ssize_t n;

	if (pipe(fds)) {
		*errp = errno;
		return 0;
	}

	pid = fork();
	if (pid < 0) {
		*errp = errno;
		(void)close(fds[0]);
		(void)close(fds[1]);
		return 0;
	}

	if (pid == 0) {
		(void)close(fds[0]);
		(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != master)
			_exit(1);

		master_signals(false);
		re_snprintf(ident, sizeof(ident), "sipd/%u", i);
		log_set_ident(ident);
		wk.index = (int)i;
		wk.ready_fd = fds[1];
		workers_share(wk.slots, wk.index);
		wk.slots[i].pid = getpid();
		return 1;
	}

	(void)close(fds[1]);
	wk.slots[i].pid = pid;

	do {
		n = read(fds[0], &st, 1);
	} while (n < 0 && errno == EINTR);
	(void)close(fds[0]);

	if (n != 1 || st) {
		log_error("worker %u (pid %d) failed to start\n", i,
			  (int)pid);
		*errp = n == 1 && st == 2 ? EINVAL : EIO;
		return 0;
	}

	log_info("worker %u started (pid %d)\n", i, (int)pid);
	*errp = 0;

	return 0;
}


/* Signal the workers that run and wait until they have all exited */
static void workers_reap(int sig)
{
	uint32_t i;

	for (i = 0; i < wk.n; i++) {
		if (wk.slots[i].pid > 0)
			(void)kill(wk.slots[i].pid, sig);
	}

	for (;;) {
		bool any = false;
		pid_t pid = waitpid(-1, NULL, 0);

		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0)
			break;

		for (i = 0; i < wk.n; i++) {
			if (wk.slots[i].pid == pid)
				wk.slots[i].pid = 0;
			if (wk.slots[i].pid > 0)
				any = true;
		}

		if (!any)
			break;
	}
}


/* Start the set in order; the child returns 1 */
static int set_start(int *errp)
{
	uint32_t i;

	for (i = 0; i < wk.n && !stopping; i++) {

		if (worker_fork(i, errp))
			return 1;

		if (*errp) {
			workers_reap(SIGTERM);
			return 0;
		}
	}

	return 0;
}


/**
 * Run the master: fork the workers, supervise them and return when they
 * have exited. In a worker it returns at once (*worker set), and the
 * caller goes on to start the worker's sockets and loop, then calls
 * workers_ready().
 *
 * @param worker  Set to true in a worker
 * @param started Called in the master once the first set has started
 *                (or failed to), with 0 or the error
 *
 * @return 0 if success, otherwise errorcode
 */
int workers_run(bool *worker, void (*started)(int err))
{
	int err = 0;

	*worker = false;
	wk.n = workers_count();

	wk.slots = mmap(NULL, WORKERS_MAX * sizeof(*wk.slots),
			PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			-1, 0);
	if (wk.slots == MAP_FAILED) {
		wk.slots = NULL;
		return errno;
	}

	wk.index = -1;
	workers_share(wk.slots, wk.index);
	master_signals(true);

	if (set_start(&err)) {
		*worker = true;
		return 0;
	}

	started(err);
	if (err)
		goto out;

	log_notice("master: %u workers run\n", wk.n);

	while (!stopping) {
		pid_t pid = waitpid(-1, NULL, 0);
		uint32_t i;

		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break;
		}

		for (i = 0; i < wk.n; i++) {
			if (wk.slots[i].pid == pid)
				break;
		}
		if (i == wk.n || stopping)
			continue;

		wk.slots[i].pid = 0;
		log_error("worker %u (pid %d) died: starting the %u workers"
			  " again\n", i, (int)pid, wk.n);

		workers_reap(SIGTERM);
		(void)sleep(RESTART_PAUSE);
		++wk.restarts;

		if (set_start(&err)) {
			*worker = true;
			return 0;
		}
		if (err)
			break;
	}

 out:
	workers_reap(SIGTERM);
	master_signals(false);

	return err;
}


/**
 * Tell the master that this worker has started, or failed to
 *
 * @param err 0 if it has started, otherwise the error
 */
void workers_ready(int err)
{
	char st = err ? (err == EINVAL ? 2 : 1) : 0;

	if (wk.ready_fd < 0)
		return;

	(void)write(wk.ready_fd, &st, 1);
	(void)close(wk.ready_fd);
	wk.ready_fd = -1;
}
