DROP INDEX postamats_city_code_idx;
ALTER TABLE postamats DROP COLUMN city_code;
ALTER TABLE branches DROP COLUMN city_code;
