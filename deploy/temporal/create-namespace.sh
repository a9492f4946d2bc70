#!/bin/sh
# The `default` namespace slatrack uses (TEMPORAL_NAMESPACE), registered once; 24 h retention as
# auto-setup gave it: histories are archived into the read model before a request's workflow ends.
set -eu
if ! temporal operator namespace describe default >/dev/null 2>&1; then
    temporal operator namespace create --retention 24h --description "slatrack requests" default
fi
