/**
 * @file ssl.c  sipd's SSL_CTX_new(), in front of OpenSSL's: the TLS policy
 *
 * libre 1.1.0 makes its OpenSSL contexts itself and offers no call to set
 * their protocol versions or ciphers. It calls SSL_CTX_new() through the
 * dynamic linker, so the sipd executable defines it: every stream TLS
 * context gets TLS 1.2 as the lowest version, forward-secret AEAD
 * ciphers, no compression and no renegotiation.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <openssl/ssl.h>
#include <re.h>
#include "libre.h"


#define CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:" \
	"!aNULL:!eNULL:!MD5:!DSS:!SHA1"


typedef SSL_CTX *(ssl_ctx_new_h)(const SSL_METHOD *method);


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
