/**
 * @file callee.h  Internal interface of the routing of calls to local
 *                 addresses (callee.c) and of their targets (targets.c)
 *
 * Copyright (C) 2026 sipd developers
 */

enum {
	CALLEE_HOPS_MAX = 5,
};


/** One resolution of a request for a local address */
struct callee {
	struct route_result *rr;
	const struct sip_msg *msg;
	bool redirect;               /* for a 302: no fallbacks */
	bool top;                    /* resolving the address called */
	char visited[CALLEE_HOPS_MAX][256];
	uint32_t hops;
	char *diversion;             /* Diversion lines so far, or NULL */
};



int  callee_fail(struct route_result *rr, uint16_t scode,
		 const char *reason);
void callee_routed(const struct callee *cx, const char *how,
		   const char *callee, const char *target);
int  callee_split_aor(const char *aor, char *user, size_t usize,
		      char *domain, size_t dsize);
int  callee_target_extra(struct route_target *t, const struct callee *cx);
int  callee_phones(const struct callee *cx, struct list *out,
		   const char *aor, uint16_t q, uint32_t ring,
		   uint32_t *added);
int  callee_route_targets(struct callee *cx, struct list *out,
			  const struct static_route *r,
			  const struct uri *uri);
