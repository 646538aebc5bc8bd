#!/bin/bash
# Nightly unlearning job: apply the queued deletion requests, then retrain what they switched
# off if the workspace's [retrain] policy says so.
#
#   launch/lethe-nightly.sh WORKSPACE INBOX
#
# INBOX holds one file per deletion request, named after the request: `<request-id>.ids` (one
# record ID per line) or `<request-id>.owners` (one owner per line). Each is applied with
# `lethe forget` (the request ID makes a replay of the same file a clear conflict, not a double
# deletion) and then deleted: once a request is acknowledged, its IDs and owners exist only as
# the keyed hashes the workspace keeps. A request that fails moves to INBOX/failed/ with its
# error beside it (both still hold personal data: an operator must resolve and delete them,
# see launch/README.md); one bad file never blocks the others, and every night warns while
# INBOX/failed/ is not empty. Then `lethe retrain --if-needed` runs, as one job over ranks when
# LETHE_LAUNCHER names a launcher. Results go to WORKSPACE/reports/nightly-<time>/. The log
# (standard output) names requests by their file names, never their contents: name the files
# after ticket numbers, not after people.
#
# Environment: LETHE (the binary, default `lethe`); LETHE_LAUNCHER (the words that start a job
# over ranks, e.g. "mpirun -np 4" or "srun --mpi=pmix"; default none: one process).
# Exit status: 0 when every request was applied and retraining (if needed) succeeded; 1 when
# some request failed (the rest were applied) or INBOX/failed/ still holds requests; otherwise
# retrain's exit code.
set -uo pipefail
umask 077  # what this writes (errors that quote IDs, reports) is for the operator alone

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
mkdir -p "$OUT" "$INBOX/failed"
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
  # The error goes next to the request, never into the workspace or the log: it may quote IDs.
  err="$INBOX/failed/.$name.err.tmp"
  if "$LETHE" --workspace "$WS" forget "$what" "$f" --request-id "$request" --reason "nightly batch" 2> "$err"; then
    log "forgot request $request"
    rm -f "$f" "$err"
  else
    code=$?
    log "request $request failed (exit $code): see $INBOX/failed/$name.err"
    mv "$f" "$INBOX/failed/"
    mv "$err" "$INBOX/failed/$name.err"
    failed=1
  fi
done
waiting=("$INBOX"/failed/*.ids "$INBOX"/failed/*.owners)
if [ ${#waiting[@]} -gt 0 ]; then
  log "$INBOX/failed/ holds ${#waiting[@]} request(s) with personal data: resolve and delete them (launch/README.md)"
  failed=1
fi

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
