#!/bin/sh
# tests/alloc/alloc_bench.sh [runs] - times tests/alloc/alloc_bench's
# workloads natively (glibc), with jemalloc preloaded and with the shim
# preloaded, interleaved, best of RUNS (default 3); prints each time, peak
# RSS, the ratios to jemalloc and glibc, and their geometric means.
# Environment: VMSHIM_LIB (default: the build tree's library), JEMALLOC
# (default: Debian's libjemalloc.so.2), BENCH (the benchmark program),
# THREADS (default 2), WORKLOADS (default: all).
set -u
here=$(cd "$(dirname "$0")" && pwd)
runs=${1:-3}
bench=${BENCH:-$here/alloc_bench}
lib=${VMSHIM_LIB:-$here/../../libvmshim/.libs/libvmshim.so}
je=${JEMALLOC:-/usr/lib/x86_64-linux-gnu/libjemalloc.so.2}
threads=${THREADS:-2}
workloads=${WORKLOADS:-simple larson xmalloc scratch mstress large}
[ -x "$bench" ] || { echo "build $bench first (make -C tests/alloc alloc_bench or make check)"; exit 2; }
printf '%-9s %9s %9s %9s | %8s %8s | %7s %7s %7s (MiB)\n' workload glibc jemalloc shim shim/je shim/glibc glibc je shim
for w in $workloads; do
	best_n=; best_j=; best_s=; rss_n=0; rss_j=0; rss_s=0
	i=0
	while [ $i -lt "$runs" ]; do
		for who in n j s; do
			case $who in
			n) out=$("$bench" "$w" "$threads") ;;
			j) out=$(LD_PRELOAD="$je" "$bench" "$w" "$threads") ;;
			s) out=$(LD_PRELOAD="$lib" "$bench" "$w" "$threads") ;;
			esac
			t=$(echo "$out" | awk '{print $2}')
			r=$(echo "$out" | awk '{print $3}')
			eval "b=\${best_$who}"
			if [ -z "$b" ] || awk "BEGIN{exit !($t < $b)}"; then eval "best_$who=$t"; fi
			eval "m=\${rss_$who}"
			[ "$r" -gt "$m" ] && eval "rss_$who=$r"
		done
		i=$((i + 1))
	done
	printf '%-9s %9s %9s %9s | %8.2f %8.2f | %7.1f %7.1f %7.1f\n' "$w" "$best_n" "$best_j" "$best_s" \
		"$(awk "BEGIN{print $best_s/$best_j}")" "$(awk "BEGIN{print $best_s/$best_n}")" \
		"$(awk "BEGIN{print $rss_n/1024}")" "$(awk "BEGIN{print $rss_j/1024}")" "$(awk "BEGIN{print $rss_s/1024}")"
	echo "$w $best_n $best_j $best_s $rss_n $rss_j $rss_s" >>"${TMPDIR:-/tmp}/alloc_bench.$$"
done
awk '{ gn += log($2/$3); gs += log($4/$3); gsn += log($4/$2); rs += log($7/$6); n++ }
     END { printf "geometric mean time vs jemalloc: glibc %.2f, shim %.2f; shim vs glibc %.2f; peak RSS shim/jemalloc %.2f\n",
           exp(gn/n), exp(gs/n), exp(gsn/n), exp(rs/n) }' "${TMPDIR:-/tmp}/alloc_bench.$$"
rm -f "${TMPDIR:-/tmp}/alloc_bench.$$"
