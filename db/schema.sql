-- sipd database schema
--
-- One SQLite file holds accounts, bindings and the server's secrets.
-- sipd creates it from this file when it is missing and refuses to start
-- when the version below differs from the one it was built for.
-- Times are integer epoch seconds.
--
-- This file is version 1; db/migrations/N.sql takes a database from
-- version N-1 to N, and a new database is this file plus every migration
-- in order (tools/embed-schema): 2 adds the presence tables, 3 the nat
-- flag of bindings, 4 the busy_limit of accounts (calls a user may be on
-- before a new one gets 486 Busy Here, 0: unlimited) and the table
-- forwards (a user's call forwarding rules: always, busy, noanswer,
-- unavailable, one of each kind, removed with the account).

CREATE TABLE version (
	name    TEXT PRIMARY KEY,
	version INTEGER NOT NULL
);

INSERT INTO version (name, version) VALUES ('schema', 1);

-- Accounts: credentials as HA1 = H(username:domain:password), never the
-- password itself; the realm of an account is its domain.
CREATE TABLE accounts (
	id         INTEGER PRIMARY KEY,
	username   TEXT NOT NULL,
	domain     TEXT NOT NULL,
	ha1_md5    BLOB NOT NULL,
	ha1_sha256 BLOB NOT NULL,
	created    INTEGER NOT NULL,
	UNIQUE (username, domain)
);

-- Bindings: the registered contacts of an address-of-record (user@domain)
CREATE TABLE bindings (
	id         INTEGER PRIMARY KEY,
	aor        TEXT NOT NULL,
	contact    TEXT NOT NULL,
	params     TEXT NOT NULL DEFAULT '',
	expires    INTEGER NOT NULL,
	q          INTEGER NOT NULL DEFAULT 1000,
	callid     TEXT NOT NULL,
	cseq       INTEGER NOT NULL,
	received   TEXT NOT NULL,
	transport  TEXT NOT NULL,
	socket     TEXT NOT NULL,
	path       TEXT,
	user_agent TEXT,
	instance   TEXT,
	reg_id     INTEGER NOT NULL DEFAULT 0,
	created    INTEGER NOT NULL,
	updated    INTEGER NOT NULL
);

CREATE INDEX bindings_aor ON bindings (aor);
CREATE INDEX bindings_expires ON bindings (expires);

-- Server secrets, such as the key that signs digest nonces
CREATE TABLE secrets (
	name  TEXT PRIMARY KEY,
	value BLOB NOT NULL
);
