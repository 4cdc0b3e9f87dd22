#!/usr/bin/env bash
# Runs the fuzz targets (fuzz/src/bin/*.rs) with cargo-fuzz, each for RUNS executions, and prints
# executions and crashes per target in a final table. Exit 1 if any target crashed.
#
#   fuzz/run.sh                    # every target, 1,000,000 executions each
#   fuzz/run.sh merge_results      # one target
#   fuzz/run.sh classify_frame 50000
#
# Works on the stable toolchain: cargo-fuzz's instrumentation flags (-Cpasses=sancov-module, ...)
# are stable, only the sanitizers are not, so the default is `--sanitizer none` (the targets are
# safe Rust: overflow checks and debug assertions stay on, which is what catches panics).
# FUZZ_SANITIZER=address asks for AddressSanitizer through RUSTC_BOOTSTRAP=1 (unsupported on
# stable, not tried here).
# Crashing inputs land in fuzz/artifacts/TARGET/; replay one with
#   cargo fuzz run --sanitizer none TARGET fuzz/artifacts/TARGET/crash-...
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET="${1:-}"
RUNS="${2:-1000000}"
SANITIZER="${FUZZ_SANITIZER:-none}"
if [ "$SANITIZER" != none ]; then
    export RUSTC_BOOTSTRAP=1
fi

if ! command -v cargo-fuzz >/dev/null; then
    echo "fuzz: installing cargo-fuzz (cargo install cargo-fuzz --locked)"
    cargo install cargo-fuzz --locked
fi

if [ -n "$TARGET" ]; then
    targets=("$TARGET")
else
    targets=()
    for f in fuzz/src/bin/*.rs; do targets+=("$(basename "$f" .rs)"); done
fi

echo "fuzz: building ${targets[*]} (sanitizer: $SANITIZER)"
cargo fuzz build --sanitizer "$SANITIZER"

# Seeds: committed ones (fuzz/seeds/TARGET); for scenario_compile the shipped scenarios and the
# broken fixtures; for merge_results real results files written by the tool itself (a shard and a
# probe against the built-in mock), so they follow the current results format.
seed() {
    local t="$1" corpus="fuzz/corpus/$1"
    mkdir -p "$corpus"
    if [ -d "fuzz/seeds/$t" ]; then cp -n fuzz/seeds/"$t"/* "$corpus"/ 2>/dev/null || true; fi
    if [ "$t" = scenario_compile ]; then
        cp -n scenarios/*.toml tests/fixtures/bad/*.toml "$corpus"/ 2>/dev/null || true
    fi
    if [ "$t" = merge_results ]; then
        # Rewritten each time: results in an older format would only exercise the parse error.
        cargo build --quiet --locked
        target/debug/load-tester run scenarios/golden-path.toml --mock --users 2 --iterations 1 \
            --quiet --shard 1/2 --out "$corpus/seed-shard-1-of-2.json" >/dev/null
        target/debug/load-tester probe scenarios/smoke.toml --mock \
            --out "$corpus/seed-probe.json" >/dev/null || true
    fi
}

rows=()
failed=0
for t in "${targets[@]}"; do
    seed "$t"
    mkdir -p "fuzz/artifacts/$t"
    before=$(find "fuzz/artifacts/$t" -type f | wc -l)
    log="fuzz/artifacts/$t.log"
    echo "fuzz: running $t for $RUNS executions (log: $log)"
    set +e
    cargo fuzz run --sanitizer "$SANITIZER" "$t" "fuzz/corpus/$t" -- \
        -runs="$RUNS" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 >"$log" 2>&1
    rc=$?
    set -e
    after=$(find "fuzz/artifacts/$t" -type f | wc -l)
    crashes=$((after - before))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
    if [ "$rc" != 0 ] || [ "$crashes" != 0 ]; then
        failed=1
        tail -n 30 "$log" >&2
    fi
    rows+=("$(printf '%-20s %12s %8s %8s %6s' "$t" "${execs:-?}" "${secs:-?}" "$crashes" "$rc")")
done

echo
printf '%-20s %12s %8s %8s %6s\n' target executions seconds crashes exit
for r in "${rows[@]}"; do echo "$r"; done
exit "$failed"
