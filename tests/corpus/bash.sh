#!/usr/bin/env bash
# tests/corpus/bash.sh - bash itself under the shim: hundreds of command
# substitutions (each a fork), pipelines, background jobs and wait,
# associative arrays, recursion through substitutions, process
# substitution.  Prints what it computed.
# needs: bash seq sort tr awk sed uniq head cut sha256sum
set -eu
declare -A seen
total=0
for i in $(seq 1 600); do
	x=$(printf '%05d' "$i")                 # command substitution
	y=$(echo "$x" | tr 0-9 a-j)              # pipeline in a substitution
	seen[$y]=$i
	total=$((total + ${#x} + i))
done
echo "substitutions: ${#seen[@]} keys, total $total, ${seen[aaaej]} ${seen[aagaa]}"
nested=0
for i in $(seq 1 200); do nested=$((nested + $(echo $(( $(echo "$i") * 2 )) ))); done
echo "nested substitutions: $nested"
s=""
for i in $(seq 1 3000); do s+="${i}x"; done
echo "string: ${#s} ${s:100:20} ${s//1/}" | cut -c1-60
seq 1 50000 | awk '{ print ($1 * 7919) % 10007 }' | sort -n | uniq -c | sort -k1,1nr -k2,2n | head -n 3
seq 1 20000 | tr 0-9 a-j | sort | sha256sum | cut -c1-16
for j in $(seq 1 40); do
	( seq "$j" "$j" 5000 | awk '{ s += $1 } END { print s }' >"job.$j" ) &
done
wait
for j in $(seq 1 40); do printf '%s ' "$(cat "job.$j")"; done
echo
pids=()
for j in $(seq 1 12); do
	( exit "$j" ) &
	pids+=($!)
done
codes=""
for p in "${pids[@]}"; do
	if wait "$p"; then codes+="0 "; else codes+="$? "; fi
done
echo "exit codes: $codes"
f() { local n=$1; if [ "$n" -le 1 ]; then echo 1; else echo $((n * $(f $((n - 1))))); fi; }
echo "recursive substitution: $(f 20)"
mapfile -t lines < <(seq 1 5000 | sed 's/^/line /')
echo "mapfile: ${#lines[@]} ${lines[4999]}"
big=$(seq 1 200000)
echo "big substitution: ${#big}"
arr=()
for i in $(seq 1 20000); do arr+=("item$i"); done
echo "array: ${#arr[@]} ${arr[19999]} $(printf '%s\n' "${arr[@]}" | sha256sum | cut -c1-16)"
coproc CP { while read -r l; do echo "$((l * l))"; done; }
cp_pid=$CP_PID     # bash unsets CP_PID once it reaps the coprocess
for i in 1 2 3; do echo "$i" >&"${CP[1]}"; read -r r <&"${CP[0]}"; printf '%s ' "$r"; done
exec {CP[1]}>&-
wait "$cp_pid" 2>/dev/null || true
echo "coproc done"
