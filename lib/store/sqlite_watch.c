/**
 * @file sqlite_watch.c  Whether any process may have written the
 *                       database since the last look, without asking
 *                       SQLite
 *
 * PRAGMA data_version sees the commits of other processes, but only by a
 * read transaction of its own: two fcntl() locks and a few thousand
 * instructions, a tenth of a redirect that the lookup cache answers.
 * Every commit writes the database's files (the -wal file in WAL mode,
 * the database file itself otherwise), and the kernel tells an inotify
 * watch on their folder of every write as it happens. While no write to
 * them was told, nothing was committed, and the version stands as it
 * was read.
 *
 * A writer appends its frames and only then publishes the commit (the
 * WAL index, in shared memory, which no event reports). So after a write
 * is told the check stays on for WATCH_HOT_MS: every look asks SQLite
 * until then, and whatever the write was part of is seen.
 *
 * Without inotify (no watch could be set, or its folder went away) every
 * look asks SQLite; an overflowed queue counts as a write. A forked child
 * sets its own watch: the parent's queue is the parent's.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/inotify.h>
#include <sqlite3.h>
#include <re.h>
#include <sipd.h>
#include "store.h"
#include "sqlite.h"


enum {
	WATCH_HOT_MS = 1000,
	WATCH_EVENTS = IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE |
		       IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB,
	NAME_MAX_LEN = 255,
};


static struct {
	int fd;                      /* inotify, -1: none                */
	const sqlite3 *db;           /* the connection it watches for    */
	char name[NAME_MAX_LEN + 1]; /* the database file's own name     */
	size_t namelen;
	uint64_t hot_until;          /* jiffies: ask SQLite until then   */
	bool tried;                  /* a watch was tried for db         */
	bool atfork;
} w = {.fd = -1};


static void watch_close(void)
{
	if (w.fd >= 0)
		(void)close(w.fd);

	w.fd = -1;
	w.db = NULL;
	w.tried = false;
}


/* In a forked child: its own watch at its next look */
static void child_handler(void)
{
	if (w.fd >= 0)
		(void)close(w.fd);

	w.fd = -1;
	w.db = NULL;
	w.tried = false;
}


static void watch_open(const sqlite3 *db)
{
	const char *path = sqlite3_db_filename((sqlite3 *)db, "main");
	char dir[512];
	const char *slash;
	size_t dlen;

	watch_close();
	w.db = db;
	w.tried = true;

	if (!w.atfork && !pthread_atfork(NULL, NULL, child_handler))
		w.atfork = true;

	if (!w.atfork || !path || !*path)
		return;

	slash = strrchr(path, '/');
	if (!slash)
		return;

	dlen = slash > path ? (size_t)(slash - path) : 1;
	if (dlen >= sizeof(dir) || strlen(slash + 1) > NAME_MAX_LEN)
		return;

	memcpy(dir, path, dlen);
	dir[dlen] = '\0';
	str_ncpy(w.name, slash + 1, sizeof(w.name));
	w.namelen = strlen(w.name);

	w.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w.fd < 0)
		return;

	if (inotify_add_watch(w.fd, dir, WATCH_EVENTS) < 0) {
		(void)close(w.fd);
		w.fd = -1;
	}
}


/* Read what the kernel told: true if a file of the database was written
   (or the watch cannot tell) */
static bool written(void)
{
	char buf[4096] __attribute__((aligned(8)));
	bool any = false, dead = false;
	ssize_t n;

	while ((n = read(w.fd, buf, sizeof(buf))) > 0) {
		const char *p = buf;

		while (p < buf + n) {
			const struct inotify_event *ev = (const void *)p;

			if (ev->mask & IN_IGNORED)
				dead = true;
			else if (ev->mask & IN_Q_OVERFLOW)
				any = true;
			else if (ev->len &&
				 !strncmp(ev->name, w.name, w.namelen))
				any = true;

			p += sizeof(*ev) + ev->len;
		}
	}

	if (n < 0 && errno != EAGAIN && errno != EINTR)
		any = true;

	/* the folder went away: no watch from now on, SQLite is asked */
	if (dead) {
		(void)close(w.fd);
		w.fd = -1;
		any = true;
	}

	return any;
}


/**
 * Whether no process can have committed to the database of a connection
 * since the last look (nothing written to its files, and the last write
 * older than WATCH_HOT_MS)
 *
 * @param db The connection
 *
 * @return True if the data version read last still stands; false if it
 *         must be read again
 */
bool sqlite_watch_quiet(const sqlite3 *db)
{
	uint64_t now;

	/* a watch set now has seen nothing yet: ask SQLite this time */
	if (db != w.db || !w.tried) {
		watch_open(db);
		return false;
	}

	if (w.fd < 0)
		return false;

	now = tmr_jiffies();

	if (written())
		w.hot_until = now + WATCH_HOT_MS;

	return now >= w.hot_until;
}
