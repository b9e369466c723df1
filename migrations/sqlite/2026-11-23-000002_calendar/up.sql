-- The working-day calendar (issue 3): which years hold data and their Kurban Ait date, every
-- supervisor edit (its version is the calendar version it created), and force-majeure periods.

CREATE TABLE calendar_years (
    year        integer PRIMARY KEY NOT NULL,
    kurban_ait  text,            -- first day of Kurban Ait; NULL until announced
    created_at  text NOT NULL
);

-- Seed (DOMAIN.md §6): 2025–2027 generated from the rules; Kurban Ait 2027 not yet announced.
INSERT INTO calendar_years (year, kurban_ait, created_at) VALUES
    (2025, '2025-06-06', '2026-11-23 00:00:00'),
    (2026, '2026-05-27', '2026-11-23 00:00:00'),
    (2027, NULL,         '2026-11-23 00:00:00');

CREATE TABLE calendar_edits (
    version     integer PRIMARY KEY NOT NULL,  -- the calendar version this edit created: 1, 2, 3, …
    year        integer NOT NULL REFERENCES calendar_years (year),
    action      text NOT NULL CHECK (action IN ('add_year', 'set_kurban_ait', 'add_day_off',
                                                'remove_day_off', 'add_working_day', 'remove_working_day')),
    date        text,
    kind        text,
    name_kk     text,
    name_ru     text,
    reason      text NOT NULL,
    key_id      text NOT NULL REFERENCES api_keys (id),
    actor_name  text NOT NULL,
    created_at  text NOT NULL
);
CREATE INDEX calendar_edits_year_idx ON calendar_edits (year, version);

CREATE TABLE force_majeure_periods (
    id              text PRIMARY KEY NOT NULL,
    branch_id       text REFERENCES branches (id),  -- NULL: the whole country
    starts_at       text NOT NULL,
    ends_at         text,                      -- NULL while it lasts
    reason          text NOT NULL,
    document_ref    text,
    created_by      text NOT NULL REFERENCES api_keys (id),
    created_at      text NOT NULL,
    ended_by        text REFERENCES api_keys (id),
    end_recorded_at text,
    -- п.38: the notice to the responsible bodies, due within 3 working days of the start.
    notice_reference   text,
    notice_recorded_at text,
    CHECK (ends_at IS NULL OR ends_at > starts_at)
);
CREATE INDEX force_majeure_periods_branch_idx ON force_majeure_periods (branch_id);
