-- The PostgreSQL role and database for postamat. Run as a superuser, with the password as a
-- psql variable (not in shell history: put it in a file readable by root only):
--   psql -v ON_ERROR_STOP=1 -v password="$(cat /root/postamat-db-password)" -f deploy/create-database.sql
-- Optional: -v role=… -v database=… (default postamat / postamat).
-- The service creates its tables itself (migrations on start, serialised between instances).

\if :{?role}
\else
\set role postamat
\endif
\if :{?database}
\else
\set database postamat
\endif

CREATE ROLE :"role" LOGIN PASSWORD :'password'
    NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION CONNECTION LIMIT 100;
CREATE DATABASE :"database" OWNER :"role" ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"database" TO :"role";
\connect :"database"
-- Only the service's role creates objects here (PostgreSQL 15 already revokes this by default).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
ALTER SCHEMA public OWNER TO :"role";
