/**
 * @file listen.h  Between the listen lines (listen_line.c) and the
 *                 sockets opened for them (listen.c)
 *
 * Copyright (C) 2026 sipd developers
 */

#ifndef SIPD_LISTEN_H
#define SIPD_LISTEN_H

/** A parsed listen line */
struct listen_spec {
	struct le le;
	enum sip_transp tp;
	struct sa addr;
	struct list roles;            /* struct role_ref */
	bool auth;
	enum sock_nat nat;            /* bindings behind a NAT          */
	char *cert;                   /* tls, wss: certificate (chain)  */
	char *key;                    /* its key, if not in cert        */
	char *ca;                     /* CAs to verify clients          */
	bool verify;                  /* require client certificates    */
	struct tls *tls;
	const struct config_line *line;
};


struct list *listen_specs(void);
bool listen_needs(const char *service);
bool transp_secure(enum sip_transp tp);
void role_ref_destructor(void *arg);

#endif
