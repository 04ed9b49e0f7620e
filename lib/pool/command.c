/**
 * @file command.c  Server pools: the control socket's pool command
 *
 *   pool [NAME] [--json]     the members of the pools, or of one
 *
 * With workers, worker 0 has the control socket: its view is shown.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include "pools.h"


struct show {
	struct mbuf *mb;
	bool json;
	unsigned n;
};


static int last_print(struct re_printf *pf, void *arg)
{
	const struct pool_member *m = arg;

	if (m->last_result)
		return re_hprintf(pf, "%s", m->last_result);

	if (m->last_code)
		return re_hprintf(pf, "%u", m->last_code);

	return re_hprintf(pf, "-");
}


static int member_print(struct show *sh, const struct pool_member *m)
{
	int64_t when = m->last_time;
	int err;

	if (sh->json) {
		err = mbuf_printf(sh->mb, "%s  {\"pool\": %H, \"uri\": %H,"
				  " \"state\": \"%s\", \"weight\": %u,"
				  " \"max\": %u, \"calls\": %u,"
				  " \"redirected\": %u, \"last_probe\": ",
				  sh->n ? ",\n" : "", json_quote, m->pool,
				  json_quote, m->uri, member_state_name(m),
				  m->weight, m->max, m->calls,
				  member_redirects(m));
		if (m->last_result)
			err |= mbuf_printf(sh->mb, "\"%s\"", m->last_result);
		else if (m->last_code)
			err |= mbuf_printf(sh->mb, "%u", m->last_code);
		else
			err |= mbuf_printf(sh->mb, "null");
		err |= mbuf_printf(sh->mb, ", \"last_probe_time\": %lld}",
				   (long long)when);
	}
	else {
		if (!sh->n)
			(void)mbuf_printf(sh->mb, "%-12s %-36s %-8s %6s %5s"
					  " %5s %6s  %-10s %s\n", "POOL",
					  "MEMBER", "STATE", "WEIGHT", "MAX",
					  "CALLS", "REDIR", "PROBE", "AT");
		err = mbuf_printf(sh->mb, "%-12s %-36s %-8s %6u ", m->pool,
				  m->uri, member_state_name(m), m->weight);
		if (m->max)
			err |= mbuf_printf(sh->mb, "%5u", m->max);
		else
			err |= mbuf_printf(sh->mb, "%5s", "-");
		err |= mbuf_printf(sh->mb, " %5u %6u  %-10H %H\n", m->calls,
				   member_redirects(m), last_print, m,
				   when ? time_print : last_print,
				   when ? (void *)&when : (void *)m);
	}

	++sh->n;

	return err;
}


static int pool_show(struct mbuf *mb, const char *name, bool json)
{
	struct show sh = {mb, json, 0};
	struct le *le, *mle;
	int err;

	if (name && !pool_exists(name))
		return command_reply(mb, false, "no pool '%s'\n", name);

	err = command_reply(mb, true, json ? "[\n" : NULL);

	for (le = pool_list()->head; le && !err; le = le->next) {
		const struct pool *p = le->data;

		if (name && str_casecmp(name, p->name))
			continue;

		for (mle = p->members.head; mle && !err; mle = mle->next)
			err = member_print(&sh, mle->data);
	}

	if (err)
		return err;

	if (json)
		return mbuf_printf(mb, "%s]\n", sh.n ? "\n" : "");

	return sh.n ? 0 : mbuf_printf(mb, "no pool is configured\n");
}


static int pool_handler(struct mbuf *mb, int argc, char *argv[])
{
	const char *name = NULL;
	bool json = false;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!name)
			name = argv[i];
		else
			return command_reply(mb, false, "usage: pool [NAME]"
					     " [--json]\n");
	}

	return pool_show(mb, name, json);
}


static struct command pool_command = {
	.name = "pool",
	.h    = pool_handler,
};


void pool_command_register(void)
{
	command_register(&pool_command);
}


void pool_command_unregister(void)
{
	command_unregister(&pool_command);
}
