#!/usr/bin/env bash
# bench/compare_noise.sh: how often `load-tester compare` cries wolf, and how often it catches a
# real +15% slowdown, on this machine.
#
#   bench/compare_noise.sh [N]     N pairs of each kind (default 10; about 7 minutes of both cores)
#
# For each of N rounds, four runs of scenarios/golden-path.toml against the in-process mock
# (--mock, $USERS users started at $SPAWN/s, $DURATION each): two with --delay $DELAY (an identical
# pair: any regression is a false alarm), then one with --delay $DELAY and one with --delay
# $SLOW_DELAY (+15% on every agent event: a regression must be found). Each pair goes through
# `load-tester compare` at its default settings (99% intervals, 10% tolerance, 1 ms); the worse
# rows of each comparison are listed, then the two tallies.
#
# Environment: DURATION (10s), USERS (50), SPAWN (50), DELAY (20ms), SLOW_DELAY (23ms),
# LT (the binary, default target/release/load-tester, built first with cargo build --release),
# COMPARE_ARGS (extra flags for compare, e.g. "--tolerance 15%"), KEEP_WORK=1 (keep the results).
# A quick check that the script works: DURATION=2s bench/compare_noise.sh 1
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
case "${1:-}" in
-h | --help)
    usage
    exit 0
    ;;
esac
N="${1:-10}"
if ! [[ "$N" =~ ^[1-9][0-9]*$ ]]; then
    usage >&2
    exit 2
fi
DURATION="${DURATION:-10s}"
USERS="${USERS:-50}"
SPAWN="${SPAWN:-50}"
DELAY="${DELAY:-20ms}"
SLOW_DELAY="${SLOW_DELAY:-23ms}"
LT="${LT:-target/release/load-tester}"
read -r -a EXTRA <<<"${COMPARE_ARGS:-}"

if [ "$LT" = target/release/load-tester ]; then
    cargo build --release --locked --quiet
fi
WORK="$(mktemp -d)"
if [ "${KEEP_WORK:-0}" = 1 ]; then
    echo "results kept in $WORK"
else
    trap 'rm -rf "$WORK"' EXIT
fi

# run NAME DELAY: one run into $WORK/NAME.json; a run that does not pass stops the bench.
run() {
    if ! timeout 600 "$LT" run scenarios/golden-path.toml --mock --delay "$2" -u "$USERS" \
        -r "$SPAWN" -d "$DURATION" --quiet --out "$WORK/$1.json" >"$WORK/$1.txt" 2>&1; then
        echo "run $1 (--delay $2) did not pass:" >&2
        tail -n 20 "$WORK/$1.txt" >&2
        exit 1
    fi
}

# judge BASE CURRENT: compares; prints "REGRESSION: rows..." or "no regression"; status 0 on a
# regression, 1 without one, 2 when compare itself failed (its output on stderr).
judge() {
    local code=0
    "$LT" compare "$WORK/$1.json" "$WORK/$2.json" ${EXTRA[@]+"${EXTRA[@]}"} \
        --json "$WORK/$1-$2.cmp.json" >"$WORK/$1-$2.table.txt" 2>&1 || code=$?
    case "$code" in
    0)
        echo "no regression"
        return 1
        ;;
    5)
        echo "REGRESSION: $(python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))
w = [r for r in c["rows"] if r["verdict"] == "worse"]
name = lambda r: ".".join(x for x in (r["step"], r["event"], r["metric"]) if x)
print(f"{len(w)} worse:", ", ".join(name(r) for r in w[:8]) + (" ..." if len(w) > 8 else ""))
' "$WORK/$1-$2.cmp.json")"
        return 0
        ;;
    *)
        echo "compare exited $code:" >&2
        cat "$WORK/$1-$2.table.txt" >&2
        return 2
        ;;
    esac
}

echo "compare noise: $N rounds; runs of $USERS users, $DURATION, --delay $DELAY (identical) and $SLOW_DELAY (slow)"
alarms=0 detected=0
for i in $(seq 1 "$N"); do
    run "a$i" "$DELAY"
    run "b$i" "$DELAY"
    st=0 && line=$(judge "a$i" "b$i") || st=$?
    [ "$st" -le 1 ] || exit 1
    [ "$st" -eq 1 ] || alarms=$((alarms + 1))
    echo "round $i: identical pair:  $line"
    run "c$i" "$DELAY"
    run "d$i" "$SLOW_DELAY"
    st=0 && line=$(judge "c$i" "d$i") || st=$?
    [ "$st" -le 1 ] || exit 1
    [ "$st" -eq 1 ] || detected=$((detected + 1))
    echo "round $i: $DELAY vs $SLOW_DELAY: $line"
done
echo
echo "false alarms: $alarms of $N identical pairs"
echo "detected:     $detected of $N pairs $DELAY vs $SLOW_DELAY"
