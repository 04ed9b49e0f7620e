/**
 * @file engine.h  The proxy engine: routing, forwarding, static routes and
 *                 flow tokens, shared by the stateful and the stateless
 *                 proxy
 *
 * A static library (lib/proxy) linked into both proxy modules, on the
 * module API (sipd.h) only.
 *
 * Copyright (C) 2026 sipd developers
 */

#ifndef SIPD_PROXY_ENGINE_H
#define SIPD_PROXY_ENGINE_H

#include "sipd.h"
#include "digest/digest.h"
#include "sipmsg/sipmsg.h"



/** One side of a dialog: the socket, transport and address it uses */
struct flow {
	uint32_t sock;             /**< Socket index                       */
	enum sip_transp tp;
	struct sa addr;
};

int  flow_token(char *buf, size_t size, const struct flow *a,
		const struct flow *b);
int  flow_decode(struct flow *a, struct flow *b, const struct pl *token);
int  flow_node_token(char *buf, size_t size, const char *aor);
int  flow_node_decode(char *aor, size_t size, const struct pl *token);
void flow_set_key(const uint8_t *key);
void flow_close(void);


/** Where one branch of a forwarded request goes */
struct route_target {
	struct le le;
	char *ruri;                /**< Request-URI of the branch          */
	char *nexthop;             /**< SIP URI to send to (host, port,
					transport), NULL: the Request-URI */
	char *routes;              /**< Route values to add first, or NULL */
	struct sipd_sock *sock;    /**< Socket to send from, NULL: choose  */
	uint16_t q;                /**< q-value times 1000                 */
	char *aor;                 /**< Local callee, or NULL              */
	const struct static_route *route;  /**< Static route used, or NULL */
	bool connection;           /**< A binding registered over TCP, TLS
					or WebSocket, reached directly   */
	char *extra;               /**< Header lines for it (Diversion)  */
	int64_t expires;           /**< A binding's expiry, or 0         */
	struct pool_member *member; /**< Pool member it goes to, or NULL */
	uint32_t ring;             /**< ms it rings before the next group
					goes, 0: until Timer C           */
};

/** The routing decision for a request */
struct route_result {
	uint16_t scode;            /**< Nonzero: answer with this          */
	const char *reason;
	char unsupported[128];     /**< For 420: the option tags           */
	bool answered;             /**< Already answered (a challenge)     */
	struct list targets;       /**< struct route_target, best q first  */
	uint32_t routes_popped;    /**< Our Route values at the top        */
	bool strict;               /**< Strict-router Request-URI rewrite  */
	char *ruri;                /**< Rewritten Request-URI, or NULL     */
	struct sipd_sock *out;     /**< Socket named by a popped Route     */
	bool in_dialog;            /**< To tag present                     */
	bool by_route;             /**< Forwarded by a Route header        */
	bool authenticated;
	bool flows;                /**< A popped Route held flow tokens    */
	int32_t cseq_delta;        /**< CSeq shift of the dialog (trunk)   */
	struct flow flow_a;        /**< Where the dialog began             */
	struct flow flow_b;        /**< Where it was sent                  */
	struct auth_identity id;
	char caller[256];          /**< Local caller AOR, or ""            */
	char callee[256];          /**< Local callee AOR, or ""            */
	uint32_t retry_after;      /**< With a 503: its Retry-After, s     */
	struct list busy;          /**< Targets of the busy forward        */
	struct list noanswer;      /**< Targets of the no-answer forward   */
	uint32_t noanswer_after;   /**< ms of ringing before it            */
	char busy_to[256];         /**< The busy forward's target          */
	char noanswer_to[256];     /**< The no-answer forward's target     */
	char node_aor[256];        /**< Another node's Route for a callee
				        whose flow this node holds, or "" */
};

/** What a proxy changes in the headers it forwards */
struct fwd_opts {
	uint32_t routes_popped;        /**< Route values to drop           */
	bool drop_last_route;          /**< Strict routing                 */
	const char *routes;            /**< Route values to add first      */
	const char *record_route;      /**< Record-Route values to add     */
	const char *extra;             /**< More header lines ("X: y\r\n") */
	bool keep_proxy_auth;          /**< Keep Proxy-Authorization       */
	int32_t cseq_delta;            /**< Added to the CSeq number       */
};

void route_result_init(struct route_result *rr);
void route_result_reset(struct route_result *rr);
int  route_request(struct route_result *rr, struct sipd_sock *sock,
		   const struct sip_msg *msg);
int  route_reply(struct sipd_sock *sock, const struct sip_msg *msg,
		 const struct route_result *rr);
bool route_uri_is_ours(const struct uri *uri);
int  route_credentials(const struct static_route *route, char *user,
		       size_t usize, char *password, size_t psize);

int  fwd_headers(struct mbuf *mb, const struct sip_msg *msg,
		 const struct fwd_opts *opts);
int  fwd_response(struct mbuf **mbp, const struct sip_msg *msg,
		  bool drop_challenges, int32_t cseq_delta, const char *extra);
int  fwd_record_route(char *buf, size_t size, const struct sipd_sock *in,
		      enum sip_transp tp, const struct sa *laddr,
		      const struct flow *a, const struct flow *b);
uint32_t fwd_loop_hash(const struct sip_msg *msg, const struct pl *ruri);
bool fwd_is_loop(const struct sip_msg *msg);
int  fwd_relay_response(const struct sip_msg *msg, int32_t cseq_delta);
int  fwd_via_update(struct mbuf *mb, const char *branch, uint32_t lh,
		    uint32_t si, char *out);
void fwd_stateless_branch(char *buf, size_t size, const struct sip_msg *msg,
			  const struct pl *ruri);
int  fwd_stateless(struct sipd_sock *in, const struct sip_msg *msg,
		   const struct route_result *rr,
		   const struct route_target *t);
bool via_is_ours(const struct sip_via *via);
bool route_needs_connection(const struct route_result *rr);


/* routes.c */
struct static_route;
int  routes_config(bool apply);
void routes_close(void);
const struct static_route *routes_domain(const struct pl *domain);
const struct static_route *routes_number(const struct pl *user);
const char *routes_did(const struct pl *number);
const char *routes_uri(const struct static_route *r);
int  routes_tls_expect(const struct static_route *r, enum sip_transp tp,
		       const struct sa *dst);
int  routes_ruri(char *buf, size_t size, const struct static_route *r,
		 const struct uri *uri, const char *host);

/* groups.c */
/** A ring group: one address that rings several users */
struct ring_group {
	struct le le;
	char *aor;                     /**< NUMBER@DOMAIN                  */
	bool sequential;               /**< One member after the other     */
	uint32_t ring;                 /**< s per member (sequential), or
					    for all (parallel), 0: none   */
	char *members[32];             /**< user@domain                    */
	uint32_t memberc;
	const struct config_line *line; /**< While it is read             */
};

int  groups_config(bool apply);
void groups_close(void);
const struct ring_group *groups_find(const char *aor);
const struct list *groups_list(void);

/* callee.c */
int  callee_node_phone(struct route_result *rr, const struct sip_msg *msg);
int  callee_local(struct route_result *rr, const struct uri *ruri,
		  const struct sip_msg *msg, bool trusted, bool redirect);
int  callee_route(struct route_result *rr, struct list *out,
		  const struct static_route *r, const struct uri *uri,
		  const struct sip_msg *msg, bool redirect);
int  target_new(struct route_target **tp, struct list *list);
void route_routed(const struct sip_msg *msg, const char *caller,
		  const char *how, const char *callee, const char *target);

/* rules.c */
int  rules_get(const char *user, const char *domain, uint32_t *limit,
	       struct list *fwds);
void rules_close(void);

/* routes.c: a route to a server pool */
const char *routes_pool(const struct static_route *r);

int  proxy_engine_init(void);
void proxy_engine_close(void);

#endif
