#!/usr/bin/python3
# tests/corpus/gen_input.py DIR - the corpus's generated inputs, written
# into DIR by run.sh (natively, once per corpus run).
#
# Owns: sort-input.txt, 200 MiB of text lines (CORPUS_SORT_MB overrides
# the size for quick local runs) with a numeric key, a word key, a decimal
# key and a token: "<int> <word><int> <decimal> <token>".  The generator
# is seeded, so the file is the same on every run and every machine.
import os
import random
import sys

out_dir = sys.argv[1]
size = int(os.environ.get("CORPUS_SORT_MB", "200")) << 20
rng = random.Random(20261121)
words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf",
         "hotel", "india", "juliet", "kilo", "lima", "mike", "november"]
letters = "abcdefghijklmnopqrstuvwxyz"
with open(os.path.join(out_dir, "sort-input.txt"), "w") as f:
    n = 0
    while n < size:
        chunk = []
        for _ in range(4096):
            bits = rng.getrandbits(64)
            token = "".join(letters[(bits >> (5 * k)) % 26] for k in range(10))
            chunk.append("%d %s%d %d.%06d %s\n" % (
                rng.getrandbits(40), words[bits % 14], (bits >> 50) & 0xfff,
                rng.getrandbits(20), rng.getrandbits(19), token))
        s = "".join(chunk)
        f.write(s)
        n += len(s)
