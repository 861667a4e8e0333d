#!/usr/bin/env bash
# The content app against nginx serving the same files, measured in one run on one machine
# (ratios, not absolute numbers, are what compare).
#
#   benches/content-bench.sh
#
# 1. Makes a small file (6.5 KiB) and a big one (1 GiB) of random bytes.
# 2. Starts nginx (sendfile on, one worker per core, no access log) with the two files in its
#    document root, and the content app (`benches/examples/content_server.rs`: SQLite, local
#    storage, a pulp_file repository holding both files, distributed at base path `bench`).
# 3. Small file: `wrk -t2 -c16 -d10s` on each, requests/s.
# 4. Big file: 50 concurrent `curl` downloads of the whole file on each, wall time and
#    throughput; the content app's RSS is sampled every 0.2 s during its runs.
# Each measurement runs ROUNDS times (default 3), nginx and the content app alternating, and
# the medians are compared (the machine is shared: single runs swing by ±30%).
#
# Environment: ROUNDS=N, BIG_MIB=N makes the big file N MiB (default 1024), CLIENTS=N (default 50),
# DURATION=10s for wrk, NGINX_PORT / PULP_PORT (default 18080 / 18081). CARGO_TARGET_DIR is
# honoured. Needs nginx, wrk and curl (`apt-get install -y wrk nginx curl`).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
BIG_MIB="${BIG_MIB:-1024}"
CLIENTS="${CLIENTS:-50}"
DURATION="${DURATION:-10s}"
ROUNDS="${ROUNDS:-3}"
NGINX_PORT="${NGINX_PORT:-18080}"
PULP_PORT="${PULP_PORT:-18081}"

WORK="$(mktemp -d /tmp/pulp-content-bench.XXXXXX)"
chmod 755 "$WORK"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "== building the content server (release)"
(cd "$ROOT" && cargo build --release -q -p pulp-benches --example content_server)

echo "== data: small (6656 bytes) and big (${BIG_MIB} MiB)"
mkdir -p "$WORK/www" "$WORK/pulp"
head -c 6656 /dev/urandom > "$WORK/www/small.bin"
head -c $((BIG_MIB * 1024 * 1024)) /dev/urandom > "$WORK/www/big.bin"
chmod -R a+rX "$WORK/www"

cat > "$WORK/nginx.conf" <<EOF
worker_processes auto;
user root;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    types { application/octet-stream bin; }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $WORK/www;
    }
}
EOF
nginx -c "$WORK/nginx.conf" -g 'daemon off;' &
PIDS+=($!)

"$TARGET/release/examples/content_server" "$WORK/pulp" "127.0.0.1:$PULP_PORT" \
    "$WORK/www/small.bin" "$WORK/www/big.bin" 2> "$WORK/pulp.log" &
PULP_PID=$!
PIDS+=($PULP_PID)

NGINX_URL="http://127.0.0.1:$NGINX_PORT"
PULP_URL="http://127.0.0.1:$PULP_PORT/pulp/content/bench"
for url in "$NGINX_URL/small.bin" "$PULP_URL/small.bin"; do
    for _ in $(seq 1 1800); do
        curl -fsS -o /dev/null "$url" 2>/dev/null && break
        sleep 0.1
    done
    cmp <(curl -fsS "$url") "$WORK/www/small.bin"
done
BIG_SUM=$(sha256sum < "$WORK/www/big.bin" | cut -d' ' -f1)
for url in "$NGINX_URL/big.bin" "$PULP_URL/big.bin"; do
    [ "$(curl -fsS "$url" | sha256sum | cut -d' ' -f1)" = "$BIG_SUM" ] || { echo "wrong bytes from $url"; exit 1; }
done
echo "both servers answer with the same bytes (small and big file)"

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
# Anonymous memory only (file pages mapped while sending are page cache, not the app's).
anon_kib() { awk '/^RssAnon/ {print $2}' "/proc/$1/status"; }

median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

echo
echo "== small file: wrk -t2 -c16 -d$DURATION, $ROUNDS rounds"
rps() { wrk -t2 -c16 -d"$DURATION" "$1" | tee -a "$WORK/wrk.log" | awk '/^Requests\/sec/ {print $2}'; }
: > "$WORK/small-nginx"; : > "$WORK/small-pulp"
for round in $(seq 1 "$ROUNDS"); do
    n=$(rps "$NGINX_URL/small.bin"); p=$(rps "$PULP_URL/small.bin")
    echo "round $round: nginx $n req/s, content app $p req/s"
    echo "$n" >> "$WORK/small-nginx"; echo "$p" >> "$WORK/small-pulp"
done
NGINX_RPS=$(median < "$WORK/small-nginx")
PULP_RPS=$(median < "$WORK/small-pulp")
echo "RSS of the content app after the small-file runs: $(rss_kib $PULP_PID) KiB"

echo
echo "== big file: $CLIENTS concurrent downloads of ${BIG_MIB} MiB, $ROUNDS rounds"
download_all() {
    local url="$1" start end pids=()
    start=$(date +%s.%N)
    for _ in $(seq 1 "$CLIENTS"); do
        curl -fsS -o /dev/null "$url" &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid"; done
    end=$(date +%s.%N)
    echo "$start $end" | awk '{printf "%.2f", $2 - $1}'
}
RSS_BEFORE=$(rss_kib $PULP_PID)
: > "$WORK/big-nginx"; : > "$WORK/big-pulp"; : > "$WORK/rss.log"; : > "$WORK/anon.log"
for round in $(seq 1 "$ROUNDS"); do
    n=$(download_all "$NGINX_URL/big.bin")
    ( while kill -0 $PULP_PID 2>/dev/null; do
        rss_kib $PULP_PID >> "$WORK/rss.log"; anon_kib $PULP_PID >> "$WORK/anon.log"; sleep 0.2
    done ) &
    SAMPLER=$!
    p=$(download_all "$PULP_URL/big.bin")
    kill $SAMPLER 2>/dev/null || true
    echo "round $round: nginx $n s, content app $p s"
    echo "$n" >> "$WORK/big-nginx"; echo "$p" >> "$WORK/big-pulp"
done
NGINX_SECONDS=$(median < "$WORK/big-nginx")
PULP_SECONDS=$(median < "$WORK/big-pulp")
RSS_MAX=$(sort -n "$WORK/rss.log" | tail -1)
ANON_MAX=$(sort -n "$WORK/anon.log" | tail -1)
RSS_AFTER=$(rss_kib $PULP_PID)

echo
echo "== results (medians of $ROUNDS rounds)"
awk -v n="$NGINX_RPS" -v p="$PULP_RPS" 'BEGIN {printf "small file  nginx %10.0f req/s   content app %10.0f req/s   ratio %.2f\n", n, p, p / n}'
awk -v mib="$BIG_MIB" -v c="$CLIENTS" -v n="$NGINX_SECONDS" -v p="$PULP_SECONDS" 'BEGIN {
    total = mib * c / 1024;
    printf "big file    nginx %6.2f s (%6.2f GiB/s)   content app %6.2f s (%6.2f GiB/s)   ratio %.2f\n", n, total / n, p, total / p, n / p }'
echo "content app RSS: before the big-file runs ${RSS_BEFORE} KiB, peak during them ${RSS_MAX} KiB (anonymous ${ANON_MAX} KiB), after ${RSS_AFTER} KiB"
