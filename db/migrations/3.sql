-- schema 2 to 3: is a binding behind a NAT, decided when it registered
-- (1: reached at its source address, 0: at its Contact); NULL in the rows
-- saved before, which keep the rule of their time
ALTER TABLE bindings ADD COLUMN nat INTEGER;
UPDATE version SET version = 3 WHERE name = 'schema';
