#!/usr/bin/python3
"""Collect clhsim benchmark records into one table and a few plots.

    bench/collect.py bench/results -o bench/results/report
    bench/collect.py bench/results -o bench/results/report --triad now   # measure the triad again
    bench/collect.py bench/results --triad-only                           # only the triad record
    bench/collect.py bench/results/scaling -o scaling-report --triad never --all

Reads every JSON record under RESULTS_DIR (sub-folders too): the runs of bench/bench.py and
jobs/scaling.py, the checkpoint records of bench/checkpoint_bench.py, and the triad records
written here (kind "triad"). Writes to OUTDIR:

  runs.csv              one row per run (all runs, whatever --all says)
  summary.md            the text summary printed at the end (a markdown table and flags)
  strong_scaling.png    speed-up and parallel efficiency vs cores at a fixed size
  weak_scaling.png      scaled speed-up and efficiency vs cores at fixed agents per core
  phases.png            seconds per step in each phase, stacked, one bar per run
  memory.png            bytes per agent vs agents: state, peak RSS, checkpoint
  bandwidth.png         the model's estimated bytes/s vs the measured triad bandwidth

Triad: unless a triad record for this host is already in RESULTS_DIR (or --triad never), the
collector compiles bench/triad.c with `cc -O3 -fopenmp`, runs it for 1..N threads (N: the
cores here, or --triad-threads) and stores the result as RESULTS_DIR/triad_TIME.json.

Efficiency. Strong: at one size (agents, steps, code revision, machine) the speed-up is
rate / rate(c0) with c0 the smallest core count measured, and efficiency = speed-up * c0 / c.
Weak: runs at the same agents per core (within 5 %) form a series; efficiency is the
per-core rate over that of the 1-core run (or the smallest core count there is); the scaled
speed-up is rate / rate(c0). "rate" is agent-steps per second; where a baseline was measured
more than once, the best run is used (the plots' lines too). cores = ranks * threads; a run
with more cores per node than the host has is oversubscribed: drawn as x, never a baseline.

Bandwidth estimate. clhsim reports the bytes of its state per agent (every agent, patient,
centre and tie array, divided by the agents); an agent-step touches roughly that state once,
so bytes/s ~ state_bytes_per_agent * agent_steps_per_s. It ignores that the tie phases revisit
ties several times a step (est_GBps_with_ties adds tie_visits * bytes_per_tie_end / loop time)
and that random gathers move whole 64-byte cache lines: it is an order-of-magnitude figure,
not a measurement. A run far below the triad line is latency- or compute-bound, not
bandwidth-bound.

Digests. Runs of the same code (revision, compiler, flags), size and steps must end with the
same final_state_digest whatever the decomposition; a run whose digest differs from the
reference (the smallest decomposition's most common digest) is flagged DIGEST: it computed
something else. The records do not store -P overrides or the scenario file (unless a
"config"/"overrides" field is present, which is then part of the key), so a flagged pair can
also be two different scenarios.

Code: this command line; collect_stats.py (records, derived columns, efficiencies, digests,
the triad), collect_plots.py (the PNGs), collect_table.py (summary.md).

Only Debian's python3 packages: numpy, pandas, matplotlib.
"""
import argparse
import os
import platform
import shutil
import sys

import collect_plots
import collect_stats
import collect_table


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", help="folder of JSON records (searched recursively)")
    ap.add_argument("-o", "--outdir", help="where to write runs.csv, summary.md and the PNGs")
    ap.add_argument("--triad", choices=["auto", "now", "never"], default="auto",
                    help="auto: measure if RESULTS has no triad record for this host and some run is "
                         "from this host; now: measure again; never")
    ap.add_argument("--triad-threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--triad-elements", type=int, default=1 << 25,
                    help="doubles per array (default 2^25: 3 arrays = 768 MiB)")
    ap.add_argument("--triad-trials", type=int, default=10)
    ap.add_argument("--triad-only", action="store_true",
                    help="measure the triad, store its record in RESULTS and stop (no -o needed)")
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"))
    ap.add_argument("--all", action="store_true",
                    help="plot every code revision (default: on each machine, the newest revision's runs)")
    ap.add_argument("--revision", action="append", default=[],
                    help="keep only runs whose git revision starts with this (repeatable)")
    ap.add_argument("--since", help="keep only records from this time on (e.g. 2026-11-27T13:00)")
    a = ap.parse_args()

    if a.triad_only:
        if a.triad == "never":
            sys.exit("collect: --triad-only with --triad never")
        collect_stats.measure_triad(a.results, a.triad_threads, a.triad_elements, a.triad_trials, a.cc)
        return
    if not a.outdir:
        ap.error("-o OUTDIR is required")
    if not os.path.isdir(a.results):
        sys.exit(f"collect: {a.results} is not a folder")
    recs = collect_stats.load(a.results)
    if a.since:
        recs = [r for r in recs if r.get("time", "") >= a.since]
    triads = [r for r in recs if r["_kind"] == "triad"]
    ckpts = [r for r in recs if r["_kind"] == "checkpoint"]
    runs = [r for r in recs if r["_kind"] == "run"]
    if a.revision:
        runs = [r for r in runs if any((r.get("code") or {}).get("git_revision", "").startswith(p)
                                       for p in a.revision)]
    here = platform.node()
    if a.triad == "now" or (a.triad == "auto" and not any(t.get("host") == here for t in triads)
                            and any(r.get("host") == here for r in runs)):
        if shutil.which(a.cc) is None:
            print(f"collect: no C compiler {a.cc}: no triad", file=sys.stderr)
        else:
            triads.append(collect_stats.measure_triad(a.results, a.triad_threads, a.triad_elements, a.triad_trials, a.cc))
    if not runs:
        sys.exit(f"collect: no run records in {a.results}")

    df = collect_stats.runs_frame(runs, triads, here)

    os.makedirs(a.outdir, exist_ok=True)
    collect_stats.write_csv(df, os.path.join(a.outdir, "runs.csv"))

    # The plots: the newest revision on each machine unless --all.
    pdf, plotted = collect_stats.plotted_runs(df, a.all)
    collect_plots.plot_all(pdf, ckpts, triads, a.outdir)
    print(collect_table.summary(df, triads, ckpts, plotted, a.outdir))
    print(f"collect: wrote {a.outdir}/runs.csv, summary.md, strong_scaling.png, weak_scaling.png, "
          f"phases.png, memory.png, bandwidth.png")


if __name__ == "__main__":
    main()
