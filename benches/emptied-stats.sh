#!/usr/bin/env bash
# A/B of server binaries on a big sync when PostgreSQL's statistics call the tables a sync
# fills empty: on a fresh database and server, a one-file sync, then every row it wrote
# deleted and those tables vacuumed and analyzed (as after deleting a database's repositories
# and their orphans, once autovacuum has run: no pages, zero rows), then a sync of N files
# into a new repository. The same sync on a database with no such statistics
# is measured beside it. Prints the task's time and the time the version step took (from the
# server's log), per binary and case; the version step is where a plan chosen for an empty
# table showed (its time grew with the square of the units).
#
# usage: benches/emptied-stats.sh BIN [BIN ...]
# env: PULP_TEST_POSTGRES_URL (required), ROUNDS (default 2), POLICY (default on_demand),
#      N_FILES (default 20000; a
#      fixture of small files, 512 B-1 KiB, made by ../shared/bench/make-file-fixture.py and
#      served by nginx through ../shared/bench/fixture-nginx.sh), WORK_ROOT (default /tmp)
# needs: nginx, curl, psql.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { sed -n 2,16p "$0"; exit 2; }
: "${PULP_TEST_POSTGRES_URL:?set PULP_TEST_POSTGRES_URL to an empty PostgreSQL database URL}"
ROUNDS=${ROUNDS:-2}; N=${N_FILES:-20000}; POLICY=${POLICY:-on_demand}
SHARED=${SHARED:-../shared/bench}
FIXTURE=${FIXTURE:-/tmp/pulp-fixture-$N-small}
NGINX_PORT=${NGINX_PORT:-8883}; ONE_PORT=$((NGINX_PORT + 1))
API_PORT=24937; CONTENT_PORT=24936
API=http://127.0.0.1:$API_PORT
WORK=$(mktemp -d "${WORK_ROOT:-/tmp}/pulp-emptied-stats.XXXXXX")
. benches/lib/fixture.sh
. benches/lib/client.sh
. benches/lib/server.sh
serve_fixture "$FIXTURE" "$NGINX_PORT" "$N" --min 512 --max 1024 --seed 7
serve_fixture "/tmp/pulp-fixture-1" "$ONE_PORT" 1
SERVER_LOG=pulp_core::pipeline::declarative=debug

sync_into_new_repository() { # $1 = name, $2 = manifest URL; prints the final task JSON
    local repo remote task
    repo=$(call -X POST "$API/pulp/api/v3/repositories/file/file/" -d "{\"name\":\"$1\"}" | field pulp_href)
    remote=$(call -X POST "$API/pulp/api/v3/remotes/file/file/" \
        -d "{\"name\":\"$1\",\"url\":\"$2\",\"policy\":\"$POLICY\"}" | field pulp_href)
    task=$(call -X POST "$API${repo}sync/" -d "{\"remote\":\"$remote\"}" | field task)
    wait_task "$task"
}

one_case() { # $1 = binary, $2 = emptied|fresh; prints "task_ms version_ms"
    local url final task version
    url=$(fresh_pg)
    start_server "$1" "$url"
    if [ "$2" = emptied ]; then
        sync_into_new_repository first "http://127.0.0.1:$ONE_PORT/PULP_MANIFEST" >/dev/null
        psql "$url" -q -c "DELETE FROM core_repositorycontent" -c "DELETE FROM core_content" \
            -c "DELETE FROM core_artifact" -c "VACUUM ANALYZE core_repositorycontent, core_content, \
                file_filecontent, core_contentartifact, core_remoteartifact, core_artifact"
    fi
    final=$(sync_into_new_repository big "http://127.0.0.1:$NGINX_PORT/PULP_MANIFEST")
    case $final in *'"error":null'*) ;; *) echo "sync with $1 failed: $final" >&2; exit 1 ;; esac
    task=$(task_ms <<<"$final")
    version=$(sed 's/\x1b\[[0-9;]*m//g' "$SERVER_DATA/server.log" | grep -o 'version_ms=[0-9]*' | tail -1 | cut -d= -f2)
    stop_server
    drop_pg "$url"
    echo "$task $version"
}

for round in $(seq 1 "$ROUNDS"); do
    for bin in "$@"; do
        for case in fresh emptied; do
            read -r task_ms version_ms < <(one_case "$bin" "$case")
            printf 'round %s  %-8s %s  %s sync of %s files: task %s ms, version step %s ms\n' \
                "$round" "$case" "$bin" "$POLICY" "$N" "$task_ms" "$version_ms"
        done
    done
done
