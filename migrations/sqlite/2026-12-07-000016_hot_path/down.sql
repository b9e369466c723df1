DROP INDEX shipments_branch_idx;
CREATE INDEX shipments_branch_status_idx ON shipments (branch_id, status);
