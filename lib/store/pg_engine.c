/**
 * @file pg_engine.c  The store's PostgreSQL engine: its operations
 *
 * Copyright (C) 2026 sipd developers
 */

#include <re.h>
#include <sipd.h>
#include "store.h"
#include "pg.h"


const struct store_engine store_pg = {
	.name            = "postgresql",
	.binding_lookup  = pg_binding_lookup,
	.binding_list    = pg_binding_list,
	.binding_scan    = pg_binding_scan,
	.binding_save    = pg_binding_save,
	.binding_expired = pg_binding_expired,
	.binding_expire  = pg_binding_expire,
	.binding_count   = pg_binding_count,
	.binding_ahead   = pg_binding_ahead,
	.account_ha1     = pg_account_ha1,
	.account_write   = pg_account_write,
	.account_import  = pg_account_import,
	.account_delete  = pg_account_delete,
	.account_list    = pg_account_list,
	.account_busy_limit     = pg_account_busy_limit,
	.account_busy_limit_set = pg_account_busy_limit_set,
	.forward_set     = pg_forward_set,
	.forward_del     = pg_forward_del,
	.forward_list    = pg_forward_list,
	.callee_rules    = pg_callee_rules,
	.rule_get        = pg_rule_get,
	.rule_set        = pg_rule_set,
	.rule_list       = pg_rule_list,
	.pub_find        = pg_pub_find,
	.pub_add         = pg_pub_add,
	.pub_modify      = pg_pub_modify,
	.pub_delete      = pg_pub_delete,
	.pub_list        = pg_pub_list,
	.pub_count       = pg_pub_count,
	.pub_expired     = pg_pub_expired,
	.pstate_save     = pg_pstate_save,
	.pstate_get      = pg_pstate_get,
	.sub_save        = pg_sub_save,
	.sub_delete      = pg_sub_delete,
	.sub_purge       = pg_sub_purge,
	.sub_list        = pg_sub_list,
	.sub_expired     = pg_sub_expired,
	.sub_adopt       = pg_sub_adopt,
	.check           = pg_check,
	.lock_wait       = pg_lock_wait,
	.begin           = pg_begin,
	.commit          = pg_commit,
	.rollback        = pg_rollback,
	.version         = pg_version,
};
