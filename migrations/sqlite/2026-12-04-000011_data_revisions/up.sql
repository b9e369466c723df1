-- Re-reads of stored rows that a change of rule requires and SQL alone cannot compute (a
-- deadline needs the working-day calendar): each is applied once, by the first instance that
-- migrates, and recorded here with when. Issue 22 item 2 is the first: pending deadlines that
-- started at exactly 00:00 local time are counted again from the day that instant ends.
CREATE TABLE data_revisions (
    name        text PRIMARY KEY,
    applied_at  text NOT NULL
);
