DROP TABLE service_bootstrap;
DROP TABLE api_keys;
DROP TABLE postamats;
DROP TABLE branches;
