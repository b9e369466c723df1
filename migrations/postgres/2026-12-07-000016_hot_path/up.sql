-- Issue 26: what PostgreSQL writes for one Kaspi event, down to what the rule needs.
--
-- 1. `shipments` is updated by every status change. `status` was the one changing column any
--    index held (`shipments_branch_status_idx`), so every update was a new tuple plus an entry
--    in each of the six indexes. Without it no index covers a column the hot path changes, and
--    the update can stay on its page (a HOT update: no index entry at all); a fill factor of 80
--    leaves the room for it on pages written from now on. A branch's list by state reads the
--    branch's shipments through `shipments_branch_idx` and keeps those in the state: a branch
--    holds a year of its documents at most (about 20,000 at national volume).
DROP INDEX shipments_branch_status_idx;
CREATE INDEX shipments_branch_idx ON shipments (branch_id);
ALTER TABLE shipments SET (fillfactor = 80);

-- 2. The sweeper and the exception reports look for open deadlines only (pending, breached);
--    met and cancelled ones, most of the table, need no entry. An update that resolves one
--    no longer adds an entry here, and the index stays the size of the open work.
DROP INDEX deadlines_due_idx;
CREATE INDEX deadlines_open_due_idx ON deadlines (state, due_at)
    WHERE state IN ('pending', 'breached');

-- 3. API keys are cached by each instance; a change to a key (a revocation) or to a branch's
--    code tells every instance at its commit, so the next request on any instance reads the
--    key again. The payload is the key's or the branch's id.
CREATE FUNCTION postamat_key_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('postamat_keys', OLD.id::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER api_keys_changed AFTER UPDATE OR DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION postamat_key_changed();
CREATE TRIGGER branches_code_changed AFTER UPDATE OF code OR DELETE ON branches
    FOR EACH ROW EXECUTE FUNCTION postamat_key_changed();
-- A TRUNCATE fires no row trigger: it tells of every key at once.
CREATE FUNCTION postamat_keys_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('postamat_keys', '*');
    RETURN NULL;
END
$$;
CREATE TRIGGER api_keys_truncated AFTER TRUNCATE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION postamat_keys_truncated();
CREATE TRIGGER branches_truncated AFTER TRUNCATE ON branches
    FOR EACH STATEMENT EXECUTE FUNCTION postamat_keys_truncated();
