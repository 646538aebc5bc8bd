#!/bin/sh
# One GPU, at most 5 minutes (its steps' time limits add up to 300 s): are Lethe's GPU paths
# right, and how fast are they? Writes one JSON file with everything it measured (docs/gpu.md,
# "Checking a GPU machine").
#
#   launch/gpu-check.sh [--out FILE] [--kernel-check BIN] [--lethe BIN] [--workdir DIR]
#
# 1. The standalone kernel check (make cuda-check builds it; no LibTorch needed): each CUDA kernel
#    of kernels/ against its CPU reference, the multi-adapter kernel against a loop over adapters.
# 2. Where a whole build is present (lethe, with LibTorch's CUDA libraries) and sees a GPU: a short
#    S3T training and eval on the GPU (Fashion-MNIST, 4000 records), eval of the same nodes on the
#    CPU, `audit verify --replay all` on the GPU (bit-identical retraining), and `bench train-step`
#    on the GPU in fp32 and bf16 beside the GPU's measured GEMM peaks.
# A part that cannot run says why in the JSON ("skipped"); the exit code is 1 when a part that
# ran failed, else 0.
set -u

out=gpu-check.json
kernel_check=build-cuda-check/lethe_kernel_check
lethe=build/lethe
workdir=
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --kernel-check) kernel_check=$2; shift 2 ;;
    --lethe) lethe=$2; shift 2 ;;
    --workdir) workdir=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "gpu-check.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

failed=0
started=$(date +%s)

# A JSON string for $1: line breaks and tabs become spaces, other control characters are
# dropped, backslashes and quotes escaped (also for empty text).
json_string() {
  s=$(printf '%s' "$1" | tr '\n\t\r' '   ' | tr -d '\000-\037\177' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')
  printf '"%s"' "$s"
}

# The last line of $1 when it is a JSON object, else a {"error": ...} object with the text.
last_json() {
  line=$(printf '%s\n' "$1" | grep '^{' | tail -n 1)
  if [ -n "$line" ]; then printf '%s' "$line"; else printf '{"error": %s}' "$(json_string "$1")"; fi
}

# --- 1. the kernels --------------------------------------------------------------------------
if [ -x "$kernel_check" ]; then
  text=$(timeout 45 "$kernel_check" 2>&1)
  rc=$?
  case $rc in
    0) kernels="{\"status\": \"passed\", \"results\": $(last_json "$text")}" ;;
    77) kernels="{\"status\": \"skipped\", \"why\": $(json_string "$text")}" ;;
    *) kernels="{\"status\": \"failed\", \"exit_code\": $rc, \"output\": $(json_string "$text")}"; failed=1 ;;
  esac
else
  kernels="{\"status\": \"skipped\", \"why\": $(json_string "no $kernel_check: run make cuda-check first")}"
fi

# --- 2. training, eval, replay and bench through LibTorch -------------------------------------
lethe_part=
if [ ! -x "$lethe" ]; then
  lethe_part="{\"status\": \"skipped\", \"why\": $(json_string "no $lethe: run make first")}"
else
  version=$("$lethe" --json --version 2>&1)
  if ! printf '%s' "$version" | grep -q '"gpus":\["'; then
    lethe_part="{\"status\": \"skipped\", \"why\": \"lethe sees no GPU\", \"version\": $(last_json "$version")}"
  fi
fi
if [ -z "$lethe_part" ]; then
  [ -n "$workdir" ] || workdir=$(mktemp -d)
  mkdir -p "$workdir" || exit 2
  ws="$workdir/gpu-check-ws"
  rm -rf "$ws"
  small="--set plan.slices=2 --set model.num_layers=2 --set train.epochs_per_stage=1 --set pretrain.epochs=1"
  # Runs `lethe --json -w $ws ARGS...` under a time limit (the limits add up to 255 s, the
  # kernel check's to 45 s); prints its result line, or an error object.
  step() {
    limit=$1; shift
    t0=$(date +%s)
    text=$(timeout "$limit" "$lethe" --json -w "$ws" "$@" 2>"$workdir/stderr")
    rc=$?
    if [ $rc -ne 0 ]; then
      printf '{"error": %s, "exit_code": %d, "seconds": %d}' "$(json_string "$(tail -n 5 "$workdir/stderr")")" $rc $(( $(date +%s) - t0 ))
    else
      printf '{"result": %s, "seconds": %d}' "$(last_json "$text")" $(( $(date +%s) - t0 ))
    fi
  }
  # The workspace's steps in order, each only when the ones before it worked (without
  # Fashion-MNIST, say, ingest fails and says so, and the rest say they were skipped).
  chain_ok=1
  chained() {
    if [ $chain_ok -eq 1 ]; then
      part=$(step "$@")
      case "$part" in '{"error"'*|*'"result": {"error"'*) chain_ok=0; failed=1 ;; esac
    else
      part='{"skipped": "an earlier step failed"}'
    fi
  }
  chained 10 init; init=$part
  chained 25 $small ingest --dataset fashion-mnist --limit 4000; ingest=$part
  chained 25 $small --device cuda pretrain; pretrain=$part
  chained 45 $small --device cuda train; train=$part
  chained 15 $small --device cuda eval; eval_gpu=$part
  chained 25 $small --device cpu eval; eval_cpu=$part
  chained 50 $small audit verify --replay all; replay=$part
  # The benchmarks need no workspace.
  chain_ok=1
  chained 30 --device cuda bench train-step --preset small --batch 32 --steps 10; bench_fp32=$part
  chain_ok=1
  chained 30 --device cuda --set runtime.precision=bf16 bench train-step --preset small --batch 32 --steps 10
  bench_bf16=$part
  lethe_part=$(printf '{"status": "ran", "version": %s, "init": %s, "ingest": %s, "pretrain": %s, "train": %s, "eval_gpu": %s, "eval_cpu": %s, "audit_replay": %s, "bench_fp32": %s, "bench_bf16": %s}' \
    "$(last_json "$version")" "$init" "$ingest" "$pretrain" "$train" "$eval_gpu" "$eval_cpu" "$replay" "$bench_fp32" "$bench_bf16")
fi

printf '{"gpu_check": 1, "date": "%s", "seconds": %d, "failed": %s, "kernels": %s, "lethe": %s}\n' \
  "$(date -u +%Y-%m-%dT%H:%M:%SZ)" $(( $(date +%s) - started )) "$([ $failed -eq 0 ] && echo false || echo true)" \
  "$kernels" "$lethe_part" > "$out.tmp" && mv "$out.tmp" "$out"
echo "gpu-check: wrote $out ($( [ $failed -eq 0 ] && echo "no failures" || echo "FAILURES: see the file"))"
exit $failed
