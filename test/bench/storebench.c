/**
 * @file storebench.c  The time of the store's calls on one engine: a
 *                     REGISTER's binding save (one transaction, committed)
 *                     and a lookup, as the location service makes them
 *
 *   storebench [-n N] [-u USERS] [-f] DATABASE
 *
 * DATABASE is an SQLite file (made if missing; -f: synchronous=FULL, a
 * commit that survives a power loss, else sipd's default NORMAL) or a
 * PostgreSQL URI (postgresql://...; synchronous_commit on, the tables
 * made if missing). N saves (a new binding for each of USERS users, then
 * refreshes) and N lookups, one at a time from this process; printed:
 * the mean, median and 99th percentile in microseconds and the calls a
 * second of one connection.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <re.h>
#include "core.h"
#include <db/db.h>
#include <store/store.h>


static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);

	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}


static int cmp_u64(const void *a, const void *b)
{
	const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}


static void report(const char *engine, const char *what, uint64_t *t,
		   unsigned n)
{
	uint64_t sum = 0;
	unsigned i;

	for (i = 0; i < n; i++)
		sum += t[i];

	qsort(t, n, sizeof(*t), cmp_u64);

	printf("%-22s %-7s n=%-6u mean %8.1f us  median %8.1f us"
	       "  p99 %8.1f us  %8.0f/s\n", engine, what, n,
	       sum / 1e3 / n, t[n / 2] / 1e3, t[n * 99 / 100] / 1e3,
	       n * 1e9 / sum);
}


static struct binding *binding_new(const char *aor, int64_t now)
{
	struct binding *b;

	if (binding_alloc(&b))
		return NULL;

	(void)re_sdprintf(&b->contact, "sip:%s:5060", aor);
	(void)str_dup(&b->callid, "bench-call-id");
	(void)str_dup(&b->sock, "udp:127.0.0.1:5060");
	(void)str_dup(&b->user_agent, "storebench");
	sa_set_str(&b->received, "192.0.2.7", 5060);
	b->expires = now + 3600;
	b->q = 1000;
	b->cseq = 1;
	b->created = b->updated = now;
	b->nat = BINDING_NAT_NO;

	return b;
}


int main(int argc, char *argv[])
{
	unsigned n = 2000, users = 500, i;
	struct binding **bs = NULL;
	const char *engine = "sqlite (NORMAL)";
	uint64_t *save_t, *lookup_t;
	bool full = false;
	int64_t now;
	char msg[256];
	int c, err;

	while ((c = getopt(argc, argv, "n:u:f")) != -1) {
		switch (c) {

		case 'n': n = (unsigned)atoi(optarg); break;
		case 'u': users = (unsigned)atoi(optarg); break;
		case 'f': full = true; break;
		default:
			fprintf(stderr, "usage: storebench [-n N] [-u USERS]"
				" [-f] DATABASE\n");
			return 2;
		}
	}

	if (optind != argc - 1 || !n || !users) {
		fprintf(stderr, "usage: storebench [-n N] [-u USERS] [-f]"
			" DATABASE\n");
		return 2;
	}

	if (libre_init())
		return 1;

	log_set_level(LOG_LEVEL_WARNING);

	if (!strncmp(argv[optind], "postgres", 8)) {
		err = db_pg_open(argv[optind], true, msg, sizeof(msg));
		if (err) {
			fprintf(stderr, "storebench: %s\n", msg);
			return 1;
		}
		store_engine_set(&store_pg);
		engine = "postgresql (sync on)";
	}
	else {
		err = db_open(argv[optind], true, false);
		if (!err)
			err = db_set_sync(full);
		if (full)
			engine = "sqlite (FULL)";
		if (err) {
			fprintf(stderr, "storebench: %s: %s\n",
				argv[optind], strerror(err));
			return 1;
		}
	}

	save_t = calloc(n, sizeof(*save_t));
	lookup_t = calloc(n, sizeof(*lookup_t));
	bs = calloc(users, sizeof(*bs));
	if (!save_t || !lookup_t || !bs)
		return 1;

	now = time_now();

	/* saves: a new binding per user, then refreshes of it */
	for (i = 0; i < n; i++) {
		struct list up = LIST_INIT;
		unsigned u = i % users;
		char aor[64];
		uint64_t t0;

		re_snprintf(aor, sizeof(aor), "bench%u@example.com", u);
		if (!bs[u])
			bs[u] = binding_new(aor, now);
		if (!bs[u])
			return 1;

		bs[u]->cseq++;
		bs[u]->expires = now + 3600;
		list_append(&up, &bs[u]->le, bs[u]);

		t0 = now_ns();
		err = store_binding_save(aor, &up, NULL);
		save_t[i] = now_ns() - t0;
		list_unlink(&bs[u]->le);
		if (err) {
			fprintf(stderr, "storebench: save: %s (%s)\n",
				strerror(err), store_pg_errmsg());
			return 1;
		}
	}

	for (i = 0; i < n; i++) {
		struct list found = LIST_INIT;
		char aor[64];
		uint64_t t0;

		re_snprintf(aor, sizeof(aor), "bench%u@example.com",
			    i % users);

		t0 = now_ns();
		err = store_binding_lookup(&found, aor, now);
		lookup_t[i] = now_ns() - t0;
		if (err || list_count(&found) != 1) {
			fprintf(stderr, "storebench: lookup: %s\n",
				strerror(err));
			return 1;
		}
		list_flush(&found);
	}

	report(engine, "save", save_t, n);
	report(engine, "lookup", lookup_t, n);

	for (i = 0; i < users; i++)
		mem_deref(bs[i]);
	free(bs);
	free(save_t);
	free(lookup_t);

	store_engine_set(NULL);
	db_pg_close();
	db_close();

	return 0;
}
