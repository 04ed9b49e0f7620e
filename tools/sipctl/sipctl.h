/**
 * @file sipctl.h  Internal interface of sipctl
 *
 * Copyright (C) 2026 sipd developers
 */

enum {
	EXIT_USAGE = 2,
	EXIT_UNREACHABLE = 3,
};

/* sipctl.c */
int  fail(const char *fmt, ...);
int  db_use(bool create);
int  db_value(char *db, size_t size);
int  db_use_upgrade(bool create, bool upgrade);
bool aor_split(const char *aor, char *user, size_t usize, char *domain,
	       size_t dsize);
bool domain_configured(const char *domain);
int  domain_refuse(const char *where, const char *domain);
int  account_check(const char *cmd, const char *user, const char *domain);

/* user.c */
int  cmd_user(int argc, char *argv[]);

/* forward.c */
int  cmd_forward(int argc, char *argv[]);

/* reg.c */
int  cmd_reg(int argc, char *argv[]);

/* presence.c */
int  cmd_presence(int argc, char *argv[]);
int  cmd_subpub(const char *what, int argc, char *argv[]);

/* dbcmd.c */
int  cmd_db(int argc, char *argv[]);

/* dbcopy.c */
int  cmd_db_copy(int argc, char *argv[]);

/* control.c */
int  cmd_control(const char *path, int argc, char *argv[]);
int  control_try(const char *line, bool *reached);

/* sipctl.c */
const char *control_path(void);
