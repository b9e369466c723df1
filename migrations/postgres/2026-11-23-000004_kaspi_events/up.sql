-- Kaspi's delivery-status events (issue 5): every event kept by its id with its outcome (the
-- unmatched ones wait for their waybill), discrepancies found on the way, loss acts, and the
-- outboxes written in the same transaction as the change that causes them.

CREATE TABLE kaspi_events (
    event_id      text PRIMARY KEY,
    event_type    text NOT NULL,
    waybill       text,
    occurred_at   timestamp NOT NULL,
    payload       text NOT NULL,   -- the event as received (JSON)
    payload_hash  text NOT NULL,
    outcome       text NOT NULL CHECK (outcome IN ('applied', 'out_of_order_recorded', 'rejected', 'unmatched')),
    reason_code   text,
    detail        text,
    shipment_id   uuid REFERENCES shipments (id),
    received_at   timestamp NOT NULL,
    resolved_at   timestamp
);
CREATE INDEX kaspi_events_unmatched_idx ON kaspi_events (waybill) WHERE outcome = 'unmatched';

CREATE TABLE discrepancies (
    id            uuid PRIMARY KEY,
    branch_id     uuid REFERENCES branches (id),
    registry_id   uuid REFERENCES registries (id),
    shipment_id   uuid REFERENCES shipments (id),
    kind          text NOT NULL CHECK (kind IN ('not_accepted', 'unexpected_envelope', 'wrong_postamat',
                                                  'envelope_refused')),
    waybill       text,
    detail        text NOT NULL,
    kaspi_event_id text,
    detected_at   timestamp NOT NULL,
    resolved_at   timestamp
);
CREATE INDEX discrepancies_branch_idx ON discrepancies (branch_id, detected_at);

-- Loss acts (п.22–24): recorded when the loss is (Kaspi's act number kept for a Kaspi-side
-- loss), then drawn by the accumulation sector in two copies under our gapless number, the
-- second copy going to the registry office.
CREATE TABLE loss_acts (
    id                    uuid PRIMARY KEY,
    shipment_id           uuid NOT NULL REFERENCES shipments (id),
    branch_id             uuid NOT NULL REFERENCES branches (id),
    side                  text NOT NULL CHECK (side IN ('kaspi', 'state_corporation')),
    kaspi_act_number      text,
    number                text,
    state                 text NOT NULL CHECK (state IN ('recorded', 'drawn')),
    cause                 text NOT NULL,
    circumstances         text NOT NULL,
    responsible_employee  text NOT NULL,
    kaspi_event_id        text,
    recorded_by           uuid REFERENCES api_keys (id),
    drawn_by              uuid REFERENCES api_keys (id),
    drawn_at              timestamp,
    created_at            timestamp NOT NULL,
    CONSTRAINT loss_acts_number_key UNIQUE (number),
    CONSTRAINT loss_acts_shipment_key UNIQUE (shipment_id)
);
CREATE INDEX loss_acts_shipment_idx ON loss_acts (shipment_id);

-- Messages to citizens (DOMAIN.md §7); the dedup key makes a repeated cause yield one message.
CREATE TABLE notifications (
    id               uuid PRIMARY KEY,
    application_id   uuid NOT NULL REFERENCES applications (id),
    shipment_id      uuid REFERENCES shipments (id),
    kind             text NOT NULL,
    channel          text NOT NULL CHECK (channel IN ('kaspi_app', 'sms_1414')),
    recipient        text NOT NULL,
    language         text NOT NULL CHECK (language IN ('kk', 'ru')),
    body             text NOT NULL,
    dedup_key        text NOT NULL,
    state            text NOT NULL CHECK (state IN ('pending', 'sent', 'dead')),
    attempts         integer NOT NULL,
    next_attempt_at  timestamp NOT NULL,
    last_error       text,
    lease_token      text,     -- the dispatcher holding it; settles only under its own lease
    created_at       timestamp NOT NULL,
    CONSTRAINT notifications_dedup_key UNIQUE (dedup_key)
);
CREATE INDEX notifications_due_idx ON notifications (state, next_attempt_at);

-- Messages to other systems (Kaspi, the registry office), delivered by the dispatcher.
CREATE TABLE outbound_messages (
    id               uuid PRIMARY KEY,
    destination      text NOT NULL CHECK (destination IN ('kaspi', 'registry_office')),
    kind             text NOT NULL,
    payload          text NOT NULL,
    dedup_key        text NOT NULL,
    state            text NOT NULL CHECK (state IN ('pending', 'sent', 'dead')),
    attempts         integer NOT NULL,
    next_attempt_at  timestamp NOT NULL,
    last_error       text,
    lease_token      text,
    created_at       timestamp NOT NULL,
    CONSTRAINT outbound_messages_dedup_key UNIQUE (dedup_key)
);
CREATE INDEX outbound_messages_due_idx ON outbound_messages (state, next_attempt_at);
