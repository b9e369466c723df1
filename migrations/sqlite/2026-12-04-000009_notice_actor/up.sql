-- Issue 28 finding 2: the п.38 notice of a force-majeure period records who made it, as every
-- other step records its actor. Notices recorded before this migration keep NULL (their actor
-- was not kept); a notice recorded from now on always names its key.
ALTER TABLE force_majeure_periods ADD COLUMN notice_recorded_by text REFERENCES api_keys (id);
