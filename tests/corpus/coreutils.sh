#!/usr/bin/env bash
# tests/corpus/coreutils.sh INPUTS - coreutils on a 200 MiB text file.
#
# Owns: sort with numeric and lexical keys (sort mallocs a buffer sized
# from the machine's memory and fills it with fread), md5sum and sha256sum,
# cp (copy_file_range or read/write of big buffers), and a tar + gzip round
# trip whose archive is made byte-reproducible, so its digest is compared
# too.  Prints digests and counts only.
# needs: sort md5sum sha256sum cp tar gzip cmp head tail wc
set -euo pipefail
in=$1/sort-input.txt

sort -k1,1n -k4,4 "$in" >num.txt
sort -k2,2 -k3,3n -k4,4 "$in" -o lex.txt
sort -u -k4,4 "$in" | wc -l
head -n 2 num.txt
tail -n 1 lex.txt
md5sum num.txt lex.txt
sha256sum num.txt lex.txt
sort -c -k1,1n -k4,4 num.txt && echo "num.txt is sorted"
sort -m -k2,2 -k3,3n -k4,4 lex.txt lex.txt | md5sum

mkdir -p tree/a/b tree/c
cp num.txt tree/a/num.txt
cp --sparse=never lex.txt tree/a/b/lex.txt
head -c 10000000 "$in" >tree/c/head.txt
for i in $(seq 1 50); do seq "$i" 7 20000 >"tree/c/seq$i.txt"; done
cmp num.txt tree/a/num.txt && echo "cp: identical"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - tree | gzip -n -1 >tree.tar.gz
gzip -t tree.tar.gz && echo "gzip -t: ok"
sha256sum tree.tar.gz
mkdir out
gzip -dc tree.tar.gz | tar -xf - -C out
cmp tree/a/b/lex.txt out/tree/a/b/lex.txt && echo "round trip: lex.txt identical"
(cd out && find tree -type f | sort | xargs sha256sum) | sha256sum
tar -tzvf tree.tar.gz | md5sum
