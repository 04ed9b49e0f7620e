/**
 * @file store.c  The store's engine: SQLite unless another is set, and the
 *                calls that go to it
 *
 * Copyright (C) 2026 sipd developers
 */

#include <re.h>
#include <sipd.h>
#include "store.h"


static const struct store_engine *engine = &store_sqlite;


/**
 * Set the engine every store call goes to
 *
 * @param eng Engine, NULL for SQLite
 */
void store_engine_set(const struct store_engine *eng)
{
	engine = eng ? eng : &store_sqlite;
}


/**
 * The engine every store call goes to
 *
 * @return The engine
 */
const struct store_engine *store_engine(void)
{
	return engine;
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
	if (!aor)
		return EINVAL;

	if (!engine->binding_save)
		return ENOSYS;

	return engine->binding_save(aor, upserts, removes);
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
	if (!bindings)
		return EINVAL;

	if (!engine->binding_expire)
		return ENOSYS;

	return engine->binding_expire(bindings, now);
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
	if (!accounts)
		return EINVAL;

	if (!engine->account_list)
		return ENOSYS;

	return engine->account_list(accounts, now);
}


/**
 * The rule of a watcher of a presentity
 *
 * @param rule       Set to "allow" or "block", "" when there is none
 * @param size       Its size
 * @param presentity user@domain
 * @param watcher    user@domain
 *
 * @return 0 if success, otherwise errorcode
 */
int store_rule_get(char *rule, size_t size, const char *presentity,
		   const char *watcher)
{
	if (!rule || !size || !presentity || !watcher)
		return EINVAL;

	rule[0] = '\0';

	if (!engine->rule_get)
		return ENOSYS;

	return engine->rule_get(rule, size, presentity, watcher);
}


/**
 * Set or remove the rule of a watcher of a presentity
 *
 * @param presentity user@domain
 * @param watcher    user@domain
 * @param rule       "allow" or "block", NULL to remove it
 * @param now        Current time
 *
 * @return 0 if success, ENOENT to remove a rule there is not
 */
int store_rule_set(const char *presentity, const char *watcher,
		   const char *rule, int64_t now)
{
	if (!presentity || !watcher)
		return EINVAL;

	if (!engine->rule_set)
		return ENOSYS;

	return engine->rule_set(presentity, watcher, rule, now);
}


/**
 * List the rules by presentity and watcher
 *
 * @param rules      List to append struct store_rule to
 * @param presentity Only its rules, or NULL for all
 *
 * @return 0 if success, otherwise errorcode
 */
int store_rule_list(struct list *rules, const char *presentity)
{
	if (!rules)
		return EINVAL;

	if (!engine->rule_list)
		return ENOSYS;

	return engine->rule_list(rules, presentity);
}


/**
 * Find the live presence publication of an entity tag
 *
 * @param id         Set to its id
 * @param presentity Set to its presentity
 * @param size       Size of presentity
 * @param etag       Entity tag (SIP-If-Match)
 * @param now        Current time
 *
 * @return 0 if found, ENOENT if not
 */
int store_pub_find(int64_t *id, char *presentity, size_t size,
		   const struct pl *etag, int64_t now)
{
	if (!id || !presentity || !size || !etag)
		return EINVAL;

	if (!engine->pub_find)
		return ENOSYS;

	return engine->pub_find(id, presentity, size, etag, now);
}


/**
 * Add a presence publication
 *
 * @param id         Set to its id
 * @param presentity user@domain
 * @param etag       Its entity tag
 * @param expires    Absolute expiry
 * @param ctype      Content type of the body
 * @param body       The body
 * @param source     Address it came from
 * @param now        Current time
 *
 * @return 0 if success, otherwise errorcode
 */
int store_pub_add(int64_t *id, const char *presentity, const char *etag,
		  int64_t expires, const char *ctype, const struct pl *body,
		  const char *source, int64_t now)
{
	if (!id || !presentity || !etag || !ctype || !body || !source)
		return EINVAL;

	if (!engine->pub_add)
		return ENOSYS;

	return engine->pub_add(id, presentity, etag, expires, ctype, body,
			       source, now);
}


/**
 * Refresh a publication (body NULL) or replace its body
 *
 * @param id      Its id
 * @param etag    Its new entity tag
 * @param expires Absolute expiry
 * @param ctype   Content type of the body (with a body)
 * @param body    The new body, or NULL to keep it
 * @param now     Current time
 *
 * @return 0 if success, otherwise errorcode
 */
int store_pub_modify(int64_t id, const char *etag, int64_t expires,
		     const char *ctype, const struct pl *body, int64_t now)
{
	if (!etag || (body && !ctype))
		return EINVAL;

	if (!engine->pub_modify)
		return ENOSYS;

	return engine->pub_modify(id, etag, expires, ctype, body, now);
}


/** Remove a publication; 0 or errorcode */
int store_pub_delete(int64_t id)
{
	if (!engine->pub_delete)
		return ENOSYS;

	return engine->pub_delete(id);
}


/**
 * List the live presence publications, with their bodies
 *
 * @param pubs         List to append struct store_pub to
 * @param presentity   Only its publications, or NULL for all
 * @param now          Current time
 * @param newest_first Newest first, else by presentity and age
 *
 * @return 0 if success, otherwise errorcode
 */
int store_pub_list(struct list *pubs, const char *presentity, int64_t now,
		   bool newest_first)
{
	if (!pubs)
		return EINVAL;

	if (!engine->pub_list)
		return ENOSYS;

	return engine->pub_list(pubs, presentity, now, newest_first);
}


/** Count the live publications; 0 or errorcode */
int store_pub_count(uint64_t *n, int64_t now)
{
	if (!n)
		return EINVAL;

	if (!engine->pub_count)
		return ENOSYS;

	return engine->pub_count(n, now);
}


/**
 * Get expired publications (id and presentity)
 *
 * @param pubs  List to append struct store_pub to
 * @param now   Current time
 * @param limit Most publications
 *
 * @return 0 if success, otherwise errorcode
 */
int store_pub_expired(struct list *pubs, int64_t now, uint32_t limit)
{
	if (!pubs)
		return EINVAL;

	if (!engine->pub_expired)
		return ENOSYS;

	return engine->pub_expired(pubs, now, limit);
}


/**
 * Keep the presence document last composed for a presentity
 *
 * @param presentity user@domain
 * @param pidf       The document
 * @param sources    What it was composed from
 * @param now        Current time
 *
 * @return 0 if success, otherwise errorcode
 */
int store_pstate_save(const char *presentity, const char *pidf,
		      const char *sources, int64_t now)
{
	if (!presentity || !pidf || !sources)
		return EINVAL;

	if (!engine->pstate_save)
		return ENOSYS;

	return engine->pstate_save(presentity, pidf, sources, now);
}


/**
 * Get the presence document last composed for a presentity
 *
 * @param psp        Set to it (mem_deref() it)
 * @param presentity user@domain
 *
 * @return 0 if found, ENOENT if none was composed
 */
int store_pstate_get(struct store_pstate **psp, const char *presentity)
{
	if (!psp || !presentity)
		return EINVAL;

	if (!engine->pstate_get)
		return ENOSYS;

	return engine->pstate_get(psp, presentity);
}


/**
 * Write a subscription: insert it (id 0, set on return) or update what
 * changes during its life (state, expiry, target, CSeqs, version)
 *
 * @param sub The subscription
 *
 * @return 0 once written, otherwise errorcode
 */
int store_sub_save(struct store_sub *sub)
{
	if (!sub)
		return EINVAL;

	if (!engine->sub_save)
		return ENOSYS;

	return engine->sub_save(sub);
}


/** Remove a subscription; 0 or errorcode */
int store_sub_delete(int64_t id)
{
	if (!engine->sub_delete)
		return ENOSYS;

	return engine->sub_delete(id);
}


/** Remove the expired and terminated subscriptions; 0 or errorcode */
int store_sub_purge(int64_t now)
{
	if (!engine->sub_purge)
		return ENOSYS;

	return engine->sub_purge(now);
}


/**
 * List the subscriptions that have not expired
 *
 * @param subs       List to append struct store_sub to
 * @param presentity Only its watchers, or NULL for all
 * @param now        Current time
 * @param live       Only those not terminated, in no order (to restore
 *                   them); else by presentity, event and watcher
 *
 * @return 0 if success, otherwise errorcode
 */
int store_sub_list(struct list *subs, const char *presentity, int64_t now,
		   bool live)
{
	if (!subs)
		return EINVAL;

	if (!engine->sub_list)
		return ENOSYS;

	return engine->sub_list(subs, presentity, now, live);
}


/**
 * Get the ids of expired subscriptions not terminated
 *
 * @param ids   List to append struct store_id to
 * @param now   Current time
 * @param limit Most ids
 *
 * @return 0 if success, otherwise errorcode
 */
int store_sub_expired(struct list *ids, int64_t now, uint32_t limit)
{
	if (!ids)
		return EINVAL;

	if (!engine->sub_expired)
		return ENOSYS;

	return engine->sub_expired(ids, now, limit);
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
	if (!engine->begin)
		return ENOSYS;

	return engine->begin();
}


/** Commit the transaction (rolled back if it fails); 0 or errorcode */
int store_commit(void)
{
	if (!engine->commit)
		return ENOSYS;

	return engine->commit();
}


/** Undo the transaction */
void store_rollback(void)
{
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
	if (!version)
		return EINVAL;

	if (!engine->version)
		return ENOSYS;

	return engine->version(version);
}
