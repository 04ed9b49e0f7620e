/**
 * @file node.c  This sipd among the nodes that share one PostgreSQL
 *               database: its name, its lock, the others' URIs
 *
 *   node_name NAME      letters, digits, "-", "_", "."; at most 63
 *   node_uri  SIP-URI   sip:HOST[:PORT][;transport=...], where the
 *                       other nodes send what is for this one's phones
 *
 * Both or neither; they need a PostgreSQL db. Once started, the node
 * holds PostgreSQL's session-level advisory lock of its name as long as
 * its connection lasts (worker 0 does, with several workers): a second
 * sipd of the same name finds it held and refuses to start, and the lock
 * goes with the node (a kill -9 ends its session), which tells the
 * other nodes it is gone (node_alive()). Its row in the nodes table
 * says where it is; the others read it when they first need it and
 * again when a change of the table is told (lib/db/pg_notify.c).
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <ctype.h>
#include <libpq-fe.h>
#include <re.h>
#include "core.h"
#include "db/db.h"
#include "node/node.h"


enum {
	NAME_MAX_LEN = 63,
};


/** Another node, as the nodes table says */
struct peer {
	struct le le;
	char *name;
	char *uri;
};


static struct {
	char *name;             /* node_name, NULL if none             */
	char *uri;              /* node_uri                            */
	struct list peers;      /* struct peer, read from the database */
	bool peers_read;
	bool locked;
	struct db_pg_watch watch;
} node;


static struct pg_stmt st_lock = {
	.sql = "SELECT pg_try_advisory_lock(20925, hashtext($1))"
};

static struct pg_stmt st_put = {
	.sql = "INSERT INTO nodes (name, uri, started) VALUES ($1, $2, $3)"
	       " ON CONFLICT (name) DO UPDATE SET uri = excluded.uri,"
	       " started = excluded.started"
};

static struct pg_stmt st_peers = {
	.sql = "SELECT name, uri FROM nodes"
};

static struct pg_stmt st_alive = {
	.sql = "SELECT sipd_node_alive($1)"
};


static void peer_destructor(void *arg)
{
	struct peer *p = arg;

	mem_deref(p->name);
	mem_deref(p->uri);
}


static bool name_valid(const char *s)
{
	size_t n = 0;

	for (; *s; s++, n++) {
		if (!isalnum((unsigned char)*s) && !strchr("-_.", *s))
			return false;
	}

	return n > 0 && n <= NAME_MAX_LEN;
}


static bool uri_valid(const char *s)
{
	struct uri uri;
	struct pl pl;

	pl_set_str(&pl, s);

	return !uri_decode(&uri, &pl) && !pl_strcasecmp(&uri.scheme, "sip")
		&& !pl_isset(&uri.user) && pl_isset(&uri.host);
}


/* One value of a query, or NULL */
static const char *value(const PGresult *res)
{
	if (PQntuples(res) < 1 || PQgetisnull(res, 0, 0))
		return NULL;

	return PQgetvalue(res, 0, 0);
}


static int node_config(bool apply)
{
	const struct config_line *name = config_find("node_name");
	const struct config_line *uri = config_find("node_uri");
	const struct config_line *db = config_find("db");

	if (!name && !uri) {
		if (apply) {
			node.name = mem_deref(node.name);
			node.uri = mem_deref(node.uri);
		}
		return 0;
	}

	if (name && !name_valid(name->val))
		return config_fail(name, "node_name %s: letters, digits, -,"
				   " _ and . only, at most %d", name->val,
				   NAME_MAX_LEN);

	if (uri && !uri_valid(uri->val))
		return config_fail(uri, "node_uri %s: not a SIP URI of this"
				   " node (sip:HOST[:PORT][;transport=...])",
				   uri->val);

	if (!uri)
		return config_fail(name, "node_name needs node_uri (where the"
				   " other nodes reach this one)");
	if (!name)
		return config_fail(uri, "node_uri needs node_name");

	if (!db || !db_is_uri(db->val))
		return config_fail(name, "node_name needs a PostgreSQL"
				   " database (db postgresql://...) that the"
				   " nodes share");

	if (!apply)
		return 0;

	/* a restart changes them: the name is locked while running */
	if (node.name)
		return 0;

	if (str_dup(&node.name, name->val) || str_dup(&node.uri, uri->val))
		return ENOMEM;

	return 0;
}


static void peers_flush(void)
{
	list_flush(&node.peers);
	node.peers_read = false;
}


static int node_announce(void);


/* The nodes table changed, or the connection is back (table "") */
static void changed(const char *table, const char *key, void *arg)
{
	(void)key;
	(void)arg;

	peers_flush();

	/* a new session: the lock of the name is to take again */
	if (!table[0] && node.locked && node_announce())
		log_warning("node: %s: the name could not be taken again"
			    " after the database came back: %s\n",
			    node.name, db_pg_errmsg());
}


static int peers_read(void)
{
	PGresult *res;
	int i, err;

	if (node.peers_read)
		return 0;

	err = db_pg_query((struct pg_result **)&res, &st_peers, 0, NULL);
	if (err)
		return err;

	for (i = 0; i < PQntuples(res) && !err; i++) {
		struct peer *p = mem_zalloc(sizeof(*p), peer_destructor);

		if (!p) {
			err = ENOMEM;
			break;
		}

		err  = str_dup(&p->name, PQgetvalue(res, i, 0));
		err |= str_dup(&p->uri, PQgetvalue(res, i, 1));
		list_append(&node.peers, &p->le, p);
	}

	PQclear(res);

	if (err)
		list_flush(&node.peers);
	else
		node.peers_read = true;

	return err;
}


/* Take this node's lock and say where it is */
static int node_announce(void)
{
	char started[24];
	const char *v[3] = {node.name, node.uri, started};
	PGresult *res;
	const char *got;
	int err;

	err = db_pg_query((struct pg_result **)&res, &st_lock, 1, v);
	if (err)
		return err;

	got = value(res);
	node.locked = got && !strcmp(got, "t");
	PQclear(res);

	if (!node.locked)
		return EADDRINUSE;

	re_snprintf(started, sizeof(started), "%lld",
		    (long long)time_now());

	err = db_pg_query((struct pg_result **)&res, &st_put, 3, v);
	if (!err)
		PQclear(res);

	return err;
}


static int node_start(void)
{
	const struct config_line *line = config_find("node_name");
	int err;

	if (!node.name)
		return 0;

	db_pg_watch_register(&node.watch, "nodes", changed, NULL);

	/* with several workers, worker 0 holds the name */
	if (worker_index() > 0)
		return 0;

	err = node_announce();
	if (err == EADDRINUSE) {
		(void)config_fail(line, "node_name %s: another running node"
				  " of this database has this name",
				  node.name);
		return err;
	}
	if (err) {
		(void)config_fail(line, "node_name %s: cannot register the"
				  " node: %s", node.name, db_pg_errmsg());
		return err;
	}

	log_info("node: %s (%s) joined the database\n", node.name,
		 node.uri);

	return 0;
}


static void node_stop(void)
{
	db_pg_watch_unregister(&node.watch);
	peers_flush();
}


static void node_close(void)
{
	peers_flush();
	node.name = mem_deref(node.name);
	node.uri = mem_deref(node.uri);
	node.locked = false;
}


/**
 * This node's name
 *
 * @return node_name, NULL without it
 */
const char *node_self(void)
{
	return node.name;
}


/**
 * Whether a name is another node's than this one
 *
 * @param name Node name of a binding or subscription, may be NULL
 *
 * @return True if set and not this node's
 */
bool node_is_other(const char *name)
{
	return name && *name && node.name && strcmp(name, node.name);
}


/**
 * The URI of a node, as its row in the nodes table says
 *
 * @param urip Set to a new string
 * @param name Node name
 *
 * @return 0 if success, ENOENT for an unknown node, otherwise errorcode
 */
int node_uri(char **urip, const char *name)
{
	struct le *le;
	int err;

	if (!urip || !name)
		return EINVAL;

	err = peers_read();
	if (err)
		return err;

	for (le = node.peers.head; le; le = le->next) {
		const struct peer *p = le->data;

		if (!strcmp(p->name, name))
			return str_dup(urip, p->uri);
	}

	return ENOENT;
}


/**
 * Whether a node is running (holds the lock of its name)
 *
 * @param name Node name
 *
 * @return True if it does (or the database cannot say)
 */
bool node_alive(const char *name)
{
	const char *v[1] = {name};
	PGresult *res;
	const char *n;
	bool alive;

	if (db_pg_query((struct pg_result **)&res, &st_alive, 1, v))
		return true;

	n = value(res);
	alive = !n || strcmp(n, "f");
	PQclear(res);

	return alive;
}


static struct core_part node_part = {
	.name = "node",
	.configh = node_config,
	.starth = node_start,
	.stoph = node_stop,
	.closeh = node_close,
};


/**
 * Register the node with the core (before core_init)
 */
void node_part_register(void)
{
	core_part_register(&node_part);
}
