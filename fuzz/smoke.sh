#!/usr/bin/env bash
# Smoke run of every sshwire fuzz target: regenerate the seeds, build, then fuzz each target
# for N seconds (default 10) without a sanitizer, on stable Rust.
#
#   fuzz/smoke.sh [SECONDS]
#
# Prints one line per target with its executions and corpus size. Exits non-zero if any target
# crashed, leaked, timed out or failed to run; crash inputs are kept in fuzz/artifacts/TARGET/.
set -euo pipefail

secs="${1:-10}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/.."

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    start=$SECONDS
    cargo install cargo-fuzz --version 0.13.2 --locked
    echo "== cargo-fuzz installed in $((SECONDS - start)) s"
fi

echo "== writing seeds"
start=$SECONDS
# With `--cfg fuzzing`, as the targets are built: the default conversation then uses the
# fuzzing-only `none` cipher after key exchange, as the targets' engines will.
RUSTFLAGS="--cfg fuzzing" \
    cargo run --quiet --manifest-path fuzz/Cargo.toml -p sshwire-fuzz-make-corpus
echo "== seeds written in $((SECONDS - start)) s"

echo "== building the targets"
start=$SECONDS
cargo fuzz build --sanitizer none
echo "== targets built in $((SECONDS - start)) s"

logs="$here/target/smoke-logs"
mkdir -p "$logs"
failed=()
for target in $(cargo fuzz list); do
    mkdir -p "fuzz/corpus/$target"
    log="$logs/$target.log"
    if cargo fuzz run --sanitizer none "$target" -- \
        -max_total_time="$secs" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 \
        >"$log" 2>&1; then
        status=ok
    else
        status=FAILED
        failed+=("$target")
    fi
    execs=$(grep -m1 '^stat::number_of_executed_units' "$log" | awk '{print $2}' || true)
    rate=$(grep -m1 '^stat::average_exec_per_sec' "$log" | awk '{print $2}' || true)
    cov=$(grep -E '^#[0-9]+.*(DONE|cov:)' "$log" | tail -1 | grep -o 'cov: [0-9]*' || true)
    seeds=$(find "fuzz/corpus/$target" -type f | wc -l)
    printf '%-18s %-6s execs=%-9s exec/s=%-7s %-10s corpus=%s\n' \
        "$target" "$status" "${execs:-?}" "${rate:-?}" "${cov:-cov: ?}" "$seeds"
    if [ "$status" = FAILED ]; then
        grep -E 'panicked|ERROR: libFuzzer|SUMMARY|Test unit written' "$log" | head -5 || true
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "== FAILED: ${failed[*]} (logs in $logs, inputs in fuzz/artifacts/)"
    exit 1
fi
echo "== every target ran ${secs} s without a crash"
