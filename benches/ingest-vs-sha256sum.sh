#!/usr/bin/env bash
# Artifact ingest (hash + verify + store) against single-core `sha256sum` on the same data,
# measured in one run on one machine (ratios, not absolute numbers, are what compare).
#
#   benches/ingest-vs-sha256sum.sh [criterion arguments, e.g. a filter such as one_file]
#
# 1. Makes the data set: 1 GiB of random bytes as one file (one.bin) and as its 16,384
#    slices of 64 KiB (small/00000 … small/16383, from `split`), the same bytes both ways.
# 2. Times `sha256sum` on it (one process, so one core), before and after the bench: on the
#    one file, over the small files, and on the small files `cat`-ed into one pipe.
#    `openssl dgst -sha256` (which uses the CPU's SHA instructions where there are some) is
#    timed the same way as a second baseline.
# 3. Runs the criterion bench `artifact_ingest` on the same files (PULP_INGEST_DATA).
# 4. Prints each configuration's throughput and its ratio to `sha256sum` and to openssl, both
#    typical (criterion's mean / the baselines' median) and best (fastest sample / fastest run).
#
# Environment: PULP_INGEST_DATA=DIR keeps the data set in DIR (kept afterwards; by default it
# is made in a temporary directory and removed), PULP_INGEST_MIB=N uses N MiB instead of
# 1024 (for a quick try), PULP_INGEST_STORAGE=DIR is where the bench makes its storage
# directories (default: the system temporary directory), RUNS=N times each baseline N times
# before and after the bench (default 3). CARGO_TARGET_DIR is honoured to find criterion's
# results.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
MIB="${PULP_INGEST_MIB:-1024}"
RUNS="${RUNS:-3}"
BYTES=$((MIB * 1024 * 1024))
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"

if [[ -n "${PULP_INGEST_DATA:-}" ]]; then
    DATA="$PULP_INGEST_DATA"
else
    DATA="$(mktemp -d "${TMPDIR:-/tmp}/pulp-ingest-data.XXXXXX")"
    trap 'rm -rf "$DATA"' EXIT
fi
mkdir -p "$DATA"

echo "== machine"
echo "nproc: $(nproc)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "sha256sum: $(sha256sum --version | head -1)"
echo "openssl: $(openssl version 2>/dev/null || echo missing)"

echo "== data set: $MIB MiB in $DATA"
if [[ "$(stat -c %s "$DATA/one.bin" 2>/dev/null || echo 0)" != "$BYTES" ]]; then
    head -c "$BYTES" /dev/urandom >"$DATA/one.bin"
    rm -rf "$DATA/small"
fi
COUNT=$(((BYTES + 65535) / 65536))
if [[ "$(find "$DATA/small" -type f 2>/dev/null | wc -l)" != "$COUNT" ]]; then
    rm -rf "$DATA/small"
    mkdir -p "$DATA/small"
    split -b 65536 -a 5 -d "$DATA/one.bin" "$DATA/small/"
fi
# Warm the page cache: every reader below reads from memory.
cat "$DATA/one.bin" >/dev/null
(cd "$DATA/small" && cat -- * >/dev/null)

# Wall time in nanoseconds of one run of a command (its output discarded).
time_ns() {
    local start end
    start=$(date +%s%N)
    "$@" >/dev/null
    end=$(date +%s%N)
    echo $((end - start))
}
sha256sum_small() { (cd "$DATA/small" && sha256sum -- *); }
sha256sum_pipe() { (cd "$DATA/small" && cat -- * | sha256sum); }
openssl_small() { (cd "$DATA/small" && openssl dgst -sha256 -- *); }

# Times every baseline RUNS times, appending "name ns" lines to $BASE.
BASE="$DATA/baselines.txt"
: >"$BASE"
baselines() {
    local name ns
    echo "== baselines ($1, $RUNS runs each)"
    for name in sha256sum_one sha256sum_small sha256sum_pipe openssl_one openssl_small; do
        for _ in $(seq "$RUNS"); do
            case "$name" in
                sha256sum_one) ns=$(time_ns sha256sum "$DATA/one.bin") ;;
                sha256sum_small) ns=$(time_ns sha256sum_small) ;;
                sha256sum_pipe) ns=$(time_ns sha256sum_pipe) ;;
                openssl_one) ns=$(time_ns openssl dgst -sha256 "$DATA/one.bin") ;;
                openssl_small) ns=$(time_ns openssl_small) ;;
            esac
            echo "$name $ns" >>"$BASE"
            awk -v n="$name" -v ns="$ns" -v b="$BYTES" \
                'BEGIN { printf "%-16s %8.3f s  %6.3f GB/s\n", n, ns / 1e9, b / ns }'
        done
    done
}

# Baselines before and after the bench: the machine may be shared, and contention only ever
# slows a run down, so each side's fastest run is compared as well as its typical one.
baselines before
echo "== criterion: cargo bench -p pulp-benches --bench artifact_ingest $*"
(cd "$ROOT" && PULP_INGEST_DATA="$DATA" PULP_INGEST_MIB="$MIB" \
    cargo bench -p pulp-benches --bench artifact_ingest -- "$@")
baselines after

echo "== ratios (the target: ingest >= 0.70 x sha256sum)"
echo "typ: criterion's mean / the baselines' median; best: fastest sample / fastest run"
python3 - "$TARGET/criterion" "$BASE" "$BYTES" <<'EOF'
import json, os, statistics, sys

root, base_file, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
runs = {}
for line in open(base_file):
    name, ns = line.split()
    runs.setdefault(name, []).append(int(ns))
# GB/s: (typical, best)
base = {n: (total / statistics.median(t), total / min(t)) for n, t in runs.items()}

print(f"{'benchmark':40} {'GB/s':>13} {'/sha256sum':>11} {'/openssl':>11}  >=70%?")
print(f"{'':40} {'typ   best':>13} {'typ  best':>11} {'typ  best':>11}  typ/best")
for group, kind in (("ingest_one_file", "one"), ("ingest_64kib_files", "small")):
    folder = os.path.join(root, group)
    if not os.path.isdir(folder):
        continue
    for bench in sorted(os.listdir(folder)):
        new = os.path.join(folder, bench, "new")
        if not os.path.isfile(os.path.join(new, "estimates.json")):
            continue
        mean_ns = json.load(open(os.path.join(new, "estimates.json")))["mean"]["point_estimate"]
        sample = json.load(open(os.path.join(new, "sample.json")))
        best_ns = min(t / i for t, i in zip(sample["times"], sample["iters"]))
        bytes_ = json.load(open(os.path.join(new, "benchmark.json")))["throughput"]["Bytes"]
        gbs = (bytes_ / mean_ns, bytes_ / best_ns)
        s, o = base[f"sha256sum_{kind}"], base[f"openssl_{kind}"]
        r_s = (gbs[0] / s[0], gbs[1] / s[1])
        r_o = (gbs[0] / o[0], gbs[1] / o[1])
        met = "/".join("yes" if r >= 0.70 else "NO" for r in r_s)
        print(f"{group + '/' + bench:40} {gbs[0]:6.3f} {gbs[1]:6.3f} {r_s[0]:5.2f} {r_s[1]:5.2f}"
              f" {r_o[0]:5.2f} {r_o[1]:5.2f}  {met}")
for name, (typ, best) in base.items():
    print(f"{'baseline ' + name:40} {typ:6.3f} {best:6.3f}")
EOF
