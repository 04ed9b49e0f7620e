/**
 * @file libre.h  The libre layer: every function of libre 1.1.0, libc
 *                and OpenSSL that sipd defines in front of the original
 *
 * libre calls its own exported functions through the dynamic linker, so
 * a function the sipd executable defines (linked with -rdynamic) is the
 * one libre's code runs: ELF symbol interposition. The shims live in
 * this folder only; libre.c lists each with the limitation it covers and
 * the test that proves it active. At start, libre_check() refuses a libre
 * other than the one they were written for, and an original that cannot
 * be found. The rest of the core reaches the shims through the hooks
 * below, registered from above: this layer calls nothing above it but
 * the kernel's log, configuration and counters.
 *
 * Copyright (C) 2026 sipd developers
 */

#ifndef SIPD_LIBRE_H
#define SIPD_LIBRE_H

#include <sys/socket.h>
#include "core.h"


/* the libre version the shims were written for */
#define LIBRE_VERSION_SHIMMED "1.1.0"


/* libre.c */
int  libre_check(void);
int  libre_check_version(const char *version);
int  libre_originals_find(const char *const *names);
void *libre_original(const char *name);
const char *const *libre_shim_names(void);


/* decode.c: libre's sip_msg_decode(), then the hook (wire.c) */
typedef int (libre_decode_h)(struct sip_msg **msgp, struct mbuf *mb,
			     size_t start, int err);

void libre_decode_hook(libre_decode_h *h);
int  libre_decode_real(struct sip_msg **msgp, struct mbuf *mb);
uint64_t libre_decode_count(void);


/* send.c: every SIP message sent, or its error (stats.c) */
typedef void (libre_sent_h)(const struct mbuf *mb, int err);

void libre_sent_hook(libre_sent_h *h);


/* ssl.c and send.c: the SSL object of every TLS connection sipd opens,
   with its destination (tls_peer.c sets its check); 0 or an errorcode */
struct ssl_st;
typedef int (libre_tls_client_h)(struct ssl_st *ssl, const struct sa *dst);

void libre_tls_client_hook(libre_tls_client_h *h);
const struct sa *libre_sending_tls(void);


/* random.c: the low byte of rand_u64() (so of every branch) marked */
void libre_rand_mark(bool on, uint8_t mark);


/* udp.c: a datagram fed to libre as if its UDP socket had read it */
int  libre_udp_feed(struct udp_sock *us, const struct sa *src,
		    struct mbuf *mb);


/* tcp.c: connections accepted (refused when the hook says no) and
   descriptors closed: libre_tcp_hooks() is in sipd.h (the guard module
   limits the connections) */
struct tcp_conn *libre_tcp_current(void);


/* bind.c: the next datagram socket bound gets SO_REUSEPORT */
typedef int (libre_bound_h)(int fd);

void libre_bind_shared(bool on, libre_bound_h *boundh);


/* conn.c: the connections peers opened (libre has no close callback) */
int  conn_config(bool apply);
void conn_close_all(void);


/* quiet.c */
void quiet_libre(void);

#endif
