#!/bin/sh
# Runs once, when the postgres container initialises an empty data volume
# (/docker-entrypoint-initdb.d). It creates the role the control plane connects as.
#
# Why a separate role: Postgres superusers (and roles with BYPASSRLS) ignore row-level
# security even when a table has FORCE ROW LEVEL SECURITY, and the image's POSTGRES_USER
# is a superuser. Portcullis isolates tenants in the database with RLS, so the control
# plane must connect as an ordinary role that owns its database and nothing more.
set -eu

: "${PORTCULLIS_DB_PASSWORD:?PORTCULLIS_DB_PASSWORD must be set}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v app_password="$PORTCULLIS_DB_PASSWORD" <<'SQL'
CREATE ROLE portcullis LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS
    PASSWORD :'app_password';
CREATE DATABASE portcullis OWNER portcullis;
REVOKE ALL ON DATABASE portcullis FROM PUBLIC;
SQL
