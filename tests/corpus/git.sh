#!/usr/bin/env bash
# tests/corpus/git.sh - git: init, a few hundred files committed twice
# (the second commit edits, removes and renames), gc (pack files are read
# through mmap), fsck, log --stat, diff, blame, a clone.  Dates, names and
# the environment are fixed by run.sh, so object ids are reproducible.
# needs: git seq sed
set -eu
git init -q -b main repo
cd repo
git config user.useConfigOnly true
git config gc.auto 0
for d in src doc lib test; do
	mkdir -p "$d"
	for i in $(seq 1 80); do
		seq "$i" 3 $((i * 300)) | sed "s/^/$d $i /" >"$d/file$i.txt"
	done
done
git add -A
git commit -q -m "initial import of 320 files"
for i in $(seq 1 7 80); do echo "change $i" >>"src/file$i.txt"; sed -i '3d' "lib/file$i.txt"; done
git rm -q doc/file2.txt doc/file3.txt
git mv lib/file4.txt lib/moved4.txt
for i in $(seq 1 40); do seq "$i" 11 2000 >"test/new$i.txt"; done
git add -A
git commit -q -m "second: edit, remove, rename, add"
git tag -a v1 -m "tag v1"
git log --stat --format='%H %an %ad %s' --date=iso
git fsck --full --strict 2>&1 && echo "fsck: clean"
git gc -q --aggressive
git count-objects -v | grep -E '^(count|in-pack|packs|garbage)'
git fsck --full --strict 2>&1 && echo "fsck after gc: clean"
git verify-pack -v .git/objects/pack/*.idx | tail -n 3
git rev-parse HEAD HEAD^{tree} v1
git diff --stat HEAD~1 HEAD | tail -n 1
git blame -s src/file8.txt | tail -n 2
git log --oneline --all | wc -l
cd ..
git clone -q repo clone
git -C clone log --format='%H %s' | head -n 2
git -C clone grep -c "src 77 " HEAD -- src | head -n 2
