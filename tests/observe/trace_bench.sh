#!/bin/sh
# tests/observe/trace_bench.sh [RUNS] - the cost of VMSHIM_TRACE on first
# touch: 64 Ki pages, sequential and random order, fault-around 16 and 1,
# natively, under the shim, and under the shim with a trace; best of RUNS
# (default 5), interleaved.  Run from the build tree after make.
# Timings, not a test: see README ("Comparing performance").
set -eu
runs=${1:-5}
top=${top_srcdir:-$(dirname "$0")/../..}
lib=${VMSHIM_LIB:-$top/libvmshim/.libs/libvmshim.so}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -o "$tmp/touch" "$(dirname "$0")/trace_bench.c"
best() { sort -n | head -1; }
printf '%-10s %4s %10s %10s %10s %8s\n' pattern fa native shim traced overhead
for fa in 16 1; do
	for pat in seq random; do
		: >"$tmp/n"; : >"$tmp/s"; : >"$tmp/t"
		for _ in $(seq "$runs"); do
			"$tmp/touch" 65536 $pat >>"$tmp/n"
			VMSHIM_LIVE=0 VMSHIM_FAULT_AROUND=$fa LD_PRELOAD=$lib "$tmp/touch" 65536 $pat >>"$tmp/s"
			VMSHIM_LIVE=0 VMSHIM_FAULT_AROUND=$fa VMSHIM_TRACE=$tmp/trace LD_PRELOAD=$lib \
				"$tmp/touch" 65536 $pat >>"$tmp/t"
		done
		n=$(best <"$tmp/n"); s=$(best <"$tmp/s"); t=$(best <"$tmp/t")
		printf '%-10s %4s %8s ns %8s ns %8s ns %7.1f%%\n' $pat $fa "$n" "$s" "$t" \
			"$(echo "($t - $s) * 100 / $s" | bc -l)"
	done
done
