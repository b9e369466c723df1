-- Issue 23 trap 2 (п.18): an envelope the Kaspi point did not accept, brought back by the
-- State courier, goes onto a new registry. The registry it was on is a signed document and
-- keeps it; its line there is marked withdrawn, and an envelope is on one live registry of a
-- kind at a time (two clerks adding it at once, one wins), no longer on one registry ever.
ALTER TABLE registry_items ADD COLUMN withdrawn_at timestamp;
ALTER TABLE registry_items DROP CONSTRAINT registry_items_one_registry_key;
CREATE UNIQUE INDEX registry_items_one_live_registry
    ON registry_items (shipment_id, registry_kind) WHERE withdrawn_at IS NULL;
