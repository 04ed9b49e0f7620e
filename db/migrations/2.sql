-- schema 1 to 2: presence tables
CREATE TABLE subscriptions (
	id          INTEGER PRIMARY KEY,
	event       TEXT NOT NULL,
	presentity  TEXT NOT NULL,
	watcher     TEXT NOT NULL,
	state       TEXT NOT NULL,
	expires     INTEGER NOT NULL,
	call_id     TEXT NOT NULL,
	local_tag   TEXT NOT NULL,
	remote_tag  TEXT NOT NULL,
	local_uri   TEXT NOT NULL,
	remote_uri  TEXT NOT NULL,
	contact     TEXT NOT NULL,
	route_set   TEXT NOT NULL DEFAULT '',
	socket      TEXT NOT NULL,
	received    TEXT NOT NULL DEFAULT '',
	transport   TEXT NOT NULL DEFAULT 'udp',
	local_cseq  INTEGER NOT NULL,
	remote_cseq INTEGER NOT NULL,
	version     INTEGER NOT NULL DEFAULT 0,
	accept      TEXT NOT NULL DEFAULT '',
	created     INTEGER NOT NULL,
	updated     INTEGER NOT NULL,
	UNIQUE (call_id, local_tag, remote_tag)
);
CREATE INDEX subscriptions_presentity ON subscriptions (presentity);
CREATE INDEX subscriptions_expires ON subscriptions (expires);
CREATE TABLE publications (
	id           INTEGER PRIMARY KEY,
	presentity   TEXT NOT NULL,
	event        TEXT NOT NULL,
	etag         TEXT NOT NULL UNIQUE,
	expires      INTEGER NOT NULL,
	content_type TEXT NOT NULL,
	body         TEXT NOT NULL,
	source       TEXT NOT NULL DEFAULT '',
	created      INTEGER NOT NULL,
	updated      INTEGER NOT NULL
);
CREATE INDEX publications_presentity ON publications (presentity);
CREATE INDEX publications_expires ON publications (expires);
CREATE TABLE presence_rules (
	presentity TEXT NOT NULL,
	watcher    TEXT NOT NULL,
	rule       TEXT NOT NULL,
	created    INTEGER NOT NULL,
	PRIMARY KEY (presentity, watcher)
);
CREATE TABLE presence_state (
	presentity TEXT PRIMARY KEY,
	pidf       TEXT NOT NULL,
	sources    TEXT NOT NULL,
	updated    INTEGER NOT NULL
);
UPDATE version SET version = 2 WHERE name = 'schema';
