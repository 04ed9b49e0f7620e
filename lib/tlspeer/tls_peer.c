/**
 * @file tls_peer.c  The check of the servers sipd opens TLS connections to
 *
 * A TLS peer is what a connection to a server is checked against: the
 * CAs trusted (a CA file, or the system's store), the name its
 * certificate must carry (a DNS name or an IP address), or no check at
 * all. The proxy makes one for each static route over TLS; before it
 * sends through such a route, it says which peer the destination
 * address is (tls_peer_expect()), so that every TLS connection sipd
 * opens to that address afterwards, for the request or for its ACK or
 * CANCEL, is checked so. A connection to an address no route named is
 * left as libre has it.
 *
 * libre 1.1.0 gives no hook when its SIP transport opens a TLS
 * connection: the libre layer hands over the connection's SSL object
 * (core/libre/ssl.c), and its check is set here on the object alone,
 * with the peer's own store, whatever the listener's context has. A
 * certificate refused ends the handshake: libre closes the connection
 * and the request fails as on any transport error (the proxy answers
 * 503); the log names the route, the address and OpenSSL's reason.
 *
 * A service above the core, linked once into sipd (its symbols exported
 * to the modules, whose two proxy roles share it); the daemon registers
 * it as a part of the core, closed once the sockets are.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdio.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <re.h>
#include "core.h"
#include "libre/libre.h"
#include "tlspeer/tlspeer.h"


enum {
	EXPECT_HASH_SIZE = 64,
	EXPECT_MAX = 1024,        /* addresses remembered, oldest go first */
};


/** What the servers of one route are checked against */
struct tls_peer {
	char *label;              /* "route PATTERN>HOST (FILE:LINE)"  */
	char *name;               /* expected name, NULL: none         */
	bool name_ip;             /* the name is an IP address         */
	X509_STORE *store;        /* NULL when not checked             */
	bool verify;
};

/** An address a peer was expected at */
struct expect {
	struct le he;
	struct le le;
	struct sa dst;
	struct tls_peer *peer;
};

/** The check of one SSL object (its ex_data) */
struct tls_out {
	struct tls_peer *peer;
	struct sa dst;
};


static struct {
	struct hash *by_dst;      /* struct expect */
	struct list order;        /* struct expect, oldest first */
	int ex_index;
	bool ex_index_set;
} tp;


static void peer_destructor(void *arg)
{
	struct tls_peer *p = arg;

	X509_STORE_free(p->store);
	mem_deref(p->label);
	mem_deref(p->name);
}


static void expect_destructor(void *arg)
{
	struct expect *e = arg;

	hash_unlink(&e->he);
	list_unlink(&e->le);
	mem_deref(e->peer);
}


static void out_destructor(void *arg)
{
	struct tls_out *out = arg;

	mem_deref(out->peer);
}


/* OpenSSL frees the ex_data of an SSL object with it */
static void out_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
		     long argl, void *argp)
{
	mem_deref(ptr);
}


static const char *ssl_reason(void)
{
	static char buf[256];
	unsigned long e = ERR_get_error();

	if (!e)
		return "no certificate found";

	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();

	return buf;
}


static int store_load(X509_STORE **storep, const struct config_line *line,
		      const char *ca)
{
	X509_STORE *store;
	FILE *f;

	if (ca) {
		f = fopen(ca, "r");
		if (!f)
			return config_fail(line, "cannot read ca %s: %m", ca,
					   errno);
		fclose(f);
	}

	store = X509_STORE_new();
	if (!store)
		return ENOMEM;

	ERR_clear_error();

	if (ca && X509_STORE_load_locations(store, ca, NULL) != 1) {
		X509_STORE_free(store);
		return config_fail(line, "no PEM certificate in ca %s (%s)",
				   ca, ssl_reason());
	}

	if (!ca && X509_STORE_set_default_paths(store) != 1) {
		X509_STORE_free(store);
		return config_fail(line, "cannot load the system's CA"
				   " certificates (%s)", ssl_reason());
	}

	*storep = store;

	return 0;
}


/**
 * Make a TLS peer: what the servers of a route are checked against
 *
 * @param pp     Pointer to the new peer
 * @param line   The configuration line (for the error messages)
 * @param label  How the log names it ("route a>b (file:line)")
 * @param name   The name the certificate must carry (DNS name or IP
 *               address), or NULL when verify is false
 * @param ca     CA file to trust, NULL for the system's CA store
 * @param verify False: no check at all
 *
 * @return 0 if success, otherwise errorcode (a bad CA file reported with
 *         config_fail())
 */
int tls_peer_alloc(struct tls_peer **pp, const struct config_line *line,
		   const char *label, const char *name, const char *ca,
		   bool verify)
{
	struct tls_peer *p;
	struct sa sa;
	int err;

	if (!pp || !label || (verify && !name))
		return EINVAL;

	p = mem_zalloc(sizeof(*p), peer_destructor);
	if (!p)
		return ENOMEM;

	p->verify = verify;
	err = str_dup(&p->label, label);
	if (!err && name) {
		err = str_dup(&p->name, name);
		p->name_ip = !sa_set_str(&sa, name, 0);
	}
	if (err)
		goto out;

	if (verify) {
		err = store_load(&p->store, line, ca);
		if (err)
			goto out;
	}

 out:
	if (err)
		mem_deref(p);
	else
		*pp = p;

	return err;
}


static bool expect_cmp(struct le *le, void *arg)
{
	const struct expect *e = le->data;

	return sa_cmp(&e->dst, arg, SA_ALL);
}


static struct expect *expect_find(const struct sa *dst)
{
	if (!tp.by_dst)
		return NULL;

	return list_ledata(hash_lookup(tp.by_dst, sa_hash(dst, SA_ALL),
				       expect_cmp, (void *)dst));
}


static int verify_handler(int ok, X509_STORE_CTX *store)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(store,
				      SSL_get_ex_data_X509_STORE_CTX_idx());
	const struct tls_out *out;
	X509 *x509;
	char subject[128] = "";
	int err;

	if (ok || !ssl)
		return ok;

	out = SSL_get_ex_data(ssl, tp.ex_index);
	if (!out)
		return ok;

	err = X509_STORE_CTX_get_error(store);
	x509 = X509_STORE_CTX_get_current_cert(store);
	if (x509)
		(void)X509_NAME_oneline(X509_get_subject_name(x509), subject,
					sizeof(subject));

	log_warning("tls: %s: the certificate of %J refused: %s"
		    " (certificate %s, expected name %s)\n", out->peer->label,
		    &out->dst, X509_verify_cert_error_string(err),
		    subject[0] ? subject : "none", out->peer->name);

	return 0;
}


/* The SSL object of a connection sipd opens to dst: its check */
static int client_setup(SSL *ssl, const struct sa *dst)
{
	const struct expect *e = expect_find(dst);
	const struct tls_peer *p;
	X509_VERIFY_PARAM *param;
	struct tls_out *out;

	if (!e)
		return 0;

	p = e->peer;

	if (p->name && !p->name_ip &&
	    SSL_set_tlsext_host_name(ssl, p->name) != 1) {
		ERR_clear_error();
		return EPROTO;
	}

	if (!p->verify) {
		SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
		return 0;
	}

	out = mem_zalloc(sizeof(*out), out_destructor);
	if (!out)
		return ENOMEM;

	out->peer = mem_ref(e->peer);
	out->dst = *dst;

	if (SSL_set_ex_data(ssl, tp.ex_index, out) != 1) {
		mem_deref(out);
		ERR_clear_error();
		return ENOMEM;
	}

	param = SSL_get0_param(ssl);
	if (SSL_set1_verify_cert_store(ssl, p->store) != 1 ||
	    (p->name_ip &&
	     X509_VERIFY_PARAM_set1_ip_asc(param, p->name) != 1) ||
	    (!p->name_ip &&
	     X509_VERIFY_PARAM_set1_host(param, p->name, 0) != 1)) {
		ERR_clear_error();
		return EPROTO;   /* SSL_free() frees out */
	}

	X509_VERIFY_PARAM_set_hostflags(param,
				X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	SSL_set_verify(ssl, SSL_VERIFY_PEER, verify_handler);

	return 0;
}


/**
 * Check every TLS connection sipd opens to an address against a peer,
 * from now on (until another peer is expected there)
 *
 * @param dst  The address (IP and port) the proxy sends to
 * @param peer The peer, whose route sends there
 *
 * @return 0 if success, otherwise errorcode
 */
int tls_peer_expect(const struct sa *dst, struct tls_peer *peer)
{
	struct expect *e;
	int idx;

	if (!dst || !peer)
		return EINVAL;

	if (!tp.ex_index_set) {
		idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, out_free);
		if (idx < 0)
			return ENOMEM;
		tp.ex_index = idx;
		tp.ex_index_set = true;
	}

	if (!tp.by_dst && hash_alloc(&tp.by_dst, EXPECT_HASH_SIZE))
		return ENOMEM;

	libre_tls_client_hook(client_setup);

	e = expect_find(dst);
	if (e) {
		if (e->peer != peer) {
			mem_deref(e->peer);
			e->peer = mem_ref(peer);
		}
		return 0;
	}

	if (list_count(&tp.order) >= EXPECT_MAX)
		mem_deref(list_ledata(list_head(&tp.order)));

	e = mem_zalloc(sizeof(*e), expect_destructor);
	if (!e)
		return ENOMEM;

	e->dst = *dst;
	e->peer = mem_ref(peer);
	hash_append(tp.by_dst, sa_hash(dst, SA_ALL), &e->he, e);
	list_append(&tp.order, &e->le, e);

	return 0;
}


static void tls_peer_close(void)
{
	libre_tls_client_hook(NULL);
	list_flush(&tp.order);
	tp.by_dst = mem_deref(tp.by_dst);
}


static struct core_part tls_peer_part = {
	.name = "tls_peer",
	.unloadh = tls_peer_close,
};


/**
 * Register the checks of TLS servers with the core (before core_init)
 */
void tls_peer_part_register(void)
{
	core_part_register(&tls_peer_part);
}
