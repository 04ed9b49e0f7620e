/**
 * @file proxy.h  Internal interface of the stateful proxy module
 *
 * Copyright (C) 2026 sipd developers
 */

#include <proxy/engine.h>


struct ptrans;
struct branch;


enum {
	TIMER_C_DEFAULT = 180,     /* s */
};

/** Settings of the proxy role */
struct proxy_conf {
	uint32_t timer_c;          /* ms, INVITE branch without answer */
};

extern struct proxy_conf proxy_conf;


/** A proxied request: the server transaction and its branches */
struct ptrans {
	struct le le;
	struct sipd_sock *sock;        /* where the request came       */
	struct sip_msg *msg;           /* the request                  */
	struct sip_strans *st;         /* server transaction           */
	struct sa reply_dst;           /* where responses go           */
	struct route_result rr;        /* targets, caller, callee      */
	struct list branches;          /* struct branch                */
	struct le *next_target;        /* next q group to try          */
	struct sip_msg *best;          /* best final response so far   */
	int32_t best_delta;            /* its CSeq shift               */
	struct mbuf *challenges;       /* 401/407 challenges collected */
	uint16_t local_scode;          /* best when no response came   */
	bool local_dns;                /* it is a next hop's DNS failure */
	bool invite;
	bool final_sent;
	bool canceled;
	bool got_6xx;
	bool got_2xx;
	struct tmr tmr_noanswer;       /* the no-answer forward's wait  */
	bool noanswer_fired;           /* it is time for it             */
	bool all_busy;                 /* every final answer was busy   */
	bool no_failover;              /* a pool member answered for
					  good: no next member          */
};

/** One branch: a client transaction towards one target */
struct branch {
	struct le le;
	struct le he;                  /* by Via branch, for CANCELs   */
	struct ptrans *pt;
	const struct route_target *target;
	struct sipd_sock *out;         /* socket it leaves from        */
	struct sip_request *req;
	struct mbuf *hdrs;             /* header block, rebuilt on send */
	struct fwd_opts opts;
	char rrbuf[600];
	char *extra;                   /* credentials for a trunk      */
	char id[48];                   /* the Via branch               */
	enum sip_transp tp;
	struct sa laddr;
	struct sa dst;
	struct tmr tmr_c;
	struct tmr tmr_cancel;
	struct mbuf *cancel;
	uint32_t cancel_txc;
	const char *cancel_reason;
	uint16_t scode;                /* final status, 0 while pending */
	uint32_t auth_tries;
	int32_t cseq_delta;            /* CSeq shift towards the target */
	bool provisional;
	bool cancel_pending;
	bool cancel_sent;
	bool sent;
	struct dns_query *dq;          /* why the next hop did not resolve */
	struct tmr tmr_dns;            /* the next hop's lookup, at most  */
	uint16_t unresolved;           /* 404 or 503 when it did not      */
	struct tmr tmr_ring;           /* a ring group's time per member  */
	bool rang_out;                 /* cancelled when it ran out       */
	bool counted;                  /* a call of its pool member       */
};


/* ptrans.c */
int  ptrans_start(struct sipd_sock *sock, const struct sip_msg *msg,
		  struct route_result *rr);
void ptrans_branch_response(struct branch *b, int err,
			    const struct sip_msg *msg);
void ptrans_close(void);
uint32_t ptrans_count(void);

/* branch.c */
int  branch_start(struct branch **bp, struct ptrans *pt,
		  const struct route_target *t, const char *extra,
		  int32_t cseq_delta);
void branch_cancel(struct branch *b, const char *reason);
void branch_settle(struct branch *b, const struct sip_msg *msg);
bool branch_cancel_response(const struct sip_msg *msg);
typedef void (branch_response_h)(struct branch *b, int err,
				 const struct sip_msg *msg);

void branch_init(branch_response_h *responseh);
void branch_close(void);

/* calls.c */
void calls_request(const struct ptrans *pt);
void calls_response(const struct ptrans *pt, struct branch *b,
		    const struct sip_msg *msg);
void calls_callee_switch(struct ptrans *pt, const char *aor);
void calls_final(const struct ptrans *pt, uint16_t scode);
void calls_in_dialog(const struct sip_msg *msg);
uint32_t calls_count(void);
void calls_close(void);

/* shift.c */
void shift_add(const struct pl *call_id, const struct pl *from_tag,
	       int32_t delta);
int32_t shift_of(const struct sip_msg *msg);
void shift_close(void);
