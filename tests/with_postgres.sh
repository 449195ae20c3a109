#!/usr/bin/env bash
# with_postgres.sh PROGRAM [ARGS...]: run a test program against a throwaway PostgreSQL 15
# cluster (tests/postgres_cluster.sh), its URI in $FACEREC_TEST_POSTGRES, its folder in
# $FACEREC_TEST_POSTGRES_CLUSTER; the cluster is deleted afterwards. Exit status 77 (ctest: skipped) when PostgreSQL is not installed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="$(mktemp -d "${TMPDIR:-/tmp}/facerec-pg.XXXXXX")"
chmod 755 "$dir" # the server may run as another user (postgres_cluster.sh)
trap '"$here/postgres_cluster.sh" destroy "$dir/cluster" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
status=0
uri="$("$here/postgres_cluster.sh" start "$dir/cluster")" || status=$?
if [ "$status" = 77 ]; then
  echo "skipped: PostgreSQL 15 is not installed (Debian package postgresql-15)"
  exit 77
fi
[ "$status" = 0 ] || exit "$status"
# the outage test stops and restarts the server with the same script
FACEREC_TEST_POSTGRES="$uri" FACEREC_TEST_POSTGRES_CLUSTER="$dir/cluster" \
  FACEREC_TEST_POSTGRES_SCRIPT="$here/postgres_cluster.sh" "$@"
