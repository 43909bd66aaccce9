-- The scimflow directory's database and its owner, next to Temporal's databases on the Compose stack's PostgreSQL.
--
-- Mounted into the postgres container's /docker-entrypoint-initdb.d/, so the image runs it (as POSTGRES_USER,
-- through psql) once, when it initializes an empty data directory. For a data volume made before this file
-- existed, run it once by hand; it is idempotent:
--   docker compose exec -T postgresql psql -U temporal -d postgres < deploy/postgres/init-scimflow-db.sql
--
-- scimflow creates its tables itself (migrations run when a process opens the store), so the role needs to own its
-- database and nothing else: it is not a superuser and has no rights on Temporal's tables. The password is the
-- stack's local default, as Temporal's `temporal` is; it must match SCIMFLOW_DATABASE_URL in docker-compose.yml.
-- C collation and ctype, as the test clusters use (the tables' text columns are declared collate "C" anyway).

SELECT 'CREATE ROLE scimflow LOGIN PASSWORD ''scimflow'''
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'scimflow')
\gexec

SELECT 'CREATE DATABASE scimflow OWNER scimflow TEMPLATE template0 ENCODING ''UTF8'' LC_COLLATE ''C'' LC_CTYPE ''C'''
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'scimflow')
\gexec

-- Only its owner (and superusers) may connect.
REVOKE ALL ON DATABASE scimflow FROM PUBLIC;
