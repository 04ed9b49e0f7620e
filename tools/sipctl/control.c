/**
 * @file control.c  sipctl status, ban, pool, reload and avail, and reg
 *                  add and del when sipd runs: commands for it,
 *                  through its control socket
 *
 * One command line goes to the socket; the reply's first line is "ok" or
 * "error", the rest is printed (on standard output, or on standard error
 * for an error).
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <poll.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <re.h>
#include "ops.h"
#include "sipctl.h"


enum {
	REPLY_TIMEOUT_MS = 20000,
	REPLY_MAX = 1024 * 1024,
};


static int unreachable(const char *path, int err)
{
	switch (err) {

	case ENOENT:
		(void)fail("sipd is not running (no control socket at %s)",
			   path);
		break;

	case ECONNREFUSED:
		(void)fail("sipd is not running (nothing listens on %s)",
			   path);
		break;

	case EACCES:
	case EPERM:
		(void)fail("permission denied on %s (run sipctl as the user"
			   " sipd runs as, or as root)", path);
		break;

	case ETIMEDOUT:
		(void)fail("sipd did not answer on %s within %u seconds",
			   path, REPLY_TIMEOUT_MS / 1000);
		break;

	default:
		(void)fail("cannot talk to sipd on %s: %m", path, err);
		break;
	}

	return EXIT_UNREACHABLE;
}


/* Send the line, read the whole reply */
static int call(struct mbuf *reply, const char *path, const char *line)
{
	struct sockaddr_un sun;
	struct pollfd pfd;
	char buf[4096];
	int fd, err = 0;
	ssize_t n;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return ENAMETOOLONG;
	str_ncpy(sun.sun_path, path, sizeof(sun.sun_path));

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;

	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) ||
	    write(fd, line, strlen(line)) < 0 || write(fd, "\n", 1) < 0) {
		err = errno;
		goto out;
	}

	(void)shutdown(fd, SHUT_WR);

	pfd.fd = fd;
	pfd.events = POLLIN;

	for (;;) {
		int r = poll(&pfd, 1, REPLY_TIMEOUT_MS);

		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			err = ETIMEDOUT;
			break;
		}

		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? errno : 0;
			break;
		}

		if (reply->end + n > REPLY_MAX) {
			err = EOVERFLOW;
			break;
		}

		err = mbuf_write_mem(reply, (uint8_t *)buf, n);
		if (err)
			break;
	}

 out:
	(void)close(fd);

	return err;
}


/* Print the reply, after its first line; 0 for "ok", 1 for "error" */
static int print_reply(struct mbuf *reply, bool reload)
{
	const char *p = (const char *)reply->buf;
	const char *nl = reply->end ? memchr(p, '\n', reply->end) : NULL;
	const char *body = nl ? nl + 1 : p + reply->end;
	size_t len = reply->end - (body - p);

	if (nl && nl - p == 2 && !memcmp(p, "ok", 2)) {
		(void)fwrite(body, 1, len, stdout);
		return 0;
	}

	if (!nl || nl - p != 5 || memcmp(p, "error", 5)) {
		(void)fail("sipd gave no answer it should give: %b",
			   p, MIN(reply->end, (size_t)80));
		return 1;
	}

	if (reload)
		(void)fprintf(stderr, "sipctl: sipd refused the reload and"
			      " keeps its configuration:\n");
	else
		(void)fputs("sipctl: ", stderr);

	(void)fwrite(body, 1, len, stderr);

	return 1;
}


/* pool [NAME] [--json] */
static bool pool_usage_ok(int argc, char *argv[])
{
	int i, names = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") && (argv[i][0] == '-' ||
						  ++names > 1))
			return false;
	}

	return argc <= 3;
}


static bool usage_ok(int argc, char *argv[])
{
	const char *cmd = argv[0];

	if (!strcmp(cmd, "status"))
		return argc == 1 || (argc == 2 && !strcmp(argv[1], "--json"));

	if (!strcmp(cmd, "reload"))
		return argc == 1;

	if (!strcmp(cmd, "avail"))
		return argc == 2;
	if (!strcmp(cmd, "pool"))
		return pool_usage_ok(argc, argv);

	if (argc >= 2 && !strcmp(argv[1], "list"))
		return argc == 2 || (argc == 3 && !strcmp(argv[2], "--json"));

	return argc == 3 && !strcmp(argv[1], "del");
}


/**
 * Send a command to the running sipd when there is one
 *
 * @param line    The command line
 * @param reached Set to true when sipd answered (its answer is printed)
 *
 * @return Exit status, when reached
 */
int control_try(const char *line, bool *reached)
{
	const char *path = control_path();
	struct mbuf *reply;
	int err, ret = 0;

	*reached = false;

	if (!path)
		return 0;

	reply = mbuf_alloc(4096);
	if (!reply)
		return fail("out of memory");

	err = call(reply, path, line);
	if (!err) {
		*reached = true;
		ret = print_reply(reply, false);
	}
	else if (err == ETIMEDOUT || err == EOVERFLOW) {
		/* it may have made the change: not made twice */
		*reached = true;
		ret = unreachable(path, err);
	}
	else if (err != ENOENT && err != ECONNREFUSED) {
		(void)fprintf(stderr, "sipctl: warning: cannot reach sipd on"
			      " %s (%s): the change goes to the database, and"
			      " no watcher is told\n", path, strerror(err));
	}

	mem_deref(reply);

	return ret;
}


/**
 * sipctl status|ban|pool|reload ...: one command to the running sipd
 *
 * @param path Control socket
 * @param argc Argument count, the command included
 * @param argv The command and its arguments
 *
 * @return Exit status
 */
int cmd_control(const char *path, int argc, char *argv[])
{
	char line[512];
	struct mbuf *reply;
	size_t len = 0;
	int i, err, ret;

	if (!usage_ok(argc, argv)) {
		(void)fail("usage: sipctl status [--json] | ban list [--json]"
			   " | ban del ADDR|all | pool [NAME] [--json]"
			   " | reload | avail USER@DOMAIN");
		return EXIT_USAGE;
	}

	for (i = 0; i < argc; i++) {
		if (re_snprintf(line + len, sizeof(line) - len, "%s%s",
				i ? " " : "", argv[i]) < 0)
			return fail("the command is too long");
		len = strlen(line);
	}

	reply = mbuf_alloc(4096);
	if (!reply)
		return fail("out of memory");

	err = call(reply, path, line);
	if (err)
		ret = unreachable(path, err);
	else
		ret = print_reply(reply, !strcmp(argv[0], "reload"));

	mem_deref(reply);

	return ret;
}
