DROP INDEX applications_iin_idx;
DROP TABLE console_sessions;
