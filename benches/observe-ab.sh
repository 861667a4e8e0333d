#!/usr/bin/env bash
# What metrics and the access log cost (issue 26): the small-file content-app rate and the
# task round trip of one pulp-server binary, with them (the defaults) and without them
# (metrics.enabled = false, access log off), alternating, ROUNDS times each.
#
#   cargo build --profile dist -p pulp-server && benches/observe-ab.sh
#
# Each round: a fresh SQLite server (`serve`), a one-file (6.5 KiB) PULP_MANIFEST repository
# synced, published and distributed; `wrk -t2 -c16 -d$DURATION` on the file through the
# content app (requests/s), then ../shared/bench/task-latency.sh N (PATCH tasks, round trip).
# The correlation-id middleware runs in both modes (it cannot be turned off).
# Environment: BIN (default target/dist/pulp-server), ROUNDS (3), DURATION (10s), TASKS (200).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${BIN:-$ROOT/target/dist/pulp-server}"
ROUNDS="${ROUNDS:-3}"; DURATION="${DURATION:-10s}"; TASKS="${TASKS:-200}"
LATENCY="${LATENCY:-$ROOT/../shared/bench/task-latency.sh}"
[ -x "$LATENCY" ] || LATENCY=/work/shared/bench/task-latency.sh
WORK="$(mktemp -d /tmp/pulp-observe-ab.XXXXXX)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

mkdir -p "$WORK/fixture"
head -c 6656 /dev/urandom > "$WORK/fixture/small.bin"
SHA=$(sha256sum "$WORK/fixture/small.bin" | cut -d' ' -f1)
echo "small.bin,$SHA,6656" > "$WORK/fixture/PULP_MANIFEST"
(cd "$WORK/fixture" && exec python3 -m http.server --bind 127.0.0.1 18090 >/dev/null 2>&1) &
PIDS+=($!)

AUTH=admin:password
api() { curl -sf -u "$AUTH" -H 'Content-Type: application/json' -X "$1" "http://127.0.0.1:18091$2" ${3:+-d "$3"}; }
wait_task() {
    local href; href=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["task"])')
    while :; do
        local t; t=$(api GET "$href")
        case "$(echo "$t" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')" in
            completed) echo "$t"; return;; failed|canceled) echo "task failed: $t" >&2; exit 1;;
        esac
        sleep 0.05
    done
}

round() {
    local mode=$1 dir="$WORK/$1-$2"
    mkdir -p "$dir"
    local extra=()
    if [ "$mode" = without ]; then
        extra=(PULP_METRICS__ENABLED=false RUST_LOG=info,sqlx=warn,pulp::access=off)
    fi
    env PULP_SETTINGS= PULP_DATA_DIR="$dir" PULP_ADMIN_PASSWORD=password \
        PULP_API_BIND=127.0.0.1:18091 PULP_CONTENT_BIND=127.0.0.1:18092 "${extra[@]}" \
        "$BIN" serve >"$dir/out.log" 2>"$dir/server.log" &
    local pid=$!
    for _ in $(seq 1 100); do curl -sf -o /dev/null http://127.0.0.1:18091/pulp/api/v3/status/ && break; sleep 0.1; done
    local remote repo pub
    remote=$(api POST /pulp/api/v3/remotes/file/file/ '{"name":"r","url":"http://127.0.0.1:18090/PULP_MANIFEST"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["pulp_href"])')
    repo=$(api POST /pulp/api/v3/repositories/file/file/ "{\"name\":\"repo\",\"remote\":\"$remote\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pulp_href"])')
    api POST "${repo}sync/" '{}' | wait_task >/dev/null
    pub=$(api POST /pulp/api/v3/publications/file/file/ "{\"repository\":\"$repo\"}" | wait_task | python3 -c 'import json,sys; print(json.load(sys.stdin)["created_resources"][0])')
    api POST /pulp/api/v3/distributions/file/file/ "{\"name\":\"d\",\"base_path\":\"d\",\"publication\":\"$pub\"}" | wait_task >/dev/null
    curl -sf -o /dev/null http://127.0.0.1:18092/pulp/content/d/small.bin
    local rate latency
    rate=$(wrk -t2 -c16 -d"$DURATION" http://127.0.0.1:18092/pulp/content/d/small.bin | awk '/Requests\/sec/ {print $2}')
    latency=$(API=http://127.0.0.1:18091 AUTH=$AUTH "$LATENCY" "$TASKS" | sed -E 's/.*mean round-trip ([0-9.]+) ms.*/\1/')
    kill "$pid"; wait "$pid" 2>/dev/null || true
    echo "$mode round $2: content app ${rate} requests/s, task round trip ${latency} ms"
    echo "$mode $rate $latency" >> "$WORK/results"
}

for r in $(seq 1 "$ROUNDS"); do round with "$r"; round without "$r"; done
python3 - "$WORK/results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
for mode in ("with", "without"):
    rates = [float(r[1]) for r in rows if r[0] == mode]
    lat = [float(r[2]) for r in rows if r[0] == mode]
    print(f"{mode:8} median: {statistics.median(rates):9.0f} requests/s, task round trip {statistics.median(lat):6.2f} ms")
w = [r for r in rows if r[0] == "with"]; o = [r for r in rows if r[0] == "without"]
rate = statistics.median(float(r[1]) for r in w) / statistics.median(float(r[1]) for r in o) - 1
lat = statistics.median(float(r[2]) for r in w) / statistics.median(float(r[2]) for r in o) - 1
print(f"with / without: content rate {100*rate:+.1f} %, task round trip {100*lat:+.1f} %")
PY
