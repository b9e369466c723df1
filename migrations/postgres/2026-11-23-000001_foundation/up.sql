-- Foundation: reference data and API keys. Every timestamp column holds UTC.

CREATE TABLE branches (
    id          uuid PRIMARY KEY,
    code        text NOT NULL,
    name_kk     text NOT NULL,
    name_ru     text NOT NULL,
    city        text NOT NULL,
    address_kk  text NOT NULL,
    address_ru  text NOT NULL,
    time_zone   text NOT NULL DEFAULT 'Asia/Almaty',
    created_at  timestamp NOT NULL,
    updated_at  timestamp NOT NULL,
    CONSTRAINT branches_code_key UNIQUE (code)
);

CREATE TABLE postamats (
    id          uuid PRIMARY KEY,
    kaspi_id    text NOT NULL,
    city        text NOT NULL,
    city_key    text NOT NULL, -- lower-cased, single-spaced city, compared instead of city
    address_kk  text NOT NULL,
    address_ru  text NOT NULL,
    created_at  timestamp NOT NULL,
    updated_at  timestamp NOT NULL,
    CONSTRAINT postamats_kaspi_id_key UNIQUE (kaspi_id)
);
CREATE INDEX postamats_city_key_idx ON postamats (city_key);

CREATE TABLE api_keys (
    id            uuid PRIMARY KEY,
    name          text NOT NULL,
    role          text NOT NULL CHECK (role IN ('kaspi', 'registry_office', 'accumulation_clerk',
                                                'issuance_clerk', 'state_courier', 'supervisor', 'admin')),
    branch_id     uuid REFERENCES branches (id),
    token_prefix  text NOT NULL,
    token_hash    text NOT NULL,
    created_at    timestamp NOT NULL,
    revoked_at    timestamp,
    CONSTRAINT api_keys_token_hash_key UNIQUE (token_hash)
);
CREATE INDEX api_keys_branch_idx ON api_keys (branch_id);

-- One row, ever: the admin key printed on the very first start (issue 2). Its primary key makes
-- two instances starting together on an empty database create only one.
CREATE TABLE service_bootstrap (
    id            integer PRIMARY KEY CHECK (id = 1),
    admin_key_id  uuid NOT NULL,
    created_at    timestamp NOT NULL
);
