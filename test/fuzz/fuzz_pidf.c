/**
 * @file fuzz_pidf.c  Fuzzing harness: the PIDF parser of presence
 *
 * The bytes are a PUBLISH body. It is checked as the presence module
 * checks a publication (pidf_check); one it accepts is merged into a
 * composed presence document (pidf_compose) as a NOTIFY would carry it.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdlib.h>
#include <string.h>
#include <libxml/parser.h>
#include <re.h>
#include "core.h"
#include "../../modules/presence/presence.h"
#include "harness.h"


static void xml_quiet(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}


int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;

	if (libre_init())
		abort();

	xmlInitParser();
	xmlSetGenericErrorFunc(NULL, xml_quiet);
	log_set_stderr(false);

	return 0;
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pub_body pb;
	struct list bodies = LIST_INIT;
	char *doc = NULL;

	memset(&pb, 0, sizeof(pb));
	pb.pl.p = (const char *)data;
	pb.pl.l = size;

	if (pidf_check(&pb.pl))
		return 0;

	list_append(&bodies, &pb.le, &pb);
	(void)pidf_compose(&doc, "alice@example.com", &bodies, true, false);
	doc = mem_deref(doc);
	(void)pidf_compose(&doc, "alice@example.com", &bodies, false, true);
	mem_deref(doc);

	return 0;
}
