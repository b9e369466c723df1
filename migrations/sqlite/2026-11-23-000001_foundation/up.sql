-- Foundation: reference data and API keys. Ids are canonical UUID text; timestamps are UTC text
-- as diesel writes them ("YYYY-MM-DD HH:MM:SS.ffffff").

CREATE TABLE branches (
    id          text PRIMARY KEY NOT NULL,
    code        text NOT NULL,
    name_kk     text NOT NULL,
    name_ru     text NOT NULL,
    city        text NOT NULL,
    address_kk  text NOT NULL,
    address_ru  text NOT NULL,
    time_zone   text NOT NULL DEFAULT 'Asia/Almaty',
    created_at  text NOT NULL,
    updated_at  text NOT NULL,
    CONSTRAINT branches_code_key UNIQUE (code)
);

CREATE TABLE postamats (
    id          text PRIMARY KEY NOT NULL,
    kaspi_id    text NOT NULL,
    city        text NOT NULL,
    city_key    text NOT NULL, -- lower-cased, single-spaced city, compared instead of city
    address_kk  text NOT NULL,
    address_ru  text NOT NULL,
    created_at  text NOT NULL,
    updated_at  text NOT NULL,
    CONSTRAINT postamats_kaspi_id_key UNIQUE (kaspi_id)
);
CREATE INDEX postamats_city_key_idx ON postamats (city_key);

CREATE TABLE api_keys (
    id            text PRIMARY KEY NOT NULL,
    name          text NOT NULL,
    role          text NOT NULL CHECK (role IN ('kaspi', 'registry_office', 'accumulation_clerk',
                                                'issuance_clerk', 'state_courier', 'supervisor', 'admin')),
    branch_id     text REFERENCES branches (id),
    token_prefix  text NOT NULL,
    token_hash    text NOT NULL,
    created_at    text NOT NULL,
    revoked_at    text,
    CONSTRAINT api_keys_token_hash_key UNIQUE (token_hash)
);
CREATE INDEX api_keys_branch_idx ON api_keys (branch_id);

CREATE TABLE service_bootstrap (
    id            integer PRIMARY KEY NOT NULL CHECK (id = 1),
    admin_key_id  text NOT NULL,
    created_at    text NOT NULL
);
