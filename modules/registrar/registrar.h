/**
 * @file registrar.h  Internal interface of the registrar module
 *
 * Copyright (C) 2026 sipd developers
 */

#include <sipmsg/sipmsg.h>

enum overflow_policy {
	OVERFLOW_REPLACE,      /* the oldest binding makes room */
	OVERFLOW_REJECT,       /* 403 */
};

struct registrar_conf {
	uint32_t min_expires;
	uint32_t max_expires;
	uint32_t default_expires;
	uint32_t max_contacts;
	enum overflow_policy overflow;
};

/** What one REGISTER asks for, after parsing */
struct reg_change {
	struct le le;
	struct pl uri;          /* contact URI */
	struct pl params;       /* contact params as received */
	uint32_t expires;       /* delta seconds */
	uint16_t q;
	char *instance;
	uint32_t reg_id;
	struct binding *match;  /* existing binding it refreshes */
};

/* bindings.c */
int  reg_binding_remove(const struct binding *b);
int  reg_changes_decode(struct list *changes, const struct sip_msg *msg,
			const struct registrar_conf *conf, bool *star,
			uint16_t *scode, const char **reason);
int  reg_apply(struct list *upserts, struct list *removes,
	       struct list *current, struct list *changes,
	       const struct sip_msg *msg, const char *aor,
	       const struct sipd_sock *sock,
	       const struct registrar_conf *conf,
	       int64_t now, uint16_t *scode, const char **reason);
/** A binding as a Contact of a 200, with the time it is printed at */
struct reg_contact {
	const struct binding *b;
	int64_t now;
};

int  reg_contact_print(struct re_printf *pf, void *arg);

/* keepalive.c */
int  keepalive_conf(bool apply);
int  keepalive_init(void);
void keepalive_close(void);
void keepalive_answer(const struct binding *b, int err);
bool keepalive_failed(const struct binding *b);


/* conns.c */
int  conns_init(void);
void conns_interval(uint32_t interval);
void conns_close(void);
void conns_register(struct sipd_sock *sock, const struct sip_msg *msg,
		    uint32_t expires, bool nated);

/* retry.c */
struct waiting;
typedef void (retry_h)(struct sipd_sock *sock, const struct sip_msg *msg,
		       struct waiting *w);

int  retry_later(struct sipd_sock *sock, const struct sip_msg *msg,
		 struct waiting *w, retry_h *h);
void retry_done(struct waiting *w);
bool retry_waiting(const struct sip_msg *msg);
bool retry_pending(void);
void retry_close(void);
