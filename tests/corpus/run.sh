#!/usr/bin/env bash
# tests/corpus/run.sh - the corpus runner (make check-corpus): real,
# unmodified programs natively, under the shim, and under the shim with
# VMSHIM_MEM_LIMIT=64M; every configuration must produce the same output.
#
# Usage: run.sh [WORKLOAD...]     (default: every workload, in order)
#
# Owns: the three configurations, the deterministic environment, the
# generated inputs (tests/corpus/gen_input.py, fixed seed), the comparison
# and the summary.  Each workload is tests/corpus/NAME.sh: it runs in an
# empty directory (the same path in every configuration, so outputs may
# name it), gets the inputs directory as $1, and prints what it computed.
# Its stdout, stderr and exit status are compared by digest; timings are
# printed for information and never compared.  Under the shim every run
# writes per-process statistics, and the runner checks that the shim was
# really loaded into the workload's processes.
#
# A workload whose programs are missing (its "# needs:" line) fails: the
# corpus is a statement about those programs (scripts/install-deps
# installs them).  The scratch directory is created under the build
# directory ($top_builddir, else the current directory) and removed at the
# end unless CORPUS_KEEP=1.
#
# Environment: VMSHIM_LIB (the built libvmshim.so, required), top_srcdir,
# top_builddir, CORPUS_CONFIGS (default "native shim shim64M"),
# CORPUS_TIMEOUT (seconds per run, default 600).
set -u

here=$(cd "$(dirname "$0")" && pwd)
: "${VMSHIM_LIB:?VMSHIM_LIB must name the built libvmshim.so}"
[ -f "$VMSHIM_LIB" ] || { echo "FAIL: $VMSHIM_LIB does not exist"; exit 1; }
VMSHIM_LIB=$(cd "$(dirname "$VMSHIM_LIB")" && pwd)/$(basename "$VMSHIM_LIB")
configs=${CORPUS_CONFIGS:-native shim shim64M}
limit=${CORPUS_TIMEOUT:-600}
all_workloads="bash coreutils python3 perl git gcc-make sqlite3"
workloads=${*:-$all_workloads}
# The runner's own helpers run natively, with the system's interpreter.
py=/usr/bin/python3

builddir=${top_builddir:-.}
tmp=$(mktemp -d "$(cd "$builddir" && pwd)/corpus-tmp.XXXXXX") || { echo "FAIL: mktemp"; exit 1; }
cleanup() { [ "${CORPUS_KEEP:-0}" = 1 ] || rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
ulimit -c 0

# Deterministic, isolated environment: nothing from an enclosing make, git,
# locale, pyenv or VMSHIM_* setting leaks into the workloads.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES GNUMAKEFLAGS
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_OBJECT_DIRECTORY GIT_CONFIG_PARAMETERS GIT_CEILING_DIRECTORIES
unset PYTHONPATH PYTHONHOME PYTHONSTARTUP PERL5LIB PERL5OPT CFLAGS LDFLAGS CPPFLAGS
unset LD_PRELOAD VMSHIM_MEM_LIMIT VMSHIM_STATS VMSHIM_VERBOSE VMSHIM_STATS_FILE VMSHIM_MAPS_FILE VMSHIM_LOG
export PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
export LC_ALL=C TZ=UTC HOME="$tmp/home" TMPDIR="$tmp/tmpdir"
export PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1 PERL_HASH_SEED=0 PERL_PERTURB_KEYS=0
export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME="A U Thor" GIT_AUTHOR_EMAIL=author@example.com
export GIT_COMMITTER_NAME="C O Mitter" GIT_COMMITTER_EMAIL=committer@example.com
export GIT_AUTHOR_DATE="2020-01-02T03:04:05 +0000" GIT_COMMITTER_DATE="2020-01-02T03:04:05 +0000"
mkdir "$tmp/home" "$tmp/tmpdir" "$tmp/inputs" "$tmp/results"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

t_start=$(now)
echo "corpus: generating inputs (fixed seeds)"
"$py" "$here/gen_input.py" "$tmp/inputs" || { echo "FAIL: generating the inputs"; exit 1; }
echo "corpus: inputs ready in $(elapsed "$t_start" "$(now)") s"

failed=0
passed=0
summary=""

# run_one WORKLOAD CONFIG: runs the workload in $tmp/work, leaves out, err,
# rc, secs and stats/ in $tmp/results/WORKLOAD.CONFIG.
run_one() {
	local w=$1 cfg=$2 res=$tmp/results/$1.$2
	rm -rf "$tmp/work" "$res"
	mkdir -p "$tmp/work" "$res/stats"
	rm -rf "$TMPDIR" && mkdir "$TMPDIR"
	local t0 t1
	t0=$(now)
	(
		cd "$tmp/work" || exit 99
		case $cfg in
		native) ;;
		shim)
			export LD_PRELOAD="$VMSHIM_LIB" VMSHIM_STATS_FILE="$res/stats/%p.json" ;;
		shim64M)
			export LD_PRELOAD="$VMSHIM_LIB" VMSHIM_STATS_FILE="$res/stats/%p.json" VMSHIM_MEM_LIMIT=64M ;;
		*) echo "unknown configuration $cfg" >&2; exit 99 ;;
		esac
		exec timeout -k 10 "$limit" bash "$here/$w.sh" "$tmp/inputs"
	) >"$res/out" 2>"$res/err" </dev/null
	echo $? >"$res/rc"
	t1=$(now)
	elapsed "$t0" "$t1" >"$res/secs"
}

# The shim was loaded: statistics files, interposed calls, and the largest
# resident peak of one process (pages) for the summary.
shim_report() {
	"$py" - "$1" <<'EOF'
import glob, json, sys
files = glob.glob(sys.argv[1] + "/*.json")
calls = peak = 0
for f in files:
    try:
        with open(f) as fh:
            doc = json.load(fh)
    except ValueError:
        continue
    calls += sum(doc["calls"].values())
    peak = max(peak, doc["resident"]["peak_pages"])
print(len(files), calls, peak * 4096 >> 20)
EOF
}

for w in $workloads; do
	script=$here/$w.sh
	if [ ! -f "$script" ]; then
		echo "FAIL: $w: no workload $script"
		failed=$((failed + 1))
		continue
	fi
	missing=""
	for prog in $(sed -n 's/^# needs: //p' "$script"); do
		command -v "$prog" >/dev/null 2>&1 || missing="$missing $prog"
	done
	if [ -n "$missing" ]; then
		echo "FAIL: $w: not installed:$missing (run scripts/install-deps)"
		failed=$((failed + 1))
		continue
	fi
	ref="" why="" line="$w:"
	for cfg in $configs; do
		run_one "$w" "$cfg"
		res=$tmp/results/$w.$cfg
		digest=$( { cat "$res/out" "$res/err"; echo "exit $(cat "$res/rc")"; } | sha256sum | cut -c1-16)
		line="$line $cfg $(cat "$res/secs") s"
		if [ "$cfg" != native ]; then
			read -r procs calls peak < <(shim_report "$res/stats")
			line="$line (${procs} procs, peak ${peak} MiB)"
		fi
		if [ -z "$ref" ]; then
			ref=$cfg
			refdigest=$digest
			if [ "$(cat "$res/rc")" != 0 ]; then
				why="$cfg: exit status $(cat "$res/rc")"
			fi
			continue
		fi
		if [ "$digest" != "$refdigest" ]; then
			why="$why${why:+; }$cfg differs from $ref"
		elif [ "$cfg" != native ] && { [ "${procs:-0}" -eq 0 ] || [ "${calls:-0}" -eq 0 ]; }; then
			why="$why${why:+; }$cfg: the shim was not loaded (no statistics)"
		fi
	done
	if [ -n "$why" ]; then
		echo "FAIL: $line"
		echo "      $why"
		for cfg in $configs; do
			res=$tmp/results/$w.$cfg
			echo "--- $w $cfg: exit $(cat "$res/rc"), last lines of stdout:"
			tail -n 8 "$res/out"
			echo "--- $w $cfg: last lines of stderr:"
			tail -n 12 "$res/err"
			if [ "$cfg" != "$ref" ]; then
				echo "--- stdout diff ($ref -> $cfg):"
				diff "$tmp/results/$w.$ref/out" "$res/out" | head -n 20
				echo "--- stderr diff ($ref -> $cfg):"
				diff "$tmp/results/$w.$ref/err" "$res/err" | head -n 20
			fi
		done
		failed=$((failed + 1))
	else
		echo "PASS: $line; output $refdigest ($(wc -l <"$tmp/results/$w.$ref/out") lines)"
		passed=$((passed + 1))
	fi
	summary="$summary$line"$'\n'
done

echo "corpus: total $(elapsed "$t_start" "$(now)") s for $(echo "$configs" | wc -w) configurations"
if [ "$failed" -gt 0 ]; then
	echo "FAIL: corpus: $failed workload(s) failed, $passed passed"
	exit 1
fi
echo "PASS: corpus: all $passed workloads identical in every configuration ($configs)"
exit 0
