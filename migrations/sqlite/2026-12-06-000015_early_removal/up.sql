-- Issue 23 trap 4 (п.29): Kaspi taking a document out of its cell before the storage the
-- citizen was told of ended is recorded as a discrepancy of its own kind. SQLite cannot change
-- a table constraint: the table is rebuilt with the same rows.
CREATE TABLE discrepancies_new (
    id            text PRIMARY KEY NOT NULL,
    branch_id     text REFERENCES branches (id),
    registry_id   text REFERENCES registries (id),
    shipment_id   text REFERENCES shipments (id),
    kind          text NOT NULL CHECK (kind IN ('not_accepted', 'unexpected_envelope', 'wrong_postamat',
                                                  'envelope_refused', 'removed_early')),
    waybill       text,
    detail        text NOT NULL,
    kaspi_event_id text,
    detected_at   text NOT NULL,
    resolved_at   text
);
INSERT INTO discrepancies_new
    (id, branch_id, registry_id, shipment_id, kind, waybill, detail, kaspi_event_id, detected_at, resolved_at)
SELECT id, branch_id, registry_id, shipment_id, kind, waybill, detail, kaspi_event_id, detected_at, resolved_at
FROM discrepancies;
DROP TABLE discrepancies;
ALTER TABLE discrepancies_new RENAME TO discrepancies;
CREATE INDEX discrepancies_branch_idx ON discrepancies (branch_id, detected_at);
