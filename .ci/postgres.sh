#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests.
#
#   eval "$(bash .ci/postgres.sh)"        # start; exports GATE_TEST_PG_URL and GATE_TEST_PG_DIR
#   bash .ci/postgres.sh stop             # stop the server started above (reads GATE_TEST_PG_DIR)
#
# Installs PostgreSQL from Debian's packages when it is missing, initialises a
# cluster in a fresh temporary folder, starts it on 127.0.0.1 on a free port
# (never on a public interface), and creates a database and a password-protected
# role. PostgreSQL refuses to run as root, so as root the server runs as the
# `postgres` system user the Debian package creates. Everything but the export
# lines goes to stderr, so the output can be eval'ed.
set -euo pipefail

log() { echo "postgres.sh: $*" >&2; }

as_server_user() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$dir" ] && command -v initdb >/dev/null 2>&1; then
    dir=$(dirname "$(command -v initdb)")
  fi
  echo "$dir"
}

if [ "${1:-start}" = stop ]; then
  dir=${GATE_TEST_PG_DIR:?"set GATE_TEST_PG_DIR (printed when the server was started)"}
  as_server_user "$(pg_bin)/pg_ctl" -D "$dir/data" -m fast -w stop >&2
  rm -rf "$dir"
  exit 0
fi

BIN=$(pg_bin)
if [ -z "$BIN" ]; then
  if [ "$(id -u)" != 0 ]; then
    log "PostgreSQL is not installed and only root can install it: apt-get install postgresql"
    exit 1
  fi
  log "installing PostgreSQL from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends postgresql >&2
  BIN=$(pg_bin)
fi

DIR=$(mktemp -d "${TMPDIR:-/tmp}/gate-pg.XXXXXX")
chmod 700 "$DIR"
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$DIR"
fi

PY=$(command -v python3 || command -v python)
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PASSWORD=$("$PY" -c 'import secrets; print(secrets.token_hex(12))')
ROLE=gate
DB=gate_test

as_server_user bash -c "umask 077; printf '%s\n' '$PASSWORD' > '$DIR/pwfile'"
as_server_user "$BIN/initdb" -D "$DIR/data" -U "$ROLE" --pwfile="$DIR/pwfile" \
  --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 --no-sync >"$DIR/initdb.log" 2>&1 \
  || { cat "$DIR/initdb.log" >&2; exit 1; }
rm -f "$DIR/pwfile"
as_server_user "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off" start >&2 \
  || { cat "$DIR/server.log" >&2; exit 1; }
PGPASSWORD=$PASSWORD "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U "$ROLE" "$DB"

log "PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT (data in $DIR)"
echo "export GATE_TEST_PG_URL=postgresql+psycopg2://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DB"
echo "export GATE_TEST_PG_DIR=$DIR"
