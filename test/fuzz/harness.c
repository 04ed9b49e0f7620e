/**
 * @file harness.c  The sipd core in the fuzzing harnesses' own process
 *
 * fuzz_core_start() writes a configuration into a temporary directory,
 * starts the core with the modules linked in (module_builtin_set) and a
 * fresh SQLite database, and registers two fixture contacts. Each input
 * then goes through the real receive path: a datagram to the UDP socket
 * or a TCP connection to the TCP socket on 127.0.0.1, read by libre,
 * decoded through sipd's decoder and dispatched to the roles.
 *
 * Nothing leaves the process: udp_send() and connect() are interposed
 * here (answers, forwarded requests and DNS queries are dropped,
 * outgoing connections refused), as sipd interposes its own libre
 * functions. tmr_jiffies() is interposed too: after each input the
 * clock jumps ahead until every transaction, DNS query and timer C has
 * ended, so that state does not grow from one input to the next. Bans
 * are lifted and the bindings restored to the fixture after each input.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <dlfcn.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <re.h>
#include "ops.h"
#include "digest/digest.h"
#include "proxy/engine.h"
#include "libre/libre.h"
#include "db/db.h"
#include "tlspeer/tlspeer.h"
#include "dns/dns.h"
#include "avail/avail.h"
#include "pool/pool.h"
#include "../../modules/guard/guard.h"
#include "harness.h"


enum {
	CLOCK_STEP  = 40000,     /* ms: more than timer B, F and H (32 s) */
	CLOCK_STEPS = 6,         /* 240 s: more than proxy_timer_c 180 s  */
	MAX_DATAGRAM = 65507,
};


static struct {
	bool started;
	bool send_ok;            /* only sipd's own start-up probe        */
	bool verbose;            /* FUZZ_VERBOSE set                      */
	uint64_t offset;         /* ms the clock has jumped               */
	char dir[64];
	uint16_t port_auth;      /* udp and tcp, authentication on        */
	uint16_t port_open;      /* udp and tcp, auth=off                 */
	int ready[2];            /* a pipe that is always readable        */
	int udp;                 /* the client's UDP socket               */
	bool delivering;         /* tcp_deliver() connects now            */
	struct tmr tmr;
} fz = {.ready = {-1, -1}, .udp = -1};


/* the modules, linked in; exports renamed by the Makefile */
extern const struct mod_export exports_auth, exports_eventlog,
	exports_guard, exports_location, exports_presence, exports_proxy,
	exports_redirect, exports_registrar, exports_stateless_proxy;

static const struct mod_export *const builtin[] = {
	&exports_auth, &exports_eventlog, &exports_guard, &exports_location,
	&exports_presence, &exports_proxy, &exports_redirect,
	&exports_registrar, &exports_stateless_proxy, NULL
};


/* --- interposed libre functions ---------------------------------------- */

/* FUZZ_VERBOSE: the first line of what would have been sent */
static void trace(const char *what, const struct sa *dst,
		  const struct mbuf *mb)
{
	const char *p = (const char *)mbuf_buf(mb);
	size_t n = mbuf_get_left(mb);
	const char *eol = memchr(p, '\r', n);

	(void)re_fprintf(stderr, "fuzz: %s %J: %b\n", what, dst, p,
			 eol ? (size_t)(eol - p) : n);
}


typedef int (udp_send_h)(struct udp_sock *us, const struct sa *dst,
			 struct mbuf *mb);

int udp_send(struct udp_sock *us, const struct sa *dst, struct mbuf *mb)
{
	static udp_send_h *real;

	if (!fz.send_ok || !sa_is_loopback(dst)) {
		if (fz.verbose)
			trace("udp to", dst, mb);
		return 0;
	}

	if (!real) {
		real = (udp_send_h *)dlsym(RTLD_NEXT, "udp_send");
		if (!real)
			return ENOSYS;
	}

	return real(us, dst, mb);
}


/* Outgoing connections are refused (libre's connect() of a forwarded
   request, a TCP DNS query): only tcp_deliver() connects */
int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	typedef int (connect_h)(int fd, const struct sockaddr *sa,
				socklen_t len);
	static connect_h *real;

	if (!fz.delivering) {
		errno = ECONNREFUSED;
		return -1;
	}

	if (!real) {
		real = (connect_h *)dlsym(RTLD_NEXT, "connect");
		if (!real) {
			errno = ENOSYS;
			return -1;
		}
	}

	return real(fd, sa, len);
}


uint64_t tmr_jiffies(void)
{
	struct timeval now;

	(void)gettimeofday(&now, NULL);

	return (uint64_t)now.tv_sec * 1000 + now.tv_usec / 1000 + fz.offset;
}


/* --- the main loop, one round at a time -------------------------------- */

static void ready_handler(int flags, void *arg)
{
	(void)flags;
	(void)arg;
}


static void stop_handler(void *arg)
{
	(void)arg;
	re_cancel();
}


/* One round of the loop: the always readable pipe keeps it from waiting */
static void loop_round(void)
{
	tmr_start(&fz.tmr, 0, stop_handler, NULL);
	(void)re_main(NULL);
}


static void loop_rounds(unsigned n)
{
	while (n--)
		loop_round();
}


/* Let every timer run out: transactions, DNS queries, timer C */
static void clock_run_out(void)
{
	unsigned i;

	for (i = 0; i < CLOCK_STEPS; i++) {
		fz.offset += CLOCK_STEP;
		loop_round();
	}
}


/* --- start ------------------------------------------------------------- */

/*
 * A port free for UDP and TCP, below the ephemeral range (32768 and up)
 * that the harness's own client sockets and other tests draw from
 */
static int free_port(uint16_t *port)
{
	struct sockaddr_in sin;
	int i, err = EADDRINUSE;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

	for (i = 0; i < 100 && err; i++) {
		int u = socket(AF_INET, SOCK_DGRAM, 0);
		int t = socket(AF_INET, SOCK_STREAM, 0);

		*port = 20000 + rand_u16() % 12000;
		sin.sin_port = htons(*port);

		err = u < 0 || t < 0 ||
			bind(u, (struct sockaddr *)&sin, sizeof(sin)) ||
			bind(t, (struct sockaddr *)&sin, sizeof(sin)) ?
			EADDRINUSE : 0;

		if (u >= 0)
			(void)close(u);
		if (t >= 0)
			(void)close(t);
	}

	return err;
}


static int conf_write(const char *path, const char *roles, const char *extra)
{
	/* the registrar keeps the fixture contacts on the open socket */
	const char *reg = strstr(roles, "registrar") ? "" : "registrar,";
	FILE *f = fopen(path, "w");
	int err;

	if (!f)
		return errno;

	err = re_fprintf(f,
		"domain example.com\n"
		"db %s/sipd.db\n"
		"db_sync normal\n"
		"log_level %s\n"
		"module location\n"
		"module auth\n"
		"listen udp:127.0.0.1:%u;roles=%s\n"
		"listen tcp:127.0.0.1:%u;roles=%s\n"
		"listen udp:127.0.0.1:%u;roles=%s%s;auth=off\n"
		"listen tcp:127.0.0.1:%u;roles=%s%s;auth=off\n"
		"dns_server 127.0.0.1:9\n"
		"control_socket off\n"
		"flood_exempt 127.0.0.0/8\n"
		"%s%s",
		fz.dir, getenv("FUZZ_VERBOSE") ? "debug" : "error",
		fz.port_auth, roles, fz.port_auth, roles,
		fz.port_open, reg, roles, fz.port_open, reg, roles,
		"registrar_nat_ping_interval 0\n",
		extra ? extra : "") < 0 ? EIO : 0;

	if (fclose(f) && !err)
		err = errno;

	return err;
}


static int account_add(const char *user, const char *password)
{
	uint8_t md5[DIGEST_MAX_SIZE], sha[DIGEST_MAX_SIZE];
	char sql[512];
	int err;

	err  = digest_ha1(md5, DIGEST_MD5, user, "example.com", password);
	err |= digest_ha1(sha, DIGEST_SHA256, user, "example.com", password);
	if (err)
		return err;

	re_snprintf(sql, sizeof(sql),
		    "INSERT INTO accounts (username, domain, ha1_md5,"
		    " ha1_sha256, created) VALUES ('%s', 'example.com',"
		    " X'%w', X'%w', 0);",
		    user, md5, digest_size(DIGEST_MD5),
		    sha, digest_size(DIGEST_SHA256));

	return db_exec(sql);
}


static int udp_deliver(uint16_t port, const uint8_t *data, size_t size)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);

	if (sendto(fz.udp, data, size, 0, (struct sockaddr *)&sin,
		   sizeof(sin)) < 0)
		return errno;

	loop_round();

	return 0;
}


static int tcp_deliver(uint16_t port, const uint8_t *data, size_t size)
{
	struct sockaddr_in sin;
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return errno;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);

	fz.delivering = true;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin))) {
		err = errno;
		fz.delivering = false;
		goto out;
	}
	fz.delivering = false;

	loop_round();          /* accepted */

	if (size && send(fd, data, size, MSG_NOSIGNAL) < 0)
		err = errno;

	loop_rounds(2);        /* read, handled */

	if (fz.verbose) {
		char buf[256];
		struct mbuf mb;
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		mbuf_init(&mb);
		mb.buf = (uint8_t *)buf;
		mb.end = mb.size = n > 0 ? (size_t)n : 0;
		trace("tcp answer", &(struct sa){.len = 0}, &mb);
	}

 out:
	(void)close(fd);
	loop_rounds(2);        /* closed */

	return err;
}


static const char fixture[] =
	"REGISTER sip:example.com SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKfixture%u\r\n"
	"Max-Forwards: 70\r\n"
	"From: <sip:%s@example.com>;tag=fx%u\r\n"
	"To: <sip:%s@example.com>\r\n"
	"Call-ID: fixture-%u@127.0.0.1\r\n"
	"CSeq: 1 REGISTER\r\n"
	"Contact: <sip:%s@127.0.0.1:5999%s>;expires=3600\r\n"
	"Content-Length: 0\r\n\r\n";


static int fixture_add(unsigned n, const char *user, const char *params)
{
	char msg[1024];
	int len;

	len = re_snprintf(msg, sizeof(msg), fixture, n, user, n, user, n,
			  user, params);
	if (len < 0)
		return ENOMEM;

	return udp_deliver(fz.port_open, (const uint8_t *)msg, len);
}


/**
 * Start the core with the roles given on every socket
 *
 * @param roles Roles of the listen lines, "registrar,proxy"
 * @param extra More configuration lines, or NULL
 *
 * @return 0 if success, otherwise errorcode
 */
int fuzz_core_start(const char *roles, const char *extra)
{
	const char *tmp = getenv("TMPDIR");
	char conf[96];
	int err;

	if (fz.started)
		return 0;

	err = libre_init();
	if (err)
		return err;

	fz.verbose = getenv("FUZZ_VERBOSE") != NULL;
	if (!fz.verbose)
		log_set_stderr(false);

	re_snprintf(fz.dir, sizeof(fz.dir), "%s/sipd-fuzz-XXXXXX",
		    tmp ? tmp : "/tmp");
	if (!mkdtemp(fz.dir))
		return errno;

	err  = free_port(&fz.port_auth);
	err |= free_port(&fz.port_open);
	if (err || fz.port_auth == fz.port_open)
		return EADDRINUSE;

	re_snprintf(conf, sizeof(conf), "%s/sipd.conf", fz.dir);
	err = conf_write(conf, roles, extra);
	if (err)
		return err;

	if (pipe(fz.ready))
		return errno;
	if (write(fz.ready[1], "x", 1) != 1)
		return EIO;
	err = fd_listen(fz.ready[0], FD_READ, ready_handler, NULL);
	if (err)
		return err;

	fz.udp = socket(AF_INET, SOCK_DGRAM, 0);
	if (fz.udp < 0)
		return errno;

	module_builtin_set(builtin);
	ops_register();
	db_part_register();
	tls_peer_part_register();
	dns_part_register();
	avail_part_register();
	pool_part_register();

	err = core_init(conf, false);
	if (err)
		goto out;

	err  = db_exec("PRAGMA synchronous = OFF;");
	err |= account_add("alice", "secret");
	err |= account_add("bob", "secret2");
	if (err)
		goto out;

	quiet_libre();

	fz.send_ok = true;     /* the start-up probe */
	err = core_start();
	loop_rounds(4);
	fz.send_ok = false;
	if (err)
		goto out;

	err  = fixture_add(1, "alice", "");
	err |= fixture_add(2, "bob", ";transport=tcp");
	if (err)
		goto out;

	err = db_exec("CREATE TEMP TABLE fixture AS SELECT * FROM bindings;");
	if (err)
		goto out;

	clock_run_out();

	fz.started = true;

 out:
	if (err)
		(void)fprintf(stderr, "fuzz: cannot start the core: %s\n",
			      strerror(err));
	return err;
}


/**
 * Hand an input to the core as a message from 127.0.0.1. Its length
 * picks the way in: UDP or TCP, to the socket with authentication or to
 * the one without (length modulo 4), so that every path stays reachable.
 *
 * @param data Message bytes
 * @param size Number of bytes
 */
void fuzz_core_input(const uint8_t *data, size_t size)
{
	uint16_t port = size & 1 ? fz.port_auth : fz.port_open;

	if (!fz.started)
		abort();

	if (size & 2 || size > MAX_DATAGRAM)
		(void)tcp_deliver(port, data, size);
	else
		(void)udp_deliver(port, data, size);

	clock_run_out();

	(void)bans_del_all();
	(void)db_exec("DELETE FROM bindings;"
		      "INSERT INTO bindings SELECT * FROM fixture;");
}


/**
 * Stop the core and remove the temporary directory (the replay driver;
 * libFuzzer never stops)
 */
void fuzz_core_stop(void)
{
	char path[128];

	if (!fz.started)
		return;

	core_close();
	mod_close();

	fd_close(fz.ready[0]);
	(void)close(fz.ready[0]);
	(void)close(fz.ready[1]);
	(void)close(fz.udp);
	tmr_cancel(&fz.tmr);

	libre_close();

	re_snprintf(path, sizeof(path), "%s/sipd.db", fz.dir);
	(void)unlink(path);
	re_snprintf(path, sizeof(path), "%s/sipd.db-journal", fz.dir);
	(void)unlink(path);
	re_snprintf(path, sizeof(path), "%s/sipd.conf", fz.dir);
	(void)unlink(path);
	(void)rmdir(fz.dir);

	fz.started = false;
}
