# scripts/compare_plot.py - the PNG plots of scripts/compare.
#
# Owns: drawing from the summary scripts/compare computed (medians and raw
# values in ns per unit).  Importing it raises ImportError when matplotlib
# is missing; scripts/compare then notes the plots as skipped.
#
#   cost_per_page.png      ns per page of every page-unit benchmark (the
#                          fault mechanisms) but the out-of-core scans, one
#                          bar per configuration, whiskers from the fastest
#                          to the slowest run, log scale
#   ratio_vs_native.png    every benchmark's ratio to native, log scale
#   throughput_vs_limit.png  MB/s against working set / limit, for
#                          benchmarks with an argument ws_limit_x:N (the
#                          out-of-core scans), log scale, with the disk's
#                          own sequential and random 4 KiB read bandwidth
#                          (scripts/disk-bench) as horizontal lines;
#                          skipped with a note when the run has none

import math
import os
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402

WS_ARG = re.compile(r"/ws_limit_x:(\d+(?:\.\d+)?)")


def _ran(configs):
    return [c for c in configs if not c.skipped]


def _cost_per_page(path, configs, summary, order, units):
    names = [n for n in order if units.get(n) == "page" and not WS_ARG.search(n)]
    ran = [c for c in _ran(configs) if c.id in summary["median"]]
    if not names or not ran:
        return "cost-per-page plot skipped: no per-page benchmarks in this run"
    width = 0.8 / len(ran)
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(names) + 2), 4.5))
    for i, c in enumerate(ran):
        xs, ys, lo, hi = [], [], [], []
        for j, n in enumerate(names):
            m = summary["median"][c.id].get(n)
            if m is None:
                continue
            raw = summary["raw"][c.id].get(n, [m])
            xs.append(j + (i - (len(ran) - 1) / 2) * width)
            ys.append(m)
            lo.append(m - min(raw))
            hi.append(max(raw) - m)
        ax.bar(xs, ys, width, yerr=[lo, hi], capsize=2, label=c.label)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("ns per page (median, log scale; lower is better)")
    ax.set_title("Cost per page by mechanism")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def _ratio_vs_native(path, configs, summary, order):
    ratios = summary.get("ratio_vs_native", {})
    ran = [c for c in _ran(configs) if c.id in ratios]
    if not ran:
        return "ratio plot skipped: no native run to compare against"
    height = 0.8 / len(ran)
    span = 0.0
    fig, ax = plt.subplots(figsize=(8, max(4, 0.28 * len(order) * len(ran) + 1.5)))
    for i, c in enumerate(ran):
        ys, xs = [], []
        for j, n in enumerate(order):
            r = ratios[c.id].get(n)
            if r:
                ys.append(j + (i - (len(ran) - 1) / 2) * height)
                xs.append(r)
        # Bars grow from 1.0, right when slower than native, left when faster.
        ax.barh(ys, [x - 1 for x in xs], height, left=1, label=c.label)
        span = max([span] + [abs(math.log(x)) for x in xs])
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xscale("log")
    span = max(span * 1.15, math.log(1.25))
    ax.set_xlim(math.exp(-span), math.exp(span))
    fmt = ticker.FuncFormatter(lambda v, _: "%g" % v)
    ax.xaxis.set_major_formatter(fmt)
    ax.xaxis.set_minor_formatter(fmt)
    ax.tick_params(axis="x", which="minor", labelsize=7)
    ax.set_yticks(range(len(order)))
    ax.set_yticklabels(order, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("cost / native cost (log scale; below 1 is faster than native)")
    ax.set_title("Ratio against native")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def _throughput(path, configs, summary, order, units, disk):
    series = {}
    for n in order:
        m = WS_ARG.search(n)
        if m and units.get(n) == "page":
            base = re.sub(r"/iterations:\d+", "", WS_ARG.sub("", n))
            series.setdefault(base, []).append((float(m.group(1)), n))
    ran = [c for c in _ran(configs) if c.id in summary["median"]]
    if not series or not ran:
        return ("throughput-vs-working-set plot skipped: no out-of-core benchmarks "
                "(argument ws_limit_x:N) in this run")
    page = os.sysconf("SC_PAGESIZE")
    rank = {"seq": 0, "rand": 1, "zipf": 2}
    bases = sorted(series, key=lambda b: (rank.get(b.rsplit("_", 1)[-1], 9), b))
    fig, axes = plt.subplots(1, len(bases), figsize=(4.2 * len(bases) + 1, 5), sharey=True,
                             squeeze=False)
    colors = {c.id: "C%d" % i for i, c in enumerate(ran)}
    handles = {}
    for ax, base in zip(axes[0], bases):
        points = sorted(series[base])
        allx = sorted({x for x, _ in points})
        for c in ran:
            xs, ys = [], []
            for x, n in points:
                ns = summary["median"][c.id].get(n)
                if ns:
                    xs.append(x)
                    ys.append(page / ns * 1e3)  # bytes per ns * 1e3 = MB/s
            if xs:
                (h,) = ax.plot(xs, ys, marker="o", color=colors[c.id], label=c.label)
                handles[c.label] = h
        if disk and disk.get("seq_read_MBps"):
            handles["disk: O_DIRECT sequential read"] = ax.axhline(
                disk["seq_read_MBps"], color="black", linewidth=1, linestyle="-.",
                label="disk: O_DIRECT sequential read")
        if disk and disk.get("rand_read_4k_us"):
            handles["disk: random 4 KiB reads, queue depth 1"] = ax.axhline(
                4096 / disk["rand_read_4k_us"], color="gray", linewidth=1, linestyle=":",
                label="disk: random 4 KiB reads, queue depth 1")
        ax.set_yscale("log")
        ax.set_xscale("log", base=2)
        ax.set_xticks(allx)
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: "%gx" % v))
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_xlabel("working set / memory limit")
        ax.set_title(base, fontsize=10)
        ax.grid(True, which="major", axis="y", alpha=0.3)
    axes[0][0].set_ylabel("MB/s (median, log scale; higher is better)")
    fig.suptitle("Out-of-core scans: throughput against working set / limit")
    fig.legend(list(handles.values()), list(handles.keys()), loc="lower center",
               ncol=min(4, len(handles)), fontsize=8)
    fig.tight_layout(rect=(0, 0.1 + 0.04 * ((len(handles) - 1) // 4), 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def draw(out, configs, summary, order, units, disk=None):
    """Returns ([(title, file name)], [notes about plots not drawn])."""
    plots, notes = [], []
    jobs = [
        ("Cost per page by mechanism", "cost_per_page.png",
         lambda p: _cost_per_page(p, configs, summary, order, units)),
        ("Ratio against native", "ratio_vs_native.png",
         lambda p: _ratio_vs_native(p, configs, summary, order)),
        ("Throughput against working set / limit", "throughput_vs_limit.png",
         lambda p: _throughput(p, configs, summary, order, units, disk)),
    ]
    for title, fname, fn in jobs:
        path = os.path.join(out, fname)
        if os.path.exists(path):
            os.unlink(path)
        why = fn(path)
        if why:
            notes.append(why)
        else:
            plots.append((title, fname))
    return plots, notes
