"""bench/collect.py's computing: the records read, one row per run with what older records
lack derived, efficiencies (strong and weak), digest checks, the triad (measured and looked
up), flags, and the columns of runs.csv. The definitions are in collect.py's help."""
import glob
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd

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


def baseline(g):
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
        c0, base = baseline(g)
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
            c0, base = baseline(s)
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
# The table of runs
# --------------------------------------------------------------------------------------------
# runs.csv: these columns, then the per-phase times in step order.
CSV_LEAD = ["file", "time", "host", "study", "revision", "ranks", "threads", "cores", "nodes", "agents",
            "steps", "loop_time_s", "agent_steps_per_s", "agent_steps_per_core_s",
            "strong_base_cores", "strong_speedup", "strong_efficiency",
            "weak_series", "weak_base_cores", "weak_speedup", "weak_efficiency",
            "tie_visits_per_core_s", "state_bytes_per_agent", "peak_rss_per_agent",
            "exchange_share_of_step", "bytes_exchanged_per_step", "imbalance", "oversubscribed",
            "est_GBps", "est_GBps_with_ties", "triad_GBps", "of_triad",
            "final_state_digest", "digest_ok", "flags"]


def runs_frame(runs, triads, here):
    """One row per run record: run_row, then oversubscription (against the cores of each host:
    from its triad records, and this host's (`here`) own count), efficiencies, digest checks,
    the triad bandwidth and the flags."""
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
    return df


def write_csv(df, path):
    phase_cols = sorted((c for c in df.columns if c.startswith("phase_")), key=lambda c: phase_key(c[6:-11]))
    df[CSV_LEAD + phase_cols].to_csv(path, index=False, float_format="%.6g")


def plotted_runs(df, all_revisions):
    """The runs to plot and how to say which: every one (`all_revisions`), else the newest
    revision's on each machine."""
    if all_revisions:
        return df, "all revisions"
    keep = []
    for _, g in df.groupby("machine"):
        newest = g.sort_values("time")["code_key"].iloc[-1]
        keep.append(g[g["code_key"] == newest])
    pdf = pd.concat(keep)
    revs = sorted({k.split("|")[0] for k in pdf["code_key"]})
    return pdf, "the newest revision per machine: " + ", ".join(revs) + " (--all for every one)"
