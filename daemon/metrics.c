/**
 * @file metrics.c  The figures of the status over HTTP, for Prometheus
 *
 *   metrics_listen IP:PORT|off     default off
 *   metrics_allow_remote on|off    default off: loopback addresses only
 *
 * GET /metrics answers the Prometheus text exposition format 0.0.4: the
 * figures of stats.c named sipd_<name>, counters ending in _total, a
 * labelled figure as one series per label value (or pair of values:
 * sipd_pool_member_up{pool="gw",member="sip:..."}), and one
 * sipd_socket_info series per listening socket. Other paths get 404,
 * other methods 405. There is no authentication: keep it on loopback,
 * or behind a firewall with metrics_allow_remote.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include "ops.h"


static struct {
	struct sa laddr;
	bool on;
	const struct config_line *line;
	struct http_sock *hs;
} mx;


/**
 * Read the metrics_listen and metrics_allow_remote keys
 *
 * @param apply True to use them at start, false to check them
 *
 * @return 0 if success, otherwise errorcode
 */
int metrics_config(bool apply)
{
	const struct config_line *line = config_find("metrics_listen");
	bool remote = false;
	struct sa laddr;
	int err;

	err = config_bool("metrics_allow_remote", &remote);
	if (err)
		return err;

	if (!line || !str_casecmp(line->val, "off")) {
		if (apply)
			mx.on = false;
		return 0;
	}

	if (sa_decode(&laddr, line->val, strlen(line->val)) ||
	    !sa_port(&laddr))
		return config_fail(line, "'%s' is not IP:PORT (IPv6 as"
				   " [ADDR]:PORT) or off", line->val);

	if (!remote && !sa_is_loopback(&laddr))
		return config_fail(line, "%j is not a loopback address: the"
				   " metrics have no authentication (set"
				   " metrics_allow_remote on to allow it)",
				   &laddr);

	if (apply) {
		mx.laddr = laddr;
		mx.on = true;
		mx.line = line;
	}

	return 0;
}


static int print_value(struct re_printf *pf, const struct stat_value *v)
{
	const char *suffix = v->kind == STAT_COUNTER ? "_total" : "";

	if (v->label2)
		return re_hprintf(pf, "sipd_%s%s{%s=\"%s\",%s=\"%s\"} %llu\n",
				  v->name, suffix, v->label, v->lval,
				  v->label2, v->lval2,
				  (unsigned long long)v->value);

	if (v->label)
		return re_hprintf(pf, "sipd_%s%s{%s=\"%s\"} %llu\n", v->name,
				  suffix, v->label, v->lval,
				  (unsigned long long)v->value);

	return re_hprintf(pf, "sipd_%s%s %llu\n", v->name, suffix,
			  (unsigned long long)v->value);
}


struct expo {
	struct re_printf *pf;
	char last[48];             /* name of the last HELP written */
};


static int value_handler(const struct stat_value *v, void *arg)
{
	struct expo *e = arg;
	int err = 0;

	/* a figure no loaded module provides has no series */
	if (!v->known)
		return 0;

	if (strcmp(e->last, v->name)) {
		const char *suffix = v->kind == STAT_COUNTER ? "_total" : "";

		err  = re_hprintf(e->pf, "# HELP sipd_%s%s %s\n", v->name,
				  suffix, v->help);
		err |= re_hprintf(e->pf, "# TYPE sipd_%s%s %s\n", v->name,
				  suffix, v->kind == STAT_COUNTER ?
				  "counter" : "gauge");
		str_ncpy(e->last, v->name, sizeof(e->last));
	}

	return err | print_value(e->pf, v);
}


static bool sock_handler(const struct sipd_sock *sock, void *arg)
{
	struct re_printf *pf = arg;
	struct le *le;
	int err;

	err = re_hprintf(pf, "sipd_socket_info{socket=\"%s\",roles=\"",
			 sock->name);

	for (le = sock->roles.head; le; le = le->next) {
		const struct role_ref *ref = le->data;

		err |= re_hprintf(pf, "%s%s", le->prev ? "," : "", ref->name);
	}

	err |= re_hprintf(pf, "\",auth=\"%s\"} 1\n",
			  sock->auth ? "on" : "off");

	return err != 0;
}


/**
 * Print the figures in the Prometheus text format
 *
 * @param pf Print handler
 *
 * @return 0 if success, otherwise errorcode
 */
int metrics_print(struct re_printf *pf)
{
	struct expo e;
	int err;

	memset(&e, 0, sizeof(e));
	e.pf = pf;

	err = re_hprintf(pf, "# HELP sipd_info The version of sipd\n"
			 "# TYPE sipd_info gauge\n"
			 "sipd_info{version=\"%s\"} 1\n", SIPD_VERSION);
	if (err)
		return err;

	err = stats_walk(value_handler, &e);
	if (err)
		return err;

	err = re_hprintf(pf, "# HELP sipd_socket_info A listening socket and"
			 " its roles\n"
			 "# TYPE sipd_socket_info gauge\n");
	if (!err)
		sock_apply(sock_handler, pf);

	return err;
}


static int metrics_printer(struct re_printf *pf, void *arg)
{
	(void)arg;

	return metrics_print(pf);
}


static void request_handler(struct http_conn *conn,
			    const struct http_msg *msg, void *arg)
{
	(void)arg;

	if (pl_strcmp(&msg->met, "GET")) {
		(void)http_reply(conn, 405, "Method Not Allowed",
				 "Allow: GET\r\n"
				 "Content-Length: 0\r\n\r\n");
		return;
	}

	if (pl_strcmp(&msg->path, "/metrics")) {
		(void)http_ereply(conn, 404, "Not Found");
		return;
	}

	(void)http_creply(conn, 200, "OK",
			  "text/plain; version=0.0.4; charset=utf-8",
			  "%H", metrics_printer, NULL);
}


/**
 * Open the metrics socket, when configured
 *
 * @return 0 if success, otherwise errorcode (reported)
 */
int metrics_start(void)
{
	int err;

	if (!mx.on)
		return 0;

	err = http_listen(&mx.hs, &mx.laddr, request_handler, NULL);
	if (err)
		return config_fail(mx.line, "cannot listen on %J: %m",
				   &mx.laddr, err);

	log_info("metrics on http://%J/metrics\n", &mx.laddr);

	return 0;
}


void metrics_close(void)
{
	mx.hs = mem_deref(mx.hs);
	mx.on = false;
	mx.line = NULL;
}
