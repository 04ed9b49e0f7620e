/**
 * @file libre_version.c  A libre that says it is another version, for the
 *                        test that sipd refuses to start on it
 *
 * LD_PRELOAD'ed into sipd, its sys_libre_version_get() comes before
 * libre's; the version is read from SIPD_TEST_LIBRE_VERSION.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdlib.h>

const char *sys_libre_version_get(void);


const char *sys_libre_version_get(void)
{
	const char *v = getenv("SIPD_TEST_LIBRE_VERSION");

	return v ? v : "0.0.0";
}
