#!/usr/bin/env bash
# A shared MLflow tracking server that lets in only its users, on a PostgreSQL that checks passwords.
#
#   scripts/tracking-server.sh start                  # PostgreSQL + `mlflow server --app-name basic-auth`
#   scripts/tracking-server.sh uri                    # prints the MLFLOW_TRACKING_URI to export
#   scripts/tracking-server.sh add-user NAME [--can-promote|--read-only] [--experiment NAME]
#                                                     # a user who may log runs in the experiment (Default);
#                                                     # --can-promote: and register and promote hwr; --read-only: only read
#   scripts/tracking-server.sh stop
#   scripts/tracking-server.sh purge                  # stop, then delete the database, artifacts and secrets
#
# Every secret is generated here and written to a 0600 file under $HWR_SERVER_DIR/secrets, never
# to a command line or a log: PostgreSQL's password (a libpq passfile), the MLflow admin's password
# and the auth settings (basic_auth.ini), Flask's secret key (server.env), each user's credentials
# (users/NAME.env, to `source`). Users without a grant can read, not write (default_permission READ).
#
# Settings (environment): HWR_SERVER_DIR (default ./.tracking), HWR_PG_DATA (the database folder),
# HWR_PG_PORT (5433), HWR_PG_LISTEN (127.0.0.1), HWR_MLFLOW_PORT (5000), HWR_MLFLOW_HOST (127.0.0.1),
# HWR_MLFLOW_WORKERS (4, the server's processes; each holds about 250 MiB).
# Uses Debian's postgresql package, installing it with apt-get when it is missing and this runs as root.
set -euo pipefail

DIR=$(realpath -m "${HWR_SERVER_DIR:-$PWD/.tracking}")
SECRETS="$DIR/secrets"
PG_PORT=${HWR_PG_PORT:-5433}
PG_LISTEN=${HWR_PG_LISTEN:-127.0.0.1}
PORT=${HWR_MLFLOW_PORT:-5000}
HOST=${HWR_MLFLOW_HOST:-127.0.0.1}
WORKERS=${HWR_MLFLOW_WORKERS:-4}
MODEL=hwr  # the registered model only granted users may add versions to and promote in
# PostgreSQL runs as the postgres user when this runs as root, and that user must reach its data
# folder: then the folder lives under /var/lib/postgresql, one per HWR_SERVER_DIR.
if [ "$(id -u)" = 0 ]; then
    PGDATA=${HWR_PG_DATA:-/var/lib/postgresql/hwr-$(echo "$DIR" | md5sum | cut -c1-12)}
    PG_SUPERUSER=postgres
else
    PGDATA=${HWR_PG_DATA:-$DIR/pgdata}
    PG_SUPERUSER=$(id -un)
fi
# The local socket in a folder only PostgreSQL's user can enter (not /tmp); `peer` lets in only
# the OS user of the same name, so the superuser has no password at all.
SOCKET_DIR="$PGDATA/socket"
# No password in these URIs: libpq reads it from the passfile (PGPASSFILE).
DB_URI="postgresql+psycopg2://hwr@127.0.0.1:${PG_PORT}/mlflow"
AUTH_DB_URI="postgresql+psycopg2://hwr@127.0.0.1:${PG_PORT}/mlflow_auth"
MLFLOW=${MLFLOW:-mlflow}
PYTHON=${PYTHON:-$(dirname "$(command -v "$MLFLOW")")/python}

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

secret() {
    local s
    s=$(head -c 48 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9')
    echo "${s:0:32}"
}

# Writes stdin to a file only its owner can read, created so from the start.
private_file() {
    (umask 077 && cat >"$1")
}

start_postgres() {
    local bin
    bin=$(pg_bin)
    if [ ! -f "$PGDATA/PG_VERSION" ]; then
        mkdir -p "$PGDATA"
        if [ "$(id -u)" = 0 ]; then chown postgres "$PGDATA"; fi
        as_pg "$bin/initdb" -D "$PGDATA" -U "$PG_SUPERUSER" --auth-local=peer --auth-host=scram-sha-256 \
            >"$DIR/initdb.log"
    elif grep -qE '^[^#]*\btrust\b' "$PGDATA/pg_hba.conf"; then
        echo "error: $PGDATA lets anyone in (trust authentication, made by an older version of this" \
             "script); keep its data with pg_dump, then: $0 purge && $0 start" >&2
        exit 1
    fi
    as_pg mkdir -p -m 700 "$SOCKET_DIR"
    if ! as_pg "$bin/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
        as_pg "$bin/pg_ctl" -D "$PGDATA" -l "$PGDATA/postgres.log" -w \
            -o "-c listen_addresses=$PG_LISTEN -p $PG_PORT -k $SOCKET_DIR" start >/dev/null
    fi
    local psql=(as_pg "$bin/psql" -h "$SOCKET_DIR" -p "$PG_PORT" -U "$PG_SUPERUSER" -d postgres -v ON_ERROR_STOP=1 -q)
    if [ ! -f "$SECRETS/pgpass" ]; then
        local password
        password=$(secret)
        printf '127.0.0.1:%s:*:hwr:%s\n' "$PG_PORT" "$password" | private_file "$SECRETS/pgpass"
        # Through stdin: a password in psql's arguments would show in `ps`.
        if [ -z "$("${psql[@]}" -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'hwr'")" ]; then
            printf "CREATE ROLE hwr LOGIN PASSWORD '%s';\nCREATE DATABASE mlflow OWNER hwr;\nCREATE DATABASE mlflow_auth OWNER hwr;\n" \
                "$password" | "${psql[@]}"
        else
            printf "ALTER ROLE hwr PASSWORD '%s';\n" "$password" | "${psql[@]}"
        fi
    fi
}

write_auth_settings() {
    if [ ! -f "$SECRETS/basic_auth.ini" ]; then
        private_file "$SECRETS/basic_auth.ini" <<EOF
[mlflow]
default_permission = READ
database_uri = $AUTH_DB_URI
admin_username = admin
admin_password = $(secret)
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
EOF
    fi
    # A password check (scrypt) costs 0.1-0.7 s of CPU, and a training logs hundreds of requests:
    # each worker remembers a good password for 60 s. The price: a password changed or a user deleted
    # through another worker is still accepted there for up to 60 s.
    if ! grep -q '^auth_cache_ttl_seconds' "$SECRETS/basic_auth.ini"; then
        echo "auth_cache_ttl_seconds = 60" >>"$SECRETS/basic_auth.ini"
    fi
    if [ ! -f "$SECRETS/server.env" ]; then
        printf 'MLFLOW_FLASK_SERVER_SECRET_KEY=%s\n' "$(secret)" | private_file "$SECRETS/server.env"
    fi
}

# Runs Python (from stdin) as the MLflow admin, whose credentials it reads from basic_auth.ini.
as_admin() {
    HWR_AUTH_INI="$SECRETS/basic_auth.ini" MLFLOW_TRACKING_URI="http://127.0.0.1:${PORT}" "$PYTHON" -W ignore - "$@"
}

ADMIN_PRELUDE='
import configparser, os, sys
settings = configparser.ConfigParser()
settings.read(os.environ["HWR_AUTH_INI"])
os.environ["MLFLOW_TRACKING_USERNAME"] = settings["mlflow"]["admin_username"]
os.environ["MLFLOW_TRACKING_PASSWORD"] = settings["mlflow"]["admin_password"]
from mlflow.exceptions import MlflowException
from mlflow.server import get_app_client
from mlflow.tracking import MlflowClient
client, auth = MlflowClient(), get_app_client("basic-auth", tracking_uri=os.environ["MLFLOW_TRACKING_URI"])
def ensure_model(name):
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name)
'

start() {
    mkdir -p "$DIR/artifacts"
    (umask 077 && mkdir -p "$SECRETS/users")
    start_postgres
    write_auth_settings
    if [ -f "$DIR/mlflow.pid" ] && kill -0 "$(cat "$DIR/mlflow.pid")" 2>/dev/null; then
        echo "http://127.0.0.1:${PORT}"
        return
    fi
    # setsid: the server outlives this script and is stopped as a whole process group. Its
    # secrets reach it through the environment, which only its own user can read.
    (
        set -a && . "$SECRETS/server.env" && set +a
        export PGPASSFILE="$SECRETS/pgpass" MLFLOW_AUTH_CONFIG_PATH="$SECRETS/basic_auth.ini"
        # MLflow's job runner serves GenAI features hwr does not use (online trace scoring): without
        # it the server starts 8 fewer processes (about 1.8 GiB).
        export MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false
        exec setsid "$MLFLOW" server --app-name basic-auth --backend-store-uri "$DB_URI" \
            --artifacts-destination "$DIR/artifacts" --serve-artifacts --host "$HOST" --port "$PORT" \
            --workers "$WORKERS"
    ) >"$DIR/mlflow.log" 2>&1 </dev/null &
    echo $! >"$DIR/mlflow.pid"
    for _ in $(seq 1 120); do
        if curl -sf "http://127.0.0.1:${PORT}/health" >/dev/null; then
            # Made by the admin, so no one who merely may log runs becomes its owner by registering first.
            as_admin <<<"$ADMIN_PRELUDE
ensure_model('$MODEL')"
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

add_user() {
    local name="" role=edit experiment=Default
    while [ $# -gt 0 ]; do
        case "$1" in
            --can-promote) role=promote ;;
            --read-only) role=read ;;
            --experiment) experiment=${2:?--experiment needs a name}; shift ;;
            -*) echo "error: unknown option $1 (add-user NAME [--can-promote|--read-only] [--experiment NAME])" >&2; exit 2 ;;
            *) name=$1 ;;
        esac
        shift
    done
    if ! [[ "$name" =~ ^[A-Za-z0-9._-]+$ ]]; then
        echo "error: add-user needs a NAME of letters, digits, '.', '_' or '-'" >&2
        exit 2
    fi
    local file="$SECRETS/users/$name.env"
    { echo "$ADMIN_PRELUDE"; cat <<'PY'; } | as_admin "$name" "$role" "$experiment" "$file" "$MODEL"
import secrets
name, role, experiment, file, model = sys.argv[1:6]
password = secrets.token_urlsafe(24)
try:
    auth.create_user(name, password)
except MlflowException as exc:
    sys.exit(f"error: cannot add {name}: {exc.message.splitlines()[0].split('. Error')[0]}")
granted = "no grants"
if role != "read":
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(experiment)
    auth.grant_user_permission(name, "experiment", experiment_id, "EDIT")
    granted = f"EDIT on experiment {experiment}"
if role == "promote":
    ensure_model(model)
    auth.grant_user_permission(name, "registered_model", model, "MANAGE")
    granted += f", MANAGE on registered model {model}"
fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
with os.fdopen(fd, "w") as out:
    out.write(f"MLFLOW_TRACKING_USERNAME={name}\nMLFLOW_TRACKING_PASSWORD={password}\n")
print(f"{name}: {granted}; READ on everything else. Credentials in {file} (set -a; . {file}; set +a)")
PY
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
    add-user) shift; add_user "$@" ;;
    stop) stop ;;
    purge) purge ;;
    uri) echo "http://127.0.0.1:${PORT}" ;;
    *) echo "usage: $0 start|add-user NAME [--can-promote|--read-only] [--experiment NAME]|stop|purge|uri" >&2; exit 2 ;;
esac
