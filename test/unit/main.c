/**
 * @file main.c  The sipd test runner: unit suites, then integration
 *
 * Set CK_RUN_SUITE or CK_RUN_CASE to run a part only (Check's own
 * variables). The last line is Check's summary.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdlib.h>
#include <re.h>
#include "ops.h"
#include "db/db.h"
#include "tlspeer/tlspeer.h"
#include "dns/dns.h"
#include "avail/avail.h"
#include "pool/pool.h"
#include "test.h"


int main(void)
{
	SRunner *sr;
	int failed;

	log_set_level(LOG_LEVEL_WARNING);
	/* the parts the daemon registers */
	ops_register();
	db_part_register();
	tls_peer_part_register();
	dns_part_register();
	avail_part_register();
	pool_part_register();

	sr = srunner_create(suite_config());
	srunner_add_suite(sr, suite_libre());
	srunner_add_suite(sr, suite_uri());
	srunner_add_suite(sr, suite_scan());
	srunner_add_suite(sr, suite_digest());
	srunner_add_suite(sr, suite_nonce());
	srunner_add_suite(sr, suite_message());
	srunner_add_suite(sr, suite_location());
	srunner_add_suite(sr, suite_store());
	srunner_add_suite(sr, suite_group());
	srunner_add_suite(sr, suite_forward());
	srunner_add_suite(sr, suite_proxy());
	srunner_add_suite(sr, suite_presence());
	srunner_add_suite(sr, suite_avail());
	srunner_add_suite(sr, suite_stats());
	srunner_add_suite(sr, suite_reload());
	srunner_add_suite(sr, suite_pool());
	srunner_add_suite(sr, suite_integration());

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);

	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
