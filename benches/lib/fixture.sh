# Sourced by the bench scripts: the server and nginx they start are stopped, and their
# scratch directory removed, when the script exits.
# The caller sets SHARED (../shared/bench) and WORK (its scratch directory) first, and
# SERVER_PID to the server it starts.
SERVER_PID=""
FIXTURE_SERVED=""
bench_cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    local served
    for served in $FIXTURE_SERVED; do
        RUN="$WORK/nginx-$served" bash "$SHARED/fixture-nginx.sh" stop 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap bench_cleanup EXIT

# serve_fixture DIR PORT N [make-file-fixture.py options]: makes the fixture of N files in
# DIR unless it is there, and serves it with nginx on PORT (one nginx per port; a script may
# serve several fixtures).
serve_fixture() {
    local dir=$1 port=$2 n=$3
    shift 3
    [ -f "$dir/PULP_MANIFEST" ] || python3 "$SHARED/make-file-fixture.py" "$dir" "$n" "$@"
    RUN="$WORK/nginx-$port" bash "$SHARED/fixture-nginx.sh" start "$dir" "$port" >/dev/null
    FIXTURE_SERVED="$FIXTURE_SERVED $port"
}
