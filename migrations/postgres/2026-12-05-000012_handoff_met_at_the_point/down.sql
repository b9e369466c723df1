-- The signature times the old rule used are still in the history, but which deadlines were
-- re-read is not kept; nothing to undo in the schema.
SELECT 1;
