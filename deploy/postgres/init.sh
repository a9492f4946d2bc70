#!/bin/sh
# First start of the PostgreSQL volume: one role and database for slatrack's read model, one role
# for Temporal (deploy/temporal/setup-schema.sh creates its temporal and temporal_visibility databases).
set -eu
psql -v ON_ERROR_STOP=1 --username postgres <<SQL
CREATE ROLE slatrack LOGIN PASSWORD '${SLATRACK_DB_PASSWORD}';
CREATE DATABASE slatrack OWNER slatrack;
CREATE ROLE temporal LOGIN CREATEDB PASSWORD '${TEMPORAL_DB_PASSWORD}';
SQL
