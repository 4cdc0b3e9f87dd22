#!/usr/bin/env bash
# bench/compare.sh: runs load-tester and its peers (wrk, oha, hey, Locust) against the same loopback target and prints a table of medians and ratios.
#
#   bench/compare.sh            the full set: cases a–d, 3 runs each, medians (about 10 minutes)
#   bench/compare.sh quick      the same cases, 1 run of 3 s each (a smoke test; figures are rough)
#   bench/compare.sh hold100k   case e alone: 100,000 users holding WebSockets (about 5 minutes)
#
# Cases (issue 4, "What it must show"):
#   a. HTTP GET /health, 50 connections: req/s of each tool, generator on one core
#   b. HTTP at a fixed 2,000 req/s: CPU seconds per 10,000 requests
#   c. the golden path against the mock at a fixed 100 flows/s: CPU seconds per 1,000 flows
#   d. 10,000 users holding open WebSockets: RSS per user
#   e. (hold100k) 100,000 users holding WebSockets for 60 s: peak RSS, CPU, errors
# The generator is pinned to CPU $GEN_CPU (0) and the target (`load-tester mock`, a separate
# process) to CPU $TARGET_CPU (1) with taskset; CPU seconds are user+sys of the generator's process
# (GNU time, which also gives its max RSS). Missing peers are installed from the package
# registries: wrk and hey with apt-get, oha with `cargo install oha --locked` (minutes, once),
# Locust and websocket-client with pip. The table goes to stdout and to
# bench/results/compare-<date>.md (hold100k-<date>.md).
#
# Environment: PEERS (default "wrk oha hey locust": the peers to run), RUNS, BENCH_PORT (18080),
# GEN_CPU, TARGET_CPU, KEEP_WORK=1 (keep the work directory of raw outputs), LT (the load-tester
# binary to measure, default target/release/load-tester: compare two builds with LT=...), MOCK_BIN
# (the binary whose `mock` is the target, default $LT: keep one target for both builds), LT_ARGS
# (more flags for load-tester's runs in a, b and c, split on spaces: e.g. the gates' cost with
# LT_ARGS="--metrics-listen 127.0.0.1:0 --threshold flows.failed_rate<1% --threshold iteration.p99<5s");
# hold100k: HOLD_USERS (100000), HOLD_SPAWN (1000), HOLD_SECS (170), HOLD_PROCS (6).
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }

MODE=${1:-full}
case "$MODE" in
quick | full | hold100k) ;;
-h | --help)
    usage
    exit 0
    ;;
*)
    usage >&2
    exit 2
    ;;
esac

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
LT=${LT:-$ROOT/target/release/load-tester}
MOCK_BIN=${MOCK_BIN:-$LT}
PORT=${BENCH_PORT:-18080}
PEERS=${PEERS:-"wrk oha hey locust"}
read -r -a LT_EXTRA <<<"${LT_ARGS:-}"
GEN_CPU=${GEN_CPU:-0}
TARGET_CPU=${TARGET_CPU:-1}
if [[ $MODE == hold100k ]]; then
    RUNS=1 DUR_AB=0 DUR_C=0 HOLD_D=0
elif [[ $MODE == quick ]]; then
    RUNS=${RUNS:-1} DUR_AB=3 DUR_C=3 HOLD_D=8
else
    RUNS=${RUNS:-3} DUR_AB=10 DUR_C=20 HOLD_D=20
fi
RATE_B=2000 RATE_C=100 USERS_D=10000 SPAWN_D=2000
# Locust's --run-time clock starts about a second before its users do (while it starts up): it
# gets this much more, so that it too sends for the whole duration.
LOCUST_START=1
HOLD_USERS=${HOLD_USERS:-100000} HOLD_SPAWN=${HOLD_SPAWN:-1000} HOLD_SECS=${HOLD_SECS:-170} HOLD_PROCS=${HOLD_PROCS:-6}

# Messages go to the script's own stderr, kept as fd 9: a function called with its output
# redirected (`timed ... >"$out" 2>&1`) must not swallow them, nor must the exit trap.
exec 9>&2
say() { printf '%s\n' "compare: $*" >&9; }
die() {
    printf '%s\n' "compare: error: $*" >&9
    exit 1
}
has_peer() { [[ " $PEERS " == *" $1 "* ]]; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/lt-bench.XXXXXX")
RAW=$WORK/raw.tsv
: >"$RAW"
PIDS=()

# ------------------------------------------------------------------------------ process control

# All descendants of a pid, deepest last.
descendants() {
    local p
    for p in $(ps -o pid= --ppid "$1" 2>/dev/null); do
        echo "$p"
        descendants "$p"
    done
}

# Ends a process we started and everything under it, by pid.
kill_tree() {
    local root=$1 p
    kill -0 "$root" 2>/dev/null || return 0
    local all
    mapfile -t all < <(echo "$root"; descendants "$root")
    kill -TERM "${all[@]}" 2>/dev/null || true
    for _ in $(seq 50); do
        local alive=0
        for p in "${all[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        ((alive)) || return 0
        sleep 0.1
    done
    kill -KILL "${all[@]}" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    local p
    for p in "${PIDS[@]}"; do kill_tree "$p"; done
    if [[ ${KEEP_WORK:-} == 1 || $rc != 0 ]]; then
        say "raw outputs kept in $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Waits (bounded) until the mock answers 2xx at URL: wait_mock URL LOG [TRIES of 0.1 s]. Fails
# at once if the mock exited (port taken...), and if the port answers but not from our mock.
wait_mock() {
    local url=$1 log=$2 tries=${3:-100}
    for _ in $(seq "$tries"); do
        kill -0 "$MOCK_PID" 2>/dev/null || die "the mock exited: $(tail -n 3 "$log" | tr '\n' ' ')"
        if grep -q "listening" "$log" && curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    die "$url did not answer within $((tries / 10)) s"
}

# Starts the mock pinned to TARGET_CPU and waits for it: start_mock LOG ARGS...; sets MOCK_PID.
start_mock() {
    local log=$1
    shift
    taskset -c "$TARGET_CPU" "$MOCK_BIN" mock "$@" >"$log" 2>&1 &
    MOCK_PID=$!
    PIDS+=("$MOCK_PID")
}

stop_mock() { kill_tree "$MOCK_PID"; }

# Runs a generator on GEN_CPU under GNU time, bounded: timed TIMEFILE LIMIT_S CMD...
# Returns the command's exit code (the caller decides what a failure means).
timed() {
    local tf=$1 limit=$2
    shift 2
    rm -f "$tf"
    timeout -k 5 "$limit" /usr/bin/time -f '%e %U %S %M' -o "$tf" taskset -c "$GEN_CPU" "$@" &
    local p=$! rc=0
    PIDS+=("$p")
    wait "$p" || rc=$?
    return "$rc"
}

# "elapsed_wall=.. user=.. sys=.. rss_kb=.." from a GNU time file (its last line); "killed=1" when
# the run hit its time limit (time itself was stopped, so it wrote nothing).
time_figures() {
    local el us sy mr
    read -r el us sy mr < <(tail -n 1 "$1" 2>/dev/null) || true
    if [[ ${mr:-} =~ ^[0-9]+$ ]]; then
        echo "elapsed_wall=$el user=$us sys=$sy rss_kb=$mr"
    else
        echo "killed=1"
    fi
}

record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RAW"; }
meta() { printf 'meta\t%s\t%s\n' "$1" "$2" >>"$RAW"; }

# ------------------------------------------------------------------------------ installation

apt_install() {
    command -v apt-get >/dev/null || die "cannot install $* (no apt-get here): install it by hand, or leave it out of PEERS"
    local sudo=()
    [[ $(id -u) == 0 ]] || sudo=(sudo)
    say "installing $* (apt-get)"
    if ! DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q "$@" >"$WORK/apt.log" 2>&1; then
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update -q >>"$WORK/apt.log" 2>&1 || true
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q "$@" >>"$WORK/apt.log" 2>&1 ||
            die "apt-get install $* failed: $(tail -n 3 "$WORK/apt.log" | tr '\n' ' ')"
    fi
}

need_cmd() { # need_cmd COMMAND DEBIAN_PACKAGE
    command -v "$1" >/dev/null || apt_install "$2"
    command -v "$1" >/dev/null || die "$1 is still missing after installing $2"
}

install_tools() {
    need_cmd curl curl
    need_cmd taskset util-linux
    need_cmd ps procps
    need_cmd timeout coreutils
    need_cmd python3 python3
    [[ -x /usr/bin/time ]] || apt_install time
    [[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time) is missing after installing 'time'"
    command -v cargo >/dev/null || die "cargo is needed to build load-tester (and oha): install a Rust toolchain"

    if [[ $MODE != hold100k ]]; then
        if has_peer wrk; then need_cmd wrk wrk; fi
        if has_peer hey; then need_cmd hey hey; fi
        if has_peer oha; then install_oha; fi
        if has_peer locust; then install_locust; fi
    fi
}

install_oha() {
    OHA=$(command -v oha || true)
    [[ -n $OHA ]] || OHA=${CARGO_HOME:-$HOME/.cargo}/bin/oha
    if [[ ! -x $OHA ]]; then
        say "installing oha from crates.io: cargo install oha --locked (takes a few minutes, once)"
        cargo install oha --locked >"$WORK/oha-install.log" 2>&1 ||
            die "cargo install oha --locked failed: $(tail -n 5 "$WORK/oha-install.log" | tr '\n' ' ')"
        OHA=${CARGO_HOME:-$HOME/.cargo}/bin/oha
        [[ -x $OHA ]] || die "oha was installed but is not at $OHA"
    fi
    # oha ≥ 1.9 spells JSON output --output-format json; older ones -j.
    if "$OHA" --help 2>&1 | grep -q -- '--output-format'; then
        OHA_JSON=(--output-format json)
    else
        OHA_JSON=(-j)
    fi
}

# Locust and websocket-client: this python3 if it has them or pip can add them there, else a
# private venv (a Debian system Python refuses `pip install`, PEP 668).
install_locust() {
    local venv=${XDG_CACHE_HOME:-$HOME/.cache}/load-tester-bench/venv
    local check='import locust, websocket'
    PY=python3
    $PY -c "$check" 2>/dev/null && return 0
    if [[ -x $venv/bin/python ]] && "$venv/bin/python" -c "$check" 2>/dev/null; then
        PY=$venv/bin/python
        return 0
    fi
    say "installing locust and websocket-client (pip)"
    if $PY -m pip install -q locust websocket-client >"$WORK/pip.log" 2>&1 && $PY -c "$check" 2>/dev/null; then
        return 0
    fi
    say "pip install into python3 failed ($(tail -n 1 "$WORK/pip.log")); trying a venv at $venv"
    if ! python3 -m venv "$venv" >>"$WORK/pip.log" 2>&1; then
        apt_install python3-venv
        python3 -m venv "$venv" >>"$WORK/pip.log" 2>&1 || die "cannot create a Python venv at $venv"
    fi
    "$venv/bin/python" -m pip install -q locust websocket-client >>"$WORK/pip.log" 2>&1 ||
        die "pip install locust websocket-client failed: $(tail -n 3 "$WORK/pip.log" | tr '\n' ' ')"
    PY=$venv/bin/python
    $PY -c "$check" || die "locust or websocket-client still cannot be imported"
}

build() {
    say "building load-tester (cargo build --release)"
    cargo build --release --quiet 2>"$WORK/build.log" || die "cargo build --release failed: $(tail -n 5 "$WORK/build.log")"
    [[ -x $LT ]] || die "no $LT after the build"
}

check_cpus() {
    local n
    n=$(nproc --all)
    if ((n < 2)); then
        say "warning: only $n CPU: generator and target share CPU 0"
        GEN_CPU=0 TARGET_CPU=0
    fi
}

versions() {
    local v=()
    has_peer wrk && v+=("wrk $(wrk -v 2>&1 | awk 'NR==1{print $2}')")
    has_peer oha && v+=("$("$OHA" --version 2>&1 | head -n 1)")
    has_peer hey && v+=("hey $(dpkg-query -W -f '${Version}' hey 2>/dev/null || echo '?')")
    has_peer locust && v+=("locust $($PY -c 'import locust; print(locust.__version__)') (python $($PY -c 'import platform; print(platform.python_version())'))")
    local out
    out=$(printf '%s, ' "${v[@]}")
    echo "${out%, }"
}

write_meta() {
    local rev
    rev=$(git rev-parse --short HEAD 2>/dev/null || echo '?')
    git diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || rev="$rev+uncommitted"
    meta date "$(date -u '+%Y-%m-%d %H:%M UTC')"
    meta mode "$MODE"
    meta runs "$RUNS"
    meta host "$(nproc --all) CPUs ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)), $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), Linux $(uname -r)"
    meta load-tester "$("$LT" --version 2>&1 | head -n 1) at $rev"
    [[ $MODE == hold100k ]] || meta peers "$(versions)"
    if [[ $MODE == hold100k ]]; then
        meta pinning "none: the generator's and the mock's processes share all CPUs"
    else
        meta pinning "generator on CPU $GEN_CPU, target (load-tester mock) on CPU $TARGET_CPU (taskset)"
    fi
    meta dur_ab "$DUR_AB"
    meta dur_c "$DUR_C"
    meta rate_b "$RATE_B"
    meta rate_c "$RATE_C"
}

# ------------------------------------------------------------------------------ the cases

URL=http://127.0.0.1:$PORT

# a. 50 connections as fast as they go.
case_a() {
    local run=$1 tf=$WORK/time out
    say "a. HTTP GET /health, 50 connections, ${DUR_AB}s (run $run/$RUNS)"
    local lim=$((DUR_AB + 60))

    out=$WORK/a-lt-$run.json
    timed "$tf" "$lim" "$LT" run scenarios/http-health.toml --target "$URL" --users 50 \
        --duration "${DUR_AB}s" --workers 1 -q --out "$out" "${LT_EXTRA[@]}" >"$WORK/a-lt-$run.txt" 2>&1 || true
    [[ -s $out ]] || die "load-tester wrote no results (case a): $(tail -n 5 "$WORK/a-lt-$run.txt")"
    record a load-tester "$run" "$(python3 bench/report.py lt "$out" health) $(time_figures "$tf")"

    if has_peer wrk; then
        out=$WORK/a-wrk-$run.txt
        timed "$tf" "$lim" wrk -t1 -c50 -d"${DUR_AB}s" "$URL/health" >"$out" 2>&1 || die "wrk failed: $(tail -n 3 "$out")"
        record a wrk "$run" "rps=$(awk '/^Requests\/sec:/{print $2}' "$out") count=$(awk '/requests in/{print $1}' "$out") $(time_figures "$tf")"
    fi
    if has_peer oha; then
        out=$WORK/a-oha-$run.json
        timed "$tf" "$lim" "$OHA" -z "${DUR_AB}s" -c 50 --no-tui "${OHA_JSON[@]}" "$URL/health" >"$out" 2>"$out.err" || die "oha failed: $(tail -n 3 "$out.err")"
        record a oha "$run" "$(python3 bench/report.py oha "$out") $(time_figures "$tf")"
    fi
    if has_peer hey; then
        out=$WORK/a-hey-$run.txt
        timed "$tf" "$lim" hey -z "${DUR_AB}s" -c 50 -cpus 1 "$URL/health" >"$out" 2>&1 || die "hey failed: $(tail -n 3 "$out")"
        record a hey "$run" "rps=$(awk '/Requests\/sec:/{print $2}' "$out") count=$(awk '/^ *\[[0-9]+\]/{s+=$2} END{print s+0}' "$out") $(time_figures "$tf")"
    fi
}

# b. A fixed 2,000 requests per second.
case_b() {
    local run=$1 tf=$WORK/time out
    say "b. HTTP at a fixed $RATE_B req/s, ${DUR_AB}s (run $run/$RUNS)"
    local lim=$((DUR_AB + 60))

    out=$WORK/b-lt-$run.json
    timed "$tf" "$lim" "$LT" run scenarios/http-health.toml --target "$URL" --arrival-rate "$RATE_B" \
        --users 50 --duration "${DUR_AB}s" --workers 1 -q --out "$out" "${LT_EXTRA[@]}" >"$WORK/b-lt-$run.txt" 2>&1 || true
    [[ -s $out ]] || die "load-tester wrote no results (case b): $(tail -n 5 "$WORK/b-lt-$run.txt")"
    record b load-tester "$run" "$(python3 bench/report.py lt "$out" health) $(time_figures "$tf")"

    if has_peer oha; then
        out=$WORK/b-oha-$run.json
        timed "$tf" "$lim" "$OHA" -z "${DUR_AB}s" -c 50 -q "$RATE_B" --no-tui "${OHA_JSON[@]}" "$URL/health" >"$out" 2>"$out.err" || die "oha failed: $(tail -n 3 "$out.err")"
        record b oha "$run" "$(python3 bench/report.py oha "$out") $(time_figures "$tf")"
    fi
    if has_peer hey; then
        # hey's -q is per worker: 50 workers × 40/s.
        out=$WORK/b-hey-$run.txt
        timed "$tf" "$lim" hey -z "${DUR_AB}s" -c 50 -q $((RATE_B / 50)) -cpus 1 "$URL/health" >"$out" 2>&1 || die "hey failed: $(tail -n 3 "$out")"
        record b hey "$run" "rps=$(awk '/Requests\/sec:/{print $2}' "$out") count=$(awk '/^ *\[[0-9]+\]/{s+=$2} END{print s+0}' "$out") $(time_figures "$tf")"
    fi
    if has_peer locust; then
        local class label
        for class in FastHealth Health; do
            [[ $class == FastHealth ]] && label="locust (FastHttpUser)" || label="locust (HttpUser)"
            out=$WORK/b-locust-$class-$run
            BENCH_USER_RATE=$((RATE_B / 50)) timed "$tf" "$lim" "$PY" -m locust -f bench/locust_http.py "$class" \
                --headless -u 50 -r 1000 --run-time "$((DUR_AB + LOCUST_START))s" -H "$URL" --csv "$out" --only-summary \
                --loglevel WARNING >"$out.log" 2>&1 || true
            [[ -s ${out}_stats.csv ]] || die "locust wrote no stats (case b): $(tail -n 5 "$out.log")"
            record b "$label" "$run" "$(python3 bench/report.py locust "$out" /health) $(time_figures "$tf")"
        done
    fi
}

# c. The golden path at a fixed 100 flows per second.
case_c() {
    local run=$1 tf=$WORK/time out fig
    say "c. golden path at $RATE_C flows/s, ${DUR_C}s (run $run/$RUNS)"
    local lim=$((DUR_C + 90))

    out=$WORK/c-lt-$run.json
    timed "$tf" "$lim" "$LT" run scenarios/golden-path.toml --target "$URL" --auth-url "$URL" \
        --arrival-rate "$RATE_C" --users 100 --duration "${DUR_C}s" --workers 1 -q --out "$out" \
        "${LT_EXTRA[@]}" >"$WORK/c-lt-$run.txt" 2>&1 || true
    [[ -s $out ]] || die "load-tester wrote no results (case c): $(tail -n 5 "$WORK/c-lt-$run.txt")"
    fig=$(python3 bench/report.py lt "$out")
    # flows = passed + failed (interrupted ones are not finished flows).
    record c load-tester "$run" "$fig $(echo "$fig" | awk '{for(i=1;i<=NF;i++){split($i,a,"=");v[a[1]]=a[2]}; print "flows=" v["passed"]+v["failed"]}') $(time_figures "$tf")"

    if has_peer locust; then
        out=$WORK/c-locust-$run
        BENCH_FLOW_RATE=$((RATE_C / 100)) timed "$tf" "$lim" "$PY" -m locust -f bench/locust_golden.py \
            --headless -u 100 -r 1000 --run-time "$((DUR_C + LOCUST_START))s" -H "$URL" --csv "$out" --only-summary \
            --loglevel WARNING >"$out.log" 2>&1 || true
        [[ -s ${out}_stats.csv ]] || die "locust wrote no stats (case c): $(tail -n 5 "$out.log")"
        fig=$(python3 bench/report.py locust "$out" golden_path)
        record c locust "$run" "$(echo "$fig" | sed -e 's/count=/flows=/' -e 's/failures=/failed=/') $(time_figures "$tf")"
    fi
}

# The hold scenario with its think time set: hold_scenario SECONDS > FILE
hold_scenario() { sed "s/^think = \".*\"/think = \"${1}s\"/" bench/scenarios/hold.toml; }

# Summed VmRSS (KiB) of the load-tester processes under a pid (by the binary's name, as the
# kernel keeps it in comm: its first 15 characters).
lt_rss() {
    local p sum=0 rss name
    name=$(basename "$LT")
    name=${name:0:15}
    for p in $(descendants "$1"); do
        [[ $(cat "/proc/$p/comm" 2>/dev/null) == "$name" ]] || continue
        rss=$(awk '/^VmRSS:/{print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
        sum=$((sum + ${rss:-0}))
    done
    echo "$sum"
}

# Runs the hold scenario and samples RSS; hold_run LABEL PINNED(0/1) INTERVAL ARGS...
# Sets PEAK_RSS (KiB) and leaves stderr in $WORK/LABEL.err, time in $WORK/LABEL.time.
hold_run() {
    local label=$1 pinned=$2 interval=$3 lim=$4
    shift 4
    local pin=(taskset -c "$GEN_CPU")
    ((pinned)) || pin=()
    timeout -k 5 "$lim" /usr/bin/time -f '%e %U %S %M' -o "$WORK/$label.time" "${pin[@]}" \
        "$LT" run "$WORK/hold.toml" --progress-interval 1s "$@" >"$WORK/$label.out" 2>"$WORK/$label.err" &
    local p=$! rss
    PIDS+=("$p")
    PEAK_RSS=0
    while kill -0 "$p" 2>/dev/null; do
        rss=$(lt_rss "$p")
        ((rss > PEAK_RSS)) && PEAK_RSS=$rss
        sleep "$interval"
    done
    wait "$p" || true
}

# Largest active= of the progress lines, and how many progress lines showed every user.
peak_active() { grep -o 'active=[0-9]*' "$1" | cut -d= -f2 | sort -n | tail -n 1; }
full_lines() { grep -c "^progress .*active=$2 " "$1" || true; }

# d. 10,000 users holding open WebSockets.
case_d() {
    local run=$1 port=$((PORT + 1))
    say "d. $USERS_D users holding WebSockets for ${HOLD_D}s (run $run/$RUNS)"
    start_mock "$WORK/d-mock-$run.log" --listen "127.0.0.1:$port"
    wait_mock "http://127.0.0.1:$port/health" "$WORK/d-mock-$run.log"
    hold_scenario "$HOLD_D" >"$WORK/hold.toml"
    hold_run "d-$run" 1 0.25 $((HOLD_D + 120)) --target "http://127.0.0.1:$port" --auth-url "http://127.0.0.1:$port" --users "$USERS_D" \
        --spawn-rate "$SPAWN_D" --workers 1 --local-addrs 127.0.2.0/28 --out "$WORK/d-$run.json"
    stop_mock
    [[ -s $WORK/d-$run.json ]] || die "load-tester wrote no results (case d): $(tail -n 5 "$WORK/d-$run.err")"
    record d load-tester "$run" "users=$USERS_D active=$(peak_active "$WORK/d-$run.err") rss_kb=$PEAK_RSS $(python3 bench/report.py lt "$WORK/d-$run.json" | sed 's/rss_kb=[0-9]*//')"
}

# e. 100,000 users holding WebSockets, several processes on both sides (fd limit per process).
case_e() {
    local ports=(18100 18101)
    say "e. $HOLD_USERS users holding WebSockets for ${HOLD_SECS}s each ($HOLD_PROCS generator and mock processes)"
    local nofile
    nofile=$(ulimit -Hn)
    if ((HOLD_USERS / HOLD_PROCS > nofile - 1000)); then
        die "$HOLD_USERS users over $HOLD_PROCS processes exceed the open-files limit ($nofile per process): raise HOLD_PROCS"
    fi
    # Not pinned: both sides need both cores here.
    "$MOCK_BIN" mock --listen "127.0.0.1:${ports[0]},127.0.0.1:${ports[1]}" --processes "$HOLD_PROCS" >"$WORK/e-mock.log" 2>&1 &
    MOCK_PID=$!
    PIDS+=("$MOCK_PID")
    wait_mock "http://127.0.0.1:${ports[0]}/health" "$WORK/e-mock.log" 300
    wait_mock "http://127.0.0.1:${ports[1]}/health" "$WORK/e-mock.log" 300
    hold_scenario "$HOLD_SECS" >"$WORK/hold.toml"
    local ramp=$(((HOLD_USERS + HOLD_SPAWN - 1) / HOLD_SPAWN))
    hold_run e 0 1 $((ramp + HOLD_SECS + 300)) --target "http://127.0.0.1:${ports[0]}" --auth-url "http://127.0.0.1:${ports[0]}" --users "$HOLD_USERS" \
        --spawn-rate "$HOLD_SPAWN" --processes "$HOLD_PROCS" --local-addrs 127.0.1.0/28 --out "$WORK/e.json"
    stop_mock
    [[ -s $WORK/e.json ]] || die "load-tester wrote no results (hold100k): $(tail -n 5 "$WORK/e.err")"
    local el us sy mr
    read -r el us sy mr < <(tail -n 1 "$WORK/e.time")
    meta hold_e "$HOLD_SECS"
    meta mock_e "$HOLD_PROCS-process"
    record e load-tester 1 "users=$HOLD_USERS active=$(peak_active "$WORK/e.err") full_s=$(full_lines "$WORK/e.err" "$HOLD_USERS") rss_kb=$PEAK_RSS user=$us sys=$sy elapsed=$el $(python3 bench/report.py lt "$WORK/e.json" | sed 's/elapsed=[0-9.]*//')"
}

# ------------------------------------------------------------------------------ main

install_tools
build
check_cpus
write_meta
STAMP=$(date '+%Y%m%d-%H%M%S')
mkdir -p bench/results

if [[ $MODE == hold100k ]]; then
    case_e
    RESULT=bench/results/hold100k-$STAMP.md
else
    start_mock "$WORK/mock.log" --listen "127.0.0.1:$PORT"
    wait_mock "$URL/health" "$WORK/mock.log"
    for run in $(seq "$RUNS"); do case_a "$run"; done
    for run in $(seq "$RUNS"); do case_b "$run"; done
    for run in $(seq "$RUNS"); do case_c "$run"; done
    stop_mock
    for run in $(seq "$RUNS"); do case_d "$run"; done
    RESULT=bench/results/compare-$STAMP.md
fi

python3 bench/report.py table "$RAW" | tee "$RESULT"
say "table written to $RESULT"
