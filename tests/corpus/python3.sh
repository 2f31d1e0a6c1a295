#!/usr/bin/env bash
# tests/corpus/python3.sh - /usr/bin/python3 (the system interpreter):
# dicts, lists and strings; json; the mmap module on a file (read, write,
# slice assignment, find, flush, resize up and down, re-read through the
# file) and anonymous (write, shrink); subprocess; multiprocessing with the
# fork start method (Pool, Process + Queue, shared Value/Array, which live
# in mmap'ed shared memory).  Prints what it computed.  Sized so that its
# peak (about 160 MiB) is over twice the 64M limit.
# needs: /usr/bin/python3 sort
set -euo pipefail
exec /usr/bin/python3 - <<'PYEOF'
import hashlib, json, mmap, multiprocessing as mp, os, random, subprocess, sys

rng = random.Random(1234)
d = {}
for i in range(150000):
    d["key%d" % i] = [i, str(i) * 3, {"sq": i * i}]
for i in range(0, 150000, 3):
    del d["key%d" % i]
print("dict", len(d), d["key149999"][2]["sq"])
lst = [rng.randrange(10**9) for _ in range(300000)]
lst.sort()
print("list", lst[0], lst[150000], lst[-1], sum(lst[::1000]))
words = " ".join("w%d" % (i % 5000) for i in range(200000)).split()
counts = {}
for w in words:
    counts[w] = counts.get(w, 0) + 1
print("words", len(words), sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3])
s = "".join(chr(97 + i % 26) for i in range(1000000))
print("string", s.count("abc"), s.upper()[1000:1010], hashlib.sha256(s.encode()).hexdigest()[:16])
blob = json.dumps(d, sort_keys=True)
print("json", len(blob), hashlib.sha256(blob.encode()).hexdigest()[:16], json.loads(blob) == d)
del d, blob

# mmap of a file: write, flush, resize, read back through the file.
size = 8 << 20
with open("data.bin", "wb") as f:
    f.write(bytes(size))
with open("data.bin", "r+b") as f:
    m = mmap.mmap(f.fileno(), 0)
    for off in range(0, size, 4096):
        m[off:off + 8] = off.to_bytes(8, "little")
    m[100:113] = b"hello, mmap! "
    m.flush()
    print("mmap find", m.find(b"hello"), m[100:112], int.from_bytes(m[40960:40968], "little"))
    m.resize(size * 3)
    m[size * 2:size * 2 + 5] = b"grown"
    m.flush()
    print("mmap resized", len(m), os.fstat(f.fileno()).st_size, m[size * 2:size * 2 + 5])
    m.resize(size // 2)
    print("mmap shrunk", len(m), os.fstat(f.fileno()).st_size, hashlib.sha256(m[:]).hexdigest()[:16])
    m.close()
with open("data.bin", "rb") as f:
    data = f.read()
print("file after mmap", len(data), data[100:112], hashlib.sha256(data).hexdigest()[:16])
with open("data.bin", "rb") as f:
    r = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    print("mmap read-only", r.read(5), r[4096:4104], r.size())
    r.close()
a = mmap.mmap(-1, 16 << 20)
a[::4096] = b"z" * (4 << 10)
a.write(b"anonymous")
print("anon", a[:].count(b"z"), a[:9], a.tell())
a.resize(8 << 20)    # shrink (growing shared anonymous memory would raise SIGBUS past the old end)
a[(8 << 20) - 1] = 7
print("anon resized", len(a), a[4096], a[(8 << 20) - 1], a.find(b"z", 1 << 20), a[:].count(b"z"))
a.close()

# subprocess
r = subprocess.run(["sort", "-n"], input="\n".join(str(x) for x in lst[:20000:-7]) + "\n",
                   capture_output=True, text=True, check=True)
print("subprocess sort", len(r.stdout.splitlines()), r.stdout.splitlines()[:2])
r = subprocess.run([sys.executable, "-c", "print(sum(range(10**6)))"],
                   capture_output=True, text=True, check=True)
print("subprocess python", r.stdout.strip())
procs = [subprocess.Popen(["sh", "-c", "exit %d" % k]) for k in range(6)]
print("exit codes", [p.wait() for p in procs])

# multiprocessing, fork start method
def work(n):
    return sum(i * i for i in range(n)) % 1000003

def producer(q, k):
    for i in range(1000):
        q.put((k, i, "x" * (i % 50)))
    q.put(None)

def bump(v, arr, k):
    for _ in range(1000):
        with v.get_lock():
            v.value += 1
    with arr.get_lock():  # += is a read and a write: unlocked, updates race
        for i in range(len(arr)):
            arr[i] += k

if __name__ == "__main__":
    ctx = mp.get_context("fork")
    with ctx.Pool(2) as pool:
        print("pool", pool.map(work, range(20000, 20040)))
        print("pool imap", sum(pool.imap_unordered(work, range(100, 400), chunksize=7)))
    q = ctx.Queue()
    ps = [ctx.Process(target=producer, args=(q, k)) for k in range(3)]
    for p in ps:
        p.start()
    got, done = [], 0
    while done < 3:
        item = q.get()
        if item is None:
            done += 1
        else:
            got.append(item)
    for p in ps:
        p.join()
    print("queue", len(got), sorted(got)[-1], [p.exitcode for p in ps])
    v = ctx.Value("i", 0)
    arr = ctx.Array("d", 1000)
    ps = [ctx.Process(target=bump, args=(v, arr, k)) for k in (1, 2)]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    print("shared", v.value, arr[0], sum(arr))
    big = [str(i) for i in range(200000)]      # inherited by the fork children, COW
    with ctx.Pool(2) as pool:
        print("pool over inherited data", pool.map(len, [big[i::7] for i in range(7)]))
PYEOF
