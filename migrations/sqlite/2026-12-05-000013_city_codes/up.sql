-- Issue 22 item 10 (п.4: "любой постамат в своем городе"): cities are compared by a reference
-- key, the city's КАТО code, carried by both the branch and the postamat reference data —
-- never by the free-text name ("г. Алматы" and "Алматы" are one city). Rows of the pilot's
-- cities get their code from the names they were entered with (a postamat by its normalised
-- name, `city_key`); any other row keeps '' until an admin sets its code, and until then it is
-- compared by name as before, so that no answer changes.
ALTER TABLE branches ADD COLUMN city_code text NOT NULL DEFAULT '';
ALTER TABLE postamats ADD COLUMN city_code text NOT NULL DEFAULT '';

UPDATE branches SET city_code = CASE
    WHEN city IN ('Алматы', 'г. Алматы', 'г.Алматы', 'Алматы қ.', 'Алматы қаласы', 'Almaty') THEN '750000000'
    WHEN city IN ('Астана', 'г. Астана', 'г.Астана', 'Астана қ.', 'Астана қаласы', 'Astana') THEN '710000000'
    WHEN city IN ('Шымкент', 'г. Шымкент', 'г.Шымкент', 'Шымкент қ.', 'Шымкент қаласы', 'Shymkent') THEN '790000000'
    ELSE ''
END;
UPDATE postamats SET city_code = CASE
    WHEN city_key IN ('алматы', 'г. алматы', 'г.алматы', 'алматы қ.', 'алматы қаласы', 'almaty') THEN '750000000'
    WHEN city_key IN ('астана', 'г. астана', 'г.астана', 'астана қ.', 'астана қаласы', 'astana') THEN '710000000'
    WHEN city_key IN ('шымкент', 'г. шымкент', 'г.шымкент', 'шымкент қ.', 'шымкент қаласы', 'shymkent') THEN '790000000'
    ELSE ''
END;

CREATE INDEX postamats_city_code_idx ON postamats (city_code);
