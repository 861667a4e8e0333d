#!/usr/bin/env bash
# on_demand first fetch (issue 7): an on_demand sync of N small files (served by nginx), a
# publication and a distribution through the REST API, then 16 concurrent clients fetch every
# file once through the content app (each first request downloads from the remote and keeps
# the artifact), then once more (now from storage). Every body is checked against the
# manifest's sha256.
#
# usage: benches/on-demand-bench.sh [N_FILES]   (default 1000; PostgreSQL when
#        PULP_BENCH_DATABASE_URL names an empty database, else SQLite)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}
SHARED=${SHARED:-../shared/bench}
BIN=target/release/pulp-server
[ -x "$BIN" ] || cargo build --release -p pulp-server
WORK=$(mktemp -d /tmp/pulp-on-demand-bench.XXXXXX)
FIXTURE=${FIXTURE:-/tmp/pulp-fixture-small-$N}
PORT=${NGINX_PORT:-8881}
API_PORT=24917; CONTENT_PORT=24916
. benches/lib/fixture.sh
. benches/lib/server.sh
serve_fixture "$FIXTURE" "$PORT" "$N" --min 1024 --max 16384
start_server "$BIN" "${PULP_BENCH_DATABASE_URL:-}"
python3 - "$FIXTURE/PULP_MANIFEST" "http://127.0.0.1:$PORT/PULP_MANIFEST" <<'PY'
import base64, concurrent.futures as cf, hashlib, json, sys, time, urllib.request
manifest_path, manifest_url = sys.argv[1], sys.argv[2]
API, CONTENT = "http://127.0.0.1:24917", "http://127.0.0.1:24916"
H = {"Authorization": "Basic " + base64.b64encode(b"admin:password").decode(), "Content-Type": "application/json"}
def call(m, p, body=None):
    r = urllib.request.Request(API + p, method=m, headers=H, data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(r) as f: return json.load(f)
def wait(task):
    while True:
        t = call("GET", task)
        if t["state"] in ("completed", "failed", "canceled"):
            assert t["state"] == "completed", t
            return t
        time.sleep(0.01)
remote = call("POST", "/pulp/api/v3/remotes/file/file/", {"name": "od", "url": manifest_url, "policy": "on_demand"})["pulp_href"]
repo = call("POST", "/pulp/api/v3/repositories/file/file/", {"name": "od", "remote": remote})["pulp_href"]
wait(call("POST", repo + "sync/", {})["task"])
pub = wait(call("POST", "/pulp/api/v3/publications/file/file/", {"repository": repo})["task"])["created_resources"][0]
wait(call("POST", "/pulp/api/v3/distributions/file/file/", {"name": "od", "base_path": "od", "publication": pub})["task"])
files = [l.split(",")[:2] for l in open(manifest_path).read().split("\n") if l]
def fetch(item):
    path, sha = item
    with urllib.request.urlopen(f"{CONTENT}/pulp/content/od/{path}") as f:
        assert hashlib.sha256(f.read()).hexdigest() == sha, path
time.sleep(2.5)  # let the content app's distribution cache see the new distribution
for label in ("first fetch (downloads from the remote)", "second fetch (from storage)"):
    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(16) as pool:
        list(pool.map(fetch, files))
    dt = time.perf_counter() - t0
    print(f"{len(files)} files, 16 clients, {label}: {dt:.3f} s ({len(files)/dt:.0f} files/s)")
artifacts = call("GET", "/pulp/api/v3/artifacts/?limit=1")["count"]
print(f"artifacts stored: {artifacts} (files + the published manifest)")
PY
