#!/usr/bin/python3
"""Sensitivity screen, calibration and confirmation of the ImproveCareNow scenario -- the
program's defaults, MODEL.md v1.2 -- against the targets of MODEL.md §12.

    /usr/bin/python3 calibration/calibrate.py confirm --bin PATH/TO/clhsim   (v1.2: the check)
    /usr/bin/python3 calibration/calibrate.py screen|calibrate|final|point|all [--bin ...]

Stages (each resumable: every finished run is cached in results/runs.jsonl under a key that is
the hash of the run's effective configuration, as printed by `clhsim config`, so a stage that
is interrupted or repeated only runs what is missing; the .h5 files are deleted once read):

  confirm    MODEL.md v1.2's defaults checked with this implementation: a coordinate search
             that starts at the defaults (CONFIRM_PARAMS, steps of CONFIRM_STEP and half of
             it, CONFIRM_SEEDS with common random numbers), then the defaults and the best
             point found at FINAL_SEEDS seeds each (weekly records), their scores per seed
             compared pairwise: results/confirm.json, confirm_table.csv, final.json (the
             defaults: the reference of the test icn_targets).
  screen     one-at-a-time elementary effects: every candidate parameter at the low and the
             high end of its range (the others at the defaults), SCREEN_SEEDS seeds
             each (common random numbers), plus the base point at BASE_SEEDS seeds for the
             seed-to-seed spread. Effects are in band half-widths of each target.
  calibrate  over chosen parameters: a Latin hypercube of LHS_POINTS points (CAL_SEEDS seeds
             each), then a coordinate search from the best point with halving steps. One
             weighted score over every target at once.
  final      FINAL_SEEDS seeds at a point; the table target vs simulated.

Only Debian's python3 packages: h5py, numpy, pandas (matplotlib for the figure).
Runs: each batch of runs that are not cached is one `clhsim ensemble` of JOBS ranks (every run
a named scenario of the design setting its overrides and seed), under `nice -n 10` with
OMP_NUM_THREADS=1; `run_one` still runs a single `clhsim run`.
The v1.1 calibration (examples/icn.yml, the targets that conflicted under v1.1) is kept as a
record in results-v1.1/ (docs/calibration.md).
"""
import argparse
import hashlib
import json
import math
import os
import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import h5py
import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SCENARIO = []                               # the ICN scenario is the defaults: no file
RESULTS = os.path.join(HERE, "results")
RAW = os.path.join(RESULTS, "raw")          # scratch .h5 files (git-ignored, deleted after use)
CACHE = os.path.join(RESULTS, "runs.jsonl")

JOBS = 2
SCREEN_SEEDS = [1, 2]
BASE_SEEDS = [1, 2, 3, 4, 5, 6]
LHS_SEEDS = [1, 2]
LHS_POINTS = 20
LHS_BEST = 3                                # LHS points re-run at CAL_SEEDS
CAL_SEEDS = [1, 2, 3]
COORD_ROUNDS = 3
FINAL_SEEDS = list(range(1, 11))
RUN_OVERRIDES = {"output.every": 4}         # records every 4 weeks: same simulation, less I/O
FINAL_OVERRIDES = {"output.every": 1}       # the final table: weekly records, as a run ships
CONFIRM_SEEDS = [1, 2, 3, 4]
CONFIRM_STEP = 0.10                         # +-10 % of each default, then +-5 %
CONFIRM_ROUNDS = 2

# ---------------------------------------------------------------------------------------------
# Targets: MODEL.md §12 as analysis/clhsim_analysis/targets.py defines them (TARGETS, in
# MODEL.md's order of weight, `weight` 1 = most important; evaluate(ds) -> one row per target).
# Here each row carries the score weight 9 - rank (8 for member centres, 7 for each remission
# row, ... 1 for remission after escalation). A one-sided band ("staying >= 80 %", "over
# 1 000") has no centre: its z is measured in SCALE below the band.
# ---------------------------------------------------------------------------------------------
# (calibration/clhsim_analysis: a link to analysis/clhsim_analysis)
from clhsim_analysis import load as _load, runner               # noqa: E402
from clhsim_analysis.targets import TARGETS as _TARGETS, evaluate as _evaluate  # noqa: E402

SCALE = {"remission_2019": 0.03, "commons_users_2019": 250.0}


def _target(t):
    low = -math.inf if t.low is None else float(t.low)
    high = math.inf if t.high is None else float(t.high)
    d = dict(name=t.name, weight=9 - t.weight, low=low, high=high,
             fmt="{:.0f}" if t.unit == "count" else "{:.3f}", description=t.description)
    if math.isinf(high) or math.isinf(low):
        d["scale"] = SCALE.get(t.name, 0.1 * abs(low if math.isfinite(low) else high))
        d["centre"] = None
    elif t.value is None:       # a range without a point target (25-50 %, 0.80-0.88)
        d["scale"] = (high - low) / 2
        d["centre"] = None
    else:
        d["centre"] = float(t.value)
    return d


TARGETS = [_target(t) for t in _TARGETS]


def simulated(path):
    """Every target's simulated value for one run (NaN where the run lacks the variable)."""
    tab = _evaluate(_load(path))
    return {r.target: float(r.simulated) for r in tab.itertuples()}


def score(means):
    """One weighted score over every target at once: sum of weight x z^2. A band with a
    point target ("about 68 %"): z = (simulated - target value) / band half-width (z = +-1 at
    the band's edges). A band without one ("at least 80 %", "25-50 %", "80-88 %"): 0 inside,
    else the distance to the band in units of `scale` (the half-width of a two-sided band).
    Targets the run does not evaluate are left out."""
    s = 0.0
    for t in TARGETS:
        v = means.get(t["name"], math.nan)
        if v is None or not np.isfinite(v):
            continue
        s += t["weight"] * zscore(t, v) ** 2
    return s


def zscore(t, v):
    if t["centre"] is None:
        if v < t["low"]:
            return (v - t["low"]) / t["scale"]
        if v > t["high"]:
            return (v - t["high"]) / t["scale"]
        return 0.0
    return (v - t["centre"]) / half(t)


# ---------------------------------------------------------------------------------------------
# Candidate parameters for the screen: MODEL.md default, low, high. A name ending in '*' is a
# vector scaled as a whole (each element x factor, capped at its range's top of 1).
# ---------------------------------------------------------------------------------------------
CANDIDATES = [
    # care: hazards and effects (§8), M1 evidence-based therapy (v1.2)
    dict(key="care.h_rem", default=0.0125, low=0.011, high=0.014),
    dict(key="care.induction_boost", default=1.45, low=1.2, high=1.7),
    dict(key="care.rem_evidence", default=6.75, low=5.0, high=8.5),
    dict(key="care.rem_treatment", default=1.0, low=0.5, high=1.5),
    dict(key="care.rel_treatment", default=0.4, low=0.2, high=0.6, max=1.0),
    dict(key="care.rel_selfmgmt", default=0.3, low=0.1, high=0.5, max=1.0),
    dict(key="care.t_drift", default=0.01, low=0.005, high=0.02, max=1.0),
    # steroids (§8)
    dict(key="care.steroid_start", default=0.55, low=0.45, high=0.65, max=1.0),
    dict(key="care.steroid_g", default=0.3, low=0.1, high=0.5, max=1.0),
    dict(key="care.steroid_course", default=26, low=18, high=34, integer=True),
    # lever maxima and ramps (§10)
    dict(key="levers.previsit.max", default=1.0, low=0.5, high=1.0, max=1.0),
    dict(key="levers.qi_training.ramp", default=26, low=8, high=52),
    dict(key="levers.research.ramp", default=156, low=78, high=234),
    # QI dynamics (§9), M3 QI coaching (v1.2)
    dict(key="centres.coaching", default=0.1, low=0.05, high=0.15, max=1.0),
    dict(key="motivation.kappa_train", default=0.05, low=0.02, high=0.10, max=1.0),
    dict(key="motivation.theta", default=3.5, low=3.0, high=4.0),
    # engagement and resources: commons users and the engaged core (§6, §7)
    dict(key="engagement.up_staff*", default=[0.02, 0.01, 0.008, 0.001], low=0.5, high=2.0),
    dict(key="engagement.up_family*", default=[0.02, 0.0015, 0.004, 0.0001], low=0.5,
         high=2.0),
    dict(key="engagement.down*", default=[0.0, 0.005, 0.01, 0.01], low=0.5, high=2.0),
    dict(key="resources.find_rate", default=0.05, low=0.025, high=0.10),
    dict(key="resources.p_post", default=0.6, low=0.3, high=0.9, max=1.0),
    dict(key="resources.evidence_gain", default=0.005, low=0.0035, high=0.0065),
]
CAND = {c["key"]: c for c in CANDIDATES}

# The parameters MODEL.md v1.2 recalibrated or added (§14), which `confirm` searches around
# the defaults, and the parameters `calibrate` varies by default (the same, with wider ranges).
CONFIRM_PARAMS = ["care.h_rem", "care.induction_boost", "care.rem_evidence",
                  "centres.coaching", "care.steroid_start", "engagement.up_family*",
                  "engagement.up_staff*"]
CAL_PARAMS = CONFIRM_PARAMS
CAL_RANGES = {}


def is_vector(key):
    return key.endswith("*")


def override_value(key, x):
    """The -P value for a candidate at x (a number; for vectors the factor)."""
    c = CAND[key]
    if is_vector(key):
        return "[" + ", ".join(f"{min(1.0, d * x):.6g}" for d in c["default"]) + "]"
    if c.get("integer"):
        return str(int(round(x)))
    return f"{x:.6g}"


def default_x(key):
    return 1.0 if is_vector(key) else CAND[key]["default"]


def overrides_for(point, run_overrides=None):
    """-P overrides for a parameter point: every candidate explicit (the default unless the
    point sets it), so a result never depends on the binary's defaults for them."""
    o = {}
    for key in CAND:
        x = point.get(key, default_x(key))
        o[key.rstrip("*")] = override_value(key, x)
    o.update({k: str(v) for k, v in (RUN_OVERRIDES if run_overrides is None
                                      else run_overrides).items()})
    return o


# ---------------------------------------------------------------------------------------------
# Running, with a cache keyed by the effective configuration.
# ---------------------------------------------------------------------------------------------
_lock = threading.Lock()


def load_cache():
    cache = {}
    if os.path.exists(CACHE):
        with open(CACHE) as fh:
            for line in fh:
                line = line.strip()
                if line:
                    r = json.loads(line)
                    cache[r["key"]] = r
    return cache


def pargs(overrides):
    a = []
    for k, v in sorted(overrides.items()):
        a += ["-P", f"{k}={v}"]
    return a


def config_key(binary, overrides, seed):
    p, _ = runner.run(binary, ["config"] + SCENARIO + pargs(overrides) + ["-P", f"run.seed={seed}"])
    p.check_returncode()
    txt = p.stdout
    return hashlib.sha1(txt.encode()).hexdigest()[:16]


def binary_has_v1(binary):
    v = runner.run(binary, ["variables"])[0].stdout
    return "escalation_outcomes" in v


class Runner:
    def __init__(self, binary, jobs=JOBS):
        self.binary = binary
        self.jobs = jobs
        self.cache = load_cache()
        self.v1 = binary_has_v1(binary)
        os.makedirs(RAW, exist_ok=True)
        self.n_run = 0

    def _valid(self, r):
        if r is None:
            return False
        # a run cached from a binary without the relapse/escalation outputs is redone once the
        # binary has them
        return not (self.v1 and not np.isfinite(r["sim"].get(TARGETS[-1]["name"], math.nan)))

    def run_one(self, point, seed, tag, run_overrides=None, extra=None, keep=None):
        """One run (or its cached result): `extra` = further -P overrides; `keep` = a path
        where the .h5 file is kept (else it is deleted once read)."""
        ov = overrides_for(point, run_overrides)
        ov.update(extra or {})
        key = config_key(self.binary, ov, seed)
        with _lock:
            r = self.cache.get(key)
        if self._valid(r) and (keep is None or os.path.exists(keep)):
            return r
        out = keep or os.path.join(RAW, f"{key}.h5")
        t0 = time.time()
        p, _ = runner.run(self.binary, ["run"] + SCENARIO + pargs(ov)
                          + ["-P", f"run.seed={seed}", "-o", out, "--quiet", "--overwrite"],
                          threads=1, prefix=["nice", "-n", "10"])
        if p.returncode != 0:
            raise RuntimeError(f"run failed ({p.returncode}): {' '.join(p.args)}\n{p.stderr}")
        r = self._record(key, point, seed, tag, ov, out, time.time() - t0, None)
        if keep is None:
            os.remove(out)
        return r

    def _record(self, key, point, seed, tag, ov, out, wall, keep):
        sim = simulated(out)
        if keep is not None:
            shutil.copyfile(out, keep + ".tmp")
            os.replace(keep + ".tmp", keep)
        r = dict(key=key, tag=tag, seed=seed, point=point, overrides=ov, sim=sim,
                 wall_s=round(wall, 2), binary=os.path.basename(self.binary))
        with _lock:
            self.cache[key] = r
            with open(CACHE, "a") as fh:
                fh.write(json.dumps(r) + "\n")
            self.n_run += 1
        return r

    def ensemble(self, jobs):
        """jobs: list of run_one's arguments (point, seed, tag, run_overrides, extra, keep)
        -> records, in order. The runs not in the cache go through `clhsim ensemble` (one
        launch of JOBS ranks per batch of runs that share the keys an ensemble may not vary,
        each run a named scenario that sets its overrides and seed); the member files are
        read into the cache and deleted."""
        jobs = [tuple(j) + (None,) * (6 - len(j)) for j in jobs]
        keys, todo, out = [], {}, [None] * len(jobs)
        for i, (point, seed, tag, run_ov, extra, keep) in enumerate(jobs):
            ov = overrides_for(point, run_ov)
            ov.update(extra or {})
            key = config_key(self.binary, ov, seed)
            keys.append(key)
            r = self.cache.get(key)
            if self._valid(r) and (keep is None or os.path.exists(keep)):
                out[i] = r
            elif key not in todo:
                todo[key] = (i, ov)
        fixed = ("run.steps", "run.start_date", "output.every", "output.centre_every",
                 "population.centres")
        batches = {}
        for key, (i, ov) in todo.items():
            shape = tuple(ov.get(k, "") for k in fixed)
            batches.setdefault(shape, []).append((key, i, ov))
        for batch in batches.values():
            name = hashlib.sha1("".join(k for k, _, _ in batch).encode()).hexdigest()[:12]
            design = os.path.join(RAW, f"batch_{name}.yml")
            lines = [f"# calibrate.py: {len(batch)} runs", "set:"]
            lines += [f"  {k}: {v}" for k, v in zip(fixed, shape) if v != ""]
            lines.append("scenarios:")
            for key, i, ov in batch:
                lines.append(f"  - name: {key}")
                lines.append("    set:")
                for k, v in sorted(ov.items()):
                    if k not in fixed:
                        lines.append(f"      {k}: {v}")
                lines.append(f"      run.seed: {jobs[i][1]}")
            with open(design, "w") as fh:
                fh.write("\n".join(lines) + "\n")
            ens = os.path.join(RAW, f"batch_{name}.h5")
            t0 = time.time()
            p, _ = runner.run(self.binary, ["ensemble", design, "-o", ens, "--quiet"],
                              ranks=self.jobs, threads=1, prefix=["nice", "-n", "10"])
            if p.returncode != 0:
                raise RuntimeError(f"ensemble failed ({p.returncode}): {' '.join(p.args)}\n"
                                   f"{p.stdout}\n{p.stderr}")
            wall = (time.time() - t0) * self.jobs / len(batch)
            for m, (key, i, ov) in enumerate(batch):
                member = os.path.join(ens + ".members", f"member_{m:06d}.h5")
                point, seed, tag, _, _, keep = jobs[i]
                self._record(key, point, seed, tag, ov, member, wall, keep)
            shutil.rmtree(ens + ".members", ignore_errors=True)
            for f in (ens, design):
                if os.path.exists(f):
                    os.remove(f)
        return [out[i] if out[i] is not None else self.cache[keys[i]] for i in range(len(jobs))]


def summarise(records):
    """Per target: mean, sd, min, max over the records (seeds)."""
    df = pd.DataFrame([r["sim"] for r in records])
    return df.mean(), df.std(ddof=1), df.min(), df.max()


def half(t):
    """Band half-width, the unit of the screen's effects (`scale` for one-sided bands)."""
    return t["scale"] if t["centre"] is None else (t["high"] - t["low"]) / 2


# ---------------------------------------------------------------------------------------------
# Stage 1: the screen
# ---------------------------------------------------------------------------------------------
def stage_screen(run):
    jobs = [({}, s, "base") for s in BASE_SEEDS]
    for c in CANDIDATES:
        for lvl in ("low", "high"):
            for s in SCREEN_SEEDS:
                jobs.append(({c["key"]: c[lvl]}, s, f"screen {c['key']} {lvl}"))
    t0 = time.time()
    recs = run.ensemble(jobs)
    base = [r for r in recs[:len(BASE_SEEDS)]]
    bmean, bsd, _, _ = summarise(base)
    rows = []
    names = [t["name"] for t in TARGETS]
    noise = {t["name"]: bsd[t["name"]] / half(t) for t in TARGETS}
    i = len(BASE_SEEDS)
    n = len(SCREEN_SEEDS)
    for c in CANDIDATES:
        lo = pd.DataFrame([r["sim"] for r in recs[i:i + n]]).mean()
        hi = pd.DataFrame([r["sim"] for r in recs[i + n:i + 2 * n]]).mean()
        i += 2 * n
        row = dict(parameter=c["key"], default=str(c["default"]), low=c["low"], high=c["high"])
        infl = 0.0
        for t in TARGETS:
            ee = (hi[t["name"]] - lo[t["name"]]) / half(t)   # band half-widths over the range
            row[t["name"]] = ee
            if np.isfinite(ee):
                infl += t["weight"] * abs(ee)
        row["weighted_influence"] = infl
        rows.append(row)
    scr = pd.DataFrame(rows).sort_values("weighted_influence", ascending=False)
    os.makedirs(RESULTS, exist_ok=True)
    scr.to_csv(os.path.join(RESULTS, "screen.csv"), index=False, float_format="%.4g")
    base_tab = pd.DataFrame(dict(target=names, low=[t["low"] for t in TARGETS],
                                 high=[t["high"] for t in TARGETS],
                                 base_mean=[bmean[x] for x in names],
                                 base_sd=[bsd[x] for x in names],
                                 sd_in_half_widths=[noise[x] for x in names]))
    base_tab.to_csv(os.path.join(RESULTS, "screen_base.csv"), index=False, float_format="%.4g")
    print(f"screen: {len(jobs)} runs ({run.n_run} new) in {time.time() - t0:.0f} s; "
          f"base score {score(bmean):.1f}")
    with pd.option_context("display.width", 250, "display.max_columns", 40):
        print(base_tab.to_string(index=False))
        print(scr[["parameter", "weighted_influence"]].to_string(index=False))
    return scr


# ---------------------------------------------------------------------------------------------
# Stage 2: calibration over the chosen parameters
# ---------------------------------------------------------------------------------------------
def lhs(n, k, rng):
    u = np.empty((n, k))
    for j in range(k):
        u[:, j] = (rng.permutation(n) + rng.random(n)) / n
    return u


def point_from_unit(keys, u, ranges):
    return {k: ranges[k][0] + ui * (ranges[k][1] - ranges[k][0]) for k, ui in zip(keys, u)}


def evaluate(run, point, seeds, tag):
    recs = run.ensemble([(point, s, tag) for s in seeds])
    m, sd, lo, hi = summarise(recs)
    return score(m), m, recs


def stage_calibrate(run, keys, ranges=None):
    ranges = ranges or {k: CAL_RANGES.get(k, (CAND[k]["low"], CAND[k]["high"])) for k in keys}
    rng = np.random.default_rng(20240601)
    t0 = time.time()
    trials = []

    def rnd(p):
        return {k: (round(v) if CAND[k].get("integer") else float(f"{v:.4g}"))
                for k, v in p.items()}

    def add(point, tag, seeds):
        point = rnd(point)
        s, m, _ = evaluate(run, point, seeds, tag)
        trials.append(dict(stage=tag, seeds=len(seeds), score=s, **{k: point[k] for k in keys},
                           **{f"sim: {t}": m[t] for t in m.index}))
        return s, point

    # 1. Latin hypercube over the ranges (and the defaults), LHS_SEEDS seeds each
    lhs_pts = [add({k: default_x(k) for k in keys}, "defaults", LHS_SEEDS)]
    for u in lhs(LHS_POINTS, len(keys), rng):
        lhs_pts.append(add(point_from_unit(keys, u, ranges), "lhs", LHS_SEEDS))
    lhs_pts.sort(key=lambda sp: sp[0])
    print(f"LHS: best score {lhs_pts[0][0]:.1f} at {lhs_pts[0][1]} ({time.time() - t0:.0f} s)")
    # 2. the best LHS_BEST points again at CAL_SEEDS (common random numbers from here on)
    best_s, best = math.inf, None
    for _, p in lhs_pts[:LHS_BEST]:
        s, p = add(p, "lhs best", CAL_SEEDS)
        if s < best_s:
            best_s, best = s, p
    # 3. coordinate search from the best: each parameter +-step in turn (first improvement
    #    taken), step halved after each round
    step = {k: (ranges[k][1] - ranges[k][0]) / 4 for k in keys}
    for rnd_i in range(COORD_ROUNDS):
        for k in keys:
            for sign in (+1, -1):
                p = dict(best)
                lo_k, hi_k = CAND[k].get("min", 0.0), CAND[k].get("max", np.inf)
                p[k] = min(max(best[k] + sign * step[k], lo_k), hi_k)
                if rnd(p) == best:
                    continue
                s, p = add(p, f"coord{rnd_i + 1}", CAL_SEEDS)
                if s < best_s:
                    best_s, best = s, p
                    break
        step = {k: v / 2 for k, v in step.items()}
        print(f"coordinate round {rnd_i + 1}: best score {best_s:.1f} at {best} "
              f"({time.time() - t0:.0f} s)")
    df = pd.DataFrame(trials).sort_values(["seeds", "score"], ascending=[False, True])
    df.to_csv(os.path.join(RESULTS, "calibration.csv"), index=False, float_format="%.4g")
    with open(os.path.join(RESULTS, "chosen.json"), "w") as fh:
        json.dump(dict(parameters=keys, ranges=ranges, chosen=best, score=best_s,
                       overrides={k.rstrip("*"): override_value(k, v) for k, v in best.items()},
                       seeds=CAL_SEEDS), fh, indent=2)
    print(f"calibration: {len(trials)} parameter sets, {run.n_run} new runs, "
          f"{time.time() - t0:.0f} s; chosen {best} (score {best_s:.1f})")
    return best


# ---------------------------------------------------------------------------------------------
# Stage 3: the final ensemble and the table
# ---------------------------------------------------------------------------------------------
def table(records):
    m, sd, lo, hi = summarise(records)
    rows = []
    for t in TARGETS:
        n = t["name"]
        rows.append(dict(target=n, weight=t["weight"], low=t["low"],
                         high=t["high"], mean=m[n], sd=sd[n], min=lo[n], max=hi[n],
                         within=bool(t["low"] <= m[n] <= t["high"]) if np.isfinite(m[n])
                         else None))
    return pd.DataFrame(rows), score(m)


def stage_final(run, point, tag="final", seeds=None):
    """The chosen point as the scenario ships (weekly records: output.every = 1)."""
    seeds = seeds or FINAL_SEEDS
    recs = run.ensemble([(point, s, tag, FINAL_OVERRIDES) for s in seeds])
    tab, s = table(recs)
    tab.to_csv(os.path.join(RESULTS, f"{tag}_table.csv"), index=False, float_format="%.5g")
    with open(os.path.join(RESULTS, f"{tag}.json"), "w") as fh:
        json.dump(dict(point=point, overrides=overrides_for(point, FINAL_OVERRIDES),
                       seeds=seeds, score=s,
                       per_seed=[dict(seed=r["seed"], **r["sim"]) for r in recs]), fh,
                  indent=2)
    print(f"{tag}: {len(seeds)} seeds, score {s:.1f}")
    print(markdown_table(tab))
    return tab


# ---------------------------------------------------------------------------------------------
# Stage "confirm": MODEL.md v1.2's defaults, checked with this implementation
# ---------------------------------------------------------------------------------------------
def per_seed_scores(records):
    """The score of each run on its own (one seed)."""
    return np.array([score(pd.Series(r["sim"])) for r in records])


def stage_confirm(run, keys=None):
    """A coordinate search that starts at the defaults (each parameter +-CONFIRM_STEP of its
    default, then half that; the first improvement taken), then the defaults and the best
    point at FINAL_SEEDS seeds each, compared pairwise (common random numbers)."""
    keys = keys or CONFIRM_PARAMS
    t0 = time.time()
    best = {k: default_x(k) for k in keys}
    best_s, _, _ = evaluate(run, best, CONFIRM_SEEDS, "confirm defaults")
    start_s = best_s
    trials = [dict(stage="defaults", score=best_s, **best)]
    for rnd_i in range(CONFIRM_ROUNDS):
        frac = CONFIRM_STEP / 2 ** rnd_i
        for k in keys:
            for sign in (+1, -1):
                p = dict(best)
                p[k] = float(f"{best[k] * (1 + sign * frac):.5g}")
                p[k] = min(p[k], CAND[k].get("max", np.inf))
                if p == best:
                    continue
                s_, _, _ = evaluate(run, p, CONFIRM_SEEDS, f"confirm{rnd_i + 1}")
                trials.append(dict(stage=f"round {rnd_i + 1}", score=s_, **p))
                if s_ < best_s:
                    best_s, best = s_, p
                    break
        print(f"confirm round {rnd_i + 1}: best score {best_s:.2f} at {best} (defaults "
              f"{start_s:.2f}; {time.time() - t0:.0f} s)")
    pd.DataFrame(trials).to_csv(os.path.join(RESULTS, "confirm_search.csv"), index=False,
                                float_format="%.5g")
    defaults = {k: default_x(k) for k in keys}
    tab_d = stage_final(run, {}, "final")              # the defaults: the test's reference
    rec_d = run.ensemble([({}, s_, "final", FINAL_OVERRIDES) for s_ in FINAL_SEEDS])
    rec_b = run.ensemble([(best, s_, "confirm best", FINAL_OVERRIDES) for s_ in FINAL_SEEDS])
    tab_b, score_b = table(rec_b)
    _, score_d = table(rec_d)
    diff = per_seed_scores(rec_d) - per_seed_scores(rec_b)   # > 0: the best point is better
    se = diff.std(ddof=1) / math.sqrt(len(diff))
    moved = {k: (defaults[k], best[k]) for k in keys if best[k] != defaults[k]}
    res = dict(seeds_search=CONFIRM_SEEDS, seeds_final=FINAL_SEEDS, defaults=defaults,
               best=best, moved=moved, score_defaults=score_d, score_best=score_b,
               per_seed_score_diff_mean=float(diff.mean()), per_seed_score_diff_se=float(se),
               beyond_noise=bool(diff.mean() > 2 * se) if moved else False,
               defaults_within=tab_d.set_index("target")["within"].to_dict(),
               best_within=tab_b.set_index("target")["within"].to_dict())
    with open(os.path.join(RESULTS, "confirm.json"), "w") as fh:
        json.dump(res, fh, indent=2)
    tab_b.to_csv(os.path.join(RESULTS, "confirm_table.csv"), index=False, float_format="%.5g")
    print(f"confirm: {run.n_run} new runs, {time.time() - t0:.0f} s")
    print(f"  defaults: score {score_d:.2f} over {len(FINAL_SEEDS)} seeds; "
          f"{sum(bool(v) for v in res['defaults_within'].values())}/{len(TARGETS)} targets in band")
    print(f"  best point of the search: {moved or 'the defaults'}; score {score_b:.2f}; "
          f"per-seed score, defaults minus best: {diff.mean():+.2f} +- {se:.2f} (se); "
          f"{'beyond' if res['beyond_noise'] else 'within'} seed noise (2 se)")
    return res


def markdown_table(tab):
    lines = ["| target | band | simulated mean ± sd | min–max | within |",
             "|---|---|---|---|---|"]
    for _, r in tab.iterrows():
        f = next(t["fmt"] for t in TARGETS if t["name"] == r["target"])
        if not np.isfinite(r["mean"]):
            lines.append(f"| {r['target']} | {f.format(r['low'])}–{f.format(r['high'])} | "
                         "n/a | n/a | n/a |")
            continue
        lines.append(f"| {r['target']} | {f.format(r['low'])}–{f.format(r['high'])} | "
                     f"{f.format(r['mean'])} ± {f.format(r['sd'])} | {f.format(r['min'])}–"
                     f"{f.format(r['max'])} | {'yes' if r['within'] else 'no'} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stage", choices=["confirm", "screen", "calibrate", "final", "all", "point"])
    ap.add_argument("--bin", default=os.environ.get("CLHSIM", "clhsim"), help="clhsim binary")
    ap.add_argument("--params", nargs="*", help="parameters to calibrate (default: CAL_PARAMS)")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=X",
                    help="point for `final`/`point` (default: results/chosen.json)")
    ap.add_argument("--tag", default="final")
    ap.add_argument("--seeds", type=int, default=None, help="seeds for `point`/`final`")
    ap.add_argument("--jobs", type=int, default=JOBS)
    a = ap.parse_args()
    run = Runner(a.bin, a.jobs)
    if not run.v1:
        print("note: this binary has no relapses / escalation_outcomes outputs; those targets "
              "are left out of the score", file=sys.stderr)
    seeds = list(range(1, a.seeds + 1)) if a.seeds else None
    if a.stage == "confirm":
        stage_confirm(run, a.params)
        return
    if a.stage in ("screen", "all"):
        scr = stage_screen(run)
    if a.stage in ("calibrate", "all"):
        keys = a.params or CAL_PARAMS
        stage_calibrate(run, keys)
    if a.stage in ("final", "all", "point"):
        if a.set:
            point = {kv.split("=")[0]: float(kv.split("=")[1]) for kv in a.set}
        else:
            with open(os.path.join(RESULTS, "chosen.json")) as fh:
                point = json.load(fh)["chosen"]
        stage_final(run, point, a.tag if a.stage != "all" else "final", seeds)


if __name__ == "__main__":
    main()
