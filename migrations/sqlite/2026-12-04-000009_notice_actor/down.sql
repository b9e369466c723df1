ALTER TABLE force_majeure_periods DROP COLUMN notice_recorded_by;
