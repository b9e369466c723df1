-- Two lookups filtered on a column whose only index was partial, which a query binding the
-- partial index's value as a parameter cannot use, so each read the whole table and a month
-- of the pilot slowed as it grew (found by `postamat simulate` at 93,000 documents):
-- an application's documents (the registry office's events, Kaspi's orders, intake,
-- duplicates) ...
CREATE INDEX shipments_application_idx ON shipments (application_id, kind);
-- ... and the Kaspi events waiting for a waybill (replayed at every order and handover).
CREATE INDEX kaspi_events_waybill_idx ON kaspi_events (waybill, outcome);
