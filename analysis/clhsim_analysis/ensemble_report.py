"""``ensemble FILE -o DIR``: an ensemble's members summarised by what differs between them.

Writes into DIR:

- ``bands.png``, ``bands.svg`` and ``bands.pdf``: observed remission, steroid use, reliability and commons
  users over time, for each group of members (the members that share every varied
  parameter but the seed): the mean and the 10-90 % band over the seeds, labelled by the
  parameters that differ (``care.rem_evidence = 6.75``), with the MODEL.md §12 targets;
- ``targets.csv`` (also printed): per group and target, the members' mean, sd, min, max and
  whether the mean lies in the band;
- ``outcomes.csv``: per member, its coordinates and the value of every target;
- ``trial.csv`` (also printed), for designs with a ``trial:`` block: the effect of the
  trial's lever on each centre's observed remission at the last record, per group
  (:mod:`clhsim_analysis.trials`; ``clhsim-analysis trial`` for other dates and outcomes);
- ``prcc.csv`` (also printed), for designs whose parameters take at least 8 distinct numeric
  values (Latin hypercubes): the partial rank correlation coefficient of each target with
  each such parameter, with a 95 % bootstrap interval (1000 resamples of the members, seed 1).
"""
import os

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ._png import save_figure
from .ensembles import load_ensemble
from .targets import TARGETS, evaluate

SERIES = [("remission_observed", "observed remission, established members", 100, "%"),
          ("steroid_use", "steroid use, member centres", 100, "%"),
          ("reliability_mean", "process reliability, members", 100, "%"),
          ("commons_users", "distinct commons users", 1, "agents")]
PRCC_OUTCOMES = ["remission_2010", "remission_2015", "remission_2019", "reliability_qi_100w",
                 "steroid_2018", "commons_users_2015", "engaged_core_2015",
                 "escalation_remission_12w"]


def _flatten(tree, prefix=""):
    out = {}
    for k, v in (tree or {}).items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _member_params(ds, m):
    import yaml
    return _flatten(yaml.safe_load(ds.attrs["members"][m]["config_yaml"]))


def varied(ds):
    """The coordinates along `member` other than the member index and the seed."""
    return [c for c in ds.coords if ds[c].dims == ("member",) and c not in ("member", "seed")]


def member_outcomes(ds, bands=None):
    """One row per member: its coordinates and the simulated value of every target. With
    ``bands`` (a dict), it receives the targets' bands as the run's size scales them."""
    rows = []
    for m in range(ds.sizes["member"]):
        one = ds.isel(member=m)
        one.attrs = {"parameters": _member_params(ds, m)}
        table = evaluate(one).set_index("target")
        if bands is not None and m == 0:
            bands.update({t: (r["low"], r["high"]) for t, r in table.iterrows()})
        row = {c: one[c].item() for c in ds.coords if ds[c].dims == ("member",)}
        row.update(table["simulated"].to_dict())
        rows.append(row)
    return pd.DataFrame(rows)


def _label(keys, values):
    return ", ".join(f"{k} = {v:g}" if isinstance(v, (int, float, np.floating)) else f"{k} = {v}"
                     for k, v in zip(keys, values)) or "all members"


def prcc(X, y):
    """Partial rank correlation coefficients of y with each column of X."""
    R = np.column_stack([pd.Series(X[:, j]).rank().values for j in range(X.shape[1])])
    ry = pd.Series(y).rank().values
    out = []
    for j in range(R.shape[1]):
        others = np.column_stack([np.ones(len(ry)), np.delete(R, j, axis=1)])
        bx, *_ = np.linalg.lstsq(others, R[:, j], rcond=None)
        by, *_ = np.linalg.lstsq(others, ry, rcond=None)
        ex, ey = R[:, j] - others @ bx, ry - others @ by
        den = np.sqrt((ex @ ex) * (ey @ ey))
        out.append(float(ex @ ey / den) if den > 0 else np.nan)
    return np.array(out)


def prcc_table(outcomes, params, targets=None, n_boot=1000, seed=1):
    targets = [t for t in (targets or PRCC_OUTCOMES) if t in outcomes]
    X = outcomes[params].to_numpy(dtype=float)
    rng = np.random.default_rng(seed)
    rows = []
    for t in targets:
        y = outcomes[t].to_numpy(dtype=float)
        ok = np.isfinite(y)
        if ok.sum() < len(params) + 3:
            continue
        est = prcc(X[ok], y[ok])
        boots = []
        idx = np.flatnonzero(ok)
        for _ in range(n_boot):
            b = rng.choice(idx, size=idx.size, replace=True)
            boots.append(prcc(X[b], y[b]))
        boots = np.array(boots)
        for j, p in enumerate(params):
            lo, hi = np.nanpercentile(boots[:, j], [2.5, 97.5])
            rows.append(dict(target=t, parameter=p, prcc=est[j], lo95=lo, hi95=hi,
                             significant=bool(lo > 0 or hi < 0)))
    return pd.DataFrame(rows)


def _draw_targets(ax, variable, factor, tmax):
    for t in TARGETS:
        if t.variable != variable or t.per_100_centres or t.anchor:
            continue
        text = t.date
        if "/" in text:
            a, b = (pd.Timestamp(x) for x in text.split("/"))
        elif len(text) == 4:
            a, b = pd.Timestamp(f"{text}-01-01"), pd.Timestamp(f"{text}-12-31")
        else:
            a = b = pd.Timestamp(text)
        if a > tmax:  # not in the run
            continue
        lo = (t.low if t.low is not None else 0) * factor
        hi = (t.high if t.high is not None else 1) * factor
        ax.fill_between([a, b], lo, hi, color="#1a9850", alpha=0.18, lw=0,
                        label="§12 target band" if not ax.get_legend_handles_labels()[1].count(
                            "§12 target band") else None)


def ensemble_report(path, outdir, stream=None):
    """Write the files listed in the module's documentation; returns {name: path}."""
    import sys
    stream = stream or sys.stdout
    ds = load_ensemble(path)
    os.makedirs(outdir, exist_ok=True)
    keys = varied(ds)
    bands = {}
    out = member_outcomes(ds, bands)
    written = {}
    p = os.path.join(outdir, "outcomes.csv")
    out.to_csv(p, index=False, float_format="%.17g")
    written["outcomes.csv"] = p
    numeric = [k for k in keys if np.issubdtype(ds[k].dtype, np.number)]
    lhs = [k for k in numeric if len(np.unique(ds[k].values)) >= 8]
    group_keys = [k for k in keys if k not in lhs]
    groups = (list(out.groupby(group_keys, sort=True)) if group_keys
              else [((), out)])
    # targets per group
    rows = []
    for gval, sub in groups:
        gval = gval if isinstance(gval, tuple) else (gval,)
        for t in TARGETS:
            if t.name not in sub:
                continue
            v = sub[t.name].astype(float)
            lo, hi = bands.get(t.name, (np.nan, np.nan))
            mean = v.mean()
            rows.append(dict(group=_label(group_keys, gval), target=t.name, n=int(v.notna().sum()),
                             mean=mean, sd=v.std(ddof=1), min=v.min(), max=v.max(), low=lo,
                             high=hi,
                             within=bool((np.isnan(lo) or mean >= lo) and
                                         (np.isnan(hi) or mean <= hi))
                             if np.isfinite(mean) else None))
    tab = pd.DataFrame(rows)
    p = os.path.join(outdir, "targets.csv")
    tab.to_csv(p, index=False, float_format="%.17g")
    written["targets.csv"] = p
    print(f"{path}: {ds.sizes['member']} members; varied: {', '.join(keys) or 'seed only'}",
          file=stream)
    with pd.option_context("display.width", 200, "display.max_rows", 500,
                           "display.float_format", "{:.4g}".format):
        print(tab[["group", "target", "n", "mean", "sd", "min", "max", "low", "high",
                   "within"]].to_string(index=False), file=stream)
    # bands
    fig = Figure(figsize=(13, 8.5))
    axes = fig.subplots(2, 2).ravel()
    t = pd.DatetimeIndex(ds["time"].values)
    colours = ["#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363", "#d6616b", "#8c6d31"]
    for ax, (var, title, factor, unit) in zip(axes, SERIES):
        if var not in ds:
            ax.set_visible(False)
            continue
        for i, (gval, sub) in enumerate(groups):
            gval = gval if isinstance(gval, tuple) else (gval,)
            x = ds[var].isel(member=sub.index.to_numpy()).values.astype(float) * factor
            c = colours[i % len(colours)]
            ax.fill_between(t, np.nanpercentile(x, 10, axis=0), np.nanpercentile(x, 90, axis=0),
                            color=c, alpha=0.2, lw=0)
            ax.plot(t, np.nanmean(x, axis=0), color=c, lw=1.6,
                    linestyle=["-", "--", "-.", ":"][i % 4], marker="osv^DP"[i % 6],
                    markersize=3.5, markevery=(i % 7, max(1, len(t) // 10)),
                    label=f"{_label(group_keys, gval)} (n={len(sub)})")
        _draw_targets(ax, var, factor, t[-1])
        if unit == "agents":
            from matplotlib.ticker import MaxNLocator
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(title)
        ax.set_ylabel(unit)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    fig.suptitle(f"{os.path.basename(path)}: mean and 10-90 % band over the seeds of each group")
    fig.tight_layout()
    for p in save_figure(fig, os.path.join(outdir, "bands.png"), 110):
        written[os.path.basename(p)] = p
    if lhs:
        pt = prcc_table(out, lhs)
        p = os.path.join(outdir, "prcc.csv")
        pt.to_csv(p, index=False, float_format="%.6g")
        written["prcc.csv"] = p
        with pd.option_context("display.width", 200, "display.max_rows", 500,
                               "display.float_format", "{:.3f}".format):
            print("\npartial rank correlation (95 % bootstrap interval):", file=stream)
            print(pt.to_string(index=False), file=stream)
    if "trial_arm" in ds:  # a trial: its effect at the last record (`trial` for other dates)
        from .trials import analyse as trial_analyse
        last = str(np.datetime_as_string(ds["time"].values[-1], unit="D"))
        tt, _ = trial_analyse(ds, last)
        p = os.path.join(outdir, "trial.csv")
        tt.to_csv(p, index=False, float_format="%.6g")
        written["trial.csv"] = p
        cols = [c for c in tt.columns if c not in ("dof", "adjusted")]
        with pd.option_context("display.width", 200, "display.max_columns", 30,
                               "display.float_format", "{:.4g}".format):
            print(f"\ntrial of levers.{ds.attrs.get('trial_lever', '?')}: effect on "
                  f"{tt.attrs['outcome']} at {tt.attrs['date']} (intervention - control, 95 % "
                  "CI; `clhsim-analysis trial` for another date, outcome or a baseline):",
                  file=stream)
            print(tt[cols].to_string(index=False), file=stream)
    return written
