/**
 * @file ssl.c  sipd's SSL_CTX_new() and SSL_new(), in front of OpenSSL's:
 *              the TLS policy, and the check of the servers sipd calls
 *
 * libre 1.1.0 makes its OpenSSL contexts itself and offers no call to set
 * their protocol versions or ciphers. It calls SSL_CTX_new() through the
 * dynamic linker, so the sipd executable defines it: every stream TLS
 * context gets TLS 1.2 as the lowest version, forward-secret AEAD
 * ciphers, no compression and no renegotiation.
 *
 * libre's SIP transport opens a TLS connection with tls_start_tcp() on
 * the context of a tls listener and never checks the server's
 * certificate: it calls no tls_set_verify_server(), which would check it
 * against the listener's CA file only anyway, and gives no hook at the
 * connection's start. tls_start_tcp() makes the connection's SSL object
 * with SSL_new(), also through the dynamic linker: sipd's SSL_new() gives
 * an object made while libre sends over TLS (send.c), so one for a
 * connection sipd opens, to the hook registered from above, which sets
 * its check (core/sip/tls_peer.c).
 *
 * Copyright (C) 2026 sipd developers
 */

#include <openssl/ssl.h>
#include <re.h>
#include "libre.h"


#define CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:" \
	"!aNULL:!eNULL:!MD5:!DSS:!SHA1"


typedef SSL_CTX *(ssl_ctx_new_h)(const SSL_METHOD *method);
typedef SSL *(ssl_new_h)(SSL_CTX *ctx);


static libre_tls_client_h *client_hook;


/**
 * Set what is told of the SSL object of every TLS connection sipd opens
 *
 * @param h Hook, or NULL for none
 */
void libre_tls_client_hook(libre_tls_client_h *h)
{
	client_hook = h;
}


/**
 * OpenSSL's SSL_CTX_new() with sipd's TLS policy applied
 *
 * @param method TLS method
 *
 * @return New context, or NULL
 */
SSL_CTX *SSL_CTX_new(const SSL_METHOD *method)
{
	static ssl_ctx_new_h *real;
	SSL_CTX *ctx;

	if (!real)
		real = (ssl_ctx_new_h *)libre_original("SSL_CTX_new");

	ctx = real(method);
	if (!ctx)
		return NULL;

	/* stream TLS only: leave DTLS contexts alone */
	if (SSL_CTX_get_ssl_method(ctx) != TLS_method() &&
	    SSL_CTX_get_ssl_method(ctx) != TLS_server_method() &&
	    SSL_CTX_get_ssl_method(ctx) != TLS_client_method())
		return ctx;

	(void)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	(void)SSL_CTX_set_cipher_list(ctx, CIPHERS);
	(void)SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
				  SSL_OP_NO_RENEGOTIATION |
				  SSL_OP_CIPHER_SERVER_PREFERENCE);

	return ctx;
}


/**
 * OpenSSL's SSL_new(); the object of a connection sipd opens goes to the
 * hook first
 *
 * @param ctx TLS context
 *
 * @return New SSL object, or NULL (also when the hook fails)
 */
SSL *SSL_new(SSL_CTX *ctx)
{
	static ssl_new_h *real;
	const struct sa *dst;
	SSL *ssl;

	if (!real)
		real = (ssl_new_h *)libre_original("SSL_new");

	ssl = real(ctx);
	dst = libre_sending_tls();
	if (!ssl || !dst || !client_hook)
		return ssl;

	if (client_hook(ssl, dst)) {
		SSL_free(ssl);
		return NULL;
	}

	return ssl;
}
