#!/usr/bin/env bash
# A/B of server binaries on one sync: wall time and the CPU time PostgreSQL and the server
# spend on it, with a light client (curl, polling every 50 ms), so that the figures show the
# server side of `sync-bench.sh` without its Python poll loop. Each round runs every binary
# once, in turn, each on a fresh PostgreSQL database and data directory; the medians are
# printed at the end (machines are noisy: compare binaries within one run).
#
# usage: benches/sync-cpu.sh BIN [BIN ...]
# env: PULP_TEST_POSTGRES_URL (required), ROUNDS (default 10), POLICY (default on_demand),
#      N_FILES (default 5000; the fixture of ../shared/bench/make-file-fixture.py, served by
#      nginx through ../shared/bench/fixture-nginx.sh)
# needs: nginx, curl, psql; reads /proc (Linux).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { sed -n 2,13p "$0"; exit 2; }
: "${PULP_TEST_POSTGRES_URL:?set PULP_TEST_POSTGRES_URL to an empty PostgreSQL database URL}"
ROUNDS=${ROUNDS:-10}; POLICY=${POLICY:-on_demand}; N=${N_FILES:-5000}
SHARED=${SHARED:-../shared/bench}
FIXTURE=${FIXTURE:-/tmp/pulp-fixture-$N}
NGINX_PORT=${NGINX_PORT:-8882}
API_PORT=24927; CONTENT_PORT=24926
API=http://127.0.0.1:$API_PORT
WORK=$(mktemp -d "${WORK_ROOT:-/tmp}/pulp-sync-cpu.XXXXXX")
. benches/lib/fixture.sh
. benches/lib/client.sh
. benches/lib/server.sh
serve_fixture "$FIXTURE" "$NGINX_PORT" "$N"
MANIFEST="http://127.0.0.1:$NGINX_PORT/PULP_MANIFEST"
TICKS=$(getconf CLK_TCK)

# CPU ticks of every PostgreSQL process (live backends, and the exited ones the postmaster
# reaped) and of the server.
ticks() {
    local pg=0 p s
    for p in $(pgrep -x postgres); do
        read -r -a s < <(cut -d' ' -f14-17 "/proc/$p/stat" 2>/dev/null || echo 0 0 0 0)
        pg=$((pg + s[0] + s[1] + s[2] + s[3]))
    done
    echo "$pg $(server_ticks)"
}

one_sync() { # $1 = binary; prints "wall_ms pg_cpu_ms server_cpu_ms"
    local url
    url=$(fresh_pg)
    start_server "$1" "$url"
    local repo remote task state t0 t1 pg0 sv0 pg1 sv1
    repo=$(call -X POST "$API/pulp/api/v3/repositories/file/file/" -d '{"name":"cpu"}' | field pulp_href)
    remote=$(call -X POST "$API/pulp/api/v3/remotes/file/file/" \
        -d "{\"name\":\"cpu\",\"url\":\"$MANIFEST\",\"policy\":\"$POLICY\"}" | field pulp_href)
    read -r pg0 sv0 < <(ticks); t0=$(date +%s%N)
    task=$(call -X POST "$API${repo}sync/" -d "{\"remote\":\"$remote\"}" | field task)
    # Fields come sorted: the task's own state is the last "state" (after its reports').
    state=$(wait_task "$task" | grep -o '"state":"[a-z]*"' | tail -1)
    t1=$(date +%s%N); read -r pg1 sv1 < <(ticks)
    stop_server
    drop_pg "$url"
    case $state in *completed*) ;; *) echo "sync with $1: $state" >&2; exit 1 ;; esac
    echo "$(((t1 - t0) / 1000000)) $(((pg1 - pg0) * 1000 / TICKS)) $(((sv1 - sv0) * 1000 / TICKS))"
}

declare -A results
for round in $(seq 1 "$ROUNDS"); do
    for bin in "$@"; do
        r=$(one_sync "$bin")
        echo "round $round  $bin  wall/pg/server ms: $r"
        results[$bin]+="$r"$'\n'
    done
done
echo "== medians over $ROUNDS rounds, $POLICY sync of $N files, PostgreSQL"
for bin in "$@"; do
    rows=${results[$bin]}
    printf '%s  wall %s ms  postgres cpu %s ms  server cpu %s ms\n' "$bin" \
        "$(cut -d' ' -f1 <<<"$rows" | grep . | median)" \
        "$(cut -d' ' -f2 <<<"$rows" | grep . | median)" \
        "$(cut -d' ' -f3 <<<"$rows" | grep . | median)"
done
