/**
 * @file control.c  The control socket: sipctl talks to the running sipd
 *
 *   control_socket PATH|off        default /run/sipd/sipd.ctl
 *
 * A UNIX stream socket, mode 0600 (owner only), in a directory of mode
 * 0750 created when missing. A client sends one command line and gets
 * one reply (command.c), then the connection closes. A line is at most
 * 1 KB, at most 8 clients are served at once, and a client that has not
 * sent its line within 3 seconds is dropped. A stale socket file is
 * removed at start; when another sipd answers on it, sipd refuses to
 * start. The file is removed at exit.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <re.h>
#include "ops.h"


enum {
	LINE_MAX_SIZE = 1024,
	CLIENTS_MAX   = 8,
	TIMEOUT_MS    = 3000,
	BACKLOG       = 16,
};


struct client {
	struct le le;
	int fd;
	struct tmr tmr;
	char line[LINE_MAX_SIZE + 1];
	size_t len;
	struct mbuf *out;          /* the reply, while it is written */
};


static struct {
	char *path;                /* NULL: off */
	const struct config_line *line;
	int fd;
	bool bound;                /* the file is ours: remove it at exit */
	dev_t dev;
	ino_t ino;
	struct list clients;
} ctl = {
	.fd = -1,
};


/**
 * Read the control_socket key
 *
 * @param apply True to use it at start, false to check it
 *
 * @return 0 if success, otherwise errorcode
 */
int control_config(bool apply)
{
	const struct config_line *line = config_find("control_socket");
	struct sockaddr_un sun;
	char *path = NULL;
	int err;

	if (line && !str_casecmp(line->val, "off")) {
		if (apply)
			ctl.path = mem_deref(ctl.path);
		return 0;
	}

	err = path_absolute(&path, line ? line->val : SIPD_CONTROL_PATH);
	if (err)
		return err;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		err = config_fail(line, "%s is too long for a socket (at most"
				  " %zu characters)", path,
				  sizeof(sun.sun_path) - 1);
		goto out;
	}

	if (apply) {
		mem_deref(ctl.path);
		ctl.path = path;
		ctl.line = line;
		path = NULL;
	}

 out:
	mem_deref(path);

	return err;
}


static void client_destructor(void *arg)
{
	struct client *c = arg;

	list_unlink(&c->le);
	tmr_cancel(&c->tmr);
	mem_deref(c->out);

	if (c->fd >= 0) {
		fd_close(c->fd);
		(void)close(c->fd);
	}
}


static void timeout_handler(void *arg)
{
	struct client *c = arg;

	log_debug("control: a client sent nothing for %u ms: dropped\n",
		  TIMEOUT_MS);
	mem_deref(c);
}


static void write_handler(int flags, void *arg)
{
	struct client *c = arg;
	ssize_t n;
	(void)flags;

	while (mbuf_get_left(c->out)) {
		n = write(c->fd, mbuf_buf(c->out), mbuf_get_left(c->out));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;                 /* the rest when it can */
		if (n <= 0)
			break;
		mbuf_advance(c->out, n);
	}

	mem_deref(c);
}


static void respond(struct client *c)
{
	int err;

	c->line[c->len] = '\0';

	c->out = mbuf_alloc(4096);
	if (!c->out) {
		mem_deref(c);
		return;
	}

	if (c->len == LINE_MAX_SIZE)
		err = mbuf_printf(c->out, "error\nthe line is longer than %u"
				  " bytes\n", LINE_MAX_SIZE);
	else
		err = command_run(c->out, c->line);

	if (err) {
		mbuf_reset(c->out);
		(void)mbuf_printf(c->out, "error\n%m\n", err);
	}

	c->out->pos = 0;

	err = fd_listen(c->fd, FD_WRITE, write_handler, c);
	if (err)
		mem_deref(c);
}


static void read_handler(int flags, void *arg)
{
	struct client *c = arg;
	char *nl;
	ssize_t n;
	(void)flags;

	for (;;) {
		n = read(c->fd, c->line + c->len, LINE_MAX_SIZE - c->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			mem_deref(c);
			return;
		}
		if (n == 0)
			break;

		c->len += n;

		nl = memchr(c->line, '\n', c->len);
		if (nl) {
			c->len = nl - c->line;
			break;
		}

		if (c->len == LINE_MAX_SIZE)
			break;
	}

	/* end of input without a newline: the line is what came */
	if (!c->len && n == 0) {
		mem_deref(c);
		return;
	}

	respond(c);
}


static void accept_handler(int flags, void *arg)
{
	struct client *c;
	int fd;
	(void)flags;
	(void)arg;

	for (;;) {
		fd = accept4(ctl.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;

		if (list_count(&ctl.clients) >= CLIENTS_MAX) {
			static const char busy[] = "error\nbusy: too many"
				" control clients\n";

			(void)write(fd, busy, sizeof(busy) - 1);
			(void)close(fd);
			log_warning("control: %u clients already: one"
				    " refused\n", CLIENTS_MAX);
			continue;
		}

		c = mem_zalloc(sizeof(*c), client_destructor);
		if (!c) {
			(void)close(fd);
			continue;
		}

		c->fd = fd;
		list_append(&ctl.clients, &c->le, c);
		tmr_start(&c->tmr, TIMEOUT_MS, timeout_handler, c);

		if (fd_listen(fd, FD_READ, read_handler, c))
			mem_deref(c);
	}
}


/* Is a sipd listening on the file? Remove the file if it is stale. */
static int stale_check(void)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd, err;

	if (lstat(ctl.path, &st))
		return errno == ENOENT ? 0 : errno;

	if (!S_ISSOCK(st.st_mode))
		return config_fail(ctl.line, "%s exists and is not a socket",
				   ctl.path);

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	str_ncpy(sun.sun_path, ctl.path, sizeof(sun.sun_path));

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;

	err = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) ? errno : 0;
	(void)close(fd);

	if (!err)
		return config_fail(ctl.line, "another sipd is listening on %s"
				   " (stop it, or give this one another"
				   " control_socket)", ctl.path);

	log_notice("control: removing the stale socket %s\n", ctl.path);

	return unlink(ctl.path) ? errno : 0;
}


static int socket_open(void)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t mask;
	int err;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	str_ncpy(sun.sun_path, ctl.path, sizeof(sun.sun_path));

	ctl.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);
	if (ctl.fd < 0)
		return errno;

	/* owner only from the first moment */
	mask = umask(0177);
	err = bind(ctl.fd, (struct sockaddr *)&sun, sizeof(sun)) ? errno : 0;
	(void)umask(mask);
	if (err)
		return err;

	ctl.bound = true;

	if (chmod(ctl.path, 0600) || stat(ctl.path, &st))
		return errno;

	ctl.dev = st.st_dev;
	ctl.ino = st.st_ino;

	if (listen(ctl.fd, BACKLOG))
		return errno;

	return fd_listen(ctl.fd, FD_READ, accept_handler, NULL);
}


/**
 * Open the control socket, unless it is off
 *
 * @return 0 if success, otherwise errorcode (reported)
 */
int control_start(void)
{
	int err;

	if (!ctl.path)
		return 0;

	err = path_mkdir(ctl.path, 0750);
	if (err)
		return config_fail(ctl.line, "cannot create the directory of"
				   " %s: %m", ctl.path, err);

	err = stale_check();
	if (err == EINVAL)
		return err;
	if (err)
		return config_fail(ctl.line, "cannot use %s: %m", ctl.path,
				   err);

	err = socket_open();
	if (err)
		return config_fail(ctl.line, "cannot listen on %s: %m",
				   ctl.path, err);

	log_info("control socket %s\n", ctl.path);

	return 0;
}


void control_close(void)
{
	struct stat st;

	list_flush(&ctl.clients);

	if (ctl.fd >= 0) {
		fd_close(ctl.fd);
		(void)close(ctl.fd);
		ctl.fd = -1;
	}

	/* only the file this sipd made, not a successor's */
	if (ctl.bound && !stat(ctl.path, &st) && st.st_dev == ctl.dev &&
	    st.st_ino == ctl.ino)
		(void)unlink(ctl.path);

	ctl.bound = false;
	ctl.path = mem_deref(ctl.path);
	ctl.line = NULL;
}
