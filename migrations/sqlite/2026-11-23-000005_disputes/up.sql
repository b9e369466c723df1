-- Disputes (п.36): settled by the commission (its protocol) or in court; kept so the record
-- shows how a loss or a shipment's dispute ended.
CREATE TABLE disputes (
    id                   text PRIMARY KEY NOT NULL,
    shipment_id          text NOT NULL REFERENCES shipments (id),
    loss_act_id          text REFERENCES loss_acts (id),
    branch_id            text NOT NULL REFERENCES branches (id),
    parties              text NOT NULL,
    subject              text NOT NULL,
    opened_on            text NOT NULL,
    commission_protocol  text,
    outcome              text,
    settled_on           text,
    recorded_by          text NOT NULL REFERENCES api_keys (id),
    created_at           text NOT NULL,
    updated_at           text NOT NULL
);
CREATE INDEX disputes_branch_idx ON disputes (branch_id);
