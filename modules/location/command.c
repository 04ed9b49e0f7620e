/**
 * @file command.c  The control socket's reg command: sipctl reg add and
 *                  del, run by the daemon
 *
 *   reg add AOR CONTACT EXPIRES Q1000
 *   reg del AOR [CONTACT]
 *
 * sipctl checks the words and sends them; the change is saved with
 * location_save(), as a REGISTER's is, so the presence role notifies the
 * watchers of the AOR. With workers, worker 0 has the control socket and
 * the subscriptions.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdlib.h>
#include <string.h>
#include <re.h>
#include <sipd.h>
#include <store/store.h>
#include "location.h"


enum {
	EXPIRES_MAX = 315360000,
};


static bool number(uint32_t *val, const char *s, uint32_t max)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return false;

	v = strtoul(s, &end, 10);
	if (*end || v > max)
		return false;

	*val = (uint32_t)v;

	return true;
}


static int reg_handler(struct mbuf *mb, int argc, char *argv[])
{
	uint32_t expires = 0, q = 0;
	struct mbuf *msg;
	int err;

	msg = mbuf_alloc(256);
	if (!msg)
		return ENOMEM;

	if (argc == 6 && !strcmp(argv[1], "add") &&
	    number(&expires, argv[4], EXPIRES_MAX) && expires &&
	    number(&q, argv[5], 1000)) {
		err = store_reg_add(msg, argv[2], argv[3], expires,
				    (uint16_t)q, location_save);
	}
	else if ((argc == 3 || argc == 4) && !strcmp(argv[1], "del")) {
		err = store_reg_del(msg, argv[2], argc == 4 ? argv[3] : NULL,
				    location_save);
	}
	else {
		err = command_reply(mb, false, "usage: reg add AOR CONTACT"
				    " EXPIRES Q1000 | reg del AOR"
				    " [CONTACT]\n");
		goto out;
	}

	if (err)
		log_info("location: %s %s: %m\n", argv[1], argv[2], err);

	err = command_reply(mb, !err, "%b", msg->buf, msg->end);

 out:
	mem_deref(msg);

	return err;
}


static struct command reg_command = {
	.name = "reg",
	.h    = reg_handler,
};


void reg_command_register(void)
{
	command_register(&reg_command);
}


void reg_command_unregister(void)
{
	command_unregister(&reg_command);
}
