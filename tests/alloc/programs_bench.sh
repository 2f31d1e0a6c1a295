#!/bin/sh
# tests/alloc/programs_bench.sh [runs] - real programs that live on malloc,
# timed natively (glibc), with jemalloc preloaded and with the shim
# preloaded, interleaved, best of RUNS (default 3), with peak RSS (the
# largest process of the run).  Not a test: timings are not pass/fail.
set -u
runs=${1:-3}
here=$(cd "$(dirname "$0")" && pwd)
lib=${VMSHIM_LIB:-$here/../../libvmshim/.libs/libvmshim.so}
je=${JEMALLOC:-/usr/lib/x86_64-linux-gnu/libjemalloc.so.2}
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/work.py" <<'PY'
import json, collections
d = {}
for r in range(3):
    d = {str(i): [i, str(i) * 3, {"k": i}] for i in range(400000)}
    l = sorted((x * 7919) % 100003 for x in range(600000))
    c = collections.Counter(w for w in ("spam eggs ham " * 100000).split())
    s = json.dumps(list(d.values())[:100000]); json.loads(s)
print(len(d), len(l), len(c))
PY
python3 - "$tmp/big.c" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("#include <stdlib.h>\n#include <string.h>\n")
    for i in range(1500):
        f.write(f"struct s{i} {{ int a[{i % 7 + 1}]; char *p; struct s{i} *next; }};\n")
        f.write(f"int f{i}(int n) {{ struct s{i} *h = 0; for (int k = 0; k < n; k++) {{ struct s{i} *x = malloc(sizeof *x); x->a[0] = k * {i}; x->p = strdup(\"abc\"); x->next = h; h = x; }} int t = 0; while (h) {{ struct s{i} *m = h->next; t += h->a[0] + (int)strlen(h->p); free(h->p); free(h); h = m; }} return t; }}\n")
PY
cat >"$tmp/sql.sql" <<'SQL'
CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, s TEXT);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 600000)
INSERT INTO t SELECT x, (x * 7919) % 1000, printf('row-%d-%s', x, hex(x * 31)) FROM c;
CREATE INDEX t_k ON t(k);
SELECT k, count(*), sum(id) FROM t GROUP BY k ORDER BY count(*) DESC, k LIMIT 3;
SELECT count(DISTINCT substr(s, 1, 8)) FROM t;
UPDATE t SET s = s || '-x' WHERE id % 3 = 0;
SELECT count(*), length(group_concat(s)) FROM t;
SQL
# One measurement: "seconds maxrss_kib" of CMD under PRELOAD.
measure() {
	pre=$1
	shift
	python3 - "$pre" "$@" <<'PY'
import os, resource, subprocess, sys, time
pre, cmd = sys.argv[1], sys.argv[2:]
env = dict(os.environ)
if pre:
    env["LD_PRELOAD"] = pre
t = time.time()
subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
print("%.3f %d" % (time.time() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
PY
}
printf '%-8s %8s %8s %8s | %7s %7s | %8s %8s %8s (MiB)\n' program glibc jemalloc shim shim/je shim/gl glibc je shim
bench() {
	name=$1
	shift
	for w in n j s; do eval "t_$w=999999; r_$w=0"; done
	i=0
	while [ $i -lt "$runs" ]; do
		for w in n j s; do
			case $w in n) p= ;; j) p=$je ;; s) p=$lib ;; esac
			rm -f "$tmp/db.sqlite" "$tmp/big.o"
			set -- $(cd "$tmp" && measure "$p" "$@") "$@"
			tt=$1 rr=$2
			shift 2
			eval "old=\$t_$w"
			awk "BEGIN{exit !($tt < $old)}" && eval "t_$w=$tt"
			eval "old=\$r_$w"
			[ "$rr" -gt "$old" ] && eval "r_$w=$rr"
		done
		i=$((i + 1))
	done
	printf '%-8s %8s %8s %8s | %7.2f %7.2f | %8.1f %8.1f %8.1f\n' "$name" "$t_n" "$t_j" "$t_s" \
		"$(awk "BEGIN{print $t_s/$t_j}")" "$(awk "BEGIN{print $t_s/$t_n}")" \
		"$(awk "BEGIN{print $r_n/1024}")" "$(awk "BEGIN{print $r_j/1024}")" "$(awk "BEGIN{print $r_s/1024}")"
}
bench python3 /usr/bin/python3 "$tmp/work.py"
bench gcc gcc -O2 -c -o "$tmp/big.o" "$tmp/big.c"
bench sqlite3 sh -c "sqlite3 '$tmp/db.sqlite' <'$tmp/sql.sql'"
