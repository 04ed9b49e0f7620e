/**
 * @file presence.h  Internal interface of the presence module
 *
 * Copyright (C) 2026 sipd developers
 */

#include <sipmsg/sipmsg.h>

/** Event packages served */
enum pkg {
	PKG_PRESENCE = 0,      /* RFC 3856, application/pidf+xml        */
	PKG_DIALOG,            /* RFC 4235, application/dialog-info+xml */
	PKG_REG,               /* RFC 3680, application/reginfo+xml     */
	PKG_WINFO,             /* RFC 3857, application/watcherinfo+xml */
	PKG_COUNT
};

enum sub_state {
	SUB_PENDING = 0,
	SUB_ACTIVE,
	SUB_TERMINATED,
};

enum policy {
	POLICY_SAME_DOMAIN = 0,
	POLICY_EVERYONE,
	POLICY_LIST,
};

/** Settings of the presence role */
struct presence_conf {
	uint32_t min_expires;
	uint32_t max_expires;
	uint32_t default_expires;
	enum policy policy;
	uint32_t max_per_watcher;
	uint32_t max_per_presentity;
	uint32_t max_subscriptions;    /* in all, 0 for no limit         */
	uint32_t notify_interval;      /* ms between NOTIFYs of one sub */
	uint32_t notify_retries;       /* timeouts before it ends        */
};

extern const struct presence_conf presence_conf_defaults;
extern struct presence_conf presence_conf;


/** A subscription: the notifier's side of an RFC 6665 dialog */
struct sub {
	struct le le;                  /* all subscriptions              */
	struct le he_pres;             /* by presentity                  */
	struct le he_dlg;              /* by Call-ID                     */
	struct le he_watcher;          /* by watcher                     */
	struct le he_id;               /* by row id                      */
	struct le le_dirty;            /* CSeq or version to store       */
	int64_t id;                    /* database row                   */
	enum pkg pkg;
	enum sub_state state;
	char *presentity;              /* user@domain watched            */
	char *watcher;                 /* user@domain of the subscriber  */
	int64_t expires;               /* absolute                       */
	char *call_id;
	char *local_tag;
	char *remote_tag;
	char *local_uri;
	char *remote_uri;
	char *contact;                 /* remote target                  */
	char *route_set;               /* Record-Route values, in order  */
	char *socket;                  /* local socket name              */
	struct sa received;
	enum sip_transp tp;
	uint32_t local_cseq;
	uint32_t remote_cseq;
	uint32_t version;              /* document version               */
	char *accept;

	/* at run time only */
	uint32_t stored_cseq;          /* local_cseq as last written     */
	uint32_t stored_version;       /* version as last written        */
	struct sip_request *req;       /* NOTIFY in flight               */
	struct tmr tmr;                /* next NOTIFY, rate or retry     */
	uint64_t last_notify;          /* tmr_jiffies()                  */
	uint32_t failures;
	bool pending_notify;           /* a change waits to be sent      */
	bool authorized;               /* final NOTIFY carries the state */
	bool reg_active;               /* reg: last NOTIFY said active   */
	const char *reason;            /* when it terminates             */
};


/** A published document, read from the database */
struct pub_body {
	struct le le;
	char *text;
	struct pl pl;
};

/* conf.c */
const char *pkg_name(enum pkg pkg);
const char *pkg_ctype(enum pkg pkg);

/* body.c */
int  presence_compose(char **docp, const char *presentity);
void body_binding_gone(const struct binding *b, const char *event);
void body_invalidate(const char *presentity);
void body_close(void);

/* sub.c */
typedef void (sub_notify_h)(struct sub *sub);
typedef void (sub_terminate_h)(struct sub *sub, const char *reason);

int  sub_init(sub_notify_h *notifyh, sub_terminate_h *terminateh);
int  sub_alloc(struct sub **subp);
void sub_index(struct sub *sub);
struct sub *sub_find_dialog(const struct pl *call_id, const struct pl *ltag,
			    const struct pl *rtag);
int  sub_save(struct sub *sub);
void sub_dirty(struct sub *sub);
void sub_advanced(struct sub *sub);
int  sub_delete(struct sub *sub);
void sub_flush_dirty(void);
uint32_t sub_count_watcher(const char *watcher);
uint32_t sub_count_presentity(const char *presentity);
int  sub_apply(const char *presentity, enum pkg pkg,
	       void (*h)(struct sub *sub, void *arg), void *arg);
int  sub_load(void);
void sub_start(void);
void sub_close(void);
uint32_t sub_total(void);

/* notify.c */
void notify_sub(struct sub *sub);
void notify_terminate(struct sub *sub, const char *reason);
void notify_presentity(const char *presentity, enum pkg pkg);

/* body.c */
int  notify_body(struct mbuf *mb, struct sub *sub);

/* publish.c */
bool publish_handle(struct sipd_sock *sock, const struct sip_msg *msg);
int  publish_bodies(struct list *bodies, const char *presentity);
uint32_t publish_total(void);
typedef void (publish_changed_h)(const char *presentity, enum pkg pkg);

void publish_start(publish_changed_h *h);
void publish_close(void);

/* pidf.c */
int  pidf_check(const struct pl *body);
int  pidf_compose(char **docp, const char *presentity,
		  const struct list *bodies, bool registered,
		  bool on_the_phone);

/* docs.c */
int  dialoginfo_print(struct mbuf *mb, const char *aor, uint32_t version);
/** A binding that went away, as reginfo_print() reports it */
struct reg_gone {
	struct le le;
	struct binding *b;
	const char *event;
	uint64_t when;
};
int  reginfo_print(struct mbuf *mb, const char *aor, uint32_t version,
		   const struct list *gone, bool *active);
int  winfo_print(struct mbuf *mb, const char *presentity, uint32_t version);
int  xml_escape(struct re_printf *pf, void *arg);

/* callstate.c */
void callstate_event(const struct call_event *ce);
bool callstate_busy(const char *aor);
int  callstate_apply(const char *aor,
		     void (*h)(const struct call_event *ce, void *arg),
		     void *arg);
void callstate_prune(const char *aor);
void callstate_expire(const char *aor);
void callstate_close(void);

/* callstate.c */
bool callstate_known(const struct call_event *ce);

/* shared.c */
typedef void (shared_call_h)(const struct call_event *ce);
void shared_call_send(const struct call_event *ce);
void shared_call_told(const char *key, shared_call_h *h);
void shared_close(void);

/* busy.c */
bool busy_decide(const struct list *bodies);
void busy_invalidate(const char *presentity);
void busy_init(void);
void busy_close(void);

/* policy.c */
int  policy_decide(enum sub_state *state, const char *presentity,
		   const char *watcher);
