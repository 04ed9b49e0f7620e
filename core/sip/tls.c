/**
 * @file tls.c  TLS for the tls and wss listeners: certificates, policy
 *
 * The certificate and key of a listen line are checked at start (they
 * must load and match), then given to libre as one PEM file: libre 1.1.0
 * loads the certificate chain and the key from a single file, so sipd
 * joins them in an anonymous in-memory file (memfd), never on disk.
 *
 * libre makes its OpenSSL contexts itself and offers no call to set their
 * protocol versions or ciphers: the libre layer sets them
 * (core/libre/ssl.c).
 *
 * With verify=on a tls listener requires a client certificate signed by
 * a CA of its ca= file: libre's tls_set_verify_client() asks for one
 * but takes any certificate, or none, so sipd sets the check itself.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <re.h>
#include "core.h"


static struct list keyfiles;    /* struct keyfile */


struct keyfile {
	struct le le;
	int fd;
	char path[64];
};


static void keyfile_destructor(void *arg)
{
	struct keyfile *kf = arg;

	list_unlink(&kf->le);
	if (kf->fd >= 0)
		(void)close(kf->fd);
}


static const char *ssl_error(void)
{
	static char buf[256];
	unsigned long e = ERR_get_error();

	if (!e)
		return "unknown error";

	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();

	return buf;
}


static int read_file(struct mbuf **mbp, const char *path)
{
	struct mbuf *mb;
	FILE *f;
	int err = 0;

	f = fopen(path, "r");
	if (!f)
		return errno;

	mb = mbuf_alloc(4096);
	if (!mb) {
		fclose(f);
		return ENOMEM;
	}

	for (;;) {
		uint8_t buf[4096];
		size_t n = fread(buf, 1, sizeof(buf), f);

		if (!n)
			break;
		err = mbuf_write_mem(mb, buf, n);
		if (err)
			break;
	}

	if (!err && ferror(f))
		err = EIO;

	fclose(f);

	if (err)
		mem_deref(mb);
	else
		*mbp = mb;

	return err;
}


/**
 * Check a certificate and its key, for a listen line
 *
 * @param line The line (for the error messages)
 * @param cert PEM file with the certificate (and its chain)
 * @param key  PEM file with the private key, or NULL if in cert
 *
 * @return 0 if usable, otherwise EINVAL (reported)
 */
int tls_files_check(const struct config_line *line, const char *cert,
		    const char *key)
{
	X509 *x509 = NULL;
	EVP_PKEY *pkey = NULL;
	FILE *f;
	int err = 0;

	f = fopen(cert, "r");
	if (!f)
		return config_fail(line, "cannot read certificate %s: %m",
				   cert, errno);

	x509 = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x509)
		return config_fail(line, "%s is not a PEM certificate (%s)",
				   cert, ssl_error());

	f = fopen(key ? key : cert, "r");
	if (!f) {
		err = config_fail(line, "cannot read key %s: %m", key, errno);
		goto out;
	}

	pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!pkey) {
		err = config_fail(line, "no PEM private key in %s (%s)",
				  key ? key : cert, ssl_error());
		goto out;
	}

	if (X509_check_private_key(x509, pkey) != 1) {
		err = config_fail(line, "the key %s does not match the"
				  " certificate %s", key ? key : cert, cert);
		goto out;
	}

	if (X509_cmp_current_time(X509_get0_notAfter(x509)) < 0) {
		err = config_fail(line, "the certificate %s has expired",
				  cert);
		goto out;
	}

 out:
	EVP_PKEY_free(pkey);
	X509_free(x509);

	return err;
}


/**
 * Check the CA file of a listen line: readable, with a PEM certificate
 *
 * @param line The line (for the error messages)
 * @param ca   PEM file with the CA certificates
 *
 * @return 0 if usable, otherwise EINVAL (reported)
 */
int tls_ca_check(const struct config_line *line, const char *ca)
{
	X509 *x509;
	FILE *f;

	f = fopen(ca, "r");
	if (!f)
		return config_fail(line, "cannot read ca %s: %m", ca, errno);

	x509 = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x509)
		return config_fail(line, "%s is not a PEM certificate (%s)",
				   ca, ssl_error());

	X509_free(x509);

	return 0;
}


/**
 * One PEM file with a certificate (chain) and its key, for libre: an
 * anonymous in-memory file, alive until tls_close()
 *
 * @param pathp Set to its path (/proc/self/fd/N), valid until tls_close()
 * @param cert  Certificate file
 * @param key   Key file, or NULL if the key is in the certificate file
 *
 * @return 0 if success, otherwise errorcode
 */
int tls_keyfile(const char **pathp, const char *cert, const char *key)
{
	struct mbuf *c = NULL, *k = NULL;
	struct keyfile *kf;
	int err;

	kf = mem_zalloc(sizeof(*kf), keyfile_destructor);
	if (!kf)
		return ENOMEM;

	kf->fd = -1;
	list_append(&keyfiles, &kf->le, kf);

	err = read_file(&c, cert);
	if (!err && key)
		err = read_file(&k, key);
	if (err)
		goto out;

	kf->fd = memfd_create("sipd-tls", MFD_CLOEXEC);
	if (kf->fd < 0) {
		err = errno;
		goto out;
	}

	if (write(kf->fd, c->buf, c->end) != (ssize_t)c->end ||
	    write(kf->fd, "\n", 1) != 1 ||
	    (k && write(kf->fd, k->buf, k->end) != (ssize_t)k->end)) {
		err = EIO;
		goto out;
	}

	re_snprintf(kf->path, sizeof(kf->path), "/proc/self/fd/%d", kf->fd);
	*pathp = kf->path;

 out:
	if (err)
		mem_deref(kf);

	mem_deref(c);
	mem_deref(k);

	return err;
}


static int verify_handler(int ok, X509_STORE_CTX *store)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(store,
				      SSL_get_ex_data_X509_STORE_CTX_idx());
	X509 *x509;
	char name[128] = "";

	/* connections sipd opens: a route's gets its own check
	   (tls_peer.c), the others are left unchecked, as libre has them */
	if (!ssl || !SSL_is_server(ssl) || ok)
		return 1;

	x509 = X509_STORE_CTX_get_current_cert(store);
	if (x509)
		(void)X509_NAME_oneline(X509_get_subject_name(x509), name,
					sizeof(name));

	log_info("tls: client certificate %s refused: %s\n", name,
		 X509_verify_cert_error_string(
			 X509_STORE_CTX_get_error(store)));

	return 0;
}


/**
 * Require client certificates signed by a CA of a file (verify=on)
 *
 * @param tls TLS context of a tls listener (its CAs loaded)
 * @param ca  The CA file, whose names are sent to the clients
 *
 * @return 0 if success, otherwise errorcode
 */
int tls_verify_clients(struct tls *tls, const char *ca)
{
	SSL_CTX *ctx = tls_openssl_context(tls);
	STACK_OF(X509_NAME) *names;

	if (!ctx || !ca)
		return EINVAL;

	names = SSL_load_client_CA_file(ca);
	if (names)
		SSL_CTX_set_client_CA_list(ctx, names);
	ERR_clear_error();

	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
			   SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_handler);

	return 0;
}


void tls_close(void)
{
	list_flush(&keyfiles);
}
