#!/usr/bin/env bash
# End-to-end figures against the real `pulp-server serve` (release build), with the workload
# scripts of ../shared/bench that also measure pulpcore:
#   - sync-bench.sh: immediate and on_demand sync of N new files (served by nginx), publish,
#     distribute, download one file back;
#   - task-latency.sh: round trip of small tasks (PATCH of a repository) through the API.
# Each measurement gets a fresh server (fresh database and storage), on SQLite and, when
# PULP_TEST_POSTGRES_URL is set, on a fresh PostgreSQL database.
#
# usage: benches/server-bench.sh [N_FILES]      (default 5000)
# env: POLICIES (default "immediate on_demand"), LATENCY=0 skips the task round trips,
#      BACKENDS (default: sqlite, and postgres when PULP_TEST_POSTGRES_URL is set),
#      BIN (the server binary, default target/release/pulp-server), WORK_ROOT (where the
#      servers' data goes, default /tmp),
#      SERVER_LOG (the server's RUST_LOG, default warn; its logs are copied to $WORK_LOGS if set),
#      FLOOR=0 skips the client floor: by default each backend first syncs and publishes a
#      one-file repository through the same script, which shows what the client alone costs
#      (sync-bench.sh starts a python3 per response it reads; its start time is printed too).
# needs: nginx, python3, psql (for PostgreSQL); builds target/release/pulp-server if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-5000}
SHARED=${SHARED:-../shared/bench}
BIN=${BIN:-target/release/pulp-server}
[ -x "$BIN" ] || cargo build --release -p pulp-server
WORK=$(mktemp -d "${WORK_ROOT:-/tmp}/pulp-server-bench.XXXXXX")
FIXTURE=${FIXTURE:-/tmp/pulp-fixture-$N}
NGINX_PORT=${NGINX_PORT:-8880}
API_PORT=24917; CONTENT_PORT=24916
. benches/lib/fixture.sh
. benches/lib/server.sh
serve_fixture "$FIXTURE" "$NGINX_PORT" "$N"
MANIFEST="http://127.0.0.1:$NGINX_PORT/PULP_MANIFEST"
if [ "${FLOOR:-1}" = 1 ]; then
    serve_fixture "${FIXTURE_ONE:-/tmp/pulp-fixture-1}" $((NGINX_PORT + 1)) 1
    starts=$(for _ in 1 2 3 4 5; do TIMEFORMAT=%R; { time python3 -c 'import json'; } 2>&1; done | sort -n | sed -n 3p)
    echo "python3 start (median of 5): $starts s"
fi


export API="http://127.0.0.1:$API_PORT" CONTENT="http://127.0.0.1:$CONTENT_PORT" AUTH=admin:password
backends=(sqlite)
[ -n "${PULP_TEST_POSTGRES_URL:-}" ] && backends+=(postgres)
[ -n "${BACKENDS:-}" ] && read -r -a backends <<<"$BACKENDS"
read -r -a policies <<<"${POLICIES:-immediate on_demand}"
for backend in "${backends[@]}"; do
    if [ "${FLOOR:-1}" = 1 ]; then
        url=""; [ "$backend" = postgres ] && url=$(fresh_pg)
        start_server "$BIN" "$url"
        echo "== $backend, client floor: on_demand sync and publish of 1 file"
        bash "$SHARED/sync-bench.sh" "http://127.0.0.1:$((NGINX_PORT + 1))/PULP_MANIFEST" on_demand "f$RANDOM"
        stop_server
        [ -n "$url" ] && drop_pg "$url"
    fi
    for policy in "${policies[@]}"; do
        url=""; [ "$backend" = postgres ] && url=$(fresh_pg)
        start_server "$BIN" "$url"
        echo "== $backend, $policy, $N files"
        bash "$SHARED/sync-bench.sh" "$MANIFEST" "$policy" "b$RANDOM"
        stop_server
        [ -n "$url" ] && drop_pg "$url"
    done
    [ "${LATENCY:-1}" = 0 ] && continue
    url=""; [ "$backend" = postgres ] && url=$(fresh_pg)
    start_server "$BIN" "$url"
    echo "== $backend, task round trips"
    bash "$SHARED/task-latency.sh" 200
    stop_server
    [ -n "$url" ] && drop_pg "$url"
done
