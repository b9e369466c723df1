-- Sessions of the operations console (issue 16): an API key is exchanged once for a random
-- session token kept in an HttpOnly cookie. Only the token's SHA-256 is stored, as for keys.
-- A session ends at sign-out, at its absolute expiry, after an idle spell, or when its key is
-- revoked (every request joins the key and checks it).
CREATE TABLE console_sessions (
    id            uuid PRIMARY KEY,
    token_hash    text NOT NULL,
    api_key_id    uuid NOT NULL REFERENCES api_keys (id),
    -- The synchroniser token every form of this session carries (CSRF).
    csrf_token    text NOT NULL,
    created_at    timestamp NOT NULL,
    last_seen_at  timestamp NOT NULL,
    expires_at    timestamp NOT NULL,
    CONSTRAINT console_sessions_token_hash_key UNIQUE (token_hash)
);
CREATE INDEX console_sessions_key_idx ON console_sessions (api_key_id);
CREATE INDEX console_sessions_expires_idx ON console_sessions (expires_at);

-- The console finds a citizen's documents by IIN (shown masked); nothing looked it up before.
CREATE INDEX applications_iin_idx ON applications (applicant_iin);
