DROP TABLE data_revisions;
