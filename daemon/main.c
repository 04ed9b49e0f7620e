/**
 * @file main.c  The sipd daemon: options, signals, daemon mode, main loop
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <fcntl.h>
#include <getopt.h>
#include <sys/stat.h>
#include <re.h>
#include "ops.h"
#include "libre/libre.h"
#include "db/db.h"
#include "tlspeer/tlspeer.h"
#include "dns/dns.h"
#include "avail/avail.h"
#include "pool/pool.h"
#include "node/node.h"


#ifndef SIPD_CONF_PATH
#define SIPD_CONF_PATH "/etc/sipd/sipd.conf"
#endif


static void usage(void)
{
	(void)fprintf(stderr,
		"usage: sipd [-f FILE] [-m DIR] [-p FILE] [-d] [-t] [-v] [-h]\n"
		"\n"
		"  -f FILE  configuration file (default $SIPD_CONF or "
		SIPD_CONF_PATH ")\n"
		"  -m DIR   module directory (overrides module_path)\n"
		"  -p FILE  write the process id to FILE\n"
		"  -d       run as a daemon, log to syslog\n"
		"  -t       check the configuration and exit\n"
		"  -v       print the version and exit\n"
		"  -h       print this help and exit\n");
}


static const char *realpath_new(const char *path)
{
	static char buf[1024];
	char cwd[512];

	if (path[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		return path;

	(void)re_snprintf(buf, sizeof(buf), "%s/%s", cwd, path);

	return buf;
}


static void signal_handler(int sig)
{
	log_notice("caught signal %d, shutting down\n", sig);
	re_cancel();
}


static int pidfile_write(const char *path)
{
	FILE *f;

	f = fopen(path, "w");
	if (!f)
		return errno;

	(void)fprintf(f, "%d\n", (int)getpid());

	return fclose(f) ? errno : 0;
}


static int pidfile_write_checked(const char *path, bool *written)
{
	int err;

	if (!path)
		return 0;

	err = pidfile_write(path);
	if (err) {
		log_error("cannot write %s: %m\n", path, err);
		return err;
	}

	*written = true;

	return 0;
}


/*
 * Daemon mode: the parent waits until the child has started (or failed)
 * and exits with its status, so that "sipd -d" reports start errors.
 */
static int daemon_fork(int *notify_fd)
{
	int fds[2];
	pid_t pid;
	char status = 1;

	if (pipe(fds))
		return errno;

	pid = fork();
	if (pid < 0)
		return errno;

	if (pid > 0) {
		(void)close(fds[1]);
		if (read(fds[0], &status, 1) != 1)
			status = 1;
		exit(status);
	}

	(void)close(fds[0]);
	(void)setsid();
	*notify_fd = fds[1];

	return 0;
}


static int exit_status(int err)
{
	if (!err)
		return 0;

	return err == EINVAL ? 2 : 1;
}


/* A daemon logs to syslog, and its standard streams go nowhere */
static void daemon_detach(void)
{
	int fd;

	log_use_syslog(true);

	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		(void)dup2(fd, STDIN_FILENO);
		(void)dup2(fd, STDOUT_FILENO);
		(void)dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			(void)close(fd);
	}

	(void)chdir("/");
}


static void daemon_ready(int notify_fd, int err)
{
	char status = (char)exit_status(err);

	if (notify_fd < 0)
		return;

	if (!err)
		daemon_detach();

	(void)write(notify_fd, &status, 1);
	(void)close(notify_fd);
}


static int master_notify_fd = -1;

static void master_started(int err)
{
	if (!err)
		log_notice("sipd %s started with %s, %u workers\n",
			   SIPD_VERSION, config_path(), workers_count());

	daemon_ready(master_notify_fd, err);
	master_notify_fd = -1;
}


/*
 * With several workers this process becomes their master: it closes the
 * database (each worker opens its own) and forks them. Returns in the
 * master when the workers have exited, in a worker at once.
 */
static int master_run(int notify_fd, bool *worker)
{
	db_close();

	master_notify_fd = notify_fd;

	return workers_run(worker, master_started);
}


int main(int argc, char *argv[])
{
	const char *conf = getenv("SIPD_CONF");
	const char *pidfile = NULL;
	bool daemonize = false, check = false, pid_written = false;
	bool worker = false;
	int notify_fd = -1;
	int err, c;

	if (!conf || !*conf)
		conf = SIPD_CONF_PATH;

	(void)sys_coredump_set(true);

	err = libre_init();
	if (err) {
		(void)fprintf(stderr, "sipd: libre_init: %s\n",
			      strerror(err));
		return 1;
	}

	while ((c = getopt(argc, argv, "f:m:p:dtvh")) != -1) {

		switch (c) {

		case 'f':
			conf = optarg;
			break;

		case 'm':
			err = module_path_set(optarg);
			break;

		case 'p':
			/* absolute: a daemon changes to / */
			pidfile = realpath_new(optarg);
			break;

		case 'd':
			daemonize = true;
			break;

		case 't':
			check = true;
			break;

		case 'v':
			(void)printf("sipd %s (libre %s)\n", SIPD_VERSION,
				     sys_libre_version_get());
			goto out;

		case 'h':
			usage();
			goto out;

		default:
			usage();
			err = EINVAL;
			goto out;
		}
	}

	if (optind < argc) {
		usage();
		err = EINVAL;
		goto out;
	}

	if (daemonize && !check) {
		err = daemon_fork(&notify_fd);
		if (err) {
			(void)fprintf(stderr, "sipd: fork: %s\n",
				      strerror(err));
			goto out;
		}
	}

	(void)signal(SIGPIPE, SIG_IGN);
	(void)signal(SIGHUP, SIG_IGN);

	ops_register();
	db_part_register();
	tls_peer_part_register();
	dns_part_register();
	avail_part_register();
	pool_part_register();
	node_part_register();

	err = core_init(conf, check);
	if (err)
		goto out;

	if (check) {
		(void)printf("%s: configuration OK\n", conf);
		goto out;
	}

	quiet_libre();

	if (workers_count() > 1) {
		err = pidfile_write_checked(pidfile, &pid_written);
		if (err)
			goto out;

		err = master_run(notify_fd, &worker);
		notify_fd = -1;
		if (!worker)
			goto out;

		/* a worker: the pid file is the master's */
		pid_written = false;
		if (daemonize)
			daemon_detach();

		err = db_reopen();
		if (err)
			goto out;
	}

	err = core_start();
	if (err)
		goto out;

	if (!worker) {
		err = pidfile_write_checked(pidfile, &pid_written);
		if (err)
			goto out;
	}

	if (worker)
		log_notice("worker %d started\n", worker_index());
	else
		log_notice("sipd %s started with %s\n", SIPD_VERSION, conf);

	workers_ready(0);
	daemon_ready(notify_fd, 0);
	notify_fd = -1;

	err = re_main(signal_handler);

	log_notice("stopped\n");

 out:
	workers_ready(err ? err : 0);
	daemon_ready(notify_fd, err ? err : 0);

	core_close();
	mod_close();
	libre_close();

	if (pid_written)
		(void)unlink(pidfile);

	return exit_status(err);
}
