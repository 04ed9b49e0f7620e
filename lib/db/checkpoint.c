/**
 * @file checkpoint.c  WAL checkpoints in a thread of their own
 *
 * In WAL mode every commit appends to the -wal file, and a checkpoint
 * copies the pages back into the database file, with an fsync of each
 * file. SQLite's automatic checkpoint runs inside the commit that takes
 * the WAL past 1,000 pages, so every few hundred registrations one
 * REGISTER waited tens of milliseconds for two fsyncs, with every
 * message queued behind it on the event loop.
 *
 * sipd turns that off and lets a thread with its own connection run a
 * passive checkpoint whenever a commit leaves the WAL at or past the same
 * size: a passive checkpoint neither waits for nor blocks the loop's
 * readers and writers. The loop only signals the thread. Commits stay
 * durable as before: a commit is in the WAL (db_sync) before it returns;
 * the checkpoint only moves it.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <pthread.h>
#include <sqlite3.h>
#include <re.h>
#include "core.h"
#include "db/db.h"


enum {
	WAL_PAGES = 1000,      /* SQLite's own automatic checkpoint size */
	BUSY_TIMEOUT = 1000,   /* ms */
};


static struct {
	pthread_t thread;
	pthread_mutex_t mutex;
	pthread_cond_t cond;
	sqlite3 *db;           /* the thread's connection */
	int next;              /* WAL size at which to signal next */
	int last;              /* WAL size at the last commit */
	bool running;
	bool wanted;
	bool stop;
	uint64_t count;
} cp = {
	.mutex = PTHREAD_MUTEX_INITIALIZER,
	.cond  = PTHREAD_COND_INITIALIZER,
};


static void *checkpoint_thread(void *arg)
{
	(void)arg;

	pthread_mutex_lock(&cp.mutex);

	for (;;) {
		int rc, log = 0, done = 0;

		while (!cp.wanted && !cp.stop)
			pthread_cond_wait(&cp.cond, &cp.mutex);

		if (cp.stop)
			break;

		cp.wanted = false;
		pthread_mutex_unlock(&cp.mutex);

		rc = sqlite3_wal_checkpoint_v2(cp.db, NULL,
					       SQLITE_CHECKPOINT_PASSIVE,
					       &log, &done);

		pthread_mutex_lock(&cp.mutex);

		if (rc == SQLITE_OK)
			++cp.count;
	}

	pthread_mutex_unlock(&cp.mutex);

	return NULL;
}


/* After each commit of the loop's connection: the WAL's size in pages */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	(void)arg;
	(void)db;
	(void)name;

	/* a smaller WAL: a checkpoint completed and the WAL restarted */
	if (pages < cp.last)
		cp.next = WAL_PAGES;
	cp.last = pages;

	/* once per WAL_PAGES pages: a checkpoint that could not finish
	   (a reader in the WAL) is tried again later, not at every commit */
	if (pages < cp.next)
		return SQLITE_OK;

	cp.next = pages + WAL_PAGES;

	pthread_mutex_lock(&cp.mutex);
	cp.wanted = true;
	pthread_cond_signal(&cp.cond);
	pthread_mutex_unlock(&cp.mutex);

	return SQLITE_OK;
}


/**
 * Start checkpointing the open database in a thread
 *
 * @param path Database file
 *
 * @return 0 if success, otherwise errorcode (SQLite's own automatic
 *         checkpoints then stay on)
 */
int checkpoint_start(const char *path)
{
	sqlite3 *db = db_handle();
	int rc, err;

	if (cp.running)
		return 0;

	if (!db || !path)
		return EINVAL;

	rc = sqlite3_open_v2(path, &cp.db, SQLITE_OPEN_READWRITE |
			     SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		err = EIO;
		goto fail;
	}

	sqlite3_busy_timeout(cp.db, BUSY_TIMEOUT);

	cp.stop = false;
	cp.wanted = false;
	cp.next = WAL_PAGES;
	cp.last = 0;

	err = pthread_create(&cp.thread, NULL, checkpoint_thread, NULL);
	if (err)
		goto fail;

	cp.running = true;

	/* instead of SQLite's checkpoint inside the commit */
	(void)sqlite3_wal_autocheckpoint(db, 0);
	(void)sqlite3_wal_hook(db, wal_hook, NULL);

	return 0;

 fail:
	log_warning("db: checkpoints stay in the commits: %m\n", err);
	sqlite3_close(cp.db);
	cp.db = NULL;

	return err;
}


/**
 * Stop the checkpoint thread; SQLite's automatic checkpoints again
 */
void checkpoint_stop(void)
{
	sqlite3 *db = db_handle();

	if (!cp.running)
		return;

	if (db)
		(void)sqlite3_wal_autocheckpoint(db, WAL_PAGES);

	pthread_mutex_lock(&cp.mutex);
	cp.stop = true;
	pthread_cond_signal(&cp.cond);
	pthread_mutex_unlock(&cp.mutex);

	(void)pthread_join(cp.thread, NULL);

	sqlite3_close(cp.db);
	cp.db = NULL;
	cp.running = false;
}


/**
 * How many checkpoints the thread has made
 *
 * @return Count
 */
static uint64_t figure_read(void *arg)
{
	uint64_t n;

	(void)arg;

	pthread_mutex_lock(&cp.mutex);
	n = cp.count;
	pthread_mutex_unlock(&cp.mutex);

	return n;
}


static struct stat_figure figure = {
	.name = STAT_DB_CHECKPOINTS,
	.help = "WAL checkpoints made by the checkpoint thread",
	.kind = STAT_COUNTER,
	.readh = figure_read,
};


/**
 * Register the figure of the checkpoints (at the core's start)
 */
void checkpoint_init(void)
{
	if (!figure.le.list)
		stats_register(&figure);
}
