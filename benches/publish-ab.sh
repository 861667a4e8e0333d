#!/usr/bin/env bash
# A/B of server binaries on publishing a version of N files: the publish task's own time
# (started_at -> finished_at) and the client's (POST to seeing it finished), with a light
# client (curl, polling every 10 ms), on SQLite and on PostgreSQL. Each round runs every
# binary once per database, in turn, on a fresh server (fresh data directory; PostgreSQL: a
# fresh database): an on_demand sync of the fixture, then PUBLISHES publications of the
# version it made. Medians per binary and database are printed at the end (machines are
# noisy: compare binaries within one run).
#
# usage: benches/publish-ab.sh BIN [BIN ...]
# env: ROUNDS (default 3), PUBLISHES (default 6), N_FILES (default 5000; the fixture of
#      ../shared/bench/make-file-fixture.py, served by nginx through
#      ../shared/bench/fixture-nginx.sh), BACKENDS (default: sqlite, and postgres when
#      PULP_TEST_POSTGRES_URL is set), WORK_ROOT (default /tmp)
# needs: nginx, curl, GNU date, psql (for PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { sed -n 2,15p "$0"; exit 2; }
ROUNDS=${ROUNDS:-3}; PUBLISHES=${PUBLISHES:-6}; N=${N_FILES:-5000}
SHARED=${SHARED:-../shared/bench}
FIXTURE=${FIXTURE:-/tmp/pulp-fixture-$N}
NGINX_PORT=${NGINX_PORT:-8883}
API_PORT=24947; CONTENT_PORT=24946
API=http://127.0.0.1:$API_PORT
WORK=$(mktemp -d "${WORK_ROOT:-/tmp}/pulp-publish-ab.XXXXXX")
. benches/lib/fixture.sh
. benches/lib/client.sh
. benches/lib/server.sh
serve_fixture "$FIXTURE" "$NGINX_PORT" "$N"
MANIFEST="http://127.0.0.1:$NGINX_PORT/PULP_MANIFEST"
backends=(sqlite)
[ -n "${PULP_TEST_POSTGRES_URL:-}" ] && backends+=(postgres)
[ -n "${BACKENDS:-}" ] && read -r -a backends <<<"$BACKENDS"

# Runs a task to its end: prints "task_ms client_ms".
run_task() { # $1 = path to POST, $2 = body
    local task t0 t1 s
    t0=$(date +%s%N)
    task=$(call -X POST "$API$1" -d "$2" | field task)
    s=$(wait_task "$task" 0.01)
    t1=$(date +%s%N)
    case $s in *'"error":null'*) ;; *) echo "task $1 failed: $s" >&2; exit 1 ;; esac
    echo "$(task_ms <<<"$s") $(((t1 - t0) / 1000000))"
}

one_server() { # $1 = binary, $2 = backend; prints "task_ms client_ms" per publish
    local url=""
    [ "$2" = postgres ] && url=$(fresh_pg)
    start_server "$1" "$url"
    local repo remote
    repo=$(call -X POST "$API/pulp/api/v3/repositories/file/file/" -d '{"name":"ab"}' | field pulp_href)
    remote=$(call -X POST "$API/pulp/api/v3/remotes/file/file/" \
        -d "{\"name\":\"ab\",\"url\":\"$MANIFEST\",\"policy\":\"on_demand\"}" | field pulp_href)
    run_task "${repo}sync/" "{\"remote\":\"$remote\"}" >/dev/null
    for _ in $(seq 1 "$PUBLISHES"); do
        run_task /pulp/api/v3/publications/file/file/ "{\"repository\":\"$repo\"}"
    done
    stop_server
    [ -z "$url" ] || drop_pg "$url"
}

declare -A results
for round in $(seq 1 "$ROUNDS"); do
    for backend in "${backends[@]}"; do
        for bin in "$@"; do
            r=$(one_server "$bin" "$backend")
            echo "round $round  $backend  $bin  task/client ms:" $r
            results[$backend $bin]+="$r"$'\n'
        done
    done
done
echo "== medians over $ROUNDS rounds x $PUBLISHES publishes of $N files"
for backend in "${backends[@]}"; do
    for bin in "$@"; do
        rows=${results[$backend $bin]}
        printf '%-8s %s  task %s ms  client %s ms\n' "$backend" "$bin" \
            "$(cut -d' ' -f1 <<<"$rows" | grep . | median)" \
            "$(cut -d' ' -f2 <<<"$rows" | grep . | median)"
    done
done
