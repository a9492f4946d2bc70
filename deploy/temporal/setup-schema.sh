#!/bin/sh
# Temporal's two databases on the compose file's PostgreSQL, created on the first start and brought up to
# the schema this admin-tools version ships at every start (the steps of temporalio/auto-setup, which is
# deprecated). The `temporal` role and its password come from deploy/postgres/init.sh.
set -eu
SCHEMA=/etc/temporal/schema/postgresql/v12
sql() {
    temporal-sql-tool --plugin postgres12 --ep postgres --port 5432 --user temporal \
        --password "$TEMPORAL_DB_PASSWORD" "$@"
}
until nc -z postgres 5432; do
    echo "waiting for PostgreSQL"
    sleep 1
done
for db in temporal temporal_visibility; do
    sql --db "$db" create-database 2>/dev/null || echo "database $db exists"
done
sql --db temporal setup-schema -v 0.0
sql --db temporal update-schema -d "$SCHEMA/temporal/versioned"
sql --db temporal_visibility setup-schema -v 0.0
sql --db temporal_visibility update-schema -d "$SCHEMA/visibility/versioned"
