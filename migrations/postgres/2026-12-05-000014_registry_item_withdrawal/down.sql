DROP INDEX registry_items_one_live_registry;
DELETE FROM registry_items WHERE withdrawn_at IS NOT NULL;
ALTER TABLE registry_items ADD CONSTRAINT registry_items_one_registry_key UNIQUE (shipment_id, registry_kind);
ALTER TABLE registry_items DROP COLUMN withdrawn_at;
