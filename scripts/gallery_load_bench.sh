#!/usr/bin/env bash
# gallery_load_bench.sh [N]: start-up load of a gallery of N synthetic templates (default
# 1,000,000, 128 floats each) from PostgreSQL (a throwaway cluster, tests/postgres_cluster.sh)
# and from SQLite (the same templates, copied by facerec gallery export): connect, load,
# ready, templates per second (bench/gallery_load.c). Needs a release build in build/.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${FACEREC_BUILD:-$here/build}"
n="${1:-1000000}"
dir="$(mktemp -d "${TMPDIR:-/tmp}/facerec-load.XXXXXX")"
chmod 755 "$dir"
trap '"$here/tests/postgres_cluster.sh" destroy "$dir/cluster" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
uri="$("$here/tests/postgres_cluster.sh" start "$dir/cluster")"
# 1000 real enrollments make the schema and the embeddings; the rest are made in the server,
# each reusing one of those embeddings (the load reads and checks every one the same way)
"$build/synthetic_gallery" "$uri" synthetic 128 1000
psql -q "$uri" <<SQL
INSERT INTO people(name, added)
  SELECT 'bulk' || i, 0 FROM generate_series(1001, $n) i;
INSERT INTO templates(person_id, embedding, model, model_version, source, sha256, x, y, w, h, quality, added)
  SELECT p.id, (SELECT embedding FROM templates s WHERE s.id = 1 + p.id % 1000), 'synthetic', '0', 'bulk',
         sha256(p.id::text::bytea), 0, 0, 100, 100, 1, 0
  FROM people p WHERE p.id > 1000;
VACUUM ANALYZE;
SQL
"$build/gallery_load" "$uri"
"$build/gallery_load" "$uri"
"$build/facerec" gallery export --db "$uri" "$dir/copy.db" >/dev/null
"$build/gallery_load" "$dir/copy.db"
"$build/gallery_load" "$dir/copy.db"
