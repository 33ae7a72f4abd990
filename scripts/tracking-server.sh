#!/usr/bin/env bash
# A shared MLflow tracking server on a real PostgreSQL, both on 127.0.0.1.
#
#   scripts/tracking-server.sh start   # PostgreSQL + `mlflow server` with proxied artifacts
#   scripts/tracking-server.sh uri     # prints the MLFLOW_TRACKING_URI to export
#   scripts/tracking-server.sh stop
#   scripts/tracking-server.sh purge   # stop, then delete the database and the artifacts
#
# Settings (environment): HWR_SERVER_DIR (default ./.tracking: artifacts and logs, and the
# database files unless run as root), HWR_PG_DATA (the database folder), HWR_PG_PORT (5433),
# HWR_MLFLOW_PORT (5000). Uses Debian's postgresql package, installing it
# with apt-get when it is missing and this runs as root.
set -euo pipefail

DIR=$(realpath -m "${HWR_SERVER_DIR:-$PWD/.tracking}")
PG_PORT=${HWR_PG_PORT:-5433}
PORT=${HWR_MLFLOW_PORT:-5000}
# PostgreSQL runs as the postgres user when this runs as root, and that user must reach its data
# folder: then the folder lives under /var/lib/postgresql, one per HWR_SERVER_DIR.
if [ "$(id -u)" = 0 ]; then
    PGDATA=${HWR_PG_DATA:-/var/lib/postgresql/hwr-$(echo "$DIR" | md5sum | cut -c1-12)}
else
    PGDATA=${HWR_PG_DATA:-$DIR/pgdata}
fi
DB_URI="postgresql+psycopg2://hwr:hwr@127.0.0.1:${PG_PORT}/mlflow"
MLFLOW=${MLFLOW:-mlflow}

pg_bin() {
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$bin" ]; then
        if [ "$(id -u)" = 0 ]; then
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
            bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
        else
            echo "error: PostgreSQL is not installed (Debian: sudo apt-get install postgresql)" >&2
            exit 1
        fi
    fi
    echo "$bin"
}

# PostgreSQL refuses to run as root: as root, run its commands as the postgres user.
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
    local bin
    bin=$(pg_bin)
    mkdir -p "$DIR/artifacts"
    if [ ! -f "$PGDATA/PG_VERSION" ]; then
        mkdir -p "$PGDATA"
        if [ "$(id -u)" = 0 ]; then chown postgres "$PGDATA"; fi
        as_pg "$bin/initdb" -D "$PGDATA" -U postgres --auth=trust >"$DIR/initdb.log"
    fi
    if ! as_pg "$bin/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
        as_pg "$bin/pg_ctl" -D "$PGDATA" -l "$PGDATA/postgres.log" -w \
            -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k /tmp" start >/dev/null
    fi
    local psql=("$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -q)
    if [ -z "$("${psql[@]}" -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'hwr'")" ]; then
        "${psql[@]}" -c "CREATE USER hwr PASSWORD 'hwr'" -c "CREATE DATABASE mlflow OWNER hwr"
    fi
    if [ -f "$DIR/mlflow.pid" ] && kill -0 "$(cat "$DIR/mlflow.pid")" 2>/dev/null; then
        echo "http://127.0.0.1:${PORT}"
        return
    fi
    # setsid: the server outlives this script and is stopped as a whole process group.
    setsid "$MLFLOW" server --backend-store-uri "$DB_URI" --artifacts-destination "$DIR/artifacts" \
        --serve-artifacts --host 127.0.0.1 --port "$PORT" >"$DIR/mlflow.log" 2>&1 </dev/null &
    echo $! >"$DIR/mlflow.pid"
    for _ in $(seq 1 120); do
        if curl -sf "http://127.0.0.1:${PORT}/health" >/dev/null; then
            echo "http://127.0.0.1:${PORT}"
            return
        fi
        kill -0 "$(cat "$DIR/mlflow.pid")" 2>/dev/null || break
        sleep 1
    done
    echo "error: mlflow server did not start; see $DIR/mlflow.log" >&2
    tail -n 20 "$DIR/mlflow.log" >&2
    exit 1
}

stop() {
    if [ -f "$DIR/mlflow.pid" ]; then
        kill -- "-$(cat "$DIR/mlflow.pid")" 2>/dev/null || true
        rm -f "$DIR/mlflow.pid"
    fi
    if [ -f "$PGDATA/PG_VERSION" ]; then
        as_pg "$(pg_bin)/pg_ctl" -D "$PGDATA" -m fast stop >/dev/null 2>&1 || true
    fi
}

purge() {
    stop
    rm -rf "$PGDATA" "$DIR"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    purge) purge ;;
    uri) echo "http://127.0.0.1:${PORT}" ;;
    *) echo "usage: $0 start|stop|purge|uri" >&2; exit 2 ;;
esac
