-- PostgreSQL schema version 4 to 5: several nodes on one database
--
-- nodes: the sipd nodes that share the database, each under the
-- node_name of its configuration. uri is where the others send what is
-- for a phone whose flow the node holds (node_uri); started is when it
-- last started, epoch seconds. A live node holds the session-level
-- advisory lock of its name (pg_try_advisory_lock(20925,
-- hashtext(name))) as long as its connection lasts, so a second node of
-- that name is refused, and the others see in pg_locks which are gone.
--
-- bindings.node, subscriptions.node: the node that holds the phone's
-- flow (its UDP source through that node's socket, its connection), and
-- the node that owns (sends the NOTIFYs of) a subscription; NULL for one
-- made by a sipd without node_name.
--
-- sipd_changed(): every committed change of the tables whose rows sipd
-- keeps in caches is told on the channel "sipd" (LISTEN/NOTIFY), its
-- payload the table's name, a space, and the key the trigger names (a
-- user@domain, an address of record, a node name). Every node LISTENs;
-- notifications are delivered at commit, in commit order, to every node
-- and to the writer itself. Not the bindings: a transaction that
-- NOTIFYs holds the server-wide notify lock until its commit is flushed,
-- which would commit every REGISTER one at a time; sipd and sipctl tell
-- a change of the bindings ("bindings AOR") after its commit, in a
-- statement of its own.

CREATE TABLE nodes (
	name    TEXT PRIMARY KEY,
	uri     TEXT NOT NULL,
	started BIGINT NOT NULL
);

-- whether a node of that name runs (holds the lock of its name)
CREATE FUNCTION sipd_node_alive(node text) RETURNS boolean
	LANGUAGE sql STABLE AS $$
	SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
		AND classid = 20925 AND objid = hashtext(node)::oid
		AND objsubid = 2 AND granted)
$$;

ALTER TABLE bindings ADD COLUMN node TEXT;
ALTER TABLE subscriptions ADD COLUMN node TEXT;
CREATE INDEX subscriptions_node ON subscriptions (node);

CREATE FUNCTION sipd_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	r jsonb;
	k text;
BEGIN
	IF TG_OP = 'DELETE' THEN
		r := to_jsonb(OLD);
	ELSE
		r := to_jsonb(NEW);
	END IF;
	IF TG_ARGV[1] IS NOT NULL THEN
		k := (r ->> TG_ARGV[0]) || '@' || (r ->> TG_ARGV[1]);
	ELSE
		k := r ->> TG_ARGV[0];
	END IF;
	PERFORM pg_notify('sipd', TG_TABLE_NAME || ' ' || COALESCE(k, ''));
	RETURN NULL;
END
$$;

CREATE TRIGGER accounts_changed AFTER INSERT OR UPDATE OR DELETE
	ON accounts FOR EACH ROW EXECUTE FUNCTION
	sipd_changed('username', 'domain');
CREATE TRIGGER publications_changed AFTER INSERT OR UPDATE OR DELETE
	ON publications FOR EACH ROW EXECUTE FUNCTION
	sipd_changed('presentity');
CREATE TRIGGER presence_rules_changed AFTER INSERT OR UPDATE OR DELETE
	ON presence_rules FOR EACH ROW EXECUTE FUNCTION
	sipd_changed('presentity');
CREATE TRIGGER forwards_changed AFTER INSERT OR UPDATE OR DELETE
	ON forwards FOR EACH ROW EXECUTE FUNCTION sipd_changed('aor');
CREATE TRIGGER nodes_changed AFTER INSERT OR UPDATE OR DELETE
	ON nodes FOR EACH ROW EXECUTE FUNCTION sipd_changed('name');

UPDATE version SET version = 5 WHERE name = 'schema';
