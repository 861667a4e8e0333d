# Sourced by the bench scripts: the server and nginx they start are stopped, and their
# scratch directory removed, when the script exits.
# The caller sets SHARED (../shared/bench) and WORK (its scratch directory) first, and
# SERVER_PID to the server it starts.
SERVER_PID=""
FIXTURE_SERVED=""
bench_cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    if [ -n "$FIXTURE_SERVED" ]; then
        # shellcheck disable=SC2086 # "DIR PORT"
        RUN="$WORK/nginx" bash "$SHARED/fixture-nginx.sh" stop $FIXTURE_SERVED 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap bench_cleanup EXIT

# serve_fixture DIR PORT N [make-file-fixture.py options]: makes the fixture of N files in
# DIR unless it is there, and serves it with nginx on PORT.
serve_fixture() {
    local dir=$1 port=$2 n=$3
    shift 3
    [ -f "$dir/PULP_MANIFEST" ] || python3 "$SHARED/make-file-fixture.py" "$dir" "$n" "$@"
    RUN="$WORK/nginx" bash "$SHARED/fixture-nginx.sh" start "$dir" "$port" >/dev/null
    FIXTURE_SERVED="$dir $port"
}
