#!/bin/sh
# Waits until the Temporal cluster answers its health check (the server's port opens before its services are
# ready), then creates the namespace the worker uses unless it exists. Retention is how long a closed
# workflow's history is kept: long enough to read what happened to a booking after it ended.
#
# From the environment: TEMPORAL_ADDRESS (read by the temporal CLI), TEMPORAL_NAMESPACE, TEMPORAL_RETENTION.
set -eu
ns=${TEMPORAL_NAMESPACE:-default}

tries=0
until temporal operator cluster health >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "$tries" -ge 60 ]; then
    echo "namespace: the cluster at $TEMPORAL_ADDRESS is not healthy after 5 minutes" >&2
    exit 1
  fi
  sleep 5
done

if temporal operator namespace describe --namespace "$ns" >/dev/null 2>&1; then
  echo "namespace: $ns exists"
else
  temporal operator namespace create --namespace "$ns" --retention "${TEMPORAL_RETENTION:-168h}"
  echo "namespace: $ns created"
fi
