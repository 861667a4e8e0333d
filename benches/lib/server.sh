# Sourced by the bench scripts that start `pulp-server serve`: a fresh server per measurement
# (its own data directory; on PostgreSQL a database of its own), stopped by the caller or,
# at the latest, by fixture.sh's cleanup. The caller sets WORK, API_PORT and CONTENT_PORT.

# start_server BIN [DATABASE_URL]: starts BIN on a new data directory (SQLite in it when no
# URL is given), waits until its API answers; sets SERVER_PID and SERVER_DATA.
start_server() {
    local bin=$1 url=${2:-}
    SERVER_DATA="$WORK/data-$RANDOM$RANDOM"
    mkdir -p "$SERVER_DATA"
    env ${url:+PULP_DATABASE_URL=$url} PULP_DATA_DIR="$SERVER_DATA" PULP_ADMIN_PASSWORD=password \
        PULP_API_BIND=127.0.0.1:$API_PORT PULP_CONTENT_BIND=127.0.0.1:$CONTENT_PORT \
        RUST_LOG=${SERVER_LOG:-warn} "$bin" serve >"$SERVER_DATA/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 100); do
        curl -sf -o /dev/null "http://127.0.0.1:$API_PORT/pulp/api/v3/status/" && return 0
        sleep 0.1
    done
    echo "the server did not start" >&2; cat "$SERVER_DATA/server.log" >&2; exit 1
}

# stop_server: stops the server, copies its log to $WORK_LOGS (when set), removes its data.
stop_server() {
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
    if [ -n "${WORK_LOGS:-}" ]; then mkdir -p "$WORK_LOGS"; cp "$SERVER_DATA/server.log" "$WORK_LOGS/" || true; fi
    rm -rf "$SERVER_DATA"
}

# fresh_pg: prints the URL of a new, empty database beside $PULP_TEST_POSTGRES_URL's.
fresh_pg() {
    local name="pulp_bench_$RANDOM$RANDOM"
    psql "$PULP_TEST_POSTGRES_URL" -qAtc "CREATE DATABASE $name" >/dev/null
    echo "${PULP_TEST_POSTGRES_URL%/*}/$name"
}
# drop_pg URL: drops the database fresh_pg made.
drop_pg() { psql "$PULP_TEST_POSTGRES_URL" -qAtc "DROP DATABASE IF EXISTS ${1##*/}" >/dev/null; }

# server_ticks: the CPU time (user + system) of the server started by start_server, in clock
# ticks (getconf CLK_TCK per second).
server_ticks() { cut -d' ' -f14-15 "/proc/$SERVER_PID/stat" | awk '{print $1 + $2}'; }
