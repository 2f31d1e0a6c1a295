#!/usr/bin/env bash
# tests/corpus/coreutils.sh INPUTS - coreutils on a 200 MiB text file.
#
# Owns: sort of the whole file with numeric and lexical keys (-S 48M: an
# external merge through temporary files, as one sorts a big file in
# little memory), sort of a 20 MB slice with sort's own buffer size (it
# mallocs a buffer sized from the machine's memory, 1.3 GiB here, and
# freads the file into it: lazy big blocks, chunked fread), md5sum and
# sha256sum, cp, and a tar + gzip round trip whose archive is made
# byte-reproducible, so its digest is compared too.  Prints digests and
# counts only.
# needs: sort md5sum sha256sum cp tar gzip cmp head tail wc find xargs
set -euo pipefail
in=$1/sort-input.txt

sort -S 48M -k1,1n -k4,4 "$in" >num.txt
sort -S 48M -k2,2 -k3,3n -k4,4 "$in" -o lex.txt
head -c 20000000 "$in" >slice.txt
sort -u -k4,4 slice.txt | wc -l
sort -r -k3,3n slice.txt | md5sum
head -n 2 num.txt
tail -n 1 lex.txt
md5sum num.txt lex.txt
sha256sum num.txt lex.txt
sort -c -k1,1n -k4,4 num.txt && echo "num.txt is sorted"
wc -l lex.txt

mkdir -p tree/a/b tree/c
cp lex.txt tree/a/b/lex.txt
cp slice.txt tree/c/slice.txt
for i in $(seq 1 50); do seq "$i" 7 20000 >"tree/c/seq$i.txt"; done
cmp lex.txt tree/a/b/lex.txt && echo "cp: identical"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - tree | gzip -n -1 >tree.tar.gz
gzip -t tree.tar.gz && echo "gzip -t: ok"
sha256sum tree.tar.gz
mkdir out
gzip -dc tree.tar.gz | tar -xf - -C out
cmp tree/a/b/lex.txt out/tree/a/b/lex.txt && echo "round trip: lex.txt identical"
(cd out && find tree -type f | sort | xargs sha256sum) | sha256sum
tar -tzvf tree.tar.gz | md5sum
