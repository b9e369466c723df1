DROP TABLE number_sequences;
DROP TABLE registry_items;
DROP TABLE registries;
DROP TABLE integration_events;
DROP TABLE deadlines;
DROP TABLE status_events;
DROP TABLE shipments;
DROP TABLE applications;
