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

Only Debian's python3 packages: numpy, pandas, matplotlib.
"""
import argparse
import glob
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
# clhsim's phases in the order a step runs them (src/model/step.c, clhs_phase_names).
PHASE_ORDER = ["levers_joins", "new_ties", "decay_halo", "resources", "motivation",
               "engagement", "care", "centres", "turnover", "records"]
NAN = float("nan")


# --------------------------------------------------------------------------------------------
# Triad
# --------------------------------------------------------------------------------------------
def measure_triad(results, threads, elements, trials, cc):
    """Compile bench/triad.c, run it for 1..threads, store a record (kind "triad")."""
    src = os.path.join(HERE, "triad.c")
    flags = ["-O3", "-fopenmp"]
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "triad")
        cmd = [cc] + flags + ["-o", exe, src]
        comp = subprocess.run(cmd, capture_output=True, text=True)
        if comp.returncode != 0:
            sys.exit(f"collect: compiling the triad failed: {' '.join(cmd)}\n{comp.stderr}")
        cc_version = subprocess.run([cc, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
        load_before = os.getloadavg()
        print(f"collect: measuring the triad ({elements} doubles x 3 arrays = "
              f"{24 * elements / 2**20:.0f} MiB, best of {trials}, 1..{threads} threads)...", flush=True)
        run = subprocess.run([exe, "-n", str(elements), "-t", str(trials), "-T", str(threads)],
                             capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(f"collect: the triad failed:\n{run.stdout}\n{run.stderr}")
    per = []
    for line in run.stdout.splitlines():
        if line.startswith("triad "):
            kv = dict(tok.split("=", 1) for tok in line.split()[1:])
            per.append({"threads": int(kv["threads"]), "best_GBps": float(kv["best_GBps"]),
                        "median_GBps": float(kv["median_GBps"]), "best_s": float(kv["best_s"])})
    rec = {
        "kind": "triad", "host": platform.node(), "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "compiler": cc_version, "compile": " ".join([cc] + flags), "elements": elements,
        "array_bytes_total": 24 * elements, "bytes_counted_per_element": 24, "trials": trials,
        "cpu_count": os.cpu_count(), "loadavg_before": load_before[0],
        "omp_env": {k: v for k, v in os.environ.items() if k.startswith(("OMP_", "GOMP_"))},
        "per_threads": per,
        "best_GBps": max(p["best_GBps"] for p in per),
    }
    os.makedirs(results, exist_ok=True)
    path = os.path.join(results, f"triad_{time.strftime('%Y%m%dT%H%M%S')}.json")
    with open(path, "w") as f:
        json.dump(rec, f, indent=1)
    print("collect: triad " + ", ".join(f"{p['threads']} thr {p['best_GBps']:.1f} GB/s" for p in per)
          + f" -> {path}", flush=True)
    rec["_file"] = os.path.relpath(path, results)
    return rec


def triad_for(triads, host, cores_per_node, nodes):
    """Triad GB/s for a run: the host's newest triad at min(cores per node, measured threads),
    times the nodes. None if this host has no triad."""
    ts = [t for t in triads if t.get("host") == host]
    if not ts:
        return None
    t = max(ts, key=lambda r: r.get("time", ""))
    per = {p["threads"]: p["best_GBps"] for p in t.get("per_threads", [])}
    if not per:
        return None
    k = max((k for k in per if k <= cores_per_node), default=min(per))
    return per[k] * nodes


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------
def kind_of(r):
    if r.get("kind"):
        return r["kind"]
    if "checkpoint_bytes" in r:
        return "checkpoint"
    if "agent_steps_per_s" in r and "agents" in r:
        return "run"
    return "unknown"


def load(results):
    recs = []
    for p in sorted(glob.glob(os.path.join(results, "**", "*.json"), recursive=True)):
        try:
            with open(p) as f:
                r = json.load(f)
        except (OSError, ValueError) as e:
            print(f"collect: skipping {p}: {e}", file=sys.stderr)
            continue
        if not isinstance(r, dict):
            print(f"collect: skipping {p}: not a record", file=sys.stderr)
            continue
        r["_file"] = os.path.relpath(p, results)
        r["_kind"] = kind_of(r)
        if r["_kind"] == "unknown":
            print(f"collect: skipping {p}: neither a run, a checkpoint nor a triad record", file=sys.stderr)
            continue
        recs.append(r)
    return recs


def num(r, k, default=NAN):
    v = r.get(k)
    try:
        return float(v) if v is not None else default
    except (TypeError, ValueError):
        return default


def run_row(r):
    """One table row from a run record, deriving what older records lack."""
    code = r.get("code") or {}
    ranks = int(num(r, "ranks", 1))
    threads = int(num(r, "threads", 1))
    cores = ranks * threads
    nodes = int(num(r, "nodes", 1))
    agents = int(num(r, "agents"))
    steps = int(num(r, "steps", 0)) or None
    tsteps = int(num(r, "timed_steps", 0)) or steps  # after the warm-up (newer records)
    rate = num(r, "agent_steps_per_s")
    loop = num(r, "loop_time_s")
    if math.isnan(loop) and tsteps and rate > 0:
        loop = agents * tsteps / rate
    rss_max = num(r, "peak_rss_bytes_max_rank")
    rss_pa = num(r, "peak_rss_per_agent")
    if math.isnan(rss_pa) and not math.isnan(rss_max):
        rss_pa = rss_max * ranks / agents
    pm = r.get("phase_mean_s") or {}
    px = r.get("phase_max_s") or {}
    xshare = num(r, "exchange_share_of_step")
    if math.isnan(xshare) and "communication" in pm and loop > 0:
        xshare = pm["communication"] / loop
    study = r.get("study")
    row = {
        "file": r["_file"], "time": r.get("time", ""), "host": r.get("host", ""),
        "machine": r.get("host", "") if not study else f"{study} study",
        "study": study or "", "revision": code.get("git_revision", "?"),
        "code_key": "|".join([code.get("git_revision", "?"), code.get("compiler", ""),
                              code.get("compile_flags", ""), str(r.get("config", "")),
                              str(r.get("overrides", ""))]),
        "ranks": ranks, "threads": threads, "cores": cores, "nodes": nodes,
        "decomposition": f"{ranks}x{threads}", "agents": agents, "steps": steps,
        "loop_time_s": loop, "agent_steps_per_s": rate,
        "agent_steps_per_core_s": rate / cores if cores else NAN,
        "tie_visits_per_core_s": num(r, "tie_visits_per_core_s"),
        "state_bytes_per_agent": num(r, "state_bytes_per_agent"),
        "peak_rss_per_agent": rss_pa,
        "exchange_share_of_step": xshare,
        "bytes_exchanged_per_step": num(r, "bytes_exchanged_per_step"),
        "tie_ends_cross_rank": num(r, "tie_ends_cross_rank"),
        "final_state_digest": r.get("final_state_digest") or "",
    }
    # Estimated memory traffic (see the module's doc string).
    row["est_GBps"] = row["state_bytes_per_agent"] * rate / 1e9
    tv, bte = num(r, "tie_visits"), num(r, "bytes_per_tie_end")
    row["est_GBps_with_ties"] = (row["est_GBps"] + tv * bte / loop / 1e9
                                 if not (math.isnan(tv) or math.isnan(bte)) and loop > 0 else NAN)
    # Load imbalance: the slowest rank's phase sum over the mean rank's.
    sm = sum(v for k, v in pm.items() if k != "communication")
    sx = sum(v for k, v in px.items() if k != "communication")
    row["imbalance"] = sx / sm if sm > 0 and px else NAN
    for ph in sorted(set(pm) | set(PHASE_ORDER), key=phase_key):
        row[f"phase_{ph}_s_per_step"] = pm[ph] / tsteps if ph in pm and tsteps else NAN
    return row


def phase_key(ph):
    return (PHASE_ORDER.index(ph) if ph in PHASE_ORDER else len(PHASE_ORDER) + (ph == "communication"), ph)


def _baseline(g):
    """The smallest core count of a series and the best rate measured there; oversubscribed
    runs (more cores than the host has) are compared with a baseline but never are one."""
    b = g[~g["oversubscribed"]]
    if b.empty:
        b = g
    c0 = b["cores"].min()
    return c0, b.loc[b["cores"] == c0, "agent_steps_per_s"].max()


def add_efficiency(df):
    for c in ("strong_base_cores", "strong_speedup", "strong_efficiency",
              "weak_base_cores", "weak_speedup", "weak_efficiency"):
        df[c] = np.nan
    df["weak_series"] = ""
    # Strong: same machine, code, size and steps.
    strong = df[df["study"] != "weak"]
    for _, g in strong.groupby(["machine", "code_key", "agents", "steps"], dropna=False):
        if g["cores"].nunique() < 2:
            continue  # one core count: nothing to compare
        c0, base = _baseline(g)
        df.loc[g.index, "strong_base_cores"] = c0
        df.loc[g.index, "strong_speedup"] = g["agent_steps_per_s"] / base
        df.loc[g.index, "strong_efficiency"] = g["agent_steps_per_s"] / base * c0 / g["cores"]
    # Weak: same machine, code and steps; agents per core within 5 % of the series' first.
    weak = df[df["study"] != "strong"].copy()
    weak["apc"] = weak["agents"] / weak["cores"]
    for _, g in weak.groupby(["machine", "code_key", "steps"], dropna=False):
        g = g.sort_values("apc")
        series, first = [], None
        for i, apc in zip(g.index, g["apc"]):
            if first is None or apc > first * 1.05:
                series.append([])
                first = apc
            series[-1].append(i)
        for idx in series:
            s = df.loc[idx]
            if s["cores"].nunique() < 2:
                continue  # one core count: nothing to compare
            c0, base = _baseline(s)
            apc = (s["agents"] / s["cores"]).median()
            df.loc[idx, "weak_base_cores"] = c0
            df.loc[idx, "weak_speedup"] = s["agent_steps_per_s"] / base
            df.loc[idx, "weak_efficiency"] = (s["agent_steps_per_s"] / s["cores"]) / (base / c0)
            df.loc[idx, "weak_series"] = f"{apc:.3g}"
    return df


def add_digest_check(df):
    """digest_ok: True/False against the reference digest of (code, agents, steps); NaN if
    the run has no digest or is alone."""
    df["digest_ref"] = ""
    df["digest_ok"] = None
    has = df[df["final_state_digest"] != ""]
    for _, g in has.groupby(["code_key", "agents", "steps"], dropna=False):
        if len(g) < 2:
            continue
        c0 = g["cores"].min()
        ref = g.loc[g["cores"] == c0, "final_state_digest"].mode().iloc[0]
        df.loc[g.index, "digest_ref"] = ref
        df.loc[g.index, "digest_ok"] = g["final_state_digest"] == ref
    return df


# --------------------------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------------------------
def size_label(agents, steps):
    return f"{agents:.3g} agents, {steps} steps"


def wide(cores):
    return len(cores) > 0 and max(cores) / max(1, min(cores)) >= 8


def style_axes(ax, xcores):
    """Core counts as ticks; a log2 axis when they span a factor of 8 or more."""
    xcores = sorted(int(c) for c in xcores)
    if wide(xcores):
        ax.set_xscale("log", base=2)
        if len(xcores) > 12:
            xcores = [c for c in xcores if c & (c - 1) == 0] or xcores[:: len(xcores) // 12 + 1]
    ax.set_xticks(xcores)
    ax.set_xticklabels([str(c) for c in xcores])
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.grid(True, alpha=0.3)


def run_markers(ax, g, x, y, color, scale=1.0, annotate=True):
    """Every run a marker: ○ one thread per rank, ■ threaded ranks, × oversubscribed."""
    for sel, marker, fill in ((~g["oversubscribed"] & (g["threads"] == 1), "o", "none"),
                              (~g["oversubscribed"] & (g["threads"] > 1), "s", color),
                              (g["oversubscribed"], "x", color)):
        s = g[sel]
        ax.plot(s[x], s[y] * scale, marker, color=color, mfc=fill, ms=7)
    if annotate:
        for _, r in g.iterrows():
            ax.annotate(r["decomposition"], (r[x], r[y] * scale), fontsize=7, xytext=(5, -3),
                        textcoords="offset points", color=color)


def marker_legend(ax, over):
    ax.plot([], [], "o", color="0.3", mfc="none", label="run, 1 thread per rank")
    ax.plot([], [], "s", color="0.3", label="run, threaded ranks")
    if over:
        ax.plot([], [], "x", color="0.3", label="oversubscribed (more cores than the host)")


def best_line(g, col):
    """The best run at each core count, oversubscribed runs left out."""
    g = g[~g["oversubscribed"]]
    if g.empty:
        return pd.Series(dtype=float)
    idx = g.groupby("cores")["agent_steps_per_s"].idxmax()
    return g.loc[idx].set_index("cores")[col].sort_index()


def plot_scaling(df, out, kind):
    """Speed-up and efficiency vs cores; one line per size (strong) or per agents per core
    (weak); every run a marker, the line through the best run at each core count."""
    col = "strong" if kind == "strong" else "weak"
    d = df[df[f"{col}_speedup"].notna()]
    keys = ["machine", "code_key", "agents", "steps"] if kind == "strong" else \
        ["machine", "code_key", "steps", "weak_series"]
    groups = [(k, g) for k, g in d.groupby(keys, dropna=False) if g["cores"].nunique() > 1]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12.5, 5))
    if not groups:
        for a in (a1, a2):
            a.text(0.5, 0.5, f"no {kind}-scaling series\n(need one size at two or more core counts"
                   + ("" if kind == "strong" else ",\nsame agents per core") + ")",
                   ha="center", va="center", transform=a.transAxes)
            a.set_axis_off()
    allcores = sorted(d["cores"].unique()) if len(d) else [1]
    multi_rev = len({k[1] for k, _ in groups}) > 1
    multi_machine = len({k[0] for k, _ in groups}) > 1
    for i, (k, g) in enumerate(sorted(groups, key=lambda kg: (kg[0][0], kg[0][2], kg[0][3]))):
        color = f"C{i % 10}"
        if kind == "strong":
            label = size_label(k[2], k[3])
        else:
            label = f"{float(k[3]):.3g} agents/core, {k[2]} steps"
        if multi_rev:
            label += f" @{k[1].split('|')[0]}"
        if multi_machine:
            label += f" ({k[0]})"
        sp, ef = best_line(g, f"{col}_speedup"), best_line(g, f"{col}_efficiency")
        c0 = _baseline(g)[0]
        cs = np.array(sorted(g["cores"].unique()), dtype=float)
        a1.plot(cs, cs / c0, ":", color=color, lw=1)
        a1.plot(sp.index, sp.values, "-", color=color, label=label)
        a2.plot(ef.index, ef.values * 100, "-", color=color, label=label)
        run_markers(a1, g, "cores", f"{col}_speedup", color)
        run_markers(a2, g, "cores", f"{col}_efficiency", color, 100)
    if groups:
        a1.plot([], [], "k:", lw=1, label="ideal (c / c₀), dotted in the series' colour")
        a2.axhline(100, color="k", ls="--", lw=1, label="ideal")
        marker_legend(a1, bool(d["oversubscribed"].any()))
        for a in (a1, a2):
            style_axes(a, allcores)
            a.set_xlabel("cores (ranks × threads)")
        if kind == "strong":
            a1.set_ylabel("speed-up  (agent-steps/s ÷ best at the fewest cores)")
            a2.set_ylabel("parallel efficiency (%)  = speed-up × c₀ / c")
        else:
            a1.set_ylabel("scaled speed-up  (agent-steps/s ÷ best at the fewest cores)")
            a2.set_ylabel("weak efficiency (%)  = per-core rate ÷ best 1-core rate")
        a2.set_ylim(bottom=0, top=max(120, a2.get_ylim()[1]))
        if wide(allcores):
            a1.set_yscale("log", base=2)
            a1.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        else:
            a1.set_ylim(bottom=0)
        a1.legend(fontsize=8, loc="upper left")
    title = ("Strong scaling: fixed total agents" if kind == "strong"
             else "Weak scaling: fixed agents per core")
    fig.suptitle(f"clhsim {title}\n(line: best run at each core count; labels: ranks×threads)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def plot_phases(df, out):
    phases = [c for c in df.columns if c.startswith("phase_") and c.endswith("_s_per_step")]
    names = [c[6:-11] for c in phases]
    comp = [(n, c) for n, c in zip(names, phases) if n != "communication"]
    d = df[df[[c for _, c in comp]].notna().any(axis=1)]
    sizes = sorted({(r.agents, r.steps, r.code_key) for r in d.itertuples()})
    if not sizes:
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.text(0.5, 0.5, "no run with per-phase times", ha="center", va="center")
        ax.set_axis_off()
        fig.savefig(out, dpi=110)
        plt.close(fig)
        return
    multi_rev = len({s[2] for s in sizes}) > 1
    ncol = min(3, len(sizes))
    nrow = math.ceil(len(sizes) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.8 * ncol, 4.3 * nrow), squeeze=False)
    colors = {n: plt.get_cmap("tab10")(i % 10) for i, (n, _) in enumerate(comp)}
    for ax, (agents, steps, ck) in zip(axes.flat, sizes):
        g = d[(d["agents"] == agents) & (d["steps"] == steps) & (d["code_key"] == ck)]
        g = g.sort_values(["cores", "ranks", "time"])
        x = np.arange(len(g))
        bottom = np.zeros(len(g))
        for n, c in comp:
            v = g[c].fillna(0).to_numpy() * 1e3
            ax.bar(x - 0.08, v, 0.6, bottom=bottom, color=colors[n], label=n)
            bottom += v
        if "phase_communication_s_per_step" in g:
            v = g["phase_communication_s_per_step"].fillna(0).to_numpy() * 1e3
            ax.bar(x + 0.31, v, 0.14, color="white", edgecolor="k", hatch="////",
                   label="MPI communication\n(time inside the phases)")
        labels, seen = [], {}
        for r in g.itertuples():
            seen[r.decomposition] = seen.get(r.decomposition, 0) + 1
            labels.append(r.decomposition + (f" #{seen[r.decomposition]}" if seen[r.decomposition] > 1 else "")
                          + ("\n(over)" if r.oversubscribed else ""))
        ax.set_xticks(x)
        ax.set_xticklabels(labels, fontsize=8)
        ax.set_xlabel("run (ranks × threads; #n: a repeat)")
        ax.set_ylabel("ms per step (mean over ranks)")
        t = size_label(agents, steps)
        if multi_rev:
            t += f"\n@{ck.split('|')[0]}"
        ax.set_title(t, fontsize=10)
        ax.grid(True, axis="y", alpha=0.3)
    for ax in list(axes.flat)[len(sizes):]:
        ax.set_axis_off()
    h, l_ = axes.flat[0].get_legend_handles_labels()
    fig.legend(h[::-1], l_[::-1], loc="upper left", bbox_to_anchor=(1.0, 0.93), fontsize=8,
               title="phase (in step order,\nbottom to top)")
    fig.suptitle("clhsim time per step by phase, stacked (hatched: MPI communication, part of the phases;"
                 " (over): oversubscribed)", fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(fig)


def plot_memory(df, ckpts, out):
    fig, ax = plt.subplots(figsize=(8.5, 5.2))
    d = df[df["agents"] > 0]
    decs = sorted(d.groupby("decomposition"), key=lambda kg: (kg[1]["cores"].iloc[0], kg[0]))
    for i, (dec, g) in enumerate(decs):
        g = g.groupby("agents")["peak_rss_per_agent"].median().dropna()
        thr = int(dec.split("x")[1]) > 1
        ax.plot(g.index, g.values, ("s--" if thr else "o-"), color=f"C{i % 10}", ms=6 if thr else 8,
                mfc="none" if thr else f"C{i % 10}", label=f"peak RSS per agent, {dec} (max rank RSS × ranks)")
    st = d.groupby("agents")["state_bytes_per_agent"].median().dropna()
    ax.plot(st.index, st.values, "k^-", lw=2, label="model state per agent (clhsim's own count)")
    if ckpts:
        c = pd.DataFrame([{"agents": r.get("agents"), "bpa": r.get("bytes_per_agent")} for r in ckpts]).dropna()
        c = c.groupby("agents")["bpa"].median()
        ax.plot(c.index, c.values, "kx:", ms=9, label="checkpoint file per agent (checkpoint_bench.py)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.yaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(
        lambda v, _: f"{v:,.0f}" if str(int(round(v)))[0] in "2345" else ""))
    ax.set_xlabel("agents (log)")
    ax.set_ylabel("bytes per agent (log)")
    ax.set_title("clhsim memory per agent vs size\n(peak RSS approaches the state as each rank's fixed "
                 "~30 MB is amortised)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def plot_bandwidth(df, triads, out):
    fig, ax = plt.subplots(figsize=(10.5, 5.5))
    hosts = sorted({t.get("host") for t in triads})
    for j, h in enumerate(hosts):
        t = max((t for t in triads if t.get("host") == h), key=lambda r: r.get("time", ""))
        per = sorted((p["threads"], p["best_GBps"]) for p in t["per_threads"])
        ax.plot([p[0] for p in per], [p[1] for p in per], "-", color="k", lw=2.5, alpha=max(0.3, 0.85 - 0.3 * j),
                marker="D", label=f"measured triad on {h} (best of {t.get('trials')}, {t.get('time', '')[:16]})")
        for c, v in per:
            ax.annotate(f"{v:.1f} GB/s", (c, v), xytext=(6, -12), textcoords="offset points", fontsize=8)
    d = df[df["est_GBps"].notna()]
    allcores = sorted(set(d["cores"]) | {p["threads"] for t in triads for p in t["per_threads"]}) or [1]
    multi_rev = d["code_key"].nunique() > 1
    multi_machine = d["machine"].nunique() > 1
    for i, (k, g) in enumerate(sorted(d.groupby(["agents", "steps", "code_key", "machine"]), key=lambda kg: kg[0])):
        color = f"C{i % 10}"
        line = best_line(g, "est_GBps")
        label = f"clhsim estimate, {size_label(k[0], k[1])}"
        if multi_rev:
            label += f" @{k[2].split('|')[0]}"
        if multi_machine:
            label += f" ({k[3]})"
        ax.plot(line.index, line.values, "-", color=color, label=label)
        run_markers(ax, g, "cores", "est_GBps", color, annotate=False)
    marker_legend(ax, bool(d["oversubscribed"].any()))
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    style_axes(ax, allcores)
    ax.set_xlabel("cores (triad: OpenMP threads; clhsim: ranks × threads)")
    ax.set_ylabel("memory bandwidth (GB/s, log)")
    ax.set_title("clhsim estimated memory traffic vs the STREAM-like triad ceiling\n"
                 "estimate = state bytes per agent × agent-steps/s (order of magnitude; see bench/README.md)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(fig)


# --------------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------------
def fmt(v, spec):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return format(v, spec)


def markdown(rows, cols):
    out = ["| " + " | ".join(h for h, _, _ in cols) + " |",
           "|" + "|".join("---:" if sp else "---" for _, _, sp in cols) + "|"]
    for r in rows:
        out.append("| " + " | ".join(fmt(r.get(k), sp) if sp else str(r.get(k, "")) for _, k, sp in cols) + " |")
    return "\n".join(out)


def summary(df, triads, ckpts, plotted, outdir):
    lines = []
    cols = [("time", "time", ""), ("rev", "rev", ""), ("agents", "agents", "d"), ("steps", "steps", "d"),
            ("R×T", "decomposition", ""), ("agent-steps/s", "agent_steps_per_s", ".3g"),
            ("per core-s", "agent_steps_per_core_s", ".3g"), ("strong eff", "strong_efficiency", ".0%"),
            ("weak eff", "weak_efficiency", ".0%"), ("tie-visits/core-s", "tie_visits_per_core_s", ".3g"),
            ("state B/agent", "state_bytes_per_agent", ".0f"), ("RSS B/agent", "peak_rss_per_agent", ".0f"),
            ("xchg share", "exchange_share_of_step", ".1%"), ("est GB/s", "est_GBps", ".2f"),
            ("of triad", "of_triad", ".0%"), ("flags", "flags", "")]
    rows = []
    for r in df.to_dict("records"):
        r["rev"] = r["revision"][:12]
        r["time"] = str(r["time"])[:16]
        rows.append(r)
    lines.append(f"## clhsim runs ({len(df)}; plots use {plotted})\n")
    lines.append(markdown(rows, cols))
    if triads:
        lines.append("\n## Triad (STREAM-like, a = b + s·c, 24 bytes/element counted)\n")
        for t in sorted(triads, key=lambda r: r.get("time", "")):
            lines.append(f"- {t.get('host')} {t.get('time', '')[:16]}: "
                         + ", ".join(f"{p['threads']} thread{'s' * (p['threads'] > 1)} "
                                     f"{p['best_GBps']:.1f} GB/s (median {p['median_GBps']:.1f})"
                                     for p in t.get("per_threads", []))
                         + f"; load average before {t.get('loadavg_before', float('nan')):.1f}")
    if ckpts:
        lines.append("\n## Checkpoints\n")
        for c in sorted(ckpts, key=lambda r: r.get("time", "")):
            lines.append(f"- {c.get('time', '')[:16]} {c.get('agents')} agents on {c.get('ranks')} ranks: "
                         f"{fmt(num(c, 'bytes_per_agent'), '.0f')} B/agent, write "
                         f"{fmt(num(c, 'write_GBps'), '.2f')} GB/s, read {fmt(num(c, 'read_GBps'), '.2f')} GB/s "
                         f"(dd: write+fsync {fmt(num(c, 'dd_write_fsync_GBps'), '.2f')}, "
                         f"read {fmt(num(c, 'dd_read_GBps'), '.2f')})")
    notes = []
    bad = df[df["digest_ok"].map(lambda v: v is not None and not v)]
    for _, r in bad.iterrows():
        same = df[(df["code_key"] == r["code_key"]) & (df["agents"] == r["agents"]) & (df["steps"] == r["steps"])]
        notes.append(f"DIGEST: {r['file']} ({r['decomposition']}, {r['agents']} agents, {r['steps']} steps, "
                     f"rev {r['revision']}) ends with {r['final_state_digest']}, the reference "
                     f"({', '.join(sorted(same.loc[same['final_state_digest'] == r['digest_ref'], 'decomposition']))}) "
                     f"with {r['digest_ref']}: it computed something else (or ran another scenario: "
                     f"the records do not store -P overrides)")
    # Repeats of one configuration that disagree by more than 25 %.
    for k, g in df.groupby(["machine", "code_key", "agents", "steps", "decomposition"]):
        if len(g) > 1 and g["agent_steps_per_s"].max() > 1.25 * g["agent_steps_per_s"].min():
            notes.append(f"NOISE: {len(g)} runs of {k[4]} at {k[2]} agents, {k[3]} steps (rev "
                         f"{k[1].split('|')[0]}) range {g['agent_steps_per_s'].min():.3g}–"
                         f"{g['agent_steps_per_s'].max():.3g} agent-steps/s")
    over = df[df["oversubscribed"]]
    if len(over):
        notes.append(f"OVERSUBSCRIBED: {len(over)} run(s) asked for more cores than the host has ("
                     + ", ".join(sorted({f"{r.decomposition} on {r.host} ({r.host_cpus:.0f} cores)"
                                         for r in over.itertuples()})) + "): shown as × in the plots, never a baseline")
    slow = df[(df["strong_efficiency"] < 0.5) & (df["cores"] > df["strong_base_cores"]) & ~df["oversubscribed"]]
    for _, r in slow.iterrows():
        notes.append(f"SLOWER: {r['file']} ({r['decomposition']}) has strong efficiency "
                     f"{r['strong_efficiency']:.0%}"
                     + (" — slower than on fewer cores" if r["strong_speedup"] < 1 else ""))
    missing = df[df["phase_levers_joins_s_per_step"].isna()] if "phase_levers_joins_s_per_step" in df else df
    if len(missing):
        notes.append(f"OLD: {len(missing)} record(s) without per-phase times or tie figures "
                     f"(older bench.py); their cells are empty")
    if notes:
        lines.append("\n## Flags\n")
        lines += [f"- {n}" for n in notes]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(outdir, "summary.md"), "w") as f:
        f.write(text)
    return text


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
        measure_triad(a.results, a.triad_threads, a.triad_elements, a.triad_trials, a.cc)
        return
    if not a.outdir:
        ap.error("-o OUTDIR is required")
    if not os.path.isdir(a.results):
        sys.exit(f"collect: {a.results} is not a folder")
    recs = load(a.results)
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
            triads.append(measure_triad(a.results, a.triad_threads, a.triad_elements, a.triad_trials, a.cc))
    if not runs:
        sys.exit(f"collect: no run records in {a.results}")

    df = pd.DataFrame([run_row(r) for r in runs])
    df = df.sort_values(["time", "file"]).reset_index(drop=True)
    # The cores each host has: from its triad records, and this host's own count.
    host_cpus = {t.get("host"): t.get("cpu_count") for t in triads if t.get("cpu_count")}
    host_cpus[here] = os.cpu_count()
    df["host_cpus"] = [host_cpus.get(h, np.nan) for h in df["host"]]
    df["oversubscribed"] = (df["cores"] / df["nodes"].clip(lower=1)) > df["host_cpus"].fillna(np.inf)
    df = add_efficiency(df)
    df = add_digest_check(df)
    tri = []
    for r in df.itertuples():
        cpn = r.cores / r.nodes if r.nodes else r.cores
        tri.append(triad_for(triads, r.host, cpn, r.nodes))
    df["triad_GBps"] = [t if t is not None else np.nan for t in tri]
    df["of_triad"] = df["est_GBps"] / df["triad_GBps"]
    flags = []
    for r in df.itertuples():
        f = []
        if r.digest_ok is not None and not r.digest_ok:
            f.append("DIGEST")
        if r.oversubscribed:
            f.append("oversubscribed")
        elif r.strong_efficiency < 0.5 and r.cores > r.strong_base_cores:
            f.append("slow")
        flags.append(" ".join(f))
    df["flags"] = flags

    os.makedirs(a.outdir, exist_ok=True)
    lead = ["file", "time", "host", "study", "revision", "ranks", "threads", "cores", "nodes", "agents",
            "steps", "loop_time_s", "agent_steps_per_s", "agent_steps_per_core_s",
            "strong_base_cores", "strong_speedup", "strong_efficiency",
            "weak_series", "weak_base_cores", "weak_speedup", "weak_efficiency",
            "tie_visits_per_core_s", "state_bytes_per_agent", "peak_rss_per_agent",
            "exchange_share_of_step", "bytes_exchanged_per_step", "imbalance", "oversubscribed",
            "est_GBps", "est_GBps_with_ties", "triad_GBps", "of_triad",
            "final_state_digest", "digest_ok", "flags"]
    phase_cols = sorted((c for c in df.columns if c.startswith("phase_")), key=lambda c: phase_key(c[6:-11]))
    df[lead + phase_cols].to_csv(os.path.join(a.outdir, "runs.csv"), index=False, float_format="%.6g")

    # The plots: the newest revision on each machine unless --all.
    if a.all:
        pdf, plotted = df, "all revisions"
    else:
        keep = []
        for _, g in df.groupby("machine"):
            newest = g.sort_values("time")["code_key"].iloc[-1]
            keep.append(g[g["code_key"] == newest])
        pdf = pd.concat(keep)
        revs = sorted({k.split("|")[0] for k in pdf["code_key"]})
        plotted = "the newest revision per machine: " + ", ".join(revs) + " (--all for every one)"
    plot_scaling(pdf, os.path.join(a.outdir, "strong_scaling.png"), "strong")
    plot_scaling(pdf, os.path.join(a.outdir, "weak_scaling.png"), "weak")
    plot_phases(pdf, os.path.join(a.outdir, "phases.png"))
    plot_memory(pdf, ckpts, os.path.join(a.outdir, "memory.png"))
    plot_bandwidth(pdf, triads, os.path.join(a.outdir, "bandwidth.png"))
    print(summary(df, triads, ckpts, plotted, a.outdir))
    print(f"collect: wrote {a.outdir}/runs.csv, summary.md, strong_scaling.png, weak_scaling.png, "
          f"phases.png, memory.png, bandwidth.png")


if __name__ == "__main__":
    main()
