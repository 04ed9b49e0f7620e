/**
 * @file node.h  This sipd's name among the nodes sharing one PostgreSQL
 *               database, and where the others are (the modules' API;
 *               lib/node is linked once into sipd, its symbols exported
 *               to the modules)
 *
 *   node_name NAME      unique among the live nodes of the database
 *   node_uri  SIP-URI   where the other nodes reach this one
 *
 * Copyright (C) 2026 sipd developers
 */

#ifndef SIPD_NODE_H
#define SIPD_NODE_H

/* This node's name, NULL without node_name (one node, or SQLite) */
const char *node_self(void);
/* Whether a binding's or subscription's node is another live one's */
bool node_is_other(const char *name);
/* The node_uri of a node, as it registered it: *urip a new string;
   ENOENT for a node the database does not know */
int  node_uri(char **urip, const char *name);
/* Whether a node of that name holds its lock (is running) */
bool node_alive(const char *name);

void node_part_register(void);

#endif
