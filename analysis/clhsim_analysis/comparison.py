"""``compare A.h5 B.h5 [...]``: are runs bit-identical, and if not, how do they differ?

Every run is compared with the first (A) over ``/timeseries``: every dataset, its
shape, type and bytes. ``/run`` (timings, wall time, finish time) and ``/code`` (the
build) differ between any two runs and are not compared; ``/parameters`` are not part
of the verdict either, but the keys that differ are listed (so a comparison of two
seeds says ``run.seed 1 vs 2``).

For runs that differ: the first record at which any variable differs (and which
variables differ there), how many variables differ, and for the key variables
(:data:`KEY_VARIABLES`) the largest absolute difference over time and when it
happens. The plot ``compare.png`` shows the key variables over time: each run as a
line, or, for runs of one scenario that differ only by their seed (their
``/parameters`` are equal apart from ``run.seed`` and ``output.path``), the mean over
the seeds with a min-max band and a +-1 SD band (from three runs on; two runs are
drawn as two lines).

Exit status of the command: 0 all identical, 1 some differ, 2 bad input (a missing
file, or one that is not a clhsim output; the message names it).
"""
import os
import sys
import warnings

import h5py
import numpy as np
import pandas as pd

from ._png import save_figure
from .files import check_file, read_provenance

#: Variables whose differences are measured and drawn: (name, label, unit).
KEY_VARIABLES = [
    ("remission_observed", "observed remission, established members", "share"),
    ("remission_true", "true remission, members", "share"),
    ("steroid_use", "steroid use", "share"),
    ("members", "member centres", "count"),
    ("reliability_mean", "reliability, members", "share"),
    ("engaged_core", "engaged core (E >= 3)", "count"),
    ("commons_users", "commons users", "count"),
    ("resources_in_commons", "resources in the commons", "count"),
]

#: Runs of one scenario drawn as mean and band from this many on (fewer: one line each).
BAND_MIN_RUNS = 3

#: Parameters that may differ between runs of one scenario.
RUN_ONLY_PARAMETERS = ("run.seed", "output.path", "yaml")


def read_timeseries(path):
    """Every dataset of ``/timeseries`` as numpy arrays, plus the dates (a DatetimeIndex)."""
    data = {}
    with h5py.File(path, "r") as f:
        g = f["timeseries"]
        for name, obj in g.items():
            if isinstance(obj, h5py.Dataset):
                data[name] = obj[()]
        units = g["time"].attrs.get("units", b"days since 1970-01-01")
    units = units.decode() if isinstance(units, bytes) else str(units)
    start = pd.Timestamp(units.split("since", 1)[1].strip())
    dates = start + pd.to_timedelta(np.asarray(data["time"], dtype=float), unit="D")
    return data, pd.DatetimeIndex(dates)


def _rows(x):
    """An array as (records, everything else), for comparing record by record."""
    if x.ndim == 0:
        return x.reshape(1, 1)
    return x.reshape(x.shape[0], -1)


def first_difference(x, y):
    """The first record at which two arrays of one variable differ (bytes; NaN equals
    NaN of the same bits), or None; a longer array differs at the first extra record."""
    if x.dtype != y.dtype or x.shape[1:] != y.shape[1:]:
        return 0
    xa, ya = _rows(x), _rows(y)
    n = min(xa.shape[0], ya.shape[0])
    if n:
        xb = np.ascontiguousarray(xa[:n]).view(np.uint8).reshape(n, -1)
        yb = np.ascontiguousarray(ya[:n]).view(np.uint8).reshape(n, -1)
        diff = np.flatnonzero((xb != yb).any(axis=1))
        if diff.size:
            return int(diff[0])
    if xa.shape[0] != ya.shape[0]:
        return n
    return None


def max_difference(x, y):
    """``(max |x - y|, record)`` over the records both have; NaN against a number counts
    as an infinite difference. ``(0.0, None)`` when equal."""
    n = min(len(x), len(y))
    a = np.asarray(x[:n], dtype=float)
    b = np.asarray(y[:n], dtype=float)
    with np.errstate(invalid="ignore"):
        d = np.abs(a - b)
    both_nan = np.isnan(a) & np.isnan(b)
    d = np.where(both_nan, 0.0, np.where(np.isnan(d), np.inf, d))
    if d.ndim > 1:
        d = d.reshape(n, -1).max(axis=1)
    if n == 0 or not np.any(d > 0):
        return 0.0, None
    k = int(np.argmax(d))
    return float(d[k]), k


def parameter_differences(pa, pb):
    """Keys of two runs' /parameters that differ: a list of (key, value A, value B)."""
    out = []
    for key in sorted(set(pa) | set(pb)):
        if key == "yaml":
            continue
        a, b = pa.get(key, "(absent)"), pb.get(key, "(absent)")
        if not np.array_equal(np.asarray(a, dtype=object), np.asarray(b, dtype=object)):
            out.append((key, a, b))
    return out


def _show(v):
    if isinstance(v, np.ndarray):
        return "[" + ", ".join(str(x) for x in v.tolist()) + "]"
    return str(v)


def _same_scenario(pa, pb):
    return all(k in RUN_ONLY_PARAMETERS for k, _, _ in parameter_differences(pa, pb))


def group_by_scenario(params):
    """Indices of runs grouped by scenario (parameters equal except seed and path)."""
    groups = []
    for i, p in enumerate(params):
        for g in groups:
            if _same_scenario(params[g[0]], p):
                g.append(i)
                break
        else:
            groups.append([i])
    return groups


def compare(paths, outdir=None, stream=None, plot=True):
    """Compare runs with the first; print the findings and draw ``compare.png``.

    ``paths``: two or more output files. ``outdir``: where the plot goes (default
    the current folder). Returns a dict with ``identical`` (bool: every run equals
    the first in /timeseries), ``pairs`` (one dict per run after the first:
    ``identical``, ``first_record``, ``first_date``, ``first_variables``,
    ``differing``, ``max_diff`` {variable: (value, date)}, ``parameters``) and
    ``plot`` (the PNG's path or None). Raises :class:`clhsim_analysis.BadInput`
    for a file that is not a clhsim output.
    """
    out = stream or sys.stdout
    paths = [os.fspath(p) for p in paths]
    if len(paths) < 2:
        raise ValueError("compare needs at least two runs")
    for p in paths:
        check_file(p)
    runs = [read_timeseries(p) for p in paths]
    params = [read_provenance(p)["parameters"] for p in paths]
    names = [chr(ord("A") + i) if i < 26 else f"run{i}" for i in range(len(paths))]

    print(f"compare: {len(paths)} runs (/timeseries byte for byte; /run and /code differ "
          f"between any two runs and are not compared)", file=out)
    for name, p, prm, (_, t) in zip(names, paths, params, runs):
        print(f"  {name} = {p} (seed {prm.get('run.seed', '?')}, {len(t)} records)", file=out)

    result = {"identical": True, "pairs": [], "plot": None}
    (a, ta), pa = runs[0], params[0]
    for i in range(1, len(paths)):
        (b, tb), pb = runs[i], params[i]
        pair = {"run": paths[i], "identical": True, "first_record": None, "first_date": None,
                "first_variables": [], "differing": [], "max_diff": {},
                "parameters": parameter_differences(pa, pb)}
        only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
        firsts = {}
        for var in sorted(set(a) & set(b)):
            k = first_difference(a[var], b[var])
            if k is not None:
                firsts[var] = k
        pair["differing"] = sorted(firsts)
        if only_a or only_b or firsts:
            pair["identical"] = False
            result["identical"] = False
        label = f"A vs {names[i]}"
        if pair["identical"]:
            print(f"{label}: IDENTICAL: {len(a)} variables, {len(ta)} records, byte for byte",
                  file=out)
        else:
            print(f"{label}: DIFFERENT", file=out)
            if only_a or only_b:
                print(f"  variables only in A: {', '.join(only_a) or '-'}; only in "
                      f"{names[i]}: {', '.join(only_b) or '-'}", file=out)
            if len(ta) != len(tb):
                print(f"  records: {len(ta)} vs {len(tb)}", file=out)
            if firsts:
                k = min(firsts.values())
                dates = ta if k < len(ta) else tb
                pair["first_record"] = k
                pair["first_date"] = dates[k] if k < len(dates) else None
                pair["first_variables"] = [v for v in sorted(firsts) if firsts[v] == k]
                when = f"{pair['first_date']:%Y-%m-%d}" if pair["first_date"] is not None \
                    else "?"
                shown = pair["first_variables"]
                more = f" and {len(shown) - 6} more" if len(shown) > 6 else ""
                print(f"  first difference: record {k} ({when}) in "
                      f"{', '.join(shown[:6])}{more}", file=out)
                print(f"  variables that differ: {len(firsts)} of {len(set(a) & set(b))}",
                      file=out)
            n = min(len(ta), len(tb))
            print(f"  largest |A - {names[i]}| over the {n} common records:", file=out)
            for var, _, unit in KEY_VARIABLES:
                if var not in a or var not in b:
                    continue
                d, k = max_difference(a[var], b[var])
                pair["max_diff"][var] = (d, ta[k] if k is not None else None)
                when = f"at {ta[k]:%Y-%m-%d} (record {k})" if k is not None else ""
                shown = "0 (equal)" if d == 0 else f"{d:.6g}" + (
                    f" ({100 * d:.4g} percentage points)" if unit == "share" and np.isfinite(d)
                    else "")
                print(f"    {var:<22} {shown} {when}".rstrip(), file=out)
        if pair["parameters"]:
            diffs = "; ".join(f"{k} {_show(x)} vs {_show(y)}" for k, x, y in
                              pair["parameters"][:8])
            more = f"; and {len(pair['parameters']) - 8} more" if len(pair["parameters"]) > 8 \
                else ""
            print(f"  parameters that differ: {diffs}{more}", file=out)
        result["pairs"].append(pair)

    # Three or more runs of one scenario are drawn as a band; two as two lines.
    groups = []
    for g in group_by_scenario(params):
        groups += [g] if len(g) >= BAND_MIN_RUNS else [[i] for i in g]
    for g in groups:
        if len(g) > 1:
            seeds = ", ".join(str(params[i].get("run.seed", "?")) for i in g)
            print(f"runs {', '.join(names[i] for i in g)}: one scenario, seeds {seeds}: "
                  f"plotted as mean, min-max and +-1 SD", file=out)
    if plot:
        outdir = outdir or "."
        os.makedirs(outdir, exist_ok=True)
        result["plot"] = os.path.join(outdir, "compare.png")
        _plot(runs, paths, names, groups, result["plot"])
        print(f"plot: {result['plot']}", file=out)
        if not result["identical"]:
            result["diff_plot"] = os.path.join(outdir, "compare_diff.png")
            _plot_differences(runs, names, result["diff_plot"])
            print(f"plot of the differences from A: {result['diff_plot']}", file=out)
    print("verdict: " + ("identical" if result["identical"] else "different"), file=out)
    return result


def _grid(nplots, title):
    from matplotlib.figure import Figure
    ncol = 2
    nrow = max(1, (nplots + ncol - 1) // ncol)
    fig = Figure(figsize=(13, 3.1 * nrow + 0.8))
    fig.suptitle(title, fontsize=11)
    return fig, np.atleast_1d(fig.subplots(nrow, ncol)).ravel()


def _date_axis(ax):
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    loc = AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(loc))
    ax.grid(True, alpha=0.3)


def _plot_differences(runs, names, where):
    """Each run minus A over the common records, per key variable."""
    keys = [k for k in KEY_VARIABLES if all(k[0] in r[0] for r in runs)]
    fig, axes = _grid(len(keys), "differences from A (run - A) over time")
    (a, ta) = runs[0]
    for ax, (var, label, unit) in zip(axes, keys):
        f = 100.0 if unit == "share" else 1.0
        for i in range(1, len(runs)):
            b, tb = runs[i]
            n = min(len(ta), len(tb))
            d = f * (np.asarray(b[var][:n], dtype=float) - np.asarray(a[var][:n], dtype=float))
            ax.plot(ta[:n], d, linewidth=1.2, color=COLOURS[i % len(COLOURS)],
                    label=f"{names[i]} - A", **_style(i - 1, len(ta)))
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_title(label, fontsize=10)
        ax.set_ylabel("percentage points" if unit == "share" else "count")
        _date_axis(ax)
    for ax in axes[len(keys):]:
        ax.axis("off")
    if keys:
        axes[0].legend(fontsize=7, loc="best")
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.05, top=0.92, wspace=0.2, hspace=0.35)
    save_figure(fig, where, 90)


def _style(k, n):
    """Line style and markers of the k-th line: runs that agree lie on top of each other, and
    must still be told apart."""
    return dict(linestyle=["-", "--", "-.", ":"][k % 4], marker=MARKERS[k % len(MARKERS)],
                markersize=3.5, markevery=(k % 7, max(1, n // 10)))


MARKERS = ["o", "s", "^", "v", "D", "P"]
COLOURS = ["#08306b", "#d94801", "#238b45", "#6a51a3", "#a50f15", "#525252", "#0570b0",
           "#ae017e"]


def _plot(runs, paths, names, groups, where):

    keys = [k for k in KEY_VARIABLES if all(k[0] in r[0] for r in runs)]
    fig, axes = _grid(len(keys), "compare: " + ", ".join(
        f"{n} = {os.path.basename(p)}" for n, p in zip(names, paths)))
    colours = COLOURS
    for ax, (var, label, unit) in zip(axes, keys):
        f = 100.0 if unit == "share" else 1.0
        for gi, g in enumerate(groups):
            colour = colours[gi % len(colours)]
            if len(g) == 1:
                data, t = runs[g[0]]
                ax.plot(t, f * np.asarray(data[var], dtype=float), color=colour, linewidth=1.4,
                        label=f"{names[g[0]]}: {os.path.basename(paths[g[0]])}",
                        **_style(gi, len(t)))
                continue
            n = min(len(runs[i][1]) for i in g)
            t = runs[g[0]][1][:n]
            ys = np.array([np.asarray(runs[i][0][var][:n], dtype=float) for i in g]) * f
            with warnings.catch_warnings():  # all-NaN records (no patients yet) stay NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                mean, sd = np.nanmean(ys, axis=0), np.nanstd(ys, axis=0)
                lo, hi = np.nanmin(ys, axis=0), np.nanmax(ys, axis=0)
            who = ", ".join(names[i] for i in g)
            ax.fill_between(t, lo, hi, color=colour, alpha=0.15, linewidth=0,
                            label=f"{who} min-max ({len(g)} seeds)")
            ax.fill_between(t, mean - sd, mean + sd, color=colour, alpha=0.3, linewidth=0,
                            label=f"{who} +-1 SD")
            ax.plot(t, mean, color=colour, linewidth=1.6, label=f"{who} mean",
                    **_style(gi, len(t)))
        ax.set_title(label, fontsize=10)
        ax.set_ylabel("%" if unit == "share" else "count")
        if unit != "share":
            from matplotlib.ticker import MaxNLocator
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        _date_axis(ax)
    for ax in axes[len(keys):]:
        ax.axis("off")
    if keys:
        axes[0].legend(fontsize=7, loc="best")
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.05, top=0.92, wspace=0.2, hspace=0.35)
    save_figure(fig, where, 90)
