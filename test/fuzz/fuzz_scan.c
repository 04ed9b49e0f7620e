/**
 * @file fuzz_scan.c  Fuzzing harness: sipd's header scanners against
 *                    libre's decoders
 *
 * The bytes are a header value; core/libre's scanners and libre's own
 * (test/unit/scandiff.c) must give the same results on them, or the
 * harness aborts.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdlib.h>
#include <re.h>
#include "harness.h"
#include "../unit/scandiff.h"


int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;

	if (!scandiff_ready())
		abort();

	return 0;
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pl in;

	in.p = (const char *)data;
	in.l = size;

	if (scandiff_run(&in))
		abort();

	return 0;
}
