#!/bin/sh
# Temporal's persistence on PostgreSQL, with the server's own SQL tool (temporal-sql-tool of the same release as
# the server): the temporal and temporal_visibility databases, then each schema brought to the newest version
# this release ships, which is the version the server of this release expects.
#
# Safe on every start: an existing database is kept, setup-schema -v 0.0 creates only the version tables (and
# leaves a newer recorded version alone), and update-schema applies only the versions not yet applied, so
# upgrading the images upgrades the schema before the new server starts.
#
# Connection from the environment: SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER, SQL_PASSWORD.
set -eu

for pair in temporal:temporal temporal_visibility:visibility; do
  db=${pair%%:*}
  schema=${pair##*:}
  echo "schema: database $db"
  temporal-sql-tool --db "$db" create-database
  temporal-sql-tool --db "$db" setup-schema -v 0.0
  temporal-sql-tool --db "$db" update-schema --schema-name "postgresql/v12/$schema"
done
echo "schema: up to date"
