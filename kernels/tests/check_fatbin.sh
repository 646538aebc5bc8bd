#!/bin/sh
# Usage: check_fatbin.sh CUOBJDUMP BINARY
# Passes when BINARY embeds sm_90 machine code (SASS) and sm_90 PTX, as `make cuda-check` builds
# it; exits 77 (a skip for ctest) when there is no cuobjdump to look with.
cuobjdump=$1
binary=$2
if [ -z "$cuobjdump" ] || [ ! -x "$cuobjdump" ]; then
  echo "SKIP: no cuobjdump (configure with -DLETHE_CUOBJDUMP=/path/to/cuobjdump)"
  exit 77
fi
listing=$("$cuobjdump" -lelf -lptx "$binary") || exit 1
echo "$listing"
echo "$listing" | grep -q 'ELF file.*sm_90\.cubin' || { echo "no sm_90 machine code in $binary"; exit 1; }
echo "$listing" | grep -q 'PTX file.*sm_90\.ptx' || { echo "no sm_90 PTX in $binary"; exit 1; }
echo "sm_90 machine code and PTX present"
