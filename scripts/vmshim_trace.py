"""scripts/vmshim_trace.py - reads libvmshim traces (VMSHIM_TRACE, vmshim --trace).

Owns: the Python side of the trace format documented in
libvmshim/util/trace.h (64-byte header, 32-byte records, maps_text blobs),
and the computations behind vmshim-heatmap, vmshim-mrc and vmshim-report:
the access string, LRU stack distances, attribution to mappings and call
sites.  Needs numpy (a dependency of Debian's python3-matplotlib).
"""
import os
import struct
import subprocess
import sys

import numpy as np

HEADER = struct.Struct("<8sIIIIqQQQQ")
RECORD = np.dtype([("ns", "<u8"), ("addr", "<u8"), ("aux", "<u8"),
                   ("npages", "<u4"), ("kind", "<u2"), ("tid", "<u2")])
KINDS = {1: "zero_fill", 2: "file", 3: "cow", 4: "swap_in", 5: "minor", 6: "genuine",
         7: "readahead_hit",
         16: "evict_anon", 17: "evict_file", 18: "evict_swapcache", 19: "evict_shared",
         20: "deactivate", 21: "swap_out", 22: "evict_file_dirty",
         32: "map", 33: "unmap", 34: "alloc", 48: "maps_text", 49: "end"}
NUMBER = {v: k for k, v in KINDS.items()}
# Faults that make a page present or accessible: the program touched that
# page (readahead_hit: a page read ahead of a swap-in, touched first).
ACCESS_KINDS = [NUMBER[k] for k in ("zero_fill", "file", "cow", "swap_in", "minor",
                                    "readahead_hit")]
FAULT_KINDS = ACCESS_KINDS + [NUMBER["genuine"]]
# Pages leaving memory (swap_out repeats evict_anon per cluster; deactivate
# only makes a page inaccessible to sample its next touch).
EVICT_KINDS = [NUMBER[k] for k in ("evict_anon", "evict_file", "evict_file_dirty",
                                   "evict_swapcache", "evict_shared")]
RECLAIM_KINDS = EVICT_KINDS + [NUMBER["deactivate"], NUMBER["swap_out"]]
PAGE = 4096


class TraceError(Exception):
    pass


class Trace:
    """One trace file: header fields, records (sorted by time), maps text."""

    def __init__(self, path):
        with open(path, "rb") as f:
            data = f.read()
        if len(data) < HEADER.size:
            raise TraceError("%s: too short for a trace header" % path)
        (magic, version, record_size, page_size, fault_around, pid, start_ns,
         arena_start, arena_end, _) = HEADER.unpack_from(data)
        if magic != b"VMSTRACE":
            raise TraceError("%s: not a libvmshim trace (magic %r)" % (path, magic))
        if version != 1 or record_size != RECORD.itemsize:
            raise TraceError("%s: trace version %d, record size %d: not supported"
                             % (path, version, record_size))
        self.path = path
        self.page_size = page_size
        self.fault_around = fault_around
        self.pid = pid
        self.start_ns = start_ns
        self.arena = (arena_start, arena_end)
        self.maps_text = []
        parts = []
        pos = HEADER.size
        while pos + RECORD.itemsize <= len(data):
            count = (len(data) - pos) // RECORD.itemsize
            arr = np.frombuffer(data, RECORD, count=count, offset=pos)
            blobs = np.nonzero(arr["kind"] == NUMBER["maps_text"])[0]
            if len(blobs) == 0:
                parts.append(arr)
                break
            i = int(blobs[0])
            parts.append(arr[:i])
            length = int(arr["npages"][i])
            text_at = pos + (i + 1) * RECORD.itemsize
            self.maps_text.append(data[text_at:text_at + length].decode("utf-8", "replace"))
            pos = text_at + ((length + 31) & ~31)
        recs = np.concatenate(parts) if parts else np.zeros(0, RECORD)
        self.complete = bool(len(recs)) and bool((recs["kind"] == NUMBER["end"]).any())
        self.dropped = int(recs["aux"][recs["kind"] == NUMBER["end"]].sum())
        order = np.argsort(recs["ns"], kind="stable")
        self.records = recs[order]

    def of_kinds(self, kinds):
        return self.records[np.isin(self.records["kind"], kinds)]

    def seconds(self, recs):
        return (recs["ns"].astype(np.int64) - np.int64(self.start_ns)) / 1e9


def kinds_named(names):
    """Kind numbers for a comma-separated list of names or groups."""
    out = []
    for name in names.split(","):
        if name == "faults":
            out += ACCESS_KINDS
        elif name == "evictions":
            out += EVICT_KINDS
        elif name == "all":
            out += FAULT_KINDS + RECLAIM_KINDS
        elif name in NUMBER:
            out.append(NUMBER[name])
        else:
            raise TraceError("unknown event kind %r (known: faults, evictions, all, %s)"
                             % (name, ", ".join(sorted(NUMBER))))
    return out


# --- LRU stack distances and the miss-ratio curve ------------------------------

def stack_distances(pages):
    """For each access of the page string, the number of distinct other pages
    accessed since the previous access to the same page (-1: first access).
    O(n log n) with a Fenwick tree over access positions."""
    n = len(pages)
    tree = [0] * (n + 1)
    last = {}
    out = np.empty(n, dtype=np.int64)

    def add(i, v):
        i += 1
        while i <= n:
            tree[i] += v
            i += i & -i

    def prefix(i):  # sum of positions [0, i)
        s = 0
        while i > 0:
            s += tree[i]
            i -= i & -i
        return s

    live = 0
    for t, p in enumerate(pages.tolist()):
        s = last.get(p)
        if s is None:
            out[t] = -1
        else:
            out[t] = live - prefix(s + 1)  # markers after s: pages touched since
            add(s, -1)
            live -= 1
        add(t, 1)
        live += 1
        last[p] = t
    return out


def miss_curve(distances, max_pages=None):
    """faults[c] for a memory of c pages, c = 0 .. max_pages: the accesses
    whose stack distance is >= c, plus every first access.  Non-increasing."""
    cold = int((distances < 0).sum())
    reuse = distances[distances >= 0]
    top = int(reuse.max()) + 2 if len(reuse) else 1
    if max_pages is None:
        max_pages = max(top, cold, 1)  # up to every distinct page
    hist = np.bincount(np.minimum(reuse, max_pages), minlength=max_pages + 1)
    # accesses with distance >= c = total reuse - those with distance < c
    below = np.concatenate(([0], np.cumsum(hist)[:-1]))
    return cold + len(reuse) - below


# --- attribution -----------------------------------------------------------------

class Symbolizer:
    """Caller addresses to "object+offset (function)" from the trace's maps text."""

    def __init__(self, maps_texts, use_addr2line=True):
        self.ranges = []
        for text in maps_texts:
            for line in text.splitlines():
                f = line.split(None, 5)
                if len(f) < 6 or not f[5].startswith("/"):
                    continue
                lo, hi = (int(x, 16) for x in f[0].split("-"))
                self.ranges.append((lo, hi, int(f[2], 16), f[5]))
        self.use_addr2line = use_addr2line
        self.cache = {}

    def __call__(self, addr):
        if addr == 0:
            return "?"
        if addr in self.cache:
            return self.cache[addr]
        name = "0x%x" % addr
        for lo, hi, off, path in self.ranges:
            if lo <= addr < hi:
                rel = addr - lo + off
                name = "%s+0x%x" % (os.path.basename(path), rel)
                fn = self._addr2line(path, rel) if self.use_addr2line else None
                if fn:
                    name += " (%s)" % fn
                break
        self.cache[addr] = name
        return name

    @staticmethod
    def _addr2line(path, rel):
        try:
            out = subprocess.run(["addr2line", "-f", "-C", "-e", path, "0x%x" % (rel - 1)],
                                 capture_output=True, text=True, timeout=10).stdout.split("\n")
        except (OSError, subprocess.SubprocessError):
            return None
        return out[0] if out and out[0] not in ("", "??") else None


def owners(trace, kinds, recs):
    """For each record of recs: index into `sites` of the mapping or
    allocation it falls in (the latest one before it covering its address),
    or -1; and the sites as (kind, start, pages, caller)."""
    sites_recs = trace.of_kinds(kinds)
    sites = [(int(r["kind"]), int(r["addr"]), int(r["npages"]), int(r["aux"]))
             for r in sites_recs]
    out = np.full(len(recs), -1, dtype=np.int64)
    if not sites:
        return out, sites
    starts = sites_recs["addr"].astype(np.uint64)
    ends = starts + sites_recs["npages"].astype(np.uint64) * np.uint64(PAGE)
    times = sites_recs["ns"]
    for i, r in enumerate(recs):
        a = r["addr"]
        hit = np.nonzero((starts <= a) & (a < ends) & (times <= r["ns"]))[0]
        if len(hit):
            out[i] = hit[-1]
    return out, sites


def main_tool(fn):
    try:
        sys.exit(fn(sys.argv[1:]))
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(1)
    except TraceError as e:
        sys.stderr.write("%s: %s\n" % (os.path.basename(sys.argv[0]), e))
        sys.exit(1)
    except OSError as e:
        sys.stderr.write("%s: %s\n" % (os.path.basename(sys.argv[0]), e))
        sys.exit(1)
