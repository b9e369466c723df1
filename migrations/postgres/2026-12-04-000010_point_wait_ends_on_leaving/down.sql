-- The placement times the old rule used are not kept apart from the history; nothing to undo
-- in the schema (the re-read deadlines keep the times they were met at).
SELECT 1;
