DROP TRIGGER branches_code_changed ON branches;
DROP TRIGGER api_keys_changed ON api_keys;
DROP FUNCTION postamat_key_changed();
DROP INDEX deadlines_open_due_idx;
CREATE INDEX deadlines_due_idx ON deadlines (state, due_at);
ALTER TABLE shipments RESET (fillfactor);
DROP INDEX shipments_branch_idx;
CREATE INDEX shipments_branch_status_idx ON shipments (branch_id, status);
