/**
 * @file sqlite_engine.c  The store's SQLite engine: its operations
 *
 * Copyright (C) 2026 sipd developers
 */

#include <re.h>
#include <sipd.h>
#include "store.h"
#include "sqlite.h"


const struct store_engine store_sqlite = {
	.name            = "sqlite",
	.binding_lookup  = sqlite_binding_lookup,
	.binding_list    = sqlite_binding_list,
	.binding_scan    = sqlite_binding_scan,
	.binding_save    = sqlite_binding_save,
	.binding_expired = sqlite_binding_expired,
	.binding_expire  = sqlite_binding_expire,
	.binding_count   = sqlite_binding_count,
	.account_ha1     = sqlite_account_ha1,
	.account_write   = sqlite_account_write,
	.account_import  = sqlite_account_import,
	.account_delete  = sqlite_account_delete,
	.account_list    = sqlite_account_list,
	.account_busy_limit     = sqlite_account_busy_limit,
	.account_busy_limit_set = sqlite_account_busy_limit_set,
	.forward_set     = sqlite_forward_set,
	.forward_del     = sqlite_forward_del,
	.forward_list    = sqlite_forward_list,
	.callee_rules    = sqlite_callee_rules,
	.rule_get        = sqlite_rule_get,
	.rule_set        = sqlite_rule_set,
	.rule_list       = sqlite_rule_list,
	.pub_find        = sqlite_pub_find,
	.pub_add         = sqlite_pub_add,
	.pub_modify      = sqlite_pub_modify,
	.pub_delete      = sqlite_pub_delete,
	.pub_list        = sqlite_pub_list,
	.pub_count       = sqlite_pub_count,
	.pub_expired     = sqlite_pub_expired,
	.pstate_save     = sqlite_pstate_save,
	.pstate_get      = sqlite_pstate_get,
	.sub_save        = sqlite_sub_save,
	.sub_delete      = sqlite_sub_delete,
	.sub_purge       = sqlite_sub_purge,
	.sub_list        = sqlite_sub_list,
	.sub_expired     = sqlite_sub_expired,
	.check           = sqlite_check,
	.lock_wait       = sqlite_lock_wait,
	.begin           = sqlite_begin,
	.commit          = sqlite_commit,
	.rollback        = sqlite_rollback,
	.version         = sqlite_version,
};
