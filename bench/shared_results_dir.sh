#!/usr/bin/env bash
# Three runs at once sharing one --results-dir, TRIALS times (default 20): counts non-zero exits,
# results files that are not valid JSON results, and temporary files left behind.
#
#   bench/shared_results_dir.sh [TRIALS] [BINARY]
#
# Each run uses its own in-process mock (--mock), 4 users × 1 iteration, and all three write the
# same results.json and summary.txt: the worst case for temporary names.
set -euo pipefail
cd "$(dirname "$0")/.."
TRIALS="${1:-20}"
BIN="${2:-target/debug/load-tester}"
[ -x "$BIN" ] || cargo build --quiet --locked
DIR="$(mktemp -d)"
trap 'rm -rf "$DIR"' EXIT

bad_exit=0 corrupt=0 leftovers=0
for trial in $(seq 1 "$TRIALS"); do
    out="$DIR/results"
    pids=()
    for _ in 1 2 3; do
        timeout 120 "$BIN" run scenarios/golden-path.toml --mock --users 4 --iterations 1 --quiet \
            --results-dir "$out" >/dev/null 2>"$DIR/err.$trial.$RANDOM" &
        pids+=($!)
    done
    for p in "${pids[@]}"; do
        if ! wait "$p"; then bad_exit=$((bad_exit + 1)); fi
    done
    if ! python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["flows"]["passed"] == 4' \
        "$out/results.json" 2>/dev/null; then
        corrupt=$((corrupt + 1))
    fi
    grep -q '^flows: 4 passed' "$out/summary.txt" || corrupt=$((corrupt + 1))
    extra=$(find "$out" -type f ! -name results.json ! -name summary.txt | wc -l)
    leftovers=$((leftovers + extra))
done
echo "trials: $TRIALS × 3 parallel runs sharing one --results-dir"
echo "non-zero exits: $bad_exit, corrupt files: $corrupt, temporary files left: $leftovers"
[ "$bad_exit" = 0 ] && [ "$corrupt" = 0 ] && [ "$leftovers" = 0 ]
