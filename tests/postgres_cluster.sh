#!/usr/bin/env bash
# postgres_cluster.sh: a throwaway PostgreSQL 15 cluster for the tests, in a folder of its own.
#
#   tests/postgres_cluster.sh start DIR    make the cluster in DIR (once) and start it; prints
#                                          the connection URI (also kept in DIR/uri)
#   tests/postgres_cluster.sh stop DIR     stop it, keeping its data (start DIR again resumes
#                                          on the same port: the outage tests use this)
#   tests/postgres_cluster.sh destroy DIR  stop it and delete DIR
#
# The server listens on a unix socket in DIR and on 127.0.0.1 at a free TCP port. Role and
# database are both "facerec"; the socket trusts local users, TCP asks for the password
# "facerec" (scram-sha-256), so tests can also try a wrong one. Debian's binaries are used
# (/usr/lib/postgresql/15/bin, or $PG_BIN); exit status 77 when they are absent, so a caller
# can skip. initdb refuses to run as root: as root, the cluster belongs to the user "postgres"
# (or "nobody") and every server command runs as that user.
set -euo pipefail

usage() { sed -n '2,9p' "$0" >&2; exit 2; }
[ $# -eq 2 ] || usage
action="$1"
dir="$2"
bin="${PG_BIN:-/usr/lib/postgresql/15/bin}"
password=facerec

if [ ! -x "$bin/initdb" ] || [ ! -x "$bin/pg_ctl" ]; then
  echo "postgres_cluster: no PostgreSQL 15 binaries in $bin (Debian package postgresql-15)" >&2
  exit 77
fi

# The user the server runs as, and how to run a command as that user.
as_owner=()
if [ "$(id -u)" = 0 ]; then
  owner=postgres
  id "$owner" >/dev/null 2>&1 || owner=nobody
  as_owner=(runuser -u "$owner" --)
fi
run() { "${as_owner[@]}" "$@"; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

case "$action" in
  start)
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      # the unix socket's path must fit in 107 bytes
      if [ "${#dir}" -gt 80 ]; then
        echo "postgres_cluster: $dir: path too long for a unix socket (at most 80 bytes)" >&2
        exit 2
      fi
      rm -rf "$dir/data"
      mkdir -p "$dir/data" "$dir/socket"
      [ "${#as_owner[@]}" -gt 0 ] && chown "$owner" "$dir" "$dir/data" "$dir/socket"
      if ! run test -w "$dir"; then
        echo "postgres_cluster: $dir: user $owner cannot reach it (a parent folder is private)" >&2
        exit 2
      fi
      chmod 700 "$dir/data"
      printf '%s\n' "$password" >"$dir/password"
      [ "${#as_owner[@]}" -gt 0 ] && chown "$owner" "$dir/password"
      run "$bin/initdb" -N -D "$dir/data" -U facerec --pwfile="$dir/password" \
        --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; rm -rf "$dir/data"; exit 1; }
      free_port >"$dir/port"
    fi
    port="$(cat "$dir/port")"
    # fsync off: a throwaway cluster need not survive a power cut, and tests run faster
    if ! run "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start \
        -o "-k $dir/socket -h 127.0.0.1 -p $port -c fsync=off -c full_page_writes=off" >/dev/null; then
      echo "postgres_cluster: the server did not start; its log:" >&2
      tail -n 20 "$dir/server.log" >&2
      exit 1
    fi
    if ! run "$bin/psql" -h "$dir/socket" -p "$port" -U facerec -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'facerec'" | grep -q 1; then
      run "$bin/createdb" -h "$dir/socket" -p "$port" -U facerec facerec
    fi
    uri="postgresql://facerec:$password@127.0.0.1:$port/facerec"
    printf '%s\n' "$uri" >"$dir/uri"
    echo "$uri"
    ;;
  stop)
    [ -f "$dir/data/PG_VERSION" ] || { echo "postgres_cluster: $dir: no cluster there" >&2; exit 1; }
    run "$bin/pg_ctl" -D "$dir/data" -m fast -w status >/dev/null 2>&1 || exit 0
    run "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    ;;
  destroy)
    if [ -f "$dir/data/PG_VERSION" ]; then
      run "$bin/pg_ctl" -D "$dir/data" -w status >/dev/null 2>&1 &&
        run "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
    fi
    rm -rf "$dir"
    ;;
  *) usage ;;
esac
