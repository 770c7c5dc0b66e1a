# Progress of a long script, on stderr (sourced by the build scripts and scripts/k8s-node-cluster):
#   progress_init NAME TOTAL   before the first step
#   step WHAT                  "[3/7 12.4s] WHAT": the step's number and the time since the script began
#   step_done WHAT             "[3/7 352.6s] WHAT (340.2s)": the same, with the step's own time
#   progress_run CMD...        runs CMD; while it runs, "[3/7 72.4s] ... still running (60s)" every minute, so a
#                              silent Go or image build shows where it is
# OSM_L2SM_PROGRESS=0 silences it (the scripts' --json does the same); OSM_L2SM_PROGRESS_EVERY sets the interval.
PROGRESS_NAME=script PROGRESS_TOTAL=0 PROGRESS_N=0 PROGRESS_WHAT=
PROGRESS_T0=$(date +%s.%N)
PROGRESS_STEP_T0=$PROGRESS_T0

progress_since() { awk "BEGIN {printf \"%.1f\", $(date +%s.%N) - $1}"; }

progress_say() {
    [ "${OSM_L2SM_PROGRESS:-1}" = 0 ] && return 0
    echo "$PROGRESS_NAME [$PROGRESS_N/$PROGRESS_TOTAL $(progress_since "$PROGRESS_T0")s] $*" >&2
}

progress_init() { PROGRESS_NAME=$1 PROGRESS_TOTAL=$2; }

step() {
    PROGRESS_N=$((PROGRESS_N + 1)) PROGRESS_WHAT=$* PROGRESS_STEP_T0=$(date +%s.%N)
    progress_say "$*"
}

step_done() { progress_say "$* ($(progress_since "$PROGRESS_STEP_T0")s)"; }

progress_run() {
    (   # looks every second whether the script still runs ($$ is the script's pid here too), and ends with it;
        # an exited script not yet reaped by its parent is a zombie (state Z), which `kill -0` still finds
        _pr_n=0
        while sleep 1 && [ "$(cut -d' ' -f3 /proc/$$/stat 2>/dev/null || echo Z)" != Z ]; do
            _pr_n=$((_pr_n + 1))
            [ $((_pr_n % ${OSM_L2SM_PROGRESS_EVERY:-60})) = 0 ] || continue
            progress_say "$PROGRESS_WHAT: still running ($(progress_since "$PROGRESS_STEP_T0" | cut -d. -f1)s)"
        done
    ) &
    _pr_beat=$!
    # not under `if`: a function given here keeps `set -e` (a failure exits the script, and the loop with it)
    "$@"
    _pr_rc=$?
    kill "$_pr_beat" 2>/dev/null || true
    wait "$_pr_beat" 2>/dev/null || true
    return "$_pr_rc"
}
