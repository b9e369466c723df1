DROP TABLE force_majeure_periods;
DROP TABLE calendar_edits;
DROP TABLE calendar_years;
