/**
 * @file store.c  The store's engine: the one of the process's database
 *                unless another is set, and the calls that go to it
 *
 * Copyright (C) 2026 sipd developers
 */

#include <re.h>
#include <sipd.h>
#include "store.h"


static const struct store_engine *chosen;


/**
 * Set the engine every store call goes to
 *
 * @param eng Engine, NULL for the one of the process's database
 */
void store_engine_set(const struct store_engine *eng)
{
	chosen = eng;
}


/**
 * The engine every store call goes to: the one set, otherwise the one
 * of the process's database (PostgreSQL when lib/db holds a PostgreSQL
 * connection, SQLite otherwise)
 *
 * @return The engine
 */
const struct store_engine *store_engine(void)
{
	if (chosen)
		return chosen;

	return db_pg_on() ? &store_pg : &store_sqlite;
}


/**
 * Get the unexpired bindings of an address-of-record, best q first
 *
 * @param bindings List to append struct binding to
 * @param aor      Address-of-record, user@domain
 * @param now      Current time, epoch seconds
 *
 * @return 0 if success, otherwise errorcode
 */
int store_binding_lookup(struct list *bindings, const char *aor,
			 int64_t now)
{
	const struct store_engine *engine = store_engine();

	if (!bindings || !aor)
		return EINVAL;

	if (!engine->binding_lookup)
		return ENOSYS;

	return engine->binding_lookup(bindings, aor, now);
}


/**
 * List bindings by address-of-record, then best q first, then age
 *
 * @param bindings List to append struct binding to
 * @param aor      Address-of-record, NULL for all
 * @param now      Only bindings expiring after it; 0 for expired ones too
 *
 * @return 0 if success, otherwise errorcode
 */
int store_binding_list(struct list *bindings, const char *aor, int64_t now)
{
	const struct store_engine *engine = store_engine();

	if (!bindings)
		return EINVAL;

	if (!engine->binding_list)
		return ENOSYS;

	return engine->binding_list(bindings, aor, now);
}


/**
 * Get a batch of unexpired bindings in id order
 *
 * @param bindings List to append to
 * @param after_id Only bindings with a larger id
 * @param limit    Most bindings
 * @param now      Current time
 *
 * @return 0 if success, otherwise errorcode
 */
int store_binding_scan(struct list *bindings, int64_t after_id,
		       uint32_t limit, int64_t now)
{
	const struct store_engine *engine = store_engine();

	if (!bindings)
		return EINVAL;

	if (!engine->binding_scan)
		return ENOSYS;

	return engine->binding_scan(bindings, after_id, limit, now);
}


/**
 * Apply the changes of one registration atomically
 *
 * @param aor     Address-of-record
 * @param upserts Bindings to insert (id 0, set on return) or update
 * @param removes Bindings to delete (by id)
 *
 * @return 0 once committed, otherwise errorcode (nothing changed, the ids
 *         of new bindings still 0)
 */
int store_binding_save(const char *aor, const struct list *upserts,
		       const struct list *removes)
{
	const struct store_engine *engine = store_engine();
	int64_t *ids;
	struct le *le;
	size_t i = 0;
	int err;

	if (!aor)
		return EINVAL;

	if (!engine->binding_save)
		return ENOSYS;

	/* the engines set the ids of new bindings as they insert them:
	   undone when nothing commits, whatever the engine */
	ids = mem_zalloc(sizeof(*ids) * (list_count(upserts) + 1), NULL);
	if (!ids)
		return ENOMEM;

	for (le = upserts ? upserts->head : NULL; le; le = le->next)
		ids[i++] = ((const struct binding *)le->data)->id;

	err = engine->binding_save(aor, upserts, removes);
	if (err) {
		i = 0;
		for (le = upserts ? upserts->head : NULL; le; le = le->next)
			((struct binding *)le->data)->id = ids[i++];
	}

	mem_deref(ids);

	return err;
}


/**
 * Get the oldest expired bindings, soonest expiry first
 *
 * @param bindings List to append to
 * @param now      Current time
 * @param limit    Most bindings
 *
 * @return 0 if success, otherwise errorcode
 */
int store_binding_expired(struct list *bindings, int64_t now,
			  uint32_t limit)
{
	const struct store_engine *engine = store_engine();

	if (!bindings)
		return EINVAL;

	if (!engine->binding_expired)
		return ENOSYS;

	return engine->binding_expired(bindings, now, limit);
}


/**
 * Remove expired bindings atomically; one refreshed since it was read
 * (it no longer expired at now) stays
 *
 * @param bindings Bindings, by id
 * @param now      Current time
 *
 * @return 0 once committed, otherwise errorcode (nothing changed)
 */
int store_binding_expire(const struct list *bindings, int64_t now)
{
	const struct store_engine *engine = store_engine();

	if (!bindings)
		return EINVAL;

	if (!engine->binding_expire)
		return ENOSYS;

	return engine->binding_expire(bindings, now);
}


/**
 * Ask for the bindings of an address-of-record ahead: the lookup that
 * follows in the same turn of the loop takes the answer, which came in
 * the round trip of a statement between them (PostgreSQL; other engines
 * do nothing)
 *
 * @param aor Address-of-record
 * @param now Current time, epoch seconds (the lookup's)
 *
 * @return 0 if asked, ENOSYS where nothing is asked ahead
 */
int store_binding_ahead(const char *aor, int64_t now)
{
	const struct store_engine *engine = store_engine();

	if (!aor)
		return EINVAL;

	if (!engine->binding_ahead)
		return ENOSYS;

	return engine->binding_ahead(aor, now);
}


/**
 * Count the bindings that have not expired
 *
 * @param n   The count
 * @param now Current time
 *
 * @return 0 if success, otherwise errorcode
 */
int store_binding_count(uint64_t *n, int64_t now)
{
	const struct store_engine *engine = store_engine();

	if (!n)
		return EINVAL;

	if (!engine->binding_count)
		return ENOSYS;

	return engine->binding_count(n, now);
}


/**
 * Get the HA1 of an account
 *
 * @param user   User part
 * @param domain Domain
 * @param alg    Digest algorithm
 * @param ha1    Buffer of DIGEST_MAX_SIZE bytes
 * @param len    Set to the length
 *
 * @return 0 if found, ENOENT if there is no such account
 */
int store_account_ha1(const char *user, const char *domain,
		      enum digest_alg alg, uint8_t *ha1, size_t *len)
{
	const struct store_engine *engine = store_engine();

	if (!user || !domain || !ha1 || !len)
		return EINVAL;

	if (!engine->account_ha1)
		return ENOSYS;

	return engine->account_ha1(user, domain, alg, ha1, len);
}


/**
 * Check whether an account exists
 *
 * @param user   User part
 * @param domain Domain
 * @param exists Set to the answer
 *
 * @return 0 if success, otherwise errorcode
 */
int store_account_exists(const char *user, const char *domain,
			 bool *exists)
{
	uint8_t ha1[DIGEST_MAX_SIZE];
	size_t len;
	int err;

	if (!exists)
		return EINVAL;

	err = store_account_ha1(user, domain, DIGEST_MD5, ha1, &len);
	if (err == ENOENT) {
		*exists = false;
		return 0;
	}
	else if (err) {
		return err;
	}

	*exists = true;

	return 0;
}


/**
 * Add an account or set its HA1 values
 *
 * @param acc The account (user, domain, both HA1s, created)
 * @param how Add, update or either
 *
 * @return 0 if success, EEXIST (add) or ENOENT (update), or errorcode
 */
int store_account_write(const struct store_account *acc,
			enum store_write how)
{
	const struct store_engine *engine = store_engine();

	if (!acc)
		return EINVAL;

	if (!engine->account_write)
		return ENOSYS;

	return engine->account_write(acc, how);
}


/**
 * Add or update many accounts in one transaction
 *
 * @param accounts List of struct store_account
 *
 * @return 0 once committed, otherwise errorcode (nothing changed)
 */
int store_account_import(const struct list *accounts)
{
	const struct store_engine *engine = store_engine();

	if (!accounts)
		return EINVAL;

	if (!engine->account_import)
		return ENOSYS;

	return engine->account_import(accounts);
}


/**
 * Remove an account, its bindings and its forwarding rules in one
 * transaction
 *
 * @param user   User part
 * @param domain Domain
 *
 * @return 0 if removed, ENOENT if there is no such account
 */
int store_account_delete(const char *user, const char *domain)
{
	const struct store_engine *engine = store_engine();

	if (!user || !domain)
		return EINVAL;

	if (!engine->account_delete)
		return ENOSYS;

	return engine->account_delete(user, domain);
}


/**
 * List every account by domain and user, with its bindings counted
 *
 * @param accounts List to append struct store_account to
 * @param now      Current time (bindings expiring later are counted)
 *
 * @return 0 if success, otherwise errorcode
 */
int store_account_list(struct list *accounts, int64_t now)
{
	const struct store_engine *engine = store_engine();

	if (!accounts)
		return EINVAL;

	if (!engine->account_list)
		return ENOSYS;

	return engine->account_list(accounts, now);
}


/**
 * Check the database for damage
 *
 * @param problem Set to the first problem found
 * @param size    Its size
 *
 * @return 0 if it is sound, EILSEQ with a problem, otherwise errorcode
 */
int store_check(char *problem, size_t size)
{
	const struct store_engine *engine = store_engine();

	if (!problem || !size)
		return EINVAL;

	problem[0] = '\0';

	if (!engine->check)
		return ENOSYS;

	return engine->check(problem, size);
}


/**
 * Set how long a call waits for another writer (another process) to
 * finish before it fails with EBUSY
 *
 * @param ms Milliseconds
 *
 * @return 0 if success, otherwise errorcode
 */
int store_lock_wait(uint32_t ms)
{
	const struct store_engine *engine = store_engine();

	if (!engine->lock_wait)
		return ENOSYS;

	return engine->lock_wait(ms);
}


/**
 * Begin a transaction: the changes until store_commit() are made at once
 *
 * @return 0 if success, EBUSY when another writer holds the database
 */
int store_begin(void)
{
	const struct store_engine *engine = store_engine();

	if (!engine->begin)
		return ENOSYS;

	return engine->begin();
}


/** Commit the transaction (rolled back if it fails); 0 or errorcode */
int store_commit(void)
{
	const struct store_engine *engine = store_engine();

	if (!engine->commit)
		return ENOSYS;

	return engine->commit();
}


/** Undo the transaction */
void store_rollback(void)
{
	const struct store_engine *engine = store_engine();

	if (engine->rollback)
		engine->rollback();
}


/**
 * The data version: a number that changes when anything was committed,
 * by this process or any other (another worker, sipctl, another node),
 * since it was last read. Read it before a query to know later whether
 * what the query returned may have changed since.
 *
 * @param version Set to the version
 *
 * @return 0 if success, EBUSY inside a transaction of this process (its
 *         changes may still be undone), otherwise errorcode
 */
int store_version(uint64_t *version)
{
	const struct store_engine *engine = store_engine();

	if (!version)
		return EINVAL;

	if (!engine->version)
		return ENOSYS;

	return engine->version(version);
}
