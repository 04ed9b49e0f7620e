/**
 * @file core.h  Internal interface of the sipd core
 *
 * Copyright (C) 2026 sipd developers
 */

#ifndef SIPD_CORE_H
#define SIPD_CORE_H

#include "sipd.h"


/* config.c */
struct config;
int  config_load(const char *path);
int  config_load_buf(const char *name, const char *buf);
int  config_read(struct config **cp, const char *path);
int  config_read_buf(struct config **cp, const char *name, const char *buf);
struct config *config_swap(struct config *c);
struct config *config_current(void);
void config_unload(void);
int  config_check_unused(const struct config *known);
int  config_errors(void);
void config_capture(struct mbuf *mb);
bool config_differs(const struct config *a, const struct config *b,
		    const char *key);
void config_unread(const struct config *old, config_line_h *h, void *arg);


/* reload.c */
enum config_phase {
	CONFIG_START,      /* apply every key                  */
	CONFIG_CHECK,      /* check every key, apply none      */
	CONFIG_LIVE,       /* apply the keys a reload applies  */
};

typedef int (reload_core_h)(enum config_phase phase);

int  reload_init(const char *path, reload_core_h *coreh,
		 const char *const *restart_keys);
int  reload_config(struct config *fresh, struct mbuf *report);
int  reload_run(struct mbuf *report);
size_t reload_diff(struct mbuf *report, const struct config *boot,
		   const struct config *fresh);
const char *reload_pending(void);
const char *reload_file(void);
uint32_t reload_count(int64_t *last);
int  reload_signal_start(void);
void reload_close(void);


/* workers.c */
enum {
	WORKERS_MAX = 64,
};

/** A worker of the set, in memory the master and the workers share */
struct worker_slot {
	pid_t pid;
};

int  workers_config(bool apply);
uint32_t workers_count(void);
void workers_share(struct worker_slot *slots, int index);
int  worker_pid(uint32_t i);
int  worker_of_branch(const struct pl *branch);


/* reuseport.c */
void reuseport_next(bool on, bool steer);


/* path.c */
int  path_init(void);
int  path_mkdir(const char *file, unsigned mode);


/* stats.c */
enum stats_counter {
	STATS_MALFORMED = 0,
	STATS_SEND_ERRORS,
	STATS_JUNK,
	STATS_OVER_LIMITS,
	STATS_MESSAGE_TIMEOUTS,
	STATS_COUNTERS
};

/* Figures of the core's parts, registered by them (stats_register) */
#define STAT_HANDOFFS_RECEIVED "handoffs_received"
#define STAT_DB_CHECKPOINTS    "db_checkpoints"

/** One value of a figure, as stats_walk() gives it */
struct stat_value {
	const char *name;          /**< Figure name, "requests_received" */
	const char *help;
	enum stat_kind kind;
	const char *label;         /**< Label name ("method") or NULL    */
	const char *lval;          /**< Label value ("INVITE")           */
	const char *label2;        /**< A second label, or NULL          */
	const char *lval2;         /**< Its value                        */
	uint64_t value;
	bool known;                /**< False: no module provides it     */
};

typedef int (stat_value_h)(const struct stat_value *v, void *arg);

void stats_init(void);
void stats_count(enum stats_counter c);
void stats_received(const struct sip_msg *msg);
void stats_unreceived(const struct sip_msg *msg);
void stats_sent(const struct mbuf *mb);
int  stats_walk(stat_value_h *h, void *arg);
int64_t stats_started(void);
void stats_close(void);


/* log.c */
int  log_level_parse(enum log_level *level, const char *str);
void log_set_level(enum log_level level);
void log_use_syslog(bool enable);
void log_set_stderr(bool enable);
void log_set_ident(const char *ident);


/* listen.c: the DNS client of the sockets, from a part above */
struct dnsc;
typedef int (listen_dnsc_h)(struct dnsc **dnscp);
void listen_dnsc_provider(listen_dnsc_h *alloch);
void listen_dnsc_want(void);


/* domain.c */
int  domain_config(bool apply);
void domain_close(void);


/* listen.c */
struct role_ref {
	struct le le;
	char *name;
	const struct role *role;
	const struct config_line *line;
};

struct sipd_sock {
	struct le le;
	struct sip_inst *inst;
	uint32_t index;
	struct sa laddr;
	enum sip_transp tp;
	char name[80];
	struct list roles;            /* struct role_ref */
	bool auth;
	enum sock_nat nat;            /* bindings behind a NAT */
	bool any_method;              /* a role takes methods sipd does not know */
	char *allow;
	const struct config_line *line;
};

typedef bool (sock_apply_h)(const struct sipd_sock *sock, void *arg);

/** One libre SIP instance: every transport of one local address */
struct sip_inst {
	struct le le;
	struct sa laddr;
	struct sip *sip;
	struct sip_lsnr *lsnr_req;
	struct sip_lsnr *lsnr_resp;
	struct list socks;            /* struct sipd_sock (le) */
	char probe[40];
};


int  listen_config(bool apply);
int  listen_modules(struct list *names);
int  listen_services_missing(struct list *names);
int  listen_resolve_roles(void);
int  listen_check_needs(void);
int  listen_start(void);
void listen_close(void);


/* sock.c */
struct list *sock_insts(void);
struct sip_inst *inst_find(const struct sa *laddr);
struct sipd_sock *inst_sock(const struct sip_inst *inst, enum sip_transp tp);
void sock_apply(sock_apply_h *h, void *arg);


/* dispatch.c */
bool dispatch_request(struct sipd_sock *sock, const struct sip_msg *msg);


/* filter.c */
bool filter_flood(const struct sa *src, bool options);
bool filter_request(const struct sip_msg *msg);


/* validate.c */
int validate_request(const struct sip_msg *msg, bool any_method,
		     const char **reason);
bool validate_port_bad(const struct pl *sentby);
bool validate_framing_broken(const struct sip_msg *msg);


/* raw.c: header lines of a raw message */
struct raw_hdr {
	struct pl name;
	struct pl val;
	struct pl line;      /* whole line without CRLF */
};

bool raw_is_hdr(const struct pl *name, const char *full, char compact);
size_t raw_headers(struct raw_hdr *hv, size_t hc, const char *p, size_t l,
		   size_t *hdrend);
const struct raw_hdr *raw_find(const struct raw_hdr *hv, size_t hc,
			       const char *full, char compact);


/* wire.c */
struct udp_sock;
int  wire_attach_udp(struct udp_sock *us, struct sipd_sock *sock);
int  wire_feed(const struct sipd_sock *sock, const struct sa *src,
	       struct mbuf *mb);
void wire_init(void);
void wire_interposed(void);
void wire_close(void);


/* owner.c: a UDP response for another worker's transaction goes to it */
typedef int (owner_handoff_h)(uint32_t worker, const struct sipd_sock *sock,
			      const struct sa *src, const struct mbuf *mb);

bool owner_elsewhere(const struct sipd_sock *sock, const struct sa *src,
		     const struct mbuf *mb);
void owner_handoff_set(owner_handoff_h *h);


/* role.c */
enum {
	METHODS_KNOWN = 14,
};

const struct role *role_find(const char *name);
unsigned method_index(const struct pl *met);
const char *method_name(unsigned i);
bool role_takes(const struct role *role, const char *met, size_t len);
bool method_known(const struct pl *met);
bool role_response(struct sipd_sock *sock, const struct sip_msg *msg);


/* module.c */
int  module_path_set(const char *path);
void module_builtin_set(const struct mod_export *const *list);
int  module_config(bool apply);
int  module_add(const char *name);
int  module_roles_add(const struct list *names);
int  module_services_add(const struct list *names);
bool module_available(const char *name);
int  module_load_all(void);
void module_unload_all(void);
bool service_available(const char *name);


/* tls.c */
int  tls_files_check(const struct config_line *line, const char *cert,
		     const char *key);
int  tls_keyfile(const char **pathp, const char *cert, const char *key);
int  tls_ca_check(const struct config_line *line, const char *ca);
int  tls_verify_clients(struct tls *tls, const char *ca);
void tls_close(void);


/* limits.c */
int  limits_config(bool apply);
int  limits_check(const struct sip_msg *msg, const char **reason);


/* location.c / account.c / auth.c */
bool location_available(void);
bool account_available(void);
bool auth_available(void);


/* core.c */

/** A part of the program above the core, with keys and a start */
struct core_part {
	struct le le;
	const char *name;
	int  (*configh)(bool apply);  /**< Read its keys, or NULL          */
	bool live;                    /**< A reload applies its keys      */
	int  (*starth)(void);         /**< Start, or NULL                 */
	bool start_first;             /**< Before the sockets open        */
	void (*stoph)(void);          /**< Stop (before the sockets)      */
	int  (*openh)(bool check_only);/**< Open, once the modules load    */
	void (*unloadh)(void);        /**< Before the modules unload      */
	void (*closeh)(void);         /**< After the modules unload       */
};

void core_part_register(struct core_part *part);
int  core_config(enum config_phase phase);
const char *const *core_restart_keys(void);
int  core_init(const char *conf_path, bool check_only);
int  core_start(void);
void core_close(void);

#endif
