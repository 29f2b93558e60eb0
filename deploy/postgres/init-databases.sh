#!/bin/sh
# Runs once, when the PostgreSQL volume is new: one database per service (DESIGN.md), owned by the
# platform's user. Add a service: add its name to POSTGRES_DATABASES in docker-compose.yml.
set -eu
for db in $POSTGRES_DATABASES; do
  echo "creating database $db"
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -c "CREATE DATABASE \"$db\" OWNER \"$POSTGRES_USER\""
done
