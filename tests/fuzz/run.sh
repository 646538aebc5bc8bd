#!/usr/bin/env bash
# Runs each libFuzzer target for a bounded time from its checked-in seed corpus (`make fuzz`).
#   tests/fuzz/run.sh BUILD_DIR SECONDS TARGET...
# Each target starts from tests/fuzz/corpus/TARGET (seeds, and every input that once crashed it:
# libFuzzer runs them all first, so they are regression tests) and grows a scratch corpus in
# BUILD_DIR/fuzz-corpus/TARGET. Any crash, sanitizer report, leak, timeout or out-of-memory
# fails the run; the input lands in BUILD_DIR/fuzz-artifacts/. Run from the repository root.
set -euo pipefail
build=$1 seconds=$2
shift 2
src=tests/fuzz
failed=()
for t in "$@"; do
  corpus=$build/fuzz-corpus/$t artifacts=$build/fuzz-artifacts/$t
  mkdir -p "$corpus" "$artifacts"
  args=(-max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$artifacts/")
  [ -f "$src/$t.dict" ] && args+=(-dict="$src/$t.dict")
  echo "fuzz: $t for ${seconds}s"
  # The grown corpus first (new units are written there), then the checked-in seeds (read only).
  if ! "$build/tests/$t" "${args[@]}" "$corpus" "$src/corpus/$t" >"$build/fuzz-$t.log" 2>&1; then
    failed+=("$t")
    tail -n 60 "$build/fuzz-$t.log"
  fi
  grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+ *DONE' "$build/fuzz-$t.log" | tr '\n' ' ' || true
  echo
done
if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]} (inputs in $build/fuzz-artifacts/; logs $build/fuzz-TARGET.log)" >&2
  exit 1
fi
echo "fuzz: all ${#} targets ran ${seconds}s each without a finding"
