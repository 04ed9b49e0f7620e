/**
 * @file group.c  Group commit: the writes of several requests in one
 *                SQLite transaction, each answered after its commit
 *
 * A commit costs more than the rows it writes (the WAL frames of every
 * page touched, the locks, the WAL index). Under load, the registrar
 * lets the saves of the REGISTERs of several turns of the loop share one
 * transaction: the first member opens it (BEGIN IMMEDIATE), each member's
 * save is a SAVEPOINT released or rolled back alone, and each member's
 * answer waits for the COMMIT (db_group_after()), so no 200 is sent for
 * a binding that is not committed. The group commits in the first turn
 * of the loop that finds that no request for it came since the turn
 * before, or once it has GROUP_MAX members, or after TURNS_MAX turns.
 * libre's loop reads one datagram a socket a turn, and a timer of 0 ms
 * started in a timer's handler runs again in the same turn: so the turns
 * are counted by an eventfd that is always writable, listened to while a
 * group is open. At low load a save commits one turn later, alone.
 *
 * Any other write (another module, an expiry, a command) commits the
 * group first and runs alone, as before. Reads inside the group see its
 * writes, as they will be once committed. While a group is open, the
 * binding events told to the other workers wait (daemon/share.c). The
 * parts stop before the sockets close: an open group commits then, and
 * its answers go (part.c). PostgreSQL does not use it.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <errno.h>
#include <sys/eventfd.h>
#include <re.h>
#include "core.h"
#include "db/db.h"


enum {
	GROUP_MAX = 64,        /* members of one transaction at most */
	TURNS_MAX = 64,        /* turns of the loop a group stays open */
};


struct after {
	struct le le;
	db_group_h *h;
	void *arg;
};


static struct {
	bool open;             /* BEGIN IMMEDIATE done, COMMIT to come */
	bool joining;          /* the next begin .. commit is a member's */
	uint32_t depth;        /* a member's SAVEPOINTs open */
	bool busy;             /* a request for the group this turn */
	uint32_t members;
	uint32_t turns;
	struct list afters;    /* struct after, in order of joining */
	int turnfd;            /* an eventfd, made for the first group */
	bool turnfd_made;
	uint64_t commits;
	uint64_t saves;
} grp;


static int member_begin(void);
static int member_commit(void);
static void member_rollback(void);

static const struct db_tx group_tx = {
	.begin    = member_begin,
	.commit   = member_commit,
	.rollback = member_rollback,
	.flush    = db_group_commit,
};


/* another writer: the group commits first, then it runs alone */
static int member_begin(void)
{
	int err;

	if (!grp.joining) {
		(void)db_group_commit();
		return db_begin_plain();
	}

	err = db_exec("SAVEPOINT member");
	if (!err)
		++grp.depth;

	return err;
}


static int member_commit(void)
{
	int err;

	if (!grp.depth)
		return db_commit_plain();

	--grp.depth;
	err = db_exec("RELEASE member");
	if (err) {
		(void)db_exec("ROLLBACK TO member");
		(void)db_exec("RELEASE member");
		return err;
	}

	if (!grp.depth)
		++grp.members;

	return 0;
}


static void member_rollback(void)
{
	if (!grp.depth) {
		db_rollback_plain();
		return;
	}

	--grp.depth;
	(void)db_exec("ROLLBACK TO member");
	(void)db_exec("RELEASE member");
}


/* once a turn of the loop while a group is open */
static void turn_handler(int flags, void *arg)
{
	(void)flags;
	(void)arg;

	if (!grp.open)
		return;

	if (!grp.busy || grp.members >= GROUP_MAX ||
	    ++grp.turns >= TURNS_MAX) {
		(void)db_group_commit();
		return;
	}

	grp.busy = false;
}


static int turns_count(bool on)
{
	if (!on) {
		(void)fd_listen(grp.turnfd, 0, NULL, NULL);
		return 0;
	}

	if (!grp.turnfd_made) {
		grp.turnfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (grp.turnfd < 0)
			return errno;

		grp.turnfd_made = true;
	}

	return fd_listen(grp.turnfd, FD_WRITE, turn_handler, NULL);
}


/**
 * Join the group with the next save (its db_begin() .. db_commit()),
 * opening the group's transaction if none is open
 *
 * @return 0 if the next save joins, EBUSY if the database's write lock
 *         is taken (the caller waits as for a busy database), otherwise
 *         errorcode
 */
int db_group_enter(void)
{
	int err;

	if (!grp.open) {
		err = turns_count(true);
		if (err)
			return err;

		err = db_begin_plain();
		if (err) {
			(void)turns_count(false);
			return err;
		}

		grp.open = true;
		grp.busy = false;
		grp.members = 0;
		grp.turns = 0;
		db_tx_set(&group_tx);
	}

	grp.joining = true;

	return 0;
}


/**
 * The save that joined is over (saved, failed or nothing to write)
 */
void db_group_leave(void)
{
	grp.joining = false;
}


/**
 * A request that may join the group soon came in this turn: the group
 * waits one more turn before it commits
 */
void db_group_busy(void)
{
	if (grp.open)
		grp.busy = true;
}


/**
 * Call a handler once the group's transaction is committed (or failed)
 *
 * @param h   Handler, with 0 or the commit's error
 * @param arg Its argument
 *
 * @return 0 if it waits, ENOENT if no group is open (nothing to wait
 *         for: what was saved is committed), otherwise errorcode
 */
int db_group_after(db_group_h *h, void *arg)
{
	struct after *a;

	if (!grp.open)
		return ENOENT;

	a = mem_zalloc(sizeof(*a), NULL);
	if (!a)
		return ENOMEM;

	a->h = h;
	a->arg = arg;
	list_append(&grp.afters, &a->le, a);

	return 0;
}


/**
 * Commit the group's transaction now, and call what waited for it
 *
 * @return 0 if committed or no group was open, otherwise errorcode
 *         (the group was rolled back; the handlers are told)
 */
int db_group_commit(void)
{
	uint32_t n;
	int err;

	if (!grp.open)
		return 0;

	grp.open = false;
	grp.joining = false;
	grp.depth = 0;
	db_tx_set(NULL);
	(void)turns_count(false);

	err = db_commit_plain();
	if (err) {
		log_warning("db: a group of %u saves not committed: %m\n",
			    grp.members, err);
	}
	else {
		++grp.commits;
		grp.saves += grp.members;
	}

	/* those of this group only: a handler may open the next one */
	n = list_count(&grp.afters);
	while (n-- && grp.afters.head) {
		struct after *a = grp.afters.head->data;

		list_unlink(&a->le);
		a->h(err, a->arg);
		mem_deref(a);
	}

	return err;
}


/**
 * Is a group's transaction open (its writes not yet committed)?
 *
 * @return True if open
 */
bool db_group_open(void)
{
	return grp.open;
}


/**
 * Commits of groups and the saves they held, since start (a group
 * that failed to commit counts in neither)
 *
 * @param commits Set to the commits
 * @param saves   Set to the saves
 */
void db_group_counts(uint64_t *commits, uint64_t *saves)
{
	*commits = grp.commits;
	*saves = grp.saves;
}
