/**
 * @file config.c  Configuration file: "key value" lines with line numbers
 *
 * The format is libre's conf format: one key and one value token a line,
 * '#' starts a comment. Every line keeps its number so that every error
 * names the file, the line and the problem. A line that no part of sipd
 * reads is an unknown key.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <re.h>
#include "core.h"


static struct {
	struct list lines;     /* struct config_line */
	char *path;
	int errors;
} cfg;


static void line_destructor(void *arg)
{
	struct config_line *line = arg;

	list_unlink(&line->le);
	mem_deref(line->key);
	mem_deref(line->val);
}


static void report(unsigned lineno, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	(void)re_vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	++cfg.errors;

	if (lineno)
		log_error("%s:%u: %s\n", cfg.path, lineno, msg);
	else
		log_error("%s: %s\n", cfg.path, msg);
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

	report(line ? line->lineno : 0, "%s%s%s",
	       line ? line->key : "", line ? ": " : "", msg);

	return EINVAL;
}


static int parse_line(char *p, unsigned lineno)
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
		report(lineno, "%s: missing value", key);
		return 0;
	}

	if (strpbrk(val, " \t")) {
		report(lineno, "%s: the value must be one token, got '%s'",
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

	list_append(&cfg.lines, &line->le, line);

	return 0;
}


/**
 * Load configuration lines from a buffer
 *
 * @param name Name shown in error messages (the file name)
 * @param buf  NUL-terminated contents
 *
 * @return 0 if the buffer could be read, otherwise errorcode. Syntax
 *         errors are counted, see config_errors()
 */
int config_load_buf(const char *name, const char *buf)
{
	unsigned lineno = 0;
	char *copy, *p, *nl;
	int err = 0;

	config_unload();

	err = str_dup(&cfg.path, name);
	if (err)
		return err;

	err = str_dup(&copy, buf);
	if (err)
		return err;

	for (p = copy; p && !err; p = nl) {

		nl = strchr(p, '\n');
		if (nl)
			*nl++ = '\0';

		++lineno;

		err = parse_line(p, lineno);
	}

	mem_deref(copy);

	return err;
}


/**
 * Load the configuration file
 *
 * @param path File name
 *
 * @return 0 if success, otherwise errorcode
 */
int config_load(const char *path)
{
	struct mbuf *mb;
	FILE *f;
	int err = 0;

	f = fopen(path, "r");
	if (!f) {
		err = errno;
		config_unload();
		(void)str_dup(&cfg.path, path);
		report(0, "cannot open: %m", err);
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
			err = config_load_buf(path, (char *)mb->buf);
	}

	mem_deref(mb);

	return err;
}


void config_unload(void)
{
	list_flush(&cfg.lines);
	cfg.path = mem_deref(cfg.path);
	cfg.errors = 0;
}


const char *config_path(void)
{
	return cfg.path ? cfg.path : "(no file)";
}


/**
 * Number of problems reported so far
 *
 * @return Error count
 */
int config_errors(void)
{
	return cfg.errors;
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

	for (le = cfg.lines.head; le; le = le->next) {
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

	for (le = cfg.lines.head; le; le = le->next) {
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
 * Report every line that no part of sipd has read
 *
 * @return 0 if all keys are known, EINVAL otherwise
 */
int config_check_unused(void)
{
	struct le *le;
	int err = 0;

	for (le = cfg.lines.head; le; le = le->next) {
		struct config_line *line = le->data;

		if (line->used)
			continue;

		report(line->lineno, "unknown key '%s'", line->key);
		err = EINVAL;
	}

	return err;
}
