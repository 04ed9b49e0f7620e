/**
 * @file store_presence.c  The store's presence calls (rules, publications,
 *                         presence state, subscriptions), to the engine
 *
 * Copyright (C) 2026 sipd developers
 */

#include <re.h>
#include <sipd.h>
#include "store.h"


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
	const struct store_engine *engine = store_engine();

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
	const struct store_engine *engine = store_engine();

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
	const struct store_engine *engine = store_engine();

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
	const struct store_engine *engine = store_engine();

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
	const struct store_engine *engine = store_engine();

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
	const struct store_engine *engine = store_engine();

	if (!etag || (body && !ctype))
		return EINVAL;

	if (!engine->pub_modify)
		return ENOSYS;

	return engine->pub_modify(id, etag, expires, ctype, body, now);
}


/** Remove a publication; 0 or errorcode */
int store_pub_delete(int64_t id)
{
	const struct store_engine *engine = store_engine();

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
	const struct store_engine *engine = store_engine();

	if (!pubs)
		return EINVAL;

	if (!engine->pub_list)
		return ENOSYS;

	return engine->pub_list(pubs, presentity, now, newest_first);
}


/** Count the live publications; 0 or errorcode */
int store_pub_count(uint64_t *n, int64_t now)
{
	const struct store_engine *engine = store_engine();

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
	const struct store_engine *engine = store_engine();

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
	const struct store_engine *engine = store_engine();

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
	const struct store_engine *engine = store_engine();

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
	const struct store_engine *engine = store_engine();

	if (!sub)
		return EINVAL;

	if (!engine->sub_save)
		return ENOSYS;

	return engine->sub_save(sub);
}


/** Remove a subscription; 0 or errorcode */
int store_sub_delete(int64_t id)
{
	const struct store_engine *engine = store_engine();

	if (!engine->sub_delete)
		return ENOSYS;

	return engine->sub_delete(id);
}


/** Remove the expired and terminated subscriptions; 0 or errorcode */
int store_sub_purge(int64_t now)
{
	const struct store_engine *engine = store_engine();

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
	const struct store_engine *engine = store_engine();

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
	const struct store_engine *engine = store_engine();

	if (!ids)
		return EINVAL;

	if (!engine->sub_expired)
		return ENOSYS;

	return engine->sub_expired(ids, now, limit);
}


/**
 * Take over the live subscriptions of the nodes that are gone (their
 * name's lock free): they become this node's
 *
 * @param subs List the subscriptions taken over are added to
 * @param node This node's name
 * @param now  Current time, epoch seconds
 *
 * @return 0 if success, ENOSYS without several nodes (SQLite),
 *         otherwise errorcode
 */
int store_sub_adopt(struct list *subs, const char *node, int64_t now)
{
	const struct store_engine *engine = store_engine();

	if (!subs || !node)
		return EINVAL;

	if (!engine->sub_adopt)
		return ENOSYS;

	return engine->sub_adopt(subs, node, now);
}
