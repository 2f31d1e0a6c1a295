#!/bin/sh
# tests/vm/vm_compare.sh PROGRAM - runs PROGRAM natively and under the shim
# ($VMSHIM_LIB) and fails unless both outputs are identical.
set -u
prog=$1
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
ulimit -c 0
"$prog" >"$tmp/native" 2>&1
echo "native exit $?" >>"$tmp/native"
LD_PRELOAD="$VMSHIM_LIB" VMSHIM_STATS_FILE="$tmp/stats.%p.json" "$prog" >"$tmp/shim" 2>&1
echo "shim exit $?" | sed 's/shim/native/' >>"$tmp/shim"
if ! diff -u "$tmp/native" "$tmp/shim"; then
	echo "FAIL: $prog differs under the shim"
	exit 1
fi
cat "$tmp/shim"
# The shim really served it: its parent process took zero-fill or file faults.
if ! grep -Eq '"(zero_fill|file)": [1-9]' "$tmp"/stats.*.json; then
	echo "FAIL: no zero-fill or file fault recorded under the shim"
	exit 1
fi
