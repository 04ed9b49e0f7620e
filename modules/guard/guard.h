/**
 * @file guard.h  Internal interface of the guard module
 *
 * Copyright (C) 2026 sipd developers
 */

/* ban.c */
struct ban_info {
	const struct sa *addr;
	uint32_t remaining;        /* seconds */
	int64_t since;             /* epoch seconds */
	const char *reason;
};

typedef bool (ban_apply_h)(const struct ban_info *ban, void *arg);

void bans_init(void);
bool bans_check(const struct sa *src);
void bans_add(const struct sa *src, uint32_t seconds, const char *reason);
uint32_t bans_count(void);
void bans_apply(ban_apply_h *h, void *arg);
int  bans_del(const struct sa *addr);
uint32_t bans_del_all(void);
void bans_close(void);

/* flood.c */
int  flood_config(bool apply);
void flood_init(void);
bool flood_check(const struct sa *src, bool options);
void flood_close(void);

/* scanner.c */
int  scanner_config(bool apply);
void scanner_init(void);
bool scanner_check(const struct sip_msg *msg);
void scanner_close(void);

/* connlimit.c */
int  connlimit_config(bool apply);
void connlimit_init(uint32_t fd_limit);
void connlimit_close(void);

/* command.c */
void ban_command_register(void);
void ban_command_unregister(void);
