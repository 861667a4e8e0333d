# Sourced by the bench scripts that drive the REST API with curl (no interpreter per request,
# so the client stays light beside the server it measures).

# call ARGS…: curl as the bench admin, JSON body; fails on HTTP errors.
call() { curl -fsS -u admin:password -H 'Content-Type: application/json' "$@"; }
# field NAME: the first string value of NAME in the JSON on stdin (flat, as the API answers).
field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"; }
# median: of the integers on stdin, one per line (the mean of the middle two for an even count).
median() { sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : int((v[NR/2]+v[NR/2+1])/2)}'; }
# wait_task HREF [SECONDS]: polls the task every SECONDS (default 0.05) until it has ended;
# prints its final JSON.
wait_task() {
    local s
    while :; do
        s=$(call "$API$1")
        case $s in *'"finished_at":"'*) echo "$s"; return ;; esac
        sleep "${2:-0.05}"
    done
}
# task_ms: the time from started_at to finished_at of the task JSON on stdin, in ms.
task_ms() {
    local s started finished
    s=$(cat)
    started=$(grep -o '"started_at":"[^"]*"' <<<"$s" | cut -d'"' -f4)
    finished=$(grep -o '"finished_at":"[^"]*"' <<<"$s" | cut -d'"' -f4)
    echo $((($(date -d "$finished" +%s%N) - $(date -d "$started" +%s%N)) / 1000000))
}
