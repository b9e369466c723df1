-- Issue 26 (PostgreSQL's migration of the same number says more). `status` leaves the branch
-- index, so a status change, the commonest write, changes no index entry here either. SQLite
-- keeps its whole `(state, due_at)` index on deadlines: its planner uses a partial index only
-- when a query repeats the index's condition, which `state = 'pending'` does not for
-- `state IN ('pending', 'breached')`. On SQLite a request reads its API key
-- every time (no cache), so a key change needs no notice.
DROP INDEX shipments_branch_status_idx;
CREATE INDEX shipments_branch_idx ON shipments (branch_id);
