"""Simulated cluster-randomised trials: the effect of a lever on centre-level outcomes.

A design with ``trial: {lever: NAME, seed: S, strata: K}`` (``clhsim ensemble``) randomises
each member's centres into two arms, stratified by size; the ensemble file holds the
allocation as ``trial_arm`` and ``trial_stratum`` [member, centre]. Each member is one
replicate of the trial (its own population, seed and allocation); members that differ in
a design parameter other than the seed form separate groups (for example an A/A scenario
where the lever is off in both arms).

The analysis is the cluster-level analysis a trialist reports for a stratified
cluster-randomised trial with few, large clusters:

- the outcome of each centre at a date (by default its observed remission,
  ``centre_remission_observed``), the centres that are network members at that date;
- per group, the difference intervention - control estimated by least squares with a fixed
  effect for every (replicate, stratum) cell, optionally adjusted for the centre's outcome at
  a baseline date (ANCOVA); the standard error is heteroscedasticity-robust (HC1) and the 95 %
  interval uses Student's t with the residual degrees of freedom;
- the same estimate in each replicate alone, and the share of replicates whose own interval
  excludes zero: the power of one trial of that size.
"""
import math
import os

import numpy as np
import pandas as pd

from .files import BadInput

DEFAULT_OUTCOME = "centre_remission_observed"


def t_quantile(p, df):
    """Quantile of Student's t with ``df`` degrees of freedom (``None`` or infinite: the
    normal's), from scipy."""
    from scipy import stats
    if not df or not math.isfinite(df):
        return float(stats.norm.ppf(p))
    return float(stats.t.ppf(p, df))


def _group_columns(ds):
    return [c for c in ds.coords if ds[c].dims == ("member",) and c not in ("member", "seed")]


def _at(ds, var, date):
    x = ds[var]
    if "time" not in x.dims:
        raise BadInput(f"{var} has no time axis")
    return x.sel(time=np.datetime64(str(date)), method="nearest")


def trial_frame(ds, date, outcome=DEFAULT_OUTCOME, baseline=None, members_only=True):
    """One row per (member, centre in the trial): ``member``, ``seed``, the group
    coordinates, ``centre``, ``arm`` (1 intervention, 0 control), ``stratum``, ``y`` (the
    outcome at ``date``, the nearest record) and, with ``baseline`` (a date), ``y0``.
    ``members_only``: only centres that are network members at ``date`` (levers act only on
    members)."""
    if "trial_arm" not in ds:
        raise BadInput("no trial in this ensemble (no trial_arm): the design needs a `trial:` "
                       "block (docs/ensembles.md)")
    if outcome not in ds:
        close = [v for v in ds.data_vars if v.startswith("centre_")]
        raise BadInput(f"no variable {outcome!r}; centre-level outcomes: {', '.join(close)}")
    if "centre" not in ds[outcome].dims:
        raise BadInput(f"{outcome} is not a per-centre variable (it has no centre axis)")
    y = _at(ds, outcome, date)
    when = str(np.datetime_as_string(y["time"].values, unit="D"))
    cols = {"y": y}
    if baseline is not None:
        cols["y0"] = _at(ds, outcome, baseline)
    if members_only and "centre_member" in ds:
        cols["member_at_date"] = _at(ds, "centre_member", date)
    cols["arm"] = ds["trial_arm"]
    cols["stratum"] = ds["trial_stratum"]
    frame = {}
    for k, v in cols.items():
        frame[k] = v.transpose("member", "centre").values.ravel()
    M, C = ds.sizes["member"], ds.sizes["centre"]
    frame["member"] = np.repeat(np.arange(M), C)
    frame["centre"] = np.tile(ds["centre"].values if "centre" in ds.coords else np.arange(C), M)
    frame["seed"] = np.repeat(ds["seed"].values.astype(np.int64), C)
    for g in _group_columns(ds):
        frame[g] = np.repeat(ds[g].values, C)
    df = pd.DataFrame(frame)
    keep = (df["arm"] >= 0) & np.isfinite(df["y"].astype(float))
    if "member_at_date" in df:
        keep &= df["member_at_date"] == 1
        df = df.drop(columns="member_at_date")
    if "y0" in df:
        keep &= np.isfinite(df["y0"].astype(float))
    df = df[keep].reset_index(drop=True)
    df.attrs.update(date=when, outcome=outcome, baseline=baseline)
    return df


def _demean(df, cols, cells):
    g = df.groupby(cells, sort=False)
    return {c: (df[c].astype(float) - g[c].transform("mean")).to_numpy() for c in cols}


def effect(df, adjust=None, level=0.95):
    """The intervention - control difference in ``df`` (from :func:`trial_frame`) with a fixed
    effect per (member, stratum) cell; ``adjust`` (default: when ``y0`` is there) adds the
    baseline. Returns a dict: estimate, se, low, high, dof, centres, replicates,
    mean_control, mean_intervention (raw arm means)."""
    adjust = ("y0" in df) if adjust is None else adjust
    cells = ["member", "stratum"]
    sizes = df.groupby(cells)["arm"].agg(["min", "max"])
    informative = sizes[(sizes["min"] == 0) & (sizes["max"] == 1)].index
    d = df.set_index(cells).loc[lambda x: x.index.isin(informative)].reset_index()
    xcols = ["arm"] + (["y0"] if adjust else [])
    n = len(d)
    ncell = d.groupby(cells).ngroups
    dof = n - ncell - len(xcols)
    out = {"centres": int(n), "replicates": int(d["member"].nunique()),
           "mean_control": float(df.loc[df["arm"] == 0, "y"].mean()),
           "mean_intervention": float(df.loc[df["arm"] == 1, "y"].mean()),
           "adjusted": bool(adjust)}
    if dof < 1:
        return {**out, "estimate": np.nan, "se": np.nan, "low": np.nan, "high": np.nan,
                "dof": max(dof, 0)}
    w = _demean(d, ["y"] + xcols, cells)
    X = np.column_stack([w[c] for c in xcols])
    yv = w["y"]
    XtX_inv = np.linalg.pinv(X.T @ X)
    beta = XtX_inv @ X.T @ yv
    e = yv - X @ beta
    meat = (X * (e ** 2)[:, None]).T @ X
    V = XtX_inv @ meat @ XtX_inv * (n / dof)
    se = float(math.sqrt(max(V[0, 0], 0.0)))
    t = t_quantile(0.5 + level / 2, dof)
    est = float(beta[0])
    return {**out, "estimate": est, "se": se, "low": est - t * se, "high": est + t * se,
            "dof": int(dof)}


def analyse(ds, date, outcome=DEFAULT_OUTCOME, baseline=None, members_only=True):
    """Per group (members sharing every design coordinate but the seed): the pooled effect
    over its replicates and each replicate's own. Returns (groups, replicates), two
    DataFrames."""
    df = trial_frame(ds, date, outcome, baseline, members_only)
    gcols = _group_columns(ds)
    groups, reps = [], []
    for key, sub in (df.groupby(gcols, sort=False) if gcols else [((), df)]):
        key = key if isinstance(key, tuple) else (key,)
        label = dict(zip(gcols, key))
        pooled = effect(sub)
        per = []
        for m, one in sub.groupby("member", sort=True):
            r = effect(one)
            r.update(label, member=int(m), seed=int(one["seed"].iloc[0]))
            per.append(r)
        excl = [r for r in per if np.isfinite(r["low"])]
        pooled["power"] = (float(np.mean([(r["low"] > 0) or (r["high"] < 0) for r in excl]))
                           if excl else np.nan)
        pooled["replicate_sd"] = float(np.std([r["estimate"] for r in excl], ddof=1)) \
            if len(excl) > 1 else np.nan
        pooled.update(label)
        groups.append(pooled)
        reps.extend(per)
    first = gcols + ["replicates", "centres", "mean_control", "mean_intervention", "estimate",
                     "se", "low", "high", "dof", "adjusted", "power", "replicate_sd"]
    g = pd.DataFrame(groups)[first]
    r = pd.DataFrame(reps)
    g.attrs.update(df.attrs)
    return g, r


def _plot(ds, groups, reps, outcome, outdir):
    import matplotlib.dates as mdates
    from matplotlib.figure import Figure
    gcols = _group_columns(ds)
    x = ds[outcome]
    arm = ds["trial_arm"]
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    styles = ["-", "--", ":", "-."]
    labels = []
    for gi, row in groups.reset_index(drop=True).iterrows():
        sel = np.ones(ds.sizes["member"], dtype=bool)
        for c in gcols:
            sel &= ds[c].values == row[c]
        lab = ", ".join(f"{c} = {row[c]}" for c in gcols if str(row[c]) != "") or "all members"
        labels.append(lab)
        sub = x.isel(member=np.where(sel)[0])
        a = arm.isel(member=np.where(sel)[0])
        for k, (name, colour) in enumerate([("control", "tab:blue"), ("intervention",
                                                                       "tab:red")]):
            mean = sub.where(a == k).mean(["member", "centre"])
            ax1.plot(mean["time"].values, mean.values * 100, styles[gi % 4], color=colour,
                     label=f"{name}" + (f" ({lab})" if gcols else ""))
    ax1.axvline(np.datetime64(groups.attrs["date"]), color="grey", lw=0.8)
    ax1.set_ylabel(f"{outcome} (%)")
    ax1.xaxis.set_major_locator(mdates.YearLocator(base=max(1, len(x["time"]) // 52 // 6)))
    ax1.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    ax1.set_title(f"Trial of levers.{ds.attrs.get('trial_lever', '?')}: arm means over "
                  f"centres and replicates", fontsize=9)
    ax1.legend(fontsize=7)
    # forest plot: each replicate and the pooled estimate per group
    yk = 0
    ticks, tlabels = [], []
    for gi, row in groups.reset_index(drop=True).iterrows():
        sub = reps
        for c in gcols:
            sub = sub[sub[c] == row[c]]
        for _, r in sub.iterrows():
            ax2.errorbar(r["estimate"] * 100, yk, xerr=[[(r["estimate"] - r["low"]) * 100],
                                                        [(r["high"] - r["estimate"]) * 100]],
                         fmt="o", ms=3, color="grey", lw=0.8)
            yk += 1
        ax2.errorbar(row["estimate"] * 100, yk, xerr=[[(row["estimate"] - row["low"]) * 100],
                                                      [(row["high"] - row["estimate"]) * 100]],
                     fmt="D", ms=6, color="black", lw=1.5)
        ticks.append(yk)
        tlabels.append(labels[gi] if len(labels[gi]) <= 32 else labels[gi][:30] + "..")
        yk += 2
    ax2.axvline(0, color="grey", lw=0.8)
    ax2.set_yticks(ticks, tlabels, fontsize=7)
    ax2.set_xlabel(f"effect at {groups.attrs['date']} (percentage points, 95 % CI)")
    ax2.set_title("each replicate (grey) and pooled (black diamond)", fontsize=9)
    base = os.path.join(outdir, "trial")
    fig.savefig(base + ".png", dpi=110)
    fig.savefig(base + ".svg", metadata={"Date": None})
    return [base + ".png", base + ".svg"]


def trial_report(path, date, outdir, outcome=DEFAULT_OUTCOME, baseline=None):
    """``clhsim-analysis trial``: writes trial.csv (per group), replicates.csv and
    trial.png/svg into ``outdir``; returns the groups' table."""
    from .ensembles import load_ensemble
    ds = load_ensemble(path)
    groups, reps = analyse(ds, date, outcome, baseline)
    os.makedirs(outdir, exist_ok=True)
    groups.to_csv(os.path.join(outdir, "trial.csv"), index=False)
    reps.to_csv(os.path.join(outdir, "replicates.csv"), index=False)
    _plot(ds, groups, reps, outcome, outdir)
    return groups


trial_effect = effect
trial_analyse = analyse
