/**
 * @file command.c  The control socket's ban command: sipctl ban list and
 *                  del, run by the daemon
 *
 *   ban list [--json]        the banned source addresses
 *   ban del ADDR|all         lift a ban, or every ban
 *
 * With workers, worker 0 has the control socket: its bans are listed.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include <sipd.h>
#include "guard.h"


struct ban_list {
	struct mbuf *mb;
	bool json;
	unsigned n;
};


static bool list_handler(const struct ban_info *ban, void *arg)
{
	struct ban_list *bl = arg;
	int64_t since = ban->since;
	int err;

	if (bl->json) {
		err = mbuf_printf(bl->mb, "%s  {\"address\": \"%j\","
				  " \"remaining\": %u, \"since\": %lld,"
				  " \"reason\": %H}", bl->n ? ",\n" : "",
				  ban->addr, ban->remaining,
				  (long long)ban->since, json_quote,
				  ban->reason);
	}
	else {
		if (!bl->n)
			(void)mbuf_printf(bl->mb, "%-40s %8s  %-19s  %s\n",
					  "ADDRESS", "LEFT", "SINCE",
					  "REASON");
		err = mbuf_printf(bl->mb, "%-40j %8u  %H  %s\n", ban->addr,
				  ban->remaining, time_print, &since,
				  ban->reason);
	}

	++bl->n;

	return err != 0;
}


static int ban_list(struct mbuf *mb, bool json)
{
	struct ban_list bl = {mb, json, 0};
	int err;

	err = command_reply(mb, true, json ? "[\n" : NULL);
	if (err)
		return err;

	bans_apply(list_handler, &bl);

	if (json)
		return mbuf_printf(mb, "%s]\n", bl.n ? "\n" : "");

	return bl.n ? 0 : mbuf_printf(mb, "no source address is banned\n");
}


static int ban_del_addr(struct mbuf *mb, const char *addr)
{
	struct pl pl;
	struct sa sa;

	if (!strcmp(addr, "all")) {
		uint32_t n = bans_del_all();

		return command_reply(mb, true, "lifted %u ban%s\n", n,
				     n == 1 ? "" : "s");
	}

	pl_set_str(&pl, addr);
	if (pl.l > 2 && pl.p[0] == '[' && pl.p[pl.l - 1] == ']') {
		++pl.p;
		pl.l -= 2;
	}

	if (sa_set(&sa, &pl, 0))
		return command_reply(mb, false, "'%s' is not an IP address\n",
				     addr);

	if (bans_del(&sa))
		return command_reply(mb, false, "%j is not banned\n", &sa);

	return command_reply(mb, true, "lifted the ban of %j\n", &sa);
}


static int ban_handler(struct mbuf *mb, int argc, char *argv[])
{
	bool json = false;
	int i;

	if (argc >= 2 && !strcmp(argv[1], "list")) {
		for (i = 2; i < argc && !strcmp(argv[i], "--json"); i++)
			json = true;
		if (i == argc)
			return ban_list(mb, json);
	}
	else if (argc == 3 && !strcmp(argv[1], "del")) {
		return ban_del_addr(mb, argv[2]);
	}

	return command_reply(mb, false, "usage: ban list [--json] | ban del"
			     " ADDR|all\n");
}


static struct command ban_command = {
	.name = "ban",
	.h    = ban_handler,
};


void ban_command_register(void)
{
	command_register(&ban_command);
}


void ban_command_unregister(void)
{
	command_unregister(&ban_command);
}
