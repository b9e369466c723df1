-- Issue 23 trap 2 (п.18): an envelope the Kaspi point did not accept, brought back by the
-- State courier, goes onto a new registry. The registry it was on is a signed document and
-- keeps it; its line there is marked withdrawn, and an envelope is on one live registry of a
-- kind at a time (two clerks adding it at once, one wins), no longer on one registry ever.
-- SQLite cannot drop a table constraint: the table is rebuilt with the same rows.
CREATE TABLE registry_items_new (
    registry_id         text NOT NULL REFERENCES registries (id),
    shipment_id         text NOT NULL REFERENCES shipments (id),
    registry_kind       text NOT NULL,
    application_number  text NOT NULL,
    waybill             text NOT NULL,
    added_by            text NOT NULL REFERENCES api_keys (id),
    added_at            text NOT NULL,
    withdrawn_at        text,
    PRIMARY KEY (registry_id, shipment_id)
);
INSERT INTO registry_items_new
    (registry_id, shipment_id, registry_kind, application_number, waybill, added_by, added_at, withdrawn_at)
SELECT registry_id, shipment_id, registry_kind, application_number, waybill, added_by, added_at, NULL
FROM registry_items;
DROP TABLE registry_items;
ALTER TABLE registry_items_new RENAME TO registry_items;
CREATE UNIQUE INDEX registry_items_one_live_registry
    ON registry_items (shipment_id, registry_kind) WHERE withdrawn_at IS NULL;
