#!/usr/bin/python3
"""Weak-scaling structure: what a rank sends, receives and holds per step as ranks are added.

Runs bench/network_on.yml with a fixed number of centres per rank (16: population.centres =
16 x ranks) at 1, 2, 4, 8, 16 and 32 ranks, oversubscribed on this machine (one thread per
rank), and reads four figures of /run (docs/output.md):

    bytes_received_max_per_step   the most bytes a rank received per step
    bytes_sent_max_per_step       the most bytes a rank sent per step
    messages_max_per_step         the most messages a rank sent and received per step
    state_bytes_max_per_rank      the most model state a rank holds (replicated tables,
                                  commons and halo included)

At constant work per rank none of them should grow with the number of ranks (issue 12).
Timing means nothing oversubscribed; bytes, messages and memory are exact (the same on any
machine for the same build, scenario and steps). Prints a table with each figure's growth
against the second rank count (the first with communication), writes a plot (PNG) of the
four figures against ranks, and a JSON and a CSV record in bench/results/scaling_structure/.

    bench/scaling_structure.py                        # 1 2 4 8 16 32 ranks, 8 steps
    bench/scaling_structure.py --ranks 2 4 8 --steps 4 --max-growth 6 --no-plot

With --max-growth F it exits 1 unless bytes_received_max_per_step and
state_bytes_max_per_rank at the last rank count are at most F times those at the first (the
test scaling_structure runs it so).
"""
import argparse
import csv
import json
import os
import sys
import tempfile
import time

from clhsim_analysis import runner  # bench/clhsim_analysis: a link to analysis/clhsim_analysis

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

#: The four /run figures, in the order of the table and the plot.
FIGURES = ("bytes_received_max_per_step", "bytes_sent_max_per_step", "messages_max_per_step",
           "state_bytes_max_per_rank")
#: The figures --max-growth bounds.
BOUNDED = ("bytes_received_max_per_step", "state_bytes_max_per_rank")


def measure(binary, ranks, centres_per_rank, steps, extra, tmp):
    """One run of network_on.yml at `ranks` ranks x 1 thread with `centres_per_rank` centres
    per rank for `steps` steps (no checkpoint); its /run figures. Exits with clhsim's output
    if the run fails."""
    out = os.path.join(tmp, f"structure_{ranks}.h5")
    args = ["run", "--quiet", os.path.join(HERE, "network_on.yml"),
            "-P", f"population.centres={centres_per_rank * ranks}", "-P", f"run.steps={steps}",
            "-P", "checkpoint.every=0", "-o", out, "--overwrite"] + list(extra)
    proc, wall = runner.run(binary, args, ranks, 1)
    if proc.returncode != 0:
        sys.exit(f"run failed ({' '.join(proc.args)}):\n{proc.stdout}\n{proc.stderr}")
    r = runner.read_run(out)
    os.remove(out)
    row = {"ranks": ranks, "centres": int(r["centres"]), "agents": int(r["agents"]),
           "timed_steps": int(r["timed_steps"]), "process_wall_s": round(wall, 2),
           "bytes_gathered_per_step": r["bytes_gathered_per_step"]}
    row.update({k: r[k] for k in FIGURES})
    return row


def growth(rows, key):
    """The figure at the last rank count over the figure at the first."""
    first = rows[0][key]
    return rows[-1][key] / first if first else float("inf")


def table(rows, base):
    """The table (Markdown), with each figure's growth against the row of `base` ranks."""
    ref = next(r for r in rows if r["ranks"] == base)
    lines = ["| ranks | centres | agents | bytes received / step | bytes sent / step | "
             "messages / step | state bytes / rank |", "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        cells = []
        for k in FIGURES:
            g = f" ({r[k] / ref[k]:.2f}x)" if ref[k] and r["ranks"] > base else ""
            cells.append(f"{r[k]:,.0f}{g}" if k != "messages_max_per_step" else f"{r[k]:.1f}{g}")
        lines.append(f"| {r['ranks']} | {r['centres']} | {r['agents']:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(rows, per_rank, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 2, figsize=(9, 6.5))
    ranks = [r["ranks"] for r in rows]
    for ax, k in zip(axes.flat, FIGURES):
        ax.plot(ranks, [r[k] for r in rows], "o-")
        ax.set_xscale("log", base=2)
        ax.set_xticks(ranks)
        ax.set_xticklabels([str(x) for x in ranks])
        ax.set_xlabel(f"ranks ({per_rank} centres each)")
        ax.set_title(k, fontsize=10)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    fig.suptitle("Weak-scaling structure (network_on.yml): the most any rank sends, "
                 "receives and holds", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "release", "clhsim"))
    ap.add_argument("--ranks", nargs="+", type=int, default=[1, 2, 4, 8, 16, 32])
    ap.add_argument("--centres-per-rank", type=int, default=16)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--max-growth", type=float, default=None,
                    help="fail unless " + " and ".join(BOUNDED) + " at the last rank count are "
                         "at most this many times those at the first")
    ap.add_argument("--results", default=os.path.join(HERE, "results", "scaling_structure"))
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("-P", dest="overrides", action="append", default=[],
                    help="extra -P key=value for every run")
    a = ap.parse_args()
    extra = [x for kv in a.overrides for x in ("-P", kv)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in a.ranks:
            rows.append(measure(a.binary, n, a.centres_per_rank, a.steps, extra, tmp))
            print(f"  {n} ranks: {rows[-1]['agents']} agents, {rows[-1]['process_wall_s']} s",
                  flush=True)
    multi = [r["ranks"] for r in rows if r["ranks"] > 1]
    base = multi[0] if multi else rows[0]["ranks"]
    print(f"\nWeak scaling, {a.centres_per_rank} centres per rank, {a.steps} steps "
          f"(growth against {base} ranks):\n")
    print(table(rows, base))
    os.makedirs(a.results, exist_ok=True)
    stem = os.path.join(a.results, time.strftime("%Y%m%dT%H%M%S"))
    code = runner.run(a.binary, ["version"])[0].stdout.strip()
    with open(stem + ".json", "w") as f:
        json.dump({"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "binary": a.binary, "code": code,
                   "centres_per_rank": a.centres_per_rank, "steps": a.steps,
                   "overrides": a.overrides, "rows": rows}, f, indent=1)
    with open(stem + ".csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"\nrecords: {stem}.json, {stem}.csv")
    if not a.no_plot:
        plot(rows, a.centres_per_rank, stem + ".png")
        print(f"plot: {stem}.png")
    if a.max_growth is not None:
        bad = [f"{k} grew {growth(rows, k):.2f}x" for k in BOUNDED if growth(rows, k) > a.max_growth]
        print(f"growth {rows[0]['ranks']} -> {rows[-1]['ranks']} ranks: " +
              ", ".join(f"{k} {growth(rows, k):.2f}x" for k in BOUNDED) +
              f" (allowed {a.max_growth:g}x)", flush=True)
        if bad:
            sys.exit("FAIL: " + "; ".join(bad))


if __name__ == "__main__":
    main()
