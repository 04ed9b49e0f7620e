/**
 * @file fuzz_sip.c  Fuzzing harness: a SIP message through the whole core
 *
 * Built once for each role set (FUZZ_ROLES, FUZZ_CONF): the bytes arrive
 * over UDP or TCP on 127.0.0.1, are decoded as libre does (through sipd's
 * decoder and its repair of malformed datagrams), checked and dispatched
 * to the roles; the answers are dropped. See harness.c.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdlib.h>
#include <re.h>
#include "harness.h"


#ifndef FUZZ_ROLES
#define FUZZ_ROLES "registrar,presence,proxy"
#endif

#ifndef FUZZ_CONF
#define FUZZ_CONF ""
#endif


int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;

	if (fuzz_core_start(FUZZ_ROLES, FUZZ_CONF))
		abort();

	return 0;
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_core_input(data, size);

	return 0;
}
