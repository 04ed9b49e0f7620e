-- schema 3 to 4: call forwarding and the busy limit (issue 14).
-- busy_limit: how many calls a user may be on before a new call gets 486
-- Busy Here (0: unlimited). forwards: one rule per user and kind, whose
-- target is a sip:/sips: URI or a number (made sip:NUMBER@ the user's
-- domain when a call is forwarded); after: the seconds a noanswer rule
-- lets the user's phones ring. An account's rules go with it.
ALTER TABLE accounts ADD COLUMN busy_limit INTEGER NOT NULL DEFAULT 0;
CREATE TABLE forwards (
	aor     TEXT NOT NULL,
	kind    TEXT NOT NULL
		CHECK (kind IN ('always','busy','noanswer','unavailable')),
	target  TEXT NOT NULL,
	after   INTEGER NOT NULL DEFAULT 0,
	created INTEGER NOT NULL,
	PRIMARY KEY (aor, kind)
);
UPDATE version SET version = 4 WHERE name = 'schema';
