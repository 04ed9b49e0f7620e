/**
 * @file scandiff.c  sipd's header scanners against libre's decoders
 *
 * core/libre/scan_uri.c and scan_msg.c define libre's header decoders in
 * the executable; libre's own are still in the library, and dlsym(RTLD_NEXT) finds them. Each
 * input goes through both, with every parameter and header name of a
 * table, into output structs filled alike beforehand: the return codes
 * and the structs, byte for byte, must be the same. A difference is
 * printed on stderr. Used by test_scan.c and test/fuzz/fuzz_scan.c.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <re.h>
#include "scandiff.h"


enum {
	FILL = 0xa5,
	APPLY_MAX = 32,
};

typedef int (pl_dec_h)(void *out, const struct pl *pl);
typedef int (param_h)(const struct pl *pl, const char *name,
		      struct pl *val);
typedef int (uparam_h)(const struct pl *pl, const struct pl *name,
		       struct pl *val);
typedef int (hostport_h)(const struct pl *hp, struct pl *host,
			 struct pl *port);
typedef int (apply_h)(const struct pl *pl, uri_apply_h *ah, void *arg);

/* the names the parameter and header functions are asked for */
static const char *names[] = {
	"", "lr", "tag", "branch", "transport", "Transport", "rport",
	"received", "expires", "q", "a", "ob", "+sip.instance", "reg-id",
	"to", "subject", "method", "user", "maddr", "x=y", ";",
	"a\\b",
	/* 80 bytes, longer than a scanner takes: libre's own answers */
	("0123456789012345678901234567890123456789"
	 "0123456789012345678901234567890123456789"),
};

static struct {
	void *uri_decode;
	void *uri_decode_hostport;
	void *sip_addr_decode;
	void *sip_via_decode;
	void *sip_cseq_decode;
	void *msg_ctype_decode;
	void *msg_param_decode;
	void *msg_param_exists;
	void *uri_param_get;
	void *uri_header_get;
	void *uri_params_apply;
	bool done;
} libre;

struct applied {
	struct pl name[APPLY_MAX];
	struct pl val[APPLY_MAX];
	unsigned n;
	unsigned stop;  /* the handler fails at this call, if not 0 */
};


static void show(const char *fn, const char *name, const struct pl *in)
{
	size_t i;

	(void)fprintf(stderr, "scandiff: %s%s%s differs on \"", fn,
		      name ? " " : "", name ? name : "");

	for (i = 0; in->p && i < in->l; i++) {
		const uint8_t c = in->p[i];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			(void)fputc(c, stderr);
		else
			(void)fprintf(stderr, "\\x%02x", c);
	}

	(void)fprintf(stderr, "\" (%zu bytes)%s\n", in->l,
		      in->p ? "" : " NULL");
}


static void *find(const char *name, void *ours)
{
	void *f = dlsym(RTLD_NEXT, name);

	return f == ours ? NULL : f;
}


/**
 * Find libre's own decoders
 *
 * @return True if every one was found, and is not sipd's
 */
bool scandiff_ready(void)
{
	if (libre.done)
		return libre.uri_decode && libre.uri_decode_hostport &&
			libre.sip_addr_decode && libre.sip_via_decode &&
			libre.sip_cseq_decode && libre.msg_ctype_decode &&
			libre.msg_param_decode && libre.msg_param_exists &&
			libre.uri_param_get && libre.uri_header_get &&
			libre.uri_params_apply;

#define FIND(f) libre.f = find(#f, (void *)f)
	FIND(uri_decode);
	FIND(uri_decode_hostport);
	FIND(sip_addr_decode);
	FIND(sip_via_decode);
	FIND(sip_cseq_decode);
	FIND(msg_ctype_decode);
	FIND(msg_param_decode);
	FIND(msg_param_exists);
	FIND(uri_param_get);
	FIND(uri_header_get);
	FIND(uri_params_apply);
#undef FIND
	libre.done = true;

	return scandiff_ready();
}


/* a decoder of one header value into a struct of size bytes */
static unsigned one(const char *fn, pl_dec_h *ours, void *theirs,
		    size_t size, const struct pl *in)
{
	uint8_t a[512], b[512];
	int ea, eb;

	memset(a, FILL, size);
	memset(b, FILL, size);

	ea = ours(a, in);
	eb = ((pl_dec_h *)theirs)(b, in);

	if (ea == eb && !memcmp(a, b, size))
		return 0;

	show(fn, NULL, in);
	(void)fprintf(stderr, "  sipd %d, libre %d\n", ea, eb);

	return 1;
}


static unsigned param(const char *fn, param_h *ours, void *theirs,
		      const struct pl *in, const char *name)
{
	struct pl a, b;
	int ea, eb;

	memset(&a, FILL, sizeof(a));
	memset(&b, FILL, sizeof(b));

	ea = ours(in, name, &a);
	eb = ((param_h *)theirs)(in, name, &b);

	if (ea == eb && !memcmp(&a, &b, sizeof(a)))
		return 0;

	show(fn, name, in);
	(void)fprintf(stderr, "  sipd %d, libre %d\n", ea, eb);

	return 1;
}


static unsigned uparam(const char *fn, uparam_h *ours, void *theirs,
		       const struct pl *in, const char *name)
{
	struct pl a, b, pname;
	int ea, eb;

	pl_set_str(&pname, name);
	memset(&a, FILL, sizeof(a));
	memset(&b, FILL, sizeof(b));

	ea = ours(in, &pname, &a);
	eb = ((uparam_h *)theirs)(in, &pname, &b);

	if (ea == eb && !memcmp(&a, &b, sizeof(a)))
		return 0;

	show(fn, name, in);
	(void)fprintf(stderr, "  sipd %d, libre %d\n", ea, eb);

	return 1;
}


static unsigned hostport(const struct pl *in)
{
	struct pl a[2], b[2];
	int ea, eb;

	memset(a, FILL, sizeof(a));
	memset(b, FILL, sizeof(b));

	ea = uri_decode_hostport(in, &a[0], &a[1]);
	eb = ((hostport_h *)libre.uri_decode_hostport)(in, &b[0], &b[1]);

	if (ea == eb && !memcmp(a, b, sizeof(a)))
		return 0;

	show("uri_decode_hostport", NULL, in);
	(void)fprintf(stderr, "  sipd %d, libre %d\n", ea, eb);

	return 1;
}


static int apply_handler(const struct pl *name, const struct pl *val,
			 void *arg)
{
	struct applied *ap = arg;

	if (ap->n < APPLY_MAX) {
		ap->name[ap->n] = *name;
		ap->val[ap->n] = *val;
	}

	++ap->n;

	return ap->n == ap->stop ? EEXIST : 0;
}


static unsigned apply(const struct pl *in, unsigned stop)
{
	struct applied a, b;
	int ea, eb;

	memset(&a, FILL, sizeof(a));
	memset(&b, FILL, sizeof(b));
	a.n = b.n = 0;
	a.stop = b.stop = stop;

	ea = uri_params_apply(in, apply_handler, &a);
	eb = ((apply_h *)libre.uri_params_apply)(in, apply_handler, &b);

	if (ea == eb && !memcmp(&a, &b, sizeof(a)))
		return 0;

	show("uri_params_apply", NULL, in);
	(void)fprintf(stderr, "  sipd %d (%u calls), libre %d (%u calls)\n",
		      ea, a.n, eb, b.n);

	return 1;
}


/**
 * Decode the input with sipd's scanners and with libre's decoders
 *
 * @param in The input (a header value, a URI, parameters)
 *
 * @return How many calls gave different results (0 if all agree)
 */
unsigned scandiff_run(const struct pl *in)
{
	unsigned diff = 0;
	size_t i;

	if (!scandiff_ready())
		return 1;

#define ONE(f, type) \
	diff += one(#f, (pl_dec_h *)f, libre.f, sizeof(struct type), in)
	ONE(uri_decode, uri);
	ONE(sip_addr_decode, sip_addr);
	ONE(sip_via_decode, sip_via);
	ONE(sip_cseq_decode, sip_cseq);
	ONE(msg_ctype_decode, msg_ctype);
#undef ONE

	diff += hostport(in);
	diff += apply(in, 0);
	diff += apply(in, 2);

	for (i = 0; i < ARRAY_SIZE(names); i++) {

		diff += param("msg_param_decode", msg_param_decode,
			      libre.msg_param_decode, in, names[i]);
		diff += param("msg_param_exists", msg_param_exists,
			      libre.msg_param_exists, in, names[i]);
		diff += uparam("uri_param_get", uri_param_get,
			       libre.uri_param_get, in, names[i]);
		diff += uparam("uri_header_get", uri_header_get,
			       libre.uri_header_get, in, names[i]);
	}

	return diff;
}
