#!/usr/bin/env bash
# A/B of server binaries on short API requests that each open a connection of their own, as
# curl, pulp-cli and ../shared/bench/sync-bench.sh make them: for each binary a fresh server
# (SQLite, or PostgreSQL when PULP_TEST_POSTGRES_URL is set), then N sequential
# `curl GET /status/` and N `curl GET /repositories/file/file/` (authenticated). Prints the
# wall time per request (mostly curl's own start) and the server's CPU time per request, read
# from /proc (10 ms ticks, so N should be in the hundreds).
#
# usage: benches/connection-bench.sh BIN [BIN ...]
# env: N (default 300), ROUNDS (default 2), WORK_ROOT (default /tmp)
# needs: curl, psql (for PostgreSQL); reads /proc (Linux).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { sed -n 2,11p "$0"; exit 2; }
N=${N:-300}; ROUNDS=${ROUNDS:-2}
SHARED=${SHARED:-../shared/bench}
API_PORT=24957; CONTENT_PORT=24956
API=http://127.0.0.1:$API_PORT
WORK=$(mktemp -d "${WORK_ROOT:-/tmp}/pulp-connection-bench.XXXXXX")
. benches/lib/fixture.sh
. benches/lib/client.sh
. benches/lib/server.sh
TICKS=$(getconf CLK_TCK)

one_binary() { # $1 = binary; prints one line per path
    local url="" path t0 t1 c0 c1
    [ -n "${PULP_TEST_POSTGRES_URL:-}" ] && url=$(fresh_pg)
    start_server "$1" "$url"
    for path in /pulp/api/v3/status/ /pulp/api/v3/repositories/file/file/; do
        c0=$(server_ticks); t0=$(date +%s%N)
        for _ in $(seq 1 "$N"); do call -o /dev/null "$API$path"; done
        t1=$(date +%s%N); c1=$(server_ticks)
        printf '%s  %-40s wall %5d us/request  server cpu %4d us/request\n' "$1" "$path" \
            $(((t1 - t0) / N / 1000)) $(((c1 - c0) * 1000000 / TICKS / N))
    done
    stop_server
    [ -n "$url" ] && drop_pg "$url"
    return 0
}

for round in $(seq 1 "$ROUNDS"); do
    echo "== round $round, $N requests per path, a connection each"
    for bin in "$@"; do one_binary "$bin"; done
done
