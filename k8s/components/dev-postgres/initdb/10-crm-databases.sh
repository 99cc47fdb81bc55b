#!/bin/sh
# Create one login role and one database per CRM service; each role owns only its database,
# so a service's credentials open nothing else. Runs once, when the data directory is new.
set -eu
for svc in client risk notify feedback gateway; do
  password_var="CRM_$(printf '%s' "$svc" | tr '[:lower:]' '[:upper:]')_DB_PASSWORD"
  password="$(printenv "$password_var")"
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    --set=svc="$svc" --set=password="$password" <<'SQL'
CREATE ROLE :"svc" LOGIN PASSWORD :'password';
CREATE DATABASE :"svc" OWNER :"svc";
REVOKE ALL ON DATABASE :"svc" FROM PUBLIC;
SQL
done
