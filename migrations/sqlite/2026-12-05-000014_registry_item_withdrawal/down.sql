DELETE FROM registry_items WHERE withdrawn_at IS NOT NULL;
CREATE TABLE registry_items_old (
    registry_id         text NOT NULL REFERENCES registries (id),
    shipment_id         text NOT NULL REFERENCES shipments (id),
    registry_kind       text NOT NULL,
    application_number  text NOT NULL,
    waybill             text NOT NULL,
    added_by            text NOT NULL REFERENCES api_keys (id),
    added_at            text NOT NULL,
    PRIMARY KEY (registry_id, shipment_id),
    CONSTRAINT registry_items_one_registry_key UNIQUE (shipment_id, registry_kind)
);
INSERT INTO registry_items_old
SELECT registry_id, shipment_id, registry_kind, application_number, waybill, added_by, added_at
FROM registry_items;
DROP TABLE registry_items;
ALTER TABLE registry_items_old RENAME TO registry_items;
