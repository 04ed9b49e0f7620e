/**
 * @file config.c  Configuration file: "key value" lines with line numbers
 *
 * The format is libre's conf format: one key and one value token a line,
 * '#' starts a comment; pool and group lines take several words. Every
 * line keeps its number so that every error names the file, the line and
 * the problem. A line that no part of sipd
 * reads is an unknown key.
 *
 * One configuration is current: the one config_find() and the others
 * read. A reload reads the file into another one, makes it current to
 * check and apply it, and keeps or drops it (reload.c).
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <re.h>
#include "core.h"


/** The lines of one configuration file */
struct config {
	struct list lines;     /* struct config_line */
	struct list queried;   /* struct config_key: keys looked up */
	char *path;
	int errors;
};

/** A key some part of sipd looked up, set or not */
struct config_key {
	struct le le;
	char *key;
};


static struct {
	struct config *cur;
	struct mbuf *capture;  /* problems are also written here */
} cfg;


static void line_destructor(void *arg)
{
	struct config_line *line = arg;

	list_unlink(&line->le);
	mem_deref(line->key);
	mem_deref(line->val);
}


static void key_destructor(void *arg)
{
	struct config_key *k = arg;

	list_unlink(&k->le);
	mem_deref(k->key);
}


static void config_destructor(void *arg)
{
	struct config *c = arg;

	list_flush(&c->lines);
	list_flush(&c->queried);
	mem_deref(c->path);
}


static void report(struct config *c, unsigned lineno, const char *fmt, ...)
{
	const char *path = c && c->path ? c->path : "(no file)";
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	(void)re_vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	if (c)
		++c->errors;

	if (lineno) {
		log_error("%s:%u: %s\n", path, lineno, msg);
		if (cfg.capture)
			(void)mbuf_printf(cfg.capture, "%s:%u: %s\n", path,
					  lineno, msg);
	}
	else {
		log_error("%s: %s\n", path, msg);
		if (cfg.capture)
			(void)mbuf_printf(cfg.capture, "%s: %s\n", path,
					  msg);
	}
}


/**
 * Also write every problem reported to a buffer, one a line
 *
 * @param mb Buffer, or NULL to stop
 */
void config_capture(struct mbuf *mb)
{
	cfg.capture = mb;
}


/**
 * Report a problem with a configuration line
 *
 * @param line The line (its file and number are printed)
 * @param fmt  Formatted description of the problem
 *
 * @return EINVAL, for the caller to return
 */
int config_fail(const struct config_line *line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	(void)re_vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	report(cfg.cur, line ? line->lineno : 0, "%s%s%s",
	       line ? line->key : "", line ? ": " : "", msg);

	return EINVAL;
}


/* The keys whose value is several words (lib/pool, ring groups) */
static bool takes_words(const char *key)
{
	return !str_casecmp(key, "pool") || !str_casecmp(key, "group");
}


static int parse_line(struct config *c, char *p, unsigned lineno)
{
	struct config_line *line;
	char *key, *val, *end;

	/* comments: '#' at the start or after white space */
	for (end = p; *end; end++) {
		if (*end == '#' && (end == p || end[-1] == ' ' ||
				    end[-1] == '\t')) {
			*end = '\0';
			break;
		}
	}

	while (*p == ' ' || *p == '\t')
		++p;

	end = p + strlen(p);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' ||
			   end[-1] == '\r'))
		*--end = '\0';

	if (!*p)
		return 0;

	key = p;
	while (*p && *p != ' ' && *p != '\t')
		++p;

	if (*p)
		*p++ = '\0';

	while (*p == ' ' || *p == '\t')
		++p;

	val = p;

	if (!*val) {
		report(c, lineno, "%s: missing value", key);
		return 0;
	}

	if (strpbrk(val, " \t") && !takes_words(key)) {
		report(c, lineno, "%s: the value must be one token, got '%s'",
		       key, val);
		return 0;
	}

	line = mem_zalloc(sizeof(*line), line_destructor);
	if (!line)
		return ENOMEM;

	line->lineno = lineno;

	if (str_dup(&line->key, key) || str_dup(&line->val, val)) {
		mem_deref(line);
		return ENOMEM;
	}

	list_append(&c->lines, &line->le, line);

	return 0;
}


static int config_alloc(struct config **cp, const char *name)
{
	struct config *c;

	c = mem_zalloc(sizeof(*c), config_destructor);
	if (!c)
		return ENOMEM;

	if (str_dup(&c->path, name)) {
		mem_deref(c);
		return ENOMEM;
	}

	*cp = c;

	return 0;
}


/**
 * Read configuration lines from a buffer into a new configuration
 *
 * @param cp   Pointer to the new configuration (not made current)
 * @param name Name shown in error messages (the file name)
 * @param buf  NUL-terminated contents
 *
 * @return 0 if the buffer could be read, otherwise errorcode. Syntax
 *         errors are reported and counted in the new configuration
 */
int config_read_buf(struct config **cp, const char *name, const char *buf)
{
	struct config *c;
	unsigned lineno = 0;
	char *copy, *p, *nl;
	int err;

	err = config_alloc(&c, name);
	if (err)
		return err;

	err = str_dup(&copy, buf);
	if (err) {
		mem_deref(c);
		return err;
	}

	for (p = copy; p && !err; p = nl) {

		nl = strchr(p, '\n');
		if (nl)
			*nl++ = '\0';

		++lineno;

		err = parse_line(c, p, lineno);
	}

	mem_deref(copy);

	if (err)
		mem_deref(c);
	else
		*cp = c;

	return err;
}


/**
 * Read a configuration file into a new configuration
 *
 * @param cp   Pointer to the new configuration (not made current); set
 *             also when the file cannot be read, with the problem counted
 * @param path File name
 *
 * @return 0 if success, otherwise errorcode
 */
int config_read(struct config **cp, const char *path)
{
	struct mbuf *mb;
	FILE *f;
	int err = 0;

	f = fopen(path, "r");
	if (!f) {
		err = errno;
		if (!config_alloc(cp, path))
			report(*cp, 0, "cannot open: %m", err);
		return err;
	}

	mb = mbuf_alloc(4096);
	if (!mb) {
		fclose(f);
		return ENOMEM;
	}

	for (;;) {
		char buf[4096];
		size_t n = fread(buf, 1, sizeof(buf), f);

		if (n == 0)
			break;

		err = mbuf_write_mem(mb, (uint8_t *)buf, n);
		if (err)
			break;
	}

	if (!err && ferror(f))
		err = EIO;

	fclose(f);

	if (!err) {
		err = mbuf_write_u8(mb, 0);
		if (!err)
			err = config_read_buf(cp, path, (char *)mb->buf);
	}

	mem_deref(mb);

	return err;
}


/**
 * Make a configuration the current one
 *
 * @param c The configuration (its reference passes to the core)
 *
 * @return The configuration that was current (its reference passes to
 *         the caller), or NULL
 */
struct config *config_swap(struct config *c)
{
	struct config *old = cfg.cur;

	cfg.cur = c;

	return old;
}


/**
 * Load configuration lines from a buffer and make them current
 *
 * @param name Name shown in error messages (the file name)
 * @param buf  NUL-terminated contents
 *
 * @return 0 if the buffer could be read, otherwise errorcode. Syntax
 *         errors are counted, see config_errors()
 */
int config_load_buf(const char *name, const char *buf)
{
	struct config *c = NULL;
	int err;

	config_unload();

	err = config_read_buf(&c, name, buf);
	if (c)
		mem_deref(config_swap(c));

	return err;
}


/**
 * Load the configuration file and make it current
 *
 * @param path File name
 *
 * @return 0 if success, otherwise errorcode
 */
int config_load(const char *path)
{
	struct config *c = NULL;
	int err;

	config_unload();

	err = config_read(&c, path);
	if (c)
		mem_deref(config_swap(c));

	return err;
}


/**
 * The current configuration
 *
 * @return Configuration, or NULL
 */
struct config *config_current(void)
{
	return cfg.cur;
}


void config_unload(void)
{
	cfg.cur = mem_deref(cfg.cur);
}


const char *config_path(void)
{
	return cfg.cur && cfg.cur->path ? cfg.cur->path : "(no file)";
}


/**
 * Number of problems reported so far
 *
 * @return Error count
 */
int config_errors(void)
{
	return cfg.cur ? cfg.cur->errors : 0;
}


/* Remember that a key was looked up, for config_unread() */
static void queried(const char *key)
{
	struct config_key *k;
	struct le *le;

	for (le = cfg.cur->queried.head; le; le = le->next) {
		k = le->data;
		if (!str_casecmp(k->key, key))
			return;
	}

	k = mem_zalloc(sizeof(*k), key_destructor);
	if (!k)
		return;

	if (str_dup(&k->key, key)) {
		mem_deref(k);
		return;
	}

	list_append(&cfg.cur->queried, &k->le, k);
}


/**
 * Find the line that sets a single-valued key; the last one wins
 *
 * @param key Key name
 *
 * @return Line, or NULL if the key is not set
 */
const struct config_line *config_find(const char *key)
{
	struct config_line *found = NULL;
	struct le *le;

	if (!cfg.cur)
		return NULL;

	queried(key);

	for (le = cfg.cur->lines.head; le; le = le->next) {
		struct config_line *line = le->data;

		if (0 == str_casecmp(line->key, key)) {
			line->used = true;
			found = line;
		}
	}

	return found;
}


/**
 * Read an unsigned number within a range
 *
 * @param key Key name
 * @param val Value; left as is when the key is not set
 * @param min Smallest value allowed
 * @param max Largest value allowed
 *
 * @return 0 if unset or valid, EINVAL if invalid (reported)
 */
int config_u32(const char *key, uint32_t *val, uint32_t min, uint32_t max)
{
	const struct config_line *line = config_find(key);
	unsigned long long v;
	char *end;

	if (!line)
		return 0;

	errno = 0;
	v = strtoull(line->val, &end, 10);
	if (*end || errno || line->val[0] < '0' || line->val[0] > '9' ||
	    v < min || v > max) {
		return config_fail(line, "'%s' is not a number from %u to %u",
				   line->val, min, max);
	}

	*val = (uint32_t)v;

	return 0;
}


/**
 * Parse a boolean word
 *
 * @param val Result
 * @param str on, off, yes, no, true, false, 1 or 0
 *
 * @return 0 if success, EINVAL if not a boolean word
 */
int config_parse_bool(bool *val, const char *str)
{
	static const char *yes[] = {"on", "yes", "true", "1"};
	static const char *no[]  = {"off", "no", "false", "0"};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(yes); i++) {
		if (!str_casecmp(str, yes[i])) {
			*val = true;
			return 0;
		}
		if (!str_casecmp(str, no[i])) {
			*val = false;
			return 0;
		}
	}

	return EINVAL;
}


/**
 * Read a boolean
 *
 * @param key Key name
 * @param val Value; left as is when the key is not set
 *
 * @return 0 if unset or valid, EINVAL if invalid (reported)
 */
int config_bool(const char *key, bool *val)
{
	const struct config_line *line = config_find(key);

	if (!line)
		return 0;

	if (config_parse_bool(val, line->val))
		return config_fail(line, "'%s' is not on or off", line->val);

	return 0;
}


/**
 * Read a string
 *
 * @param key  Key name
 * @param strp Set to a new copy when the key is set, left as is otherwise
 *
 * @return 0 if success, otherwise errorcode
 */
int config_str(const char *key, char **strp)
{
	const struct config_line *line = config_find(key);
	char *str;
	int err;

	if (!line)
		return 0;

	err = str_dup(&str, line->val);
	if (err)
		return err;

	mem_deref(*strp);
	*strp = str;

	return 0;
}


/**
 * Apply a handler to every line of a repeatable key, in file order
 *
 * @param key Key name
 * @param h   Handler, called with the line
 * @param arg Handler argument
 *
 * @return 0 if every call returned 0, otherwise the first error
 */
int config_apply(const char *key, config_line_h *h, void *arg)
{
	struct le *le;
	int err = 0;

	if (!cfg.cur)
		return 0;

	queried(key);

	for (le = cfg.cur->lines.head; le; le = le->next) {
		struct config_line *line = le->data;
		int e;

		if (str_casecmp(line->key, key))
			continue;

		line->used = true;

		e = h(line, arg);
		if (e && !err)
			err = e;
	}

	return err;
}


/**
 * Apply a handler to every line of a key whose value is several words
 * separated by blanks (pool, group): line->val holds them all
 *
 * @param key Key name
 * @param h   Handler, called with the line
 * @param arg Handler argument
 *
 * @return 0 if every call returned 0, otherwise the first error
 */
int config_apply_words(const char *key, config_line_h *h, void *arg)
{
	return takes_words(key) ? config_apply(key, h, arg) : EINVAL;
}


/* Whether a configuration has a line of a key that sipd read */
static bool key_used(const struct config *c, const char *key)
{
	struct le *le;

	for (le = c ? c->lines.head : NULL; le; le = le->next) {
		const struct config_line *line = le->data;

		if (line->used && !str_casecmp(line->key, key))
			return true;
	}

	return false;
}


static bool key_queried(const struct config *c, const char *key)
{
	struct le *le;

	for (le = c ? c->queried.head : NULL; le; le = le->next) {
		const struct config_key *k = le->data;

		if (!str_casecmp(k->key, key))
			return true;
	}

	return false;
}


/**
 * Report every line of the current configuration that no part of sipd
 * has read
 *
 * @param known A configuration whose used keys count as known, or NULL.
 *              A reload passes the running one: a key that a module read
 *              at start but does not read again is not unknown.
 *
 * @return 0 if all keys are known, EINVAL otherwise
 */
int config_check_unused(const struct config *known)
{
	struct le *le;
	int err = 0;

	for (le = cfg.cur ? cfg.cur->lines.head : NULL; le; le = le->next) {
		struct config_line *line = le->data;

		if (line->used)
			continue;

		if (key_used(known, line->key)) {
			line->used = true;
			continue;
		}

		report(cfg.cur, line->lineno, "unknown key '%s'", line->key);
		err = EINVAL;
	}

	return err;
}


/* The n-th line of a key, from 0 */
static const struct config_line *nth(const struct config *c,
				     const char *key, unsigned n)
{
	struct le *le;

	for (le = c ? c->lines.head : NULL; le; le = le->next) {
		const struct config_line *line = le->data;

		if (str_casecmp(line->key, key))
			continue;

		if (!n--)
			return line;
	}

	return NULL;
}


/**
 * Compare the lines of a key in two configurations, in order
 *
 * @param a   A configuration
 * @param b   Another
 * @param key Key name
 *
 * @return True if their values of the key differ (in number, order or
 *         value; a single-valued key is compared by its last line)
 */
bool config_differs(const struct config *a, const struct config *b,
		    const char *key)
{
	const struct config_line *la, *lb;
	unsigned i;

	for (i = 0; ; i++) {
		la = nth(a, key, i);
		lb = nth(b, key, i);

		if (!la || !lb)
			return la != lb;

		if (strcmp(la->val, lb->val))
			return true;
	}
}


/**
 * Apply a handler to every key that a configuration read but that the
 * current one has not looked up: what the running sipd does not read
 * again (keys of a module without a reload hook)
 *
 * @param old The configuration sipd started with
 * @param h   Handler, called once for each such key (with its first line
 *            in old)
 * @param arg Handler argument
 */
void config_unread(const struct config *old, config_line_h *h, void *arg)
{
	struct le *le;

	for (le = old ? old->lines.head : NULL; le; le = le->next) {
		const struct config_line *line = le->data;

		if (!line->used || key_queried(cfg.cur, line->key))
			continue;

		if (nth(old, line->key, 0) != line)
			continue;

		(void)h(line, arg);
	}
}
