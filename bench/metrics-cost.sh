#!/usr/bin/env bash
# bench/metrics-cost.sh: what --metrics-listen costs: CPU seconds (user+sys) of `load-tester run`
# per 1,000 flows, without and with --metrics-listen (scraped every second meanwhile), against a
# separate `load-tester mock` process; RUNS runs of each, alternating, medians printed.
#
#   bench/metrics-cost.sh          3 runs of 10 s each way at 300 flows/s (about 1 minute)
#
# Environment: LT (the binary, default target/release/load-tester), RATE (flows/s, 300), DUR
# (seconds, 10), USERS (the open model's pool, 400), RUNS (3), BENCH_PORT (18090: the mock;
# the metrics listen on BENCH_PORT+1).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
LT=${LT:-$ROOT/target/release/load-tester}
RATE=${RATE:-300} DUR=${DUR:-10} USERS=${USERS:-400} RUNS=${RUNS:-3}
PORT=${BENCH_PORT:-18090}
MPORT=$((PORT + 1))
[[ -x $LT ]] || { echo "metrics-cost: no binary at $LT (cargo build --release)" >&2; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/lt-metrics-cost.XXXXXX")
"$LT" mock --listen "127.0.0.1:$PORT" >"$WORK/mock.log" 2>&1 &
MOCK=$!
trap 'kill "$MOCK" 2>/dev/null; wait "$MOCK" 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do
    grep -q "listening" "$WORK/mock.log" && break
    sleep 0.1
done

# One run; prints CPU seconds per 1,000 flows. $1: "off" or "on".
one() {
    local extra=() scraper=
    if [[ $1 == on ]]; then
        extra=(--metrics-listen "127.0.0.1:$MPORT")
        (while sleep 1; do curl -s "http://127.0.0.1:$MPORT/metrics" >/dev/null || true; done) &
        scraper=$!
    fi
    /usr/bin/time -f "%U %S" -o "$WORK/time" "$LT" run scenarios/golden-path.toml \
        --target "http://127.0.0.1:$PORT" --auth-url "http://127.0.0.1:$PORT" \
        --arrival-rate "$RATE" --users "$USERS" --duration "${DUR}s" -q \
        --out "$WORK/r.json" "${extra[@]}" >/dev/null 2>"$WORK/run.log" || true
    [[ -n $scraper ]] && { kill "$scraper"; wait "$scraper" 2>/dev/null || true; }
    python3 - "$WORK/time" "$WORK/r.json" <<'EOF'
import json, sys
user, sys_ = map(float, open(sys.argv[1]).read().split()[-2:])
f = json.load(open(sys.argv[2]))["flows"]
print(f"{(user + sys_) / max(f['passed'] + f['failed'], 1) * 1000:.4f}")
EOF
}

off=() on=()
for r in $(seq "$RUNS"); do
    off+=("$(one off)")
    on+=("$(one on)")
    echo "metrics-cost: run $r: off ${off[-1]}, on ${on[-1]} CPU s / 1,000 flows" >&2
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
m_off=$(median "${off[@]}") m_on=$(median "${on[@]}")
echo "CPU s per 1,000 flows at $RATE flows/s, ${DUR}s, median of $RUNS: without --metrics-listen $m_off, with $m_on ($(awk -v a="$m_off" -v b="$m_on" 'BEGIN {printf "%+.1f%%", (b - a) / a * 100}'))"
