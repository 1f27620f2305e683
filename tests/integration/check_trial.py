"""Checks of the simulated-trial helper (issue 14), run by ensemble.sh trial.

usage: check_trial.py ENSEMBLE.h5   (an ensemble of the design that ensemble.sh writes:
scenarios qi_trial and null_trial x seeds 1-3, trial of levers.qi_training, 2 strata)

1. The analysis on synthetic data with a known effect: the estimate recovers it and 95 %
   intervals cover it in about 95 % of 400 trials; under no effect they cover 0 as often.
2. The allocation in the ensemble file: both arms in every stratum, balanced within one
   centre; strata ordered by size; the same seed gives the same allocation in both
   scenarios, other seeds other allocations; each member's levers.qi_training.centres is its
   intervention arm.
3. The simulated trial: the lever switched off in the control arm (qi_trial) gives a positive
   effect on reliability and remission whose interval excludes 0; with the lever off in both
   arms (null_trial) the reliability effect is exactly 0 and the remission interval covers 0.
"""
import math
import sys

import numpy as np
import pandas as pd
import yaml

import clhsim_analysis as ca
from clhsim_analysis.trials import effect, t_quantile

bad = []

# ---- 1: known effects on synthetic data ----
for p, df, want in [(0.975, 10, 2.2281), (0.975, 30, 2.0423), (0.975, 5, 2.5706),
                    (0.975, math.inf, 1.95996), (0.025, 20, -2.0860)]:
    if abs(t_quantile(p, df) - want) > 2e-3:
        bad.append(f"t_quantile({p}, {df}) = {t_quantile(p, df):.4f}, want {want}")


def synthetic(rng, true, replicates=3, centres=40, strata=4):
    rows = []
    for r in range(replicates):
        for k in range(strata):
            arms = rng.permutation(np.arange(centres // strata) % 2)
            for a in arms:
                y0 = 0.55 + 0.02 * k + rng.normal(0, 0.04)
                y = y0 + 0.03 + true * a + 0.01 * k + rng.normal(0, 0.03)
                rows.append((r, k, a, y, y0))
    return pd.DataFrame(rows, columns=["member", "stratum", "arm", "y", "y0"])


rng = np.random.default_rng(20261206)
for true in (0.05, 0.0):
    cover = 0
    est = []
    for i in range(400):
        e = effect(synthetic(rng, true), adjust=bool(i % 2))
        cover += e["low"] <= true <= e["high"]
        est.append(e["estimate"])
    if not 0.92 <= cover / 400 <= 0.98:
        bad.append(f"true effect {true}: 95 % intervals cover it in {cover / 400:.3f} of trials")
    if abs(np.mean(est) - true) > 0.003:
        bad.append(f"true effect {true}: mean estimate {np.mean(est):.4f}")
print(f"synthetic: coverage and bias checked at effects 0.05 and 0 (400 trials each)")

# ---- 2: the allocation ----
ens = ca.load_ensemble(sys.argv[1])
arm = ens["trial_arm"].values
strat = ens["trial_stratum"].values
pats = ens["trial_patients"].values
scen = [str(s) for s in ens["scenario"].values]
seeds = [int(s) for s in ens["seed"].values]
if ens.attrs.get("trial_lever") != "qi_training":
    bad.append(f"trial_lever attribute {ens.attrs.get('trial_lever')!r}")
for m in range(arm.shape[0]):
    for k in np.unique(strat[m]):
        a = arm[m][strat[m] == k]
        if a.sum() == 0 or a.sum() == len(a) or abs(2 * a.sum() - len(a)) > 1:
            bad.append(f"member {m} stratum {k}: arms {list(a)}")
        if k > 0 and pats[m][strat[m] == k].min() < pats[m][strat[m] == k - 1].max():
            bad.append(f"member {m}: stratum {k} holds a centre smaller than stratum {k - 1}'s")
    cfg = yaml.safe_load(ens.attrs["members"][m]["config_yaml"])
    want = sorted(int(c) for c in np.where(arm[m] == 1)[0])
    if sorted(cfg["levers"]["qi_training"]["centres"]) != want:
        bad.append(f"member {m}: levers.qi_training.centres is not its intervention arm")
    for n in range(arm.shape[0]):
        same = np.array_equal(arm[m], arm[n])
        if seeds[m] == seeds[n] and not same:
            bad.append(f"members {m} and {n} share seed {seeds[m]} but not the allocation")
        if seeds[m] != seeds[n] and same:
            bad.append(f"members {m} and {n} (seeds {seeds[m]}, {seeds[n]}): same allocation")

# ---- 3: the simulated trial ----
g, reps = ca.trial_analyse(ens, "2009-12-01", outcome="centre_reliability")
g = g.set_index("scenario")
q, z = g.loc["qi_trial"], g.loc["null_trial"]
if not (q["estimate"] > 0.3 and q["low"] > 0):
    bad.append(f"qi_trial reliability effect {q['estimate']:.3f} [{q['low']:.3f}, {q['high']:.3f}]")
if z["estimate"] != 0:
    bad.append(f"null_trial reliability effect {z['estimate']} (the lever is off in both arms)")
g2, _ = ca.trial_analyse(ens, "2009-12-01", baseline="2007-01-01")
g2 = g2.set_index("scenario")
q, z = g2.loc["qi_trial"], g2.loc["null_trial"]
print(f"remission effect: qi_trial {q['estimate']:.4f} [{q['low']:.4f}, {q['high']:.4f}], "
      f"null_trial {z['estimate']:.4f} [{z['low']:.4f}, {z['high']:.4f}]")
if not q["low"] > 0:
    bad.append(f"qi_trial remission interval [{q['low']:.4f}, {q['high']:.4f}] does not exclude 0")
if not z["low"] <= 0 <= z["high"]:
    bad.append(f"null_trial remission interval [{z['low']:.4f}, {z['high']:.4f}] excludes 0")
if len(reps) != 6 or q["replicates"] != 3:
    bad.append(f"replicates: {len(reps)} rows, {q['replicates']} per group")

if bad:
    print("FAIL:\n  " + "\n  ".join(bad))
    sys.exit(1)
print("ok: trial analysis recovers known effects; allocation stratified and balanced; "
      "the lever off in one arm gives an effect, off in both none")
