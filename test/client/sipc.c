/**
 * @file sipc.c  A small SIP client on libre, for the integration tests
 *
 * It sends one request through libre's client transaction layer
 * (retransmissions, digest auth with libre's own sip_auth), prints the
 * final response's status line and headers, and exits:
 *
 *   sipc [options] register SERVER AOR [CONTACT]
 *   sipc [options] request METHOD SERVER REQUEST-URI
 *
 * Options: -u USER -p PASSWORD (credentials), -e EXPIRES, -t udp|tcp,
 *          -a USER-AGENT, -i CALL-ID, -n CSEQ, -H "Header: value",
 *          -F FROM-URI (default: the To URI).
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <getopt.h>
#include <re.h>


enum {
	TIMEOUT_MS = 20000,
};


static struct {
	struct sip *sip;
	struct sip_auth *auth;
	struct sip_request *req;
	struct sa server;
	struct uri route;
	enum sip_transp tp;
	const char *user;
	const char *password;
	const char *agent;
	const char *method;
	const char *ruri;
	const char *to;
	const char *from;
	const char *contact;
	const char *extra;
	char callid[64];
	char ftag[32];
	uint32_t cseq;
	int expires;
	int status;
	int tries;
	struct tmr tmr;
} c = {
	.tp = SIP_TRANSP_UDP,
	.agent = "sipd-test-client (libre)",
	.cseq = 1,
	.expires = -1,
	.status = 0,
};


static int auth_handler(char **user, char **pass, const char *realm,
			void *arg)
{
	(void)realm;
	(void)arg;

	if (!c.user || !c.password)
		return EAUTH;

	if (str_dup(user, c.user) || str_dup(pass, c.password))
		return ENOMEM;

	return 0;
}


static int send_request(void);


static void print_response(const struct sip_msg *msg)
{
	struct le *le;

	(void)re_printf("SIP/2.0 %u %r\n", msg->scode, &msg->reason);

	for (le = msg->hdrl.head; le; le = le->next) {
		const struct sip_hdr *hdr = le->data;

		(void)re_printf("%r: %r\n", &hdr->name, &hdr->val);
	}
}


static void resp_handler(int err, const struct sip_msg *msg, void *arg)
{
	(void)arg;

	if (err) {
		(void)re_fprintf(stderr, "sipc: %m\n", err);
		c.status = 1000 + err;
		re_cancel();
		return;
	}

	if (msg->scode < 200)
		return;

	if ((msg->scode == 401 || msg->scode == 407) && c.tries++ < 2 &&
	    c.user) {
		err = sip_auth_authenticate(c.auth, msg);
		if (!err) {
			++c.cseq;
			err = send_request();
			if (!err)
				return;
		}
		(void)re_fprintf(stderr, "sipc: cannot authenticate: %m\n",
				 err);
	}

	print_response(msg);
	c.status = msg->scode;
	re_cancel();
}


static int send_request(void)
{
	char expires[32] = "";

	if (c.expires >= 0)
		re_snprintf(expires, sizeof(expires), "Expires: %d\r\n",
			    c.expires);

	return sip_requestf(&c.req, c.sip, true, c.method, c.ruri, &c.route,
			    c.auth, NULL, resp_handler, NULL,
			    "To: <%s>\r\n"
			    "From: <%s>;tag=%s\r\n"
			    "Call-ID: %s\r\n"
			    "CSeq: %u %s\r\n"
			    "User-Agent: %s\r\n"
			    "%s%s%s"
			    "%s"
			    "%s%s"
			    "Content-Length: 0\r\n\r\n",
			    c.to, c.from ? c.from : c.to, c.ftag, c.callid,
			    c.cseq, c.method,
			    c.agent,
			    c.contact ? "Contact: " : "",
			    c.contact ? c.contact : "",
			    c.contact ? "\r\n" : "",
			    expires,
			    c.extra ? c.extra : "", c.extra ? "\r\n" : "");
}


static void timeout_handler(void *arg)
{
	(void)arg;

	(void)re_fprintf(stderr, "sipc: no final response\n");
	c.status = 408;
	re_cancel();
}


static void usage(void)
{
	(void)fprintf(stderr,
		"usage: sipc [-u USER -p PASSWORD] [-e EXPIRES] [-t udp|tcp]"
		" [-a AGENT] [-i CALLID] [-n CSEQ] [-H HEADER] [-F FROM]\n"
		"            register SERVER AOR [CONTACT]\n"
		"            request METHOD SERVER REQUEST-URI\n");
}


int main(int argc, char *argv[])
{
	static char to[256], ruri[256], route[128];
	struct sa laddr;
	struct pl rpl;
	const char *server;
	int ch, err;

	while ((ch = getopt(argc, argv, "u:p:e:t:a:i:n:H:F:")) != -1) {
		switch (ch) {

		case 'u': c.user = optarg; break;
		case 'p': c.password = optarg; break;
		case 'e': c.expires = atoi(optarg); break;
		case 'a': c.agent = optarg; break;
		case 'i': str_ncpy(c.callid, optarg, sizeof(c.callid)); break;
		case 'n': c.cseq = (uint32_t)atoi(optarg); break;
		case 'H': c.extra = optarg; break;
		case 'F': c.from = optarg; break;
		case 't':
			c.tp = !strcmp(optarg, "tcp") ? SIP_TRANSP_TCP :
				SIP_TRANSP_UDP;
			break;
		default:
			usage();
			return 2;
		}
	}

	argc -= optind;
	argv += optind;

	if (argc >= 3 && !strcmp(argv[0], "register")) {
		server = argv[1];
		c.method = "REGISTER";
		re_snprintf(to, sizeof(to), "sip:%s", argv[2]);
		c.to = to;
		re_snprintf(ruri, sizeof(ruri), "sip:%s",
			    strrchr(argv[2], '@') + 1);
		c.contact = argc >= 4 ? argv[3] : NULL;
	}
	else if (argc == 4 && !strcmp(argv[0], "request")) {
		c.method = argv[1];
		server = argv[2];
		str_ncpy(ruri, argv[3], sizeof(ruri));
		c.to = ruri;
	}
	else {
		usage();
		return 2;
	}

	if (libre_init())
		return 1;

	err = sa_decode(&c.server, server, strlen(server));
	if (err) {
		(void)fprintf(stderr, "sipc: bad server address %s\n", server);
		return 2;
	}

	if (!c.callid[0])
		rand_str(c.callid, 20);
	rand_str(c.ftag, 12);

	c.ruri = ruri;

	err  = sip_alloc(&c.sip, NULL, 32, 32, 32, c.agent, NULL, NULL);
	sa_set_str(&laddr, "127.0.0.1", 0);
	if (sa_af(&c.server) == AF_INET6)
		sa_set_str(&laddr, "::1", 0);
	err |= sip_transp_add(c.sip, SIP_TRANSP_UDP, &laddr);
	err |= sip_transp_add(c.sip, SIP_TRANSP_TCP, &laddr);
	err |= sip_auth_alloc(&c.auth, auth_handler, NULL, false);
	if (err) {
		(void)re_fprintf(stderr, "sipc: set-up failed: %m\n", err);
		return 1;
	}

	/* a route to the server, with the transport asked for */
	re_snprintf(route, sizeof(route), "sip:%J;transport=%s;lr",
		    &c.server, c.tp == SIP_TRANSP_TCP ? "tcp" : "udp");
	pl_set_str(&rpl, route);
	err = uri_decode(&c.route, &rpl);
	if (!err)
		err = send_request();
	if (err) {
		(void)re_fprintf(stderr, "sipc: request failed: %m\n", err);
		return 1;
	}

	tmr_start(&c.tmr, TIMEOUT_MS, timeout_handler, NULL);

	(void)re_main(NULL);

	tmr_cancel(&c.tmr);
	c.req = mem_deref(c.req);
	c.auth = mem_deref(c.auth);
	sip_close(c.sip, true);
	c.sip = mem_deref(c.sip);
	libre_close();

	return c.status >= 200 && c.status < 300 ? 0 :
		(c.status >= 300 && c.status < 700 ? 3 : 1);
}
