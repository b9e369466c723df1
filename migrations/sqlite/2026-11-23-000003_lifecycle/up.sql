-- The shipment lifecycle (issue 4; ids and timestamps as text, see the foundation migration): applications, shipments, their append-only history and
-- deadlines, integration events kept for idempotency, registries and gapless numbering.

CREATE TABLE applications (
    id                    text PRIMARY KEY NOT NULL,
    number                text NOT NULL,
    registry_office_code  text NOT NULL,
    applicant_iin         text NOT NULL,
    applicant_name        text NOT NULL,
    phone                 text NOT NULL,
    language              text NOT NULL CHECK (language IN ('kk', 'ru')),
    delivery_method       text NOT NULL CHECK (delivery_method IN ('postamat', 'con')),
    postamat_id           text REFERENCES postamats (id),
    branch_id             text NOT NULL REFERENCES branches (id),
    status                text NOT NULL CHECK (status IN ('awaiting_execution', 'executed', 'refused', 'cancelled')),
    submitted_at          text NOT NULL,
    payload_hash          text NOT NULL,  -- of the registration as received, for idempotent repeats
    created_at            text NOT NULL,
    updated_at            text NOT NULL,
    version               integer NOT NULL,
    CONSTRAINT applications_number_key UNIQUE (number),
    CHECK ((delivery_method = 'postamat') = (postamat_id IS NOT NULL))
);
CREATE INDEX applications_branch_idx ON applications (branch_id);

CREATE TABLE shipments (
    id                        text PRIMARY KEY NOT NULL,
    application_id            text NOT NULL REFERENCES applications (id),
    kind                      text NOT NULL CHECK (kind IN ('original', 'duplicate')),
    branch_id                 text NOT NULL REFERENCES branches (id),
    delivery_method           text NOT NULL CHECK (delivery_method IN ('postamat', 'con')),
    status                    text NOT NULL,
    kaspi_order_id            text,
    waybill                   text,
    registry_office_registry  text,   -- п.14: the registry office's registry of a ЦОН-route intake
    issued_to                 text CHECK (issued_to IN ('applicant', 'representative')),
    recipient_iin             text,
    recipient_name            text,
    power_of_attorney         text,
    postamat_cell             text,   -- п.19: the cell Kaspi placed it in
    version                   integer NOT NULL,  -- optimistic lock
    created_at                text NOT NULL,
    updated_at                text NOT NULL,
    CONSTRAINT shipments_kaspi_order_key UNIQUE (kaspi_order_id),
    CONSTRAINT shipments_waybill_key UNIQUE (waybill)
);
CREATE UNIQUE INDEX shipments_one_original_idx ON shipments (application_id) WHERE kind = 'original';
CREATE INDEX shipments_branch_status_idx ON shipments (branch_id, status);

CREATE TABLE status_events (
    id                 text PRIMARY KEY NOT NULL,
    application_id     text NOT NULL REFERENCES applications (id),
    shipment_id        text REFERENCES shipments (id),
    event              text NOT NULL,
    from_status        text,
    to_status          text NOT NULL,
    actor_role         text,          -- NULL for the sweeper
    actor_key_id       text REFERENCES api_keys (id),
    actor_name         text NOT NULL,
    source             text NOT NULL,
    external_event_id  text,
    details            text,          -- JSON
    occurred_at        text NOT NULL,
    recorded_at        text NOT NULL
);
CREATE INDEX status_events_shipment_idx ON status_events (shipment_id, occurred_at);
CREATE INDEX status_events_application_idx ON status_events (application_id);

CREATE TABLE deadlines (
    id                text PRIMARY KEY NOT NULL,
    shipment_id       text NOT NULL REFERENCES shipments (id),
    kind              text NOT NULL,
    started_at        text NOT NULL,
    due_at            text NOT NULL,
    calendar_version  integer NOT NULL,
    state             text NOT NULL CHECK (state IN ('pending', 'met', 'met_late', 'breached', 'cancelled')),
    resolved_at       text,
    -- The sweeper's retries when a consequence cannot be applied yet (issue 6).
    sweep_attempts    integer NOT NULL DEFAULT 0,
    sweep_after       text,
    sweep_error       text,
    created_at        text NOT NULL
);
CREATE INDEX deadlines_due_idx ON deadlines (state, due_at);
CREATE INDEX deadlines_shipment_idx ON deadlines (shipment_id);

-- Events from the registry office and Kaspi, kept so a repeat returns the first answer.
CREATE TABLE integration_events (
    source              text NOT NULL,
    event_id            text NOT NULL,
    kind                text NOT NULL,
    application_number  text NOT NULL,
    payload_hash        text NOT NULL,
    response_status     integer NOT NULL,
    response            text NOT NULL,
    received_at         text NOT NULL,
    PRIMARY KEY (source, event_id)
);

CREATE TABLE registries (
    id               text PRIMARY KEY NOT NULL,
    branch_id        text NOT NULL REFERENCES branches (id),
    kind             text NOT NULL CHECK (kind IN ('kaspi_handoff', 'return_pickup')),
    state            text NOT NULL CHECK (state IN ('draft', 'sealed', 'handed_over', 'accepted',
                                                     'accepted_with_discrepancies')),
    number           text,
    created_by       text NOT NULL REFERENCES api_keys (id),
    created_at       text NOT NULL,
    sealed_by        text REFERENCES api_keys (id),
    sealed_at        text,
    handed_over_by   text REFERENCES api_keys (id),
    handed_over_at   text,
    courier_name     text,
    kaspi_registry_number text,         -- п.18: Kaspi's registry of the envelopes it accepted
    accepted_at      text,
    version          integer NOT NULL,
    CONSTRAINT registries_number_key UNIQUE (number)
);
CREATE INDEX registries_branch_idx ON registries (branch_id, state);

CREATE TABLE registry_items (
    registry_id         text NOT NULL REFERENCES registries (id),
    shipment_id         text NOT NULL REFERENCES shipments (id),
    registry_kind       text NOT NULL,
    application_number  text NOT NULL,
    waybill             text NOT NULL,
    added_by            text NOT NULL REFERENCES api_keys (id),
    added_at            text NOT NULL,
    PRIMARY KEY (registry_id, shipment_id),
    -- A shipment is on one registry of a kind: two clerks adding it at once, one wins.
    CONSTRAINT registry_items_one_registry_key UNIQUE (shipment_id, registry_kind)
);

-- Gapless per-branch, per-year numbers (registries, later loss acts).
CREATE TABLE number_sequences (
    branch_id   text NOT NULL REFERENCES branches (id),
    year        integer NOT NULL,
    series      text NOT NULL,
    last_value  integer NOT NULL,
    PRIMARY KEY (branch_id, year, series)
);
