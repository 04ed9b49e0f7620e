/**
 * @file libre.c  The list of shims, the libre version they were written
 *                for, and their originals
 *
 * Every function sipd defines in front of libre's, libc's or OpenSSL's
 * is in the table below, with the limitation of libre 1.1.0 it covers
 * and the test that fails without it. libre_check() runs before anything
 * else at start: a libre of another version, or a shim whose original
 * the dynamic linker cannot find, stops sipd with the function and the
 * version named, never a shim that silently does nothing.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <re.h>
#include "libre.h"


/** One function sipd defines in front of the original */
struct shim {
	const char *name;
	const char *why;           /* the limitation of libre 1.1.0 */
	const char *test;          /* the test that proves it active */
	void *original;            /* resolved by libre_check() */
};


static struct shim shims[] = {
	/* decode.c */
	{"sip_msg_decode", "no hook between reading bytes and decoding:"
	 " a message the parser refuses is dropped (UDP) or closes the"
	 " connection (TCP) without an answer",
	 "dispatch.malformed_requests_get_400, torture.invalid_udp,"
	 " dispatch.tcp_answers_like_udp", NULL},
	/* send.c */
	{"sip_transp_send", "no count of the messages sent; no word of"
	 " where a TLS connection it opens goes (for SSL_new)",
	 "control.status_counts_a_call, tls_verify.self_signed_refused",
	 NULL},
	/* strans.c */
	{"sip_strans_reply", "a server transaction keeps its whole decoded"
	 " request, header index included, 32 s after its final response",
	 "libre.finished_transaction_slims_request", NULL},
	/* timer.c */
	{"tmr_start", "one sorted list of every timer: a start walks it,"
	 " O(n) a transaction", "libre.shims_interposed,"
	 " proxy.timer_c_cancels_ringing_branch", NULL},
	{"tmr_cancel", "as tmr_start", "libre.shims_interposed,"
	 " proxy.timer_c_cancels_ringing_branch", NULL},
	/* udp.c */
	{"udp_listen", "no way to feed a datagram to a SIP socket: a"
	 " request for worker 0's connection is handed to it",
	 "workers.workers_tcp_callee_from_either_worker", NULL},
	/* tcp.c */
	{"tcp_accept", "no limit on the connections peers open, Nagle"
	 " left on", "robust.connections_per_source_limited", NULL},
	{"tcp_connect", "the transport decodes a connection's bytes without"
	 " saying which connection: the read helper notes it",
	 "dispatch.tcp_answers_like_udp", NULL},
	{"tcp_sock_listen", "a listen backlog of 5: a burst of connections"
	 " waits for SYN retries", "robust.connect_and_drop_storm", NULL},
	{"fd_close", "no callback when a connection's descriptor closes",
	 "robust.connections_per_source_limited (connections_open back"
	 " to 0)", NULL},
	/* bind.c */
	{"bind", "udp_listen() sets no SO_REUSEPORT: workers cannot share"
	 " a port", "workers.workers_register_spread_and_nonce", NULL},
	/* conn.c */
	{"sip_keepalive_signal", "no callback when a connection closes",
	 "nat.tcp_connection_close_removes_binding,"
	 " tls_ws.ws_close_removes_binding", NULL},
	/* websock.c */
	{"http_reply", "the WebSocket upgrade does not answer the \"sip\""
	 " subprotocol (RFC 7118): browsers fail the handshake",
	 "tls_ws.ws_handshake_answers_sip_subprotocol", NULL},
	/* ssl.c */
	{"SSL_CTX_new", "no TLS policy: TLS 1.0 and weak ciphers accepted",
	 "tls_ws.tls_versions_and_ciphers", NULL},
	{"SSL_new", "the TLS connections its SIP transport opens check no"
	 " server certificate (no tls_set_verify_server() call, no hook at"
	 " their start; that call would use the listener's CAs)",
	 "tls_verify.self_signed_refused,"
	 " tls_verify.other_name_refused_unless_tls_name", NULL},
	/* quiet.c */
	{"re_printf", "prints to stdout from inside its transports",
	 "libre.prints_go_to_the_log", NULL},
	{"re_fprintf", "prints to stderr from inside its transports",
	 "libre.prints_go_to_the_log", NULL},
	/* random.c */
	{"rand_u32", "asks OpenSSL's RAND_bytes() for every number",
	 "libre.shims_interposed", NULL},
	{"rand_bytes", "as rand_u32", "libre.shims_interposed", NULL},
	{"rand_u64", "no say in the branch of a request it sends: with"
	 " workers, the branch names the worker whose transaction it is",
	 "workers.workers_calls_across_workers, libre.rand_u64_marked",
	 NULL},
	/* scan.c: re_regex() reads its pattern again at every byte */
	{"uri_decode", "re_regex() decoders: a tenth of the CPU",
	 "scan.values (same results as libre's), libre.shims_interposed",
	 NULL},
	{"uri_decode_hostport", "as uri_decode", "scan.values", NULL},
	{"uri_param_get", "as uri_decode", "scan.values", NULL},
	{"uri_params_apply", "as uri_decode", "scan.values", NULL},
	{"uri_header_get", "as uri_decode", "scan.values", NULL},
	{"sip_addr_decode", "as uri_decode", "scan.values", NULL},
	{"sip_via_decode", "as uri_decode", "scan.values", NULL},
	{"sip_cseq_decode", "as uri_decode", "scan.values", NULL},
	{"msg_ctype_decode", "as uri_decode", "scan.values", NULL},
	{"msg_param_decode", "as uri_decode", "scan.values", NULL},
	{"msg_param_exists", "as uri_decode", "scan.values", NULL},
};


static const char *names[ARRAY_SIZE(shims) + 1];


static struct shim *shim_find(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(shims); i++) {
		if (!strcmp(shims[i].name, name))
			return &shims[i];
	}

	return NULL;
}


/**
 * The names of every shim
 *
 * @return NULL-terminated list
 */
const char *const *libre_shim_names(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(shims); i++)
		names[i] = shims[i].name;

	return names;
}


/**
 * Check a libre version against the one the shims were written for
 *
 * @param version What sys_libre_version_get() says
 *
 * @return 0 if it is that version, otherwise ENOTSUP (logged)
 */
int libre_check_version(const char *version)
{
	if (version && !strcmp(version, LIBRE_VERSION_SHIMMED))
		return 0;

	log_error("libre %s is not libre " LIBRE_VERSION_SHIMMED ": sipd"
		  " replaces %zu of its functions (sip_msg_decode, tmr_start,"
		  " ...; core/libre) and was built for libre "
		  LIBRE_VERSION_SHIMMED " only: refusing to start\n",
		  version ? version : "(unknown)", ARRAY_SIZE(shims));

	return ENOTSUP;
}


/**
 * Find the originals of functions, behind sipd's definitions
 *
 * @param list NULL-terminated names
 *
 * @return 0 if every one was found, otherwise ENOENT (each missing one
 *         logged)
 */
int libre_originals_find(const char *const *list)
{
	int err = 0;

	for (; list && *list; list++) {
		struct shim *s = shim_find(*list);
		void *fn = dlsym(RTLD_NEXT, *list);

		if (!fn) {
			log_error("libre " LIBRE_VERSION_SHIMMED " layer: the"
				  " original of %s() is not found (libre %s):"
				  " refusing to start\n", *list,
				  sys_libre_version_get());
			err = ENOENT;
			continue;
		}

		if (s)
			s->original = fn;
	}

	return err;
}


/**
 * Check the libre sipd runs with, and find the original of every shim
 * (at start, before any shim runs)
 *
 * @return 0 if sipd can run on it, otherwise errorcode (logged)
 */
int libre_check(void)
{
	int err;

	err = libre_check_version(sys_libre_version_get());
	if (err)
		return err;

	return libre_originals_find(libre_shim_names());
}


/**
 * The original of a shim: libre's, libc's or OpenSSL's function
 *
 * @param name Function name, one of the table's
 *
 * @return The function; never NULL (a missing one ends the process:
 *         libre_check() refuses to start on such a libre first)
 */
void *libre_original(const char *name)
{
	struct shim *s = shim_find(name);
	void *fn = s ? s->original : NULL;

	if (!fn)
		fn = dlsym(RTLD_NEXT, name);

	if (!fn) {
		log_error("libre layer: the original of %s() is not found"
			  " (libre %s)\n", name, sys_libre_version_get());
		abort();
	}

	if (s)
		s->original = fn;

	return fn;
}
