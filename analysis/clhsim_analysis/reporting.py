"""``report RUN.h5 -o DIR``: the figures and the short summary of one run.

Writes into DIR:

- ``remission.png``: observed remission (established members, all members), true
  remission, and the spread of observed remission across member centres (10-90 %
  band and median);
- ``members.png``, ``steroids.png``, ``reliability.png``, ``engagement.png`` (agents by
  engagement tier and the engaged core), ``commons.png`` (resources in the commons),
  ``commons_users.png``, ``ties.png`` (ties by kind);
- ``overview.png``: all of them on one page, with the target table;
- every figure also as ``.svg`` and ``.pdf`` beside its ``.png``; each names the run (file
  and seed);
- ``summary.txt``: the key numbers at the MODEL.md §12 target dates and at the end of
  the run (also printed);
- ``targets.csv``: :func:`clhsim_analysis.targets.evaluate`'s table, full precision.

The §12 targets are drawn where the run covers their dates: a box for a band over a
year or window, a bar for a band at one date, an arrow for an open band (">= 80 %");
green when the run is inside the band, red when not. Runs that do not cover
2007-2020 (short test runs) are drawn over the dates they cover; targets outside
them are listed as "not in run".
"""
import os
import sys

import numpy as np
import pandas as pd
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from ._png import save_figure
from .data import load
from .targets import anchor_date, evaluate, founding_reliability, resolve_date, TARGETS

IN_BAND, OUT_OF_BAND, NO_VALUE = "#1a9850", "#d73027", "#888888"
TIER_COLOURS = ["#bdbdbd", "#6baed6", "#3182bd", "#e6550d", "#a50f15"]
KIND_COLOURS = ["#636363", "#3182bd", "#31a354", "#e6550d", "#756bb1"]
#: markers that tell apart lines of one panel that may lie on top of each other
MARKERS = ["o", "s", "^", "v", "D", "P"]


def _marks(run, k):
    """Marker keywords for the k-th of several lines: a few markers along it."""
    return dict(marker=MARKERS[k % len(MARKERS)], markersize=3.5,
                markevery=max(1, len(run.t) // 10))


def _count_axis(ax):
    """Counts: integer ticks only (and a range of at least 1, where integers can be ticks)."""
    lo, hi = ax.get_ylim()
    if hi - lo < 1:
        ax.set_ylim(lo, lo + 1)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


class _Run:
    """What the panels share: the Dataset, its dates and the evaluated targets."""

    def __init__(self, ds, table):
        self.ds = ds
        self.t = pd.DatetimeIndex(ds["time"].values)
        self.table = table
        self.targets = {t.name: t for t in TARGETS}

    def has(self, *names):
        return all(n in self.ds.data_vars for n in names)

    def values(self, name):
        return np.asarray(self.ds[name].values, dtype=float)


# ---- drawing helpers ----

def _date_axis(ax):
    loc = AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(loc))


def _lever_line(ax, run, key, label):
    """A dotted vertical line where a lever switches on (inside the run only)."""
    day = anchor_date(run.ds, key)
    if day is not None and run.t[0] < day <= run.t[-1]:
        ax.axvline(day, color="#999999", linestyle=":", linewidth=1)
        ax.annotate(label, (day, 0.02), xycoords=("data", "axes fraction"), rotation=90,
                    va="bottom", ha="right", fontsize=7, color="#666666")


def _draw_targets(ax, run, variable, factor=1.0):
    """Draw the evaluated targets on ``variable`` (values multiplied by ``factor``).

    Returns the set of (colour, mark) drawn; mark: "box", "line" (open band), "diamond",
    "triangle"."""
    drawn = set()
    rows = run.table[(run.table.variable == variable) & (run.table.status != "not in run")
                     & (run.table.status != "not recorded")]
    for _, row in rows.iterrows():
        when = resolve_date(run.targets[row.target], run.ds) if row.target in run.targets \
            else None
        if when is None:
            continue
        start, end, _ = when
        colour = NO_VALUE if pd.isna(row.within) else (IN_BAND if row.within else OUT_OF_BAND)
        low, high, value = row.low * factor, row.high * factor, row.value * factor
        if start != end:
            end = min(end, run.t[-1])
            if not np.isnan(high):
                x0 = date2num(start)
                ax.add_patch(Rectangle((x0, low), date2num(end) - x0, high - low, facecolor=colour,
                                       alpha=0.18, edgecolor=colour, linewidth=1.2, zorder=1))
                mark = "box"
            else:
                mark = "line"
                ax.plot([start, end], [low, low], color=colour, linewidth=2, zorder=3)
                ax.annotate("", xy=(start + (end - start) / 2, low * 1.04 if low > 0 else 1),
                            xytext=(start + (end - start) / 2, low),
                            arrowprops=dict(arrowstyle="->", color=colour, linewidth=1.5))
            if not np.isnan(value):
                ax.plot([start, end], [value, value], color=colour, linewidth=1, zorder=3)
        else:
            if np.isnan(high):
                ax.plot([start], [low], marker="^", color=colour, markersize=9, zorder=4,
                        linestyle="none")
                mark = "triangle"
            else:
                centre = value if not np.isnan(value) else (low + high) / 2
                ax.errorbar([start], [centre], yerr=[[centre - low], [high - centre]],
                            fmt="D", color=colour, markersize=5, capsize=4, linewidth=1.5,
                            zorder=4)
                mark = "diamond"
        drawn.add((colour, mark))
    return drawn


def _target_legend(ax, drawn):
    """Legend entries for the target marks that a panel shows (``drawn``: (colour, mark)),
    each drawn as the panel draws it: a box, a bar, a diamond or a triangle."""
    for colour, text in ((IN_BAND, "§12 target: met"), (OUT_OF_BAND, "§12 target: missed"),
                         (NO_VALUE, "§12 target: no value")):
        for mark, shape in (("box", "band"), ("line", "open band"), ("diamond", "at a date"),
                            ("triangle", "at least")):
            if (colour, mark) not in drawn:
                continue
            label = f"{text} ({shape})"
            if mark == "box":
                ax.fill_between([], [], facecolor=colour, alpha=0.35, edgecolor=colour,
                                label=label)
            elif mark == "line":
                ax.plot([], [], color=colour, linewidth=2, label=label)
            else:
                ax.plot([], [], linestyle="none", color=colour,
                        marker="D" if mark == "diamond" else "^",
                        markersize=5 if mark == "diamond" else 9, label=label)


def _share_quantiles(run, name, mask_name="centre_member"):
    """10/50/90 % quantiles over member centres of a per-centre share, per record."""
    x = run.values(name)
    if mask_name in run.ds.data_vars:
        x = np.where(np.asarray(run.ds[mask_name].values) == 1, x, np.nan)
    with np.errstate(all="ignore"):
        ok = ~np.all(np.isnan(x), axis=1)
        q = np.full((3, x.shape[0]), np.nan)
        if ok.any():
            q[:, ok] = np.nanquantile(x[ok], [0.1, 0.5, 0.9], axis=1)
    return q


# ---- the panels: each draws on one Axes ----

def panel_remission(ax, run):
    t = run.t
    if run.has("centre_remission_q10", "centre_remission_q90"):
        ax.fill_between(t, 100 * run.values("centre_remission_q10"),
                        100 * run.values("centre_remission_q90"), color="#9ecae1", alpha=0.5,
                        linewidth=0, label="centres (members): 10-90 %")
    if run.has("centre_remission_q50"):
        ax.plot(t, 100 * run.values("centre_remission_q50"), color="#3182bd", linewidth=1,
                linestyle="--", label="centres: median")
    if run.has("remission_observed"):
        ax.plot(t, 100 * run.values("remission_observed"), color="#08306b", linewidth=2,
                label="observed, established members")
    if run.has("remission_observed_members"):
        ax.plot(t, 100 * run.values("remission_observed_members"), color="#6a51a3",
                linewidth=1.2, linestyle=(0, (5, 2)), label="observed, all members", **_marks(run, 1))
    if run.has("remission_true"):
        ax.plot(t, 100 * run.values("remission_true"), color="#e6550d", linewidth=1.3,
                linestyle="-.", label="true, all members", **_marks(run, 2))
    _target_legend(ax, _draw_targets(ax, run, "remission_observed", 100))
    ax.set_title("Remission")
    ax.set_ylabel("% of patients")


def panel_members(ax, run):
    if run.has("members"):
        ax.step(run.t, run.values("members"), where="post", color="#08306b", linewidth=2,
                label="member centres")
    if run.has("members_established"):
        ax.step(run.t, run.values("members_established"), where="post", color="#6baed6",
                linewidth=1.6, linestyle="--", label="established (>= 1 year)")
    if "centre" in run.ds.sizes:
        ax.axhline(run.ds.sizes["centre"], color="#999999", linestyle=":", linewidth=1,
                   label=f"all centres ({run.ds.sizes['centre']})")
    _target_legend(ax, _draw_targets(ax, run, "members"))
    ax.set_title("Member centres")
    ax.set_ylabel("centres")
    ax.set_ylim(bottom=0)
    _count_axis(ax)


def panel_steroids(ax, run):
    if run.has("centre_steroid_use"):
        q = _share_quantiles(run, "centre_steroid_use")
        ax.fill_between(run.t, 100 * q[0], 100 * q[2], color="#fdd0a2", alpha=0.7, linewidth=0,
                        label="centres (members): 10-90 %")
    if run.has("steroid_use"):
        ax.plot(run.t, 100 * run.values("steroid_use"), color="#a63603", linewidth=2,
                label="steroid use, member centres")
    _target_legend(ax, _draw_targets(ax, run, "steroid_use", 100))
    ax.set_title("Steroid use")
    ax.set_ylabel("% of patients on steroids")
    ax.set_ylim(bottom=0)


def panel_reliability(ax, run):
    if run.has("centre_reliability"):
        q = _share_quantiles(run, "centre_reliability")
        ax.fill_between(run.t, 100 * q[0], 100 * q[2], color="#c7e9c0", alpha=0.7, linewidth=0,
                        label="centres (members): 10-90 %")
    if run.has("reliability_mean"):
        ax.plot(run.t, 100 * run.values("reliability_mean"), color="#006d2c", linewidth=2,
                label="reliability, members")
    if run.has("centre_reliability", "centre_member"):
        ax.plot(run.t, 100 * np.asarray(founding_reliability(run.ds).values, dtype=float),
                color="#74c476", linewidth=1.3, linestyle="-.", label="reliability, founding centres",
                **_marks(run, 1))
    if run.has("completeness_mean"):
        ax.plot(run.t, 100 * run.values("completeness_mean"), color="#525252", linewidth=1,
                linestyle="--", label="registry completeness, members")
    _lever_line(ax, run, "levers.qi_training.on", "QI lever")
    _target_legend(ax, _draw_targets(ax, run, "reliability_founding", 100))
    ax.set_title("Process reliability")
    ax.set_ylabel("%")
    ax.set_ylim(0, 100)


def panel_engagement(ax, run):
    ds = run.ds
    if run.has("agents_by_tier"):
        by_tier = ds["agents_by_tier"].sum("type") if "type" in ds["agents_by_tier"].dims \
            else ds["agents_by_tier"]
        labels = [str(v) for v in ds["tier_label"].values] if "tier_label" in ds.coords \
            else [f"tier {int(v)}" for v in ds["tier"].values]
        for k in range(by_tier.sizes["tier"]):
            y = np.asarray(by_tier.isel(tier=k).values, dtype=float)
            ax.plot(run.t, np.where(y > 0, y, np.nan), linewidth=1.2,
                    color=TIER_COLOURS[k % len(TIER_COLOURS)], label=f"{k} {labels[k]}",
                    **_marks(run, k))
    if run.has("engaged_core"):
        y = run.values("engaged_core")
        ax.plot(run.t, np.where(y > 0, y, np.nan), color="black", linewidth=2.2,
                label="engaged core (E >= 3)")
    _lever_line(ax, run, "levers.engagement.on", "engagement lever")
    _lever_line(ax, run, "levers.outreach.on", "outreach lever")
    _target_legend(ax, _draw_targets(ax, run, "engaged_core"))
    ax.set_yscale("log")
    ax.set_title("Engagement by tier (all agent types)")
    ax.set_ylabel("agents")


def panel_commons(ax, run):
    ds = run.ds
    if run.has("resources_created"):
        cum = ds["resources_created"].cumsum("time")
        labels = [str(v) for v in ds["resource_kind_label"].values] \
            if "resource_kind_label" in ds.coords else \
            [str(int(v)) for v in ds["resource_kind"].values]
        for k in range(cum.sizes["resource_kind"]):
            ax.plot(run.t, np.asarray(cum.isel(resource_kind=k).values, dtype=float),
                    linewidth=1, linestyle="--", color=KIND_COLOURS[(k + 1) % 5],
                    label=f"created: {labels[k]} (cumulative)", **_marks(run, k))
    if run.has("resources_in_commons"):
        ax.plot(run.t, run.values("resources_in_commons"), color="#54278f", linewidth=2.2,
                label="resources in the commons")
    _lever_line(ax, run, "levers.commons.on", "commons lever")
    ax.set_title("Commons growth")
    ax.set_ylabel("resources")
    ax.set_ylim(bottom=0)
    _count_axis(ax)


def panel_users(ax, run):
    if run.has("commons_users"):
        ax.plot(run.t, run.values("commons_users"), color="#54278f", linewidth=2,
                label="distinct commons users")
    _lever_line(ax, run, "levers.commons.on", "commons lever")
    _target_legend(ax, _draw_targets(ax, run, "commons_users"))
    ax.set_title("Commons users")
    ax.set_ylabel("agents who adopted from the commons")
    ax.set_ylim(bottom=0)
    _count_axis(ax)


def panel_ties(ax, run):
    ds = run.ds
    if run.has("ties"):
        labels = [str(v) for v in ds["tie_kind_label"].values] if "tie_kind_label" in ds.coords \
            else [str(int(v)) for v in ds["tie_kind"].values]
        for k in range(ds["ties"].sizes["tie_kind"]):
            y = np.asarray(ds["ties"].isel(tie_kind=k).values, dtype=float)
            ax.plot(run.t, np.where(y > 0, y, np.nan), linewidth=1.6,
                    color=KIND_COLOURS[k % len(KIND_COLOURS)], label=labels[k], **_marks(run, k))
    ax.set_yscale("log")
    title = "Ties by kind"
    if run.has("cross_centre_share"):
        last = run.values("cross_centre_share")[-1]
        if not np.isnan(last):
            title += f" ({100 * last:.1f} % across centres at the end)"
    ax.set_title(title)
    ax.set_ylabel("ties (undirected)")


PANELS = [
    ("remission", panel_remission),
    ("members", panel_members),
    ("steroids", panel_steroids),
    ("reliability", panel_reliability),
    ("engagement", panel_engagement),
    ("commons", panel_commons),
    ("commons_users", panel_users),
    ("ties", panel_ties),
]


def _finish(ax, run, fontsize=8):
    _date_axis(ax)
    if len(run.t) > 1:
        ax.set_xlim(run.t[0], run.t[-1])
    ax.grid(True, alpha=0.3)
    handles, _ = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize=fontsize, loc="best", framealpha=0.8)


def _table_panel(ax, run):
    """The target table as text, coloured by the verdict."""
    ax.axis("off")
    ax.set_title("Targets (MODEL.md §12)")
    lines = []
    for _, row in run.table.iterrows():
        verdict = _verdict(row)
        colour = IN_BAND if verdict == "yes" else OUT_OF_BAND if verdict == "no" else NO_VALUE
        lines.append((f"{row.target:<25} {_fmt(row.simulated, row.unit):>9}  "
                      f"{_band(row):<13} {verdict}", colour))
    n = max(len(lines), 1)
    for i, (text, colour) in enumerate(lines):
        ax.text(0.0, 1.0 - (i + 0.5) / n, text, family="monospace", fontsize=7.5, color=colour,
                transform=ax.transAxes, va="center")


# ---- text ----

def _fmt(x, unit):
    if x is None or pd.isna(x):
        return "-"
    if unit == "share":
        return f"{100 * x:.2f} %"
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.1f}"


def _num(x, unit):
    if unit == "share":
        return f"{100 * x:g}"
    return f"{x:g}" if float(x).is_integer() else f"{x:.1f}"


def _band(row):
    pct = " %" if row.unit == "share" else ""
    lo, hi = row.low, row.high
    if pd.isna(hi):
        return f">= {_num(lo, row.unit)}{pct}"
    if pd.isna(lo):
        return f"<= {_num(hi, row.unit)}{pct}"
    return f"{_num(lo, row.unit)}-{_num(hi, row.unit)}{pct}"


def _verdict(row):
    if row.status != "ok":
        return row.status
    return "yes" if bool(row.within) else "no"


def _text_attr(d, key, default="?"):
    v = d.get(key, default)
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def summary_text(ds, table, path):
    """The summary: provenance, the targets at their dates, and the end of the run."""
    params, code, run = (ds.attrs.get(k) or {} for k in ("parameters", "code", "run"))
    t = pd.DatetimeIndex(ds["time"].values)
    out = [f"clhsim run {path}"]
    out.append(f"  clhsim {_text_attr(code, 'version')}, git {_text_attr(code, 'git_revision')}"
               f", {_text_attr(code, 'build_type')} build; "
               f"{_text_attr(run, 'ranks')} rank(s) x {_text_attr(run, 'threads')} thread(s); "
               f"seed {_text_attr(params, 'run.seed')}")
    out.append(f"  {ds.sizes.get('centre', '?')} centres, {_text_attr(run, 'agents')} agents; "
               f"{len(t)} records from {t[0]:%Y-%m-%d} to {t[-1]:%Y-%m-%d} "
               f"({_text_attr(params, 'run.steps')} weekly steps, a record every "
               f"{_text_attr(params, 'output.every')} step(s))")
    out.append("")
    out.append("Key numbers at the target dates (MODEL.md §12; a year or a window: the mean "
               "of its records)")
    width = max([len("target")] + [len(r) for r in table.target])
    dwidth = max([len("date")] + [len(d) for d in table.date])
    out.append(f"  {'target':<{width}}  {'date':<{dwidth}}  {'simulated':>10}  "
               f"{'target band':<13}  in band")
    for _, row in table.iterrows():
        out.append(f"  {row.target:<{width}}  {row.date:<{dwidth}}  "
                   f"{_fmt(row.simulated, row.unit):>10}  {_band(row):<13}  {_verdict(row)}")
    done = table[table.status == "ok"]
    n_in = int(done.within.sum()) if len(done) else 0
    counts = table.status.value_counts()
    out.append(f"In band: {n_in} of {len(done)} evaluated targets; "
               f"{int(counts.get('not in run', 0))} not in run; "
               f"{int(counts.get('not recorded', 0))} not recorded"
               + (f"; {int(counts.get('undefined', 0))} undefined"
                  if counts.get("undefined", 0) else ""))
    out.append("")
    end = ds.isel(time=-1)

    def val(name, unit="share"):
        return _fmt(float(end[name]), unit) if name in ds.data_vars else "-"

    out.append(f"At the end of the run ({t[-1]:%Y-%m-%d}):")
    out.append(f"  observed remission {val('remission_observed')} (established members), "
               f"{val('remission_observed_members')} (all members); true remission "
               f"{val('remission_true')}; steroid use {val('steroid_use')}; steroid-free "
               f"remission {val('steroid_free_remission')}")
    out.append(f"  member centres {val('members', 'count')} of {ds.sizes.get('centre', '?')} "
               f"({val('members_established', 'count')} established); reliability "
               f"{val('reliability_mean')} (members); registry completeness "
               f"{val('completeness_mean')}")
    ties = ""
    if "ties" in ds.data_vars:
        labels = [str(v) for v in ds["tie_kind_label"].values] if "tie_kind_label" in ds.coords \
            else [str(int(v)) for v in ds["tie_kind"].values]
        ties = "; ties " + ", ".join(f"{lab} {int(v)}" for lab, v in
                                     zip(labels, np.asarray(end["ties"].values)))
    out.append(f"  engaged core {val('engaged_core', 'count')}; commons users "
               f"{val('commons_users', 'count')}; resources in the commons "
               f"{val('resources_in_commons', 'count')}{ties}")
    return "\n".join(out) + "\n"


# ---- the report ----

def report(path, outdir, stream=None, dpi=110):
    """Write the figures, ``summary.txt`` and ``targets.csv`` of run ``path`` into ``outdir``.

    Prints the summary to ``stream`` (default stdout; ``False`` for silence).
    Returns a dict: name -> path of every file written. Raises
    :class:`clhsim_analysis.BadInput` for a file that is not a clhsim output.
    """
    ds = load(path)
    ds.load()
    table = evaluate(ds)
    run = _Run(ds, table)
    os.makedirs(outdir, exist_ok=True)
    written = {}
    seed = (ds.attrs.get("parameters") or {}).get("run.seed", "?")
    who = f"{os.path.basename(str(path))}, seed {seed}"
    for name, panel in PANELS:
        fig = Figure(figsize=(7.5, 4.6))
        ax = fig.add_subplot()
        panel(ax, run)
        _finish(ax, run)
        title = ax.get_title()
        ax.set_title("")
        ax.set_title(title, loc="left")
        ax.set_title(who, loc="right", fontsize=8, color="#555555")  # which run
        fig.subplots_adjust(left=0.1, right=0.98, bottom=0.09, top=0.92)
        written[name] = os.path.join(outdir, f"{name}.png")
        for extra in save_figure(fig, written[name], dpi)[1:]:
            written[f"{name}{os.path.splitext(extra)[1]}"] = extra

    fig = Figure(figsize=(17, 12))
    axes = fig.subplots(3, 3).ravel()
    for ax, (_, panel) in zip(axes, PANELS):
        panel(ax, run)
        _finish(ax, run, fontsize=7)
    _table_panel(axes[len(PANELS)], run)
    fig.suptitle(f"clhsim run {os.path.basename(str(path))}: seed {seed}, "
                 f"{ds.sizes.get('centre', '?')} centres, "
                 f"{run.t[0]:%Y-%m-%d} to {run.t[-1]:%Y-%m-%d}", fontsize=14)
    fig.subplots_adjust(left=0.045, right=0.99, bottom=0.04, top=0.93, wspace=0.2, hspace=0.22)
    written["overview"] = os.path.join(outdir, "overview.png")
    for extra in save_figure(fig, written["overview"], 80)[1:]:
        written[f"overview{os.path.splitext(extra)[1]}"] = extra

    text = summary_text(ds, table, path)
    written["summary"] = os.path.join(outdir, "summary.txt")
    with open(written["summary"], "w") as f:
        f.write(text)
    written["targets"] = os.path.join(outdir, "targets.csv")
    table.to_csv(written["targets"], index=False, float_format="%.17g")
    if stream is not False:
        (stream or sys.stdout).write(text)
    ds.close()
    return written
