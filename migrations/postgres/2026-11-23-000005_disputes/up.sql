-- Disputes (п.36): settled by the commission (its protocol) or in court; kept so the record
-- shows how a loss or a shipment's dispute ended.
CREATE TABLE disputes (
    id                   uuid PRIMARY KEY,
    shipment_id          uuid NOT NULL REFERENCES shipments (id),
    loss_act_id          uuid REFERENCES loss_acts (id),
    branch_id            uuid NOT NULL REFERENCES branches (id),
    parties              text NOT NULL,
    subject              text NOT NULL,
    opened_on            date NOT NULL,
    commission_protocol  text,
    outcome              text,
    settled_on           date,
    recorded_by          uuid NOT NULL REFERENCES api_keys (id),
    created_at           timestamp NOT NULL,
    updated_at           timestamp NOT NULL
);
CREATE INDEX disputes_branch_idx ON disputes (branch_id);
