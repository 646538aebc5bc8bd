#!/bin/bash
# Nightly unlearning job: apply the queued deletion requests, then retrain what they switched
# off if the workspace's [retrain] policy says so.
#
#   launch/lethe-nightly.sh WORKSPACE INBOX
#
# INBOX holds one file per deletion request, named after the request: `<request-id>.ids` (one
# record ID per line) or `<request-id>.owners` (one owner per line). Each is applied with
# `lethe forget` (the request ID makes a replay of the same file a clear conflict, not a double
# deletion) and moved to INBOX/done/, or to INBOX/failed/ with its error beside it; one bad
# file never blocks the others. Then `lethe retrain --if-needed` runs, as one job over ranks
# when LETHE_LAUNCHER names a launcher. Results go to WORKSPACE/reports/nightly-<time>/.
#
# Environment: LETHE (the binary, default `lethe`); LETHE_LAUNCHER (the words that start a job
# over ranks, e.g. "mpirun -np 4" or "srun --mpi=pmix"; default none: one process).
# Exit status: 0 when every request was applied and retraining (if needed) succeeded; 1 when
# some request failed (the rest were applied); otherwise retrain's exit code.
set -uo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 WORKSPACE INBOX" >&2
  exit 2
fi
WS=$1
INBOX=$2
LETHE=${LETHE:-lethe}
read -r -a LAUNCHER <<< "${LETHE_LAUNCHER:-}"
[ -d "$WS" ] || { echo "$0: no workspace at '$WS'" >&2; exit 2; }
[ -d "$INBOX" ] || { echo "$0: no inbox at '$INBOX'" >&2; exit 2; }

OUT="$WS/reports/nightly-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT" "$INBOX/done" "$INBOX/failed"
log() { echo "$(date -u +%FT%TZ) $*"; }

failed=0
shopt -s nullglob
for f in "$INBOX"/*.ids "$INBOX"/*.owners; do
  name=$(basename "$f")
  request=${name%.*}
  case "$name" in
    *.ids) what=--ids ;;
    *) what=--owners ;;
  esac
  if "$LETHE" --workspace "$WS" --result-file "$OUT/forget-$request.json" forget "$what" "$f" \
      --request-id "$request" --reason "nightly batch ($name)" 2> "$OUT/forget-$request.err"; then
    log "forgot request $request"
    mv "$f" "$INBOX/done/"
    rm -f "$OUT/forget-$request.err"
  else
    code=$?
    log "request $request failed (exit $code): $(tail -n 1 "$OUT/forget-$request.err")"
    mv "$f" "$INBOX/failed/"
    mv "$OUT/forget-$request.err" "$INBOX/failed/$name.err"
    failed=1
  fi
done

retrain=("${LAUNCHER[@]}" "$LETHE" --workspace "$WS" --result-file "$OUT/retrain.json" retrain --if-needed)
log "running: ${retrain[*]}"
"${retrain[@]}"
code=$?
if [ $code -ne 0 ]; then
  log "retrain failed with exit $code"
  exit $code
fi
log "done; results in $OUT"
exit $failed
