/**
 * @file sipd.h  The interface between the sipd core and its modules
 *
 * Modules include this header only. They register static structs (first
 * member a struct le) into the core's registries and reach shared services
 * through the core's facades; they never call each other.
 *
 * Copyright (C) 2026 sipd developers
 */

#ifndef SIPD_H
#define SIPD_H

#include <stdarg.h>
#include <stdint.h>
#include <stdbool.h>
#include <re.h>

#ifndef SIPD_VERSION
#define SIPD_VERSION "0.1.0"
#endif

struct sipd_sock;
struct sqlite3;
struct sqlite3_stmt;


/* --- Logging ----------------------------------------------------------- */

enum log_level {
	LOG_LEVEL_DEBUG = 0,
	LOG_LEVEL_INFO,
	LOG_LEVEL_NOTICE,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_ERROR,
};

void log_printf(enum log_level level, const char *fmt, ...);
void log_vprintf(enum log_level level, const char *fmt, va_list ap);
bool log_enabled(enum log_level level);

typedef void (log_sink_h)(enum log_level level, const char *line,
			  void *arg);

/** A destination of log lines besides stderr and syslog */
struct log_sink {
	struct le le;
	log_sink_h *h;
	void *arg;
};

void log_sink_register(struct log_sink *sink);
void log_sink_unregister(struct log_sink *sink);

#define log_debug(...)   log_printf(LOG_LEVEL_DEBUG,   __VA_ARGS__)
#define log_info(...)    log_printf(LOG_LEVEL_INFO,    __VA_ARGS__)
#define log_notice(...)  log_printf(LOG_LEVEL_NOTICE,  __VA_ARGS__)
#define log_warning(...) log_printf(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_error(...)   log_printf(LOG_LEVEL_ERROR,   __VA_ARGS__)


/* --- Configuration ----------------------------------------------------- */

/** One "key value" line of the configuration file */
struct config_line {
	struct le le;
	char *key;
	char *val;
	unsigned lineno;
	bool used;
};

typedef int (config_line_h)(const struct config_line *line, void *arg);

const struct config_line *config_find(const char *key);
int  config_u32(const char *key, uint32_t *val, uint32_t min, uint32_t max);
int  config_bool(const char *key, bool *val);
int  config_str(const char *key, char **strp);
int  config_apply(const char *key, config_line_h *h, void *arg);
int  config_apply_words(const char *key, config_line_h *h, void *arg);
int  config_fail(const struct config_line *line, const char *fmt, ...);
int  config_parse_bool(bool *val, const char *str);
int  path_absolute(char **pathp, const char *path);
const char *config_path(void);


/* --- Configuration reload ---------------------------------------------- */

/**
 * Reload handler of a module: read the module's keys again, from their
 * defaults (a removed line means the default). With apply false, only
 * check them: report problems with config_fail() and change nothing.
 * With apply true (only after every part checked without a problem),
 * make them the running values. Returns 0 or an errorcode.
 */
typedef int (reload_h)(bool apply);

/** A module's reload hook: registered in its init, unregistered in close */
struct reload_hook {
	struct le le;
	const char *name;
	reload_h *h;
};

void reload_register(struct reload_hook *hook);
void reload_unregister(struct reload_hook *hook);
void reload_list(struct list *live, struct list *fresh);


/* --- Statistics -------------------------------------------------------- */

enum stat_kind {
	STAT_COUNTER,      /**< Only grows: events since the start */
	STAT_GAUGE,        /**< Goes up and down: how many exist now */
};

typedef uint64_t (stat_read_h)(void *arg);

/* A labelled figure gives each of its values to h, with their labels'
   values (lval2 NULL without a second label) */
typedef void (stat_label_h)(const char *lval, const char *lval2,
			    uint64_t value, void *ctx);
typedef void (stat_labels_h)(stat_label_h *h, void *ctx, void *arg);

/**
 * A figure a module provides: registered in its init, unregistered in
 * its close, read only when the status or the metrics are asked for.
 * Figures of the same name add up.
 */
struct stat_figure {
	struct le le;
	const char *name;      /**< Lower case, digits and '_'           */
	const char *help;      /**< One line, for the metrics            */
	enum stat_kind kind;
	stat_read_h *readh;
	void *arg;
	const char *label;     /**< A labelled figure: its label, or NULL */
	const char *label2;    /**< Its second label, or NULL            */
	stat_labels_h *labelsh;/**< A labelled figure: its values         */
};

/* Figures that sipctl status names even when no module provides them */
#define STAT_REGISTRATIONS "registrations"
#define STAT_SUBSCRIPTIONS "subscriptions"
#define STAT_PUBLICATIONS  "publications"
#define STAT_TRANSACTIONS  "transactions"
#define STAT_CALLS         "calls"
#define STAT_AUTH_FAILURES "auth_failures"

/* Figures of the defences (the guard module), placed among the core's */
#define STAT_BANS_ACTIVE         "bans_active"
#define STAT_BANS                "bans"
#define STAT_BANNED_DROPS        "banned_drops"
#define STAT_FLOOD_DROPS         "flood_drops"
#define STAT_FLOOD_OPTIONS_DROPS "flood_options_drops"
#define STAT_SCANNER_DROPS       "scanner_drops"
#define STAT_CONNECTIONS_OPEN    "connections_open"
#define STAT_CONNECTIONS_REFUSED "connections_refused"

void stats_register(struct stat_figure *fig);
void stats_unregister(struct stat_figure *fig);


/* --- Served domains ---------------------------------------------------- */

bool domain_is_served(const struct pl *host);
bool domain_listed(const struct pl *host);
const char *domain_default(void);


/* --- Listening sockets ------------------------------------------------- */

/** Which bindings registered on a socket are behind a NAT (nat=) */
enum sock_nat {
	SOCK_NAT_AUTO = 0,     /**< Decided from the REGISTER            */
	SOCK_NAT_ALWAYS,       /**< Every binding: reached at its source */
	SOCK_NAT_NEVER,        /**< None: reached at its Contact         */
};

struct sip *sock_sip(const struct sipd_sock *sock);
struct dnsc *sipd_dnsc(void);
bool sock_auth(const struct sipd_sock *sock);
enum sock_nat sock_nat(const struct sipd_sock *sock);
const char *sock_name(const struct sipd_sock *sock);
enum sip_transp sock_transp(const struct sipd_sock *sock);
const struct sa *sock_laddr(const struct sipd_sock *sock);
struct sipd_sock *sock_find(const char *name);
struct sipd_sock *sock_by_index(uint32_t index);
uint32_t sock_index(const struct sipd_sock *sock);
struct sipd_sock *sock_for_laddr(enum sip_transp tp, const struct sa *laddr);
struct sipd_sock *sock_choose(enum sip_transp tp, int af,
			      struct sipd_sock *prefer);


/* --- Worker processes (workers.c) ------------------------------------ */

int  worker_index(void);
bool handoff_take(struct sipd_sock *sock, const struct sip_msg *msg);


/* --- Roles ------------------------------------------------------------- */

/**
 * Request handler of a role. Returns true when the role took the request
 * (it has answered it or will), false to offer it to the next role.
 */
typedef bool (role_request_h)(struct sipd_sock *sock,
			      const struct sip_msg *msg);

/**
 * Response handler of a role: responses that match no client transaction
 * (stateless forwarding, late 2xx of other forks). Returns true when
 * taken. Offered to every loaded role, whatever socket it came on.
 */
typedef bool (role_response_h)(struct sipd_sock *sock,
			       const struct sip_msg *msg);

/** A role: a request handler that listen lines enable per socket */
struct role {
	struct le le;
	const char *name;              /**< Name used in "roles=" lists   */
	const char *const *methods;    /**< Methods it may take, NULL end  */
	const char *const *needs;      /**< Services it needs, NULL end    */
	role_request_h *requesth;      /**< Request handler               */
	role_response_h *responseh;    /**< Stray responses (optional)    */
};

void role_register(struct role *role);
void role_unregister(struct role *role);


/* --- Location service (bindings) --------------------------------------- */

/** Is a binding behind a NAT: decided when its REGISTER arrived */
enum binding_nat {
	BINDING_NAT_UNKNOWN = -1, /**< Saved before schema 3: the old rule */
	BINDING_NAT_NO = 0,       /**< Reached at its Contact             */
	BINDING_NAT_YES = 1,      /**< Reached at its source address      */
};

/** A registered contact of an address-of-record */
struct binding {
	struct le le;
	int64_t id;            /**< Row id, 0 for a new binding          */
	char *aor;             /**< user@domain                          */
	char *contact;         /**< Contact URI                          */
	char *params;          /**< Other contact params, ";a=b;c"       */
	int64_t expires;       /**< Absolute expiry, epoch seconds       */
	uint16_t q;            /**< q-value times 1000 (0..1000)         */
	char *callid;          /**< Call-ID of the REGISTER              */
	uint32_t cseq;         /**< CSeq of the REGISTER                 */
	struct sa received;    /**< Source address of the REGISTER       */
	enum sip_transp tp;    /**< Transport it arrived on              */
	char *sock;            /**< Local socket name it arrived on      */
	char *path;            /**< Path header values, comma separated  */
	char *user_agent;      /**< User-Agent                           */
	char *instance;        /**< +sip.instance, NULL if none          */
	uint32_t reg_id;       /**< reg-id, 0 if none                    */
	enum binding_nat nat;  /**< Behind a NAT (BINDING_NAT_NO: 0)     */
	int64_t created;       /**< First registered, epoch seconds      */
	int64_t updated;       /**< Last refreshed, epoch seconds        */
	char *node;            /**< node_name of the node that holds its
				    flow (PostgreSQL), NULL if none      */
};

int  binding_alloc(struct binding **bp);
int  binding_dup(struct binding **bp, const struct binding *src);
int  binding_share(struct binding **bp, const struct binding *src);
bool binding_before(struct le *le1, struct le *le2, void *arg);

/** Backend of the location service */
struct location_backend {
	struct le le;
	const char *name;
	int (*lookup)(struct list *bindings, const char *aor, int64_t now);
	int (*save)(const char *aor, const struct list *upserts,
		    const struct list *removes);
	int (*scan)(struct list *bindings, int64_t after_id, uint32_t limit,
		    int64_t now);
	int (*ahead)(const char *aor, int64_t now);
};

void location_register(struct location_backend *be);
void location_unregister(struct location_backend *be);
int  location_lookup(struct list *bindings, const char *aor);
void location_ahead(const char *aor);
int  location_save(const char *aor, const struct list *upserts,
		   const struct list *removes);
void location_expired(const struct binding *b);
int  location_scan(struct list *bindings, int64_t after_id, uint32_t limit);


/* --- Accounts (credential store) --------------------------------------- */

enum digest_alg {
	DIGEST_MD5 = 0,
	DIGEST_SHA256,
	DIGEST_ALGC
};

enum { DIGEST_MAX_SIZE = 32 };

/** Backend of the account service */
struct account_backend {
	struct le le;
	const char *name;
	int (*exists)(const char *user, const char *domain, bool *exists);
	int (*ha1)(const char *user, const char *domain, enum digest_alg alg,
		   uint8_t *ha1, size_t *len);
};

void account_register(struct account_backend *be);
void account_unregister(struct account_backend *be);
int  account_exists(const char *user, const char *domain, bool *exists);
int  account_ha1(const char *user, const char *domain, enum digest_alg alg,
		 uint8_t *ha1, size_t *len);


/* --- Authentication ---------------------------------------------------- */

enum auth_kind {
	AUTH_WWW = 0,      /**< 401 / WWW-Authenticate / Authorization   */
	AUTH_PROXY,        /**< 407 / Proxy-Authenticate / Proxy-Auth... */
};

/** Who a request was authenticated as */
struct auth_identity {
	char user[128];
	char domain[128];
};

/** Backend of the authentication service */
struct auth_backend {
	struct le le;
	const char *name;
	int (*check)(struct auth_identity *id, struct sipd_sock *sock,
		     const struct sip_msg *msg, enum auth_kind kind,
		     const char *realm);
	bool (*in_dialog)(void);   /* challenge requests inside a dialog */
};

void auth_register(struct auth_backend *be);
void auth_unregister(struct auth_backend *be);
int  auth_check(struct auth_identity *id, struct sipd_sock *sock,
		const struct sip_msg *msg, enum auth_kind kind,
		const char *realm);
int  auth_require(struct auth_identity *id, struct sipd_sock *sock,
		  const struct sip_msg *msg, enum auth_kind kind,
		  const struct uri *uri);
bool auth_in_dialog(void);


/* --- Source filter: bans, floods, scanners ----------------------------- */

/**
 * What drops the messages of a source before they are handled, each
 * check true to drop in silence: the guard module registers it (every
 * sipd loads that module). Without one nothing is dropped and ban_add()
 * keeps no ban. Every handler is set.
 */
struct filter {
	bool (*bannedh)(const struct sa *src);       /**< Banned now?      */
	void (*banh)(const struct sa *src, uint32_t seconds,
		     const char *reason);             /**< Ban a source     */
	bool (*floodh)(const struct sa *src,
		       bool options);                 /**< Over its rate?   */
	bool (*requesth)(const struct sip_msg *msg); /**< A scanner's?     */
};

void filter_register(const struct filter *f);
void filter_unregister(const struct filter *f);
bool ban_check(const struct sa *src);
void ban_add(const struct sa *src, uint32_t seconds, const char *reason);


/* --- Events ------------------------------------------------------------ */

enum sipd_event_type {
	EVENT_BINDING_ADDED,
	EVENT_BINDING_REFRESHED,
	EVENT_BINDING_REMOVED,
	EVENT_BINDING_EXPIRED,
	EVENT_CALL,
	EVENT_ROUTED,
};

/** Call states, as RFC 4235 names dialog states */
enum call_state {
	CALL_TRYING,
	CALL_EARLY,        /* proceeding or ringing */
	CALL_CONFIRMED,
	CALL_TERMINATED,
};

/** A call state change of one party (an address-of-record) */
struct call_event {
	const char *aor;           /**< The party, user@domain          */
	enum call_state state;
	bool initiator;            /**< True for the caller's side      */
	const char *call_id;
	const char *local_tag;     /**< The party's own tag, may be ""  */
	const char *remote_tag;    /**< The peer's tag, may be ""       */
	const char *peer;          /**< The other party's URI           */
	const char *local_uri;     /**< The party's URI in the dialog   */
	uint16_t code;             /**< Final status, when terminated   */
};

/** How a call was steered: a forward, a pool member, a ring group */
struct routed_event {
	const char *call_id;
	const char *caller;        /**< Caller AOR or URI, may be ""    */
	const char *callee;        /**< The address called              */
	const char *how;           /**< "forward-always", "forward-busy",
					"forward-noanswer",
					"forward-unavailable", "pool",
					"group"                          */
	const char *target;        /**< Where it goes: the forward's
					target, the member, the group's
					members                          */
};

struct sipd_event {
	enum sipd_event_type type;
	const struct binding *binding;     /**< Binding events        */
	const struct call_event *call;     /**< EVENT_CALL            */
	const struct routed_event *routed; /**< EVENT_ROUTED          */
	bool told;                         /**< Told by another worker
						of the set (share.c): its
						binding's strings are
						plain, copy it with
						binding_dup()          */
};

typedef void (event_h)(const struct sipd_event *ev, void *arg);

/** A listener of core events */
struct event_listener {
	struct le le;
	event_h *h;
	void *arg;
};

void event_listen(struct event_listener *l);
void event_unlisten(struct event_listener *l);
void event_emit(const struct sipd_event *ev);
const char *event_name(enum sipd_event_type type);


const char *call_state_name(enum call_state state);
int  call_event_encode(struct mbuf *mb, const struct call_event *ce);
bool call_event_decode(struct call_event *ce, char *line);


/* --- Control socket commands ------------------------------------------ */

/**
 * Handler of a command of the control socket: argv[0] is its name. It
 * writes the reply with command_reply() and returns 0, or an errorcode
 * when it could not.
 */
typedef int (command_h)(struct mbuf *mb, int argc, char *argv[]);

/** A command a module adds to the control socket's (worker 0 runs them) */
struct command {
	struct le le;
	const char *name;
	command_h *h;
};

void command_register(struct command *cmd);
void command_unregister(struct command *cmd);
int  command_reply(struct mbuf *mb, bool ok, const char *fmt, ...);

/* For %H in a reply: a string as a JSON string (const char *), an epoch
   time as local date and time (const int64_t *) */
int  json_quote(struct re_printf *pf, void *arg);
int  time_print(struct re_printf *pf, void *arg);


/* --- Database ---------------------------------------------------------- */

/** A prepared statement, prepared on first use, finalized at close */
struct db_stmt {
	struct le le;
	const char *sql;
	struct sqlite3_stmt *stmt;
};

struct sqlite3 *db_handle(void);
struct sqlite3_stmt *db_stmt(struct db_stmt *st);
int  db_exec(const char *sql);
int  db_begin(void);
int  db_commit(void);
void db_rollback(void);
typedef void (db_group_h)(int err, void *arg);
int  db_group_enter(void);
void db_group_leave(void);
void db_group_busy(void);
int  db_group_after(db_group_h *h, void *arg);
int  db_group_commit(void);
bool db_group_open(void);
void db_group_counts(uint64_t *commits, uint64_t *saves);
int  db_error(void);
void db_stmts_release(void);
int  db_secret(const char *name, uint8_t *key, size_t len);

/* PostgreSQL (lib/db/pg.c): the process's one connection, for lib/store's
   engine. A statement is prepared once per connection, named by its
   address. */
struct pg_result;

/** A PostgreSQL statement, prepared on first use on each connection */
struct pg_stmt {
	const char *sql;
	uint64_t gen;            /**< The connection it was prepared on     */
};

/** Retry-After of the 500 to a request when the database is away */
enum { DB_RETRY_AFTER = 5 };

bool db_pg_on(void);
int  db_pg_query(struct pg_result **resp, struct pg_stmt *st, int n,
		 const char *const *v);
int  db_pg_begin(void);
int  db_pg_commit(void);
void db_pg_rollback(void);
int  db_pg_check(char *problem, size_t size);
int  db_pg_lock_wait(uint32_t ms);
const char *db_pg_errmsg(void);
int  db_pg_version(uint64_t *version);
void db_pg_notify_after_commit(const char *table, const char *key);
int  db_pg_query_told(struct pg_result **resp, struct pg_stmt *st, int n,
		      const char *const *v, const char *table,
		      const char *key);
int  db_pg_ahead(struct pg_stmt *st, int n, const char *const *v);

/** What a notification of PostgreSQL's triggers names: table and key */
typedef void (db_pg_changed_h)(const char *table, const char *key,
			       void *arg);

/** A watcher of the changes other nodes (and sipctl) commit */
struct db_pg_watch {
	struct le le;
	const char *table;     /**< Table watched, NULL for all          */
	db_pg_changed_h *h;
	void *arg;
};

void db_pg_watch_register(struct db_pg_watch *w, const char *table,
			  db_pg_changed_h *h, void *arg);
void db_pg_watch_unregister(struct db_pg_watch *w);


/* --- Messages and URIs ------------------------------------------------- */

int  msg_aor(char *buf, size_t size, const struct uri *uri);
bool msg_method_is(const struct sip_msg *msg, const char *met);
int64_t time_now(void);
int  transp_decode(enum sip_transp *tp, const struct pl *name);
const char *transp_name(enum sip_transp tp);
enum sip_transp uri_transp(const struct uri *uri);


/* --- TLS connections sipd opens: the server's check (tls_peer.c) ----- */

struct tls_peer;

int  tls_peer_alloc(struct tls_peer **pp, const struct config_line *line,
		    const char *label, const char *name, const char *ca,
		    bool verify);
int  tls_peer_expect(const struct sa *dst, struct tls_peer *peer);


/* --- Connections peers opened (conn.c, tcp.c) ------------------------- */

typedef void (conn_close_h)(enum sip_transp tp, const struct sa *peer,
			    int err, void *arg);

/** A listener of closing connections */
struct conn_listener {
	struct le le;
	conn_close_h *h;
	void *arg;
};

void conn_seen(const struct sip_msg *msg);
void conn_hold(const struct sip_msg *msg, uint32_t seconds);
bool conn_is_open(enum sip_transp tp, const struct sa *peer);
void conn_listen(struct conn_listener *l);
void conn_unlisten(struct conn_listener *l);

/* Connections libre accepts (the libre layer, tcp.c): the accept hook
   may refuse one (false closes it at once), the close hook is told of
   every descriptor closed; one pair, the guard's connection limits */
typedef bool (libre_accept_h)(int fd, const struct sa *peer);
typedef void (libre_fd_close_h)(int fd);

void libre_tcp_hooks(libre_accept_h *accepth, libre_fd_close_h *closeh);
uint32_t core_fd_limit(void);       /* fd_limit: descriptors in all */


/* --- Replies ----------------------------------------------------------- */

int sipd_reply(struct sipd_sock *sock, const struct sip_msg *msg,
	       uint16_t scode, const char *reason);
int sipd_replyf(struct sipd_sock *sock, const struct sip_msg *msg,
		uint16_t scode, const char *reason, const char *fmt, ...);
int sock_allow(struct re_printf *pf, void *sock);

#endif
