DELETE FROM discrepancies WHERE kind = 'removed_early';
CREATE TABLE discrepancies_old (
    id            text PRIMARY KEY NOT NULL,
    branch_id     text REFERENCES branches (id),
    registry_id   text REFERENCES registries (id),
    shipment_id   text REFERENCES shipments (id),
    kind          text NOT NULL CHECK (kind IN ('not_accepted', 'unexpected_envelope', 'wrong_postamat',
                                                  'envelope_refused')),
    waybill       text,
    detail        text NOT NULL,
    kaspi_event_id text,
    detected_at   text NOT NULL,
    resolved_at   text
);
INSERT INTO discrepancies_old SELECT * FROM discrepancies;
DROP TABLE discrepancies;
ALTER TABLE discrepancies_old RENAME TO discrepancies;
CREATE INDEX discrepancies_branch_idx ON discrepancies (branch_id, detected_at);
