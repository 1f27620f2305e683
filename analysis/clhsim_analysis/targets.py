"""The calibration targets of MODEL.md §12 (ImproveCareNow) as one table, and their evaluation.

Use::

    from clhsim_analysis import load
    from clhsim_analysis.targets import TARGETS, evaluate

    table = evaluate(load("run.h5"))        # one row per target
    print(table[["target", "date", "simulated", "low", "high", "within", "status"]])

``TARGETS`` is a list of :class:`Target` (frozen dataclasses), in MODEL.md's order of
weight (``weight`` 1 is the most important). :func:`evaluate` takes a Dataset from
``clhsim_analysis.load`` (or a path) and returns a ``pandas.DataFrame``, one row per
target, with the columns

==========  ==================================================================
target      the target's ``name`` (e.g. ``remission_2010``)
variable    the quantity measured (a /timeseries variable or a derived one)
date        the date or window it is measured at, resolved (``2010``,
            ``2015-10-01/2015-12-31``, ``2008-12-01`` for "100 weeks after the
            QI lever")
simulated   the run's value there (NaN when not evaluated)
low, high   the band (NaN for an open side), scaled to the run's size where the
            target is per 100 centres
value       the point target within the band, if MODEL.md gives one (else NaN)
within      True / False; ``<NA>`` when not evaluated (pandas "boolean" dtype)
status      ``ok``; ``not in run`` (the run does not cover the date);
            ``not recorded`` (the file lacks a variable the target needs, e.g.
            ``relapses`` in files from before it was added); ``undefined`` (the
            value is NaN, e.g. a share over no patients)
weight      1 = most important (MODEL.md §12 lists the targets in order of weight)
unit        ``share`` (a fraction in 0..1) or ``count``
description, source
==========  ==================================================================

Dates. ``date`` is ``YYYY-MM-DD`` (the last record at or before that day), ``YYYY``
(the calendar year) or ``START/END`` (a window, both ends ``YYYY-MM-DD``). Over a
year or window a state (a share, a count of members) is the mean of the records in
it; a rate built from counters "since the previous record" (annual relapse,
remission after escalation) is formed from the sums of the counters over the
records that close a step inside it. A date counted from a lever is ``+NNw`` with
``anchor`` naming the parameter (``levers.qi_training.on``), whose value is a date or
a step. A date or window is "in the run" when the run covers it: from the first record
to one step (7 days) after the last. Targets per 100 centres (``per_100_centres``)
are scaled by the run's centres / 100; scaled count bands are widened to whole
numbers.

Write your own targets with the same dataclass and pass them:
``evaluate(ds, [Target("rem_2012", "remission_observed", "2012", 0.7, 0.8)])``.
"""
from dataclasses import dataclass
from typing import Optional

import numpy as np
import pandas as pd

#: The references MODEL.md §12 gives for its targets (as a whole, not one per target).
SOURCES = ("Crandall et al. 2009, 2011, 2012; ICN reports 2015-2016; Britto et al. 2018; "
           "Kandavel et al. 2021; Keck et al. 2021; McLinden et al. 2019")


@dataclass(frozen=True)
class Target:
    """One calibration target.

    ``variable`` is a /timeseries variable with only a time axis (e.g.
    ``remission_observed``) or one of the derived quantities in
    :data:`QUANTITIES` (``reliability_founding``, ``annual_relapse``,
    ``escalation_remission_12w``). ``low``/``high`` bound the band (None: open);
    ``value`` is the point target if there is one. ``per_100_centres``: the
    numbers are for an ICN-sized run of 100 centres and scale with the run's
    centres. ``yearly_mean``: over a window of whole calendar years, the mean of
    the quantity's value in each year (MODEL.md v1.2 §12 reads remission within 12
    weeks of escalation as the 2008-2019 average: it rises through the years, so
    pooling would weight the later, busier years more). See the module's
    documentation for ``date`` and ``anchor``.
    """
    name: str
    variable: str
    date: str
    low: Optional[float]
    high: Optional[float]
    value: Optional[float] = None
    weight: int = 1
    unit: str = "share"
    per_100_centres: bool = False
    anchor: Optional[str] = None
    yearly_mean: bool = False
    description: str = ""
    source: str = "MODEL.md §12"


def _members(date, value, low, high):
    return Target(f"members_{date}", "members", date, low, high, value, weight=1, unit="count",
                  per_100_centres=True, description=f"member centres on {date}",
                  source="MODEL.md §12 and §9: ICN's joining schedule (centres.schedule)")


#: The targets of MODEL.md §12, in its order of weight. Where §12 says "about", the band is
#: this table's reading (the same as calibration/calibrate.py's): +-3 percentage points for
#: remission, +-1 centre around the joining schedule, +-100 commons users, +-50 engaged
#: agents, +-6 points for remission after escalation. Relapse and remission after escalation
#: are taken over 2008-2019 (the years after the first): relapse pooled, remission after escalation
#: as the mean of the yearly figures (MODEL.md v1.2 §12, "averaged over 2008-2019").
TARGETS = [
    _members("2007-01-01", 7, 6, 8),
    _members("2009-06-01", 23, 22, 24),
    _members("2012-03-01", 33, 32, 34),
    _members("2015-05-01", 75, 74, 76),
    _members("2015-12-01", 85, 84, 86),
    _members("2016-06-01", 92, 91, 93),
    _members("2017-06-01", 96, 95, 97),
    Target("remission_2007", "remission_observed", "2007", 0.55, 0.60, 0.575, weight=2,
           description="observed remission, established members: 55-60 % in 2007 (year mean)"),
    Target("remission_2010", "remission_observed", "2010", 0.65, 0.71, 0.68, weight=2,
           description="observed remission, established members: about 68 % by 2010 "
                       "(year mean)"),
    Target("remission_2015", "remission_observed", "2015-10-01/2015-12-31", 0.77, 0.83, 0.80,
           weight=2, description="observed remission, established members: about 80 % by "
                                 "late 2015 (Oct-Dec mean)"),
    Target("remission_2019", "remission_observed", "2019", 0.80, 0.88, None, weight=2,
           description="observed remission, established members: staying >= 80 % and, for "
                       "realism, not above 88 % (2019 mean)"),
    Target("reliability_qi_start", "reliability_founding", "+0w", 0.18, 0.24, 0.21, weight=3,
           anchor="levers.qi_training.on",
           description="reliability of the founding centres when the QI lever starts: 21 %"),
    Target("reliability_qi_100w", "reliability_founding", "+100w", 0.80, 0.92, 0.86, weight=3,
           anchor="levers.qi_training.on",
           description="reliability of the founding centres 100 weeks after the QI lever: "
                       "86 %"),
    Target("steroid_2007", "steroid_use", "2007", 0.25, 0.31, 0.28, weight=4,
           description="steroid use, member centres: 28 % in 2007 (year mean)"),
    Target("steroid_2018", "steroid_use", "2018", 0.10, 0.14, 0.12, weight=4,
           description="steroid use, member centres: 12 % in 2018 (year mean)"),
    Target("commons_users_2015", "commons_users", "2015-12-31", 500, 700, 600, weight=5,
           unit="count", per_100_centres=True,
           description="distinct commons users: about 600 by 2015 (ICN-sized run)"),
    Target("commons_users_2019", "commons_users", "2019-12-31", 1000, None, None, weight=5,
           unit="count", per_100_centres=True,
           description="distinct commons users: over 1000 by 2019 (ICN-sized run)"),
    Target("engaged_core_2015", "engaged_core", "2015-12-31", 200, 300, 250, weight=6,
           unit="count", per_100_centres=True,
           description="engaged core (tier E >= 3): about 250 by 2015 (ICN-sized run)"),
    Target("annual_relapse", "annual_relapse", "2008-01-01/2019-12-31", 0.25, 0.50, None,
           weight=7, description="annual relapse probability 25-50 %, member centres "
                                 "(2008-2019 pooled)"),
    Target("escalation_remission_12w", "escalation_remission_12w", "2008-01-01/2019-12-31",
           0.58, 0.70, 0.64, weight=8, yearly_mean=True,
           description="remission within 12 weeks of escalation: about 64 % averaged over "
                       "2008-2019 (the mean of the 12 yearly figures, each pooled over the "
                       "escalations resolved that year)"),
]


# ---- quantities: what a target's `variable` means ----

def _founding(ds):
    """Centres that are members at the first record (the founding centres)."""
    return ds["centre_member"].isel(time=0).values == 1


def founding_reliability(ds):
    """Mean process reliability of the founding centres (members at the first record),
    one value per record (an xarray.DataArray over time)."""
    rel = ds["centre_reliability"]
    founding = _founding(ds)
    if not founding.any():
        return rel.isel(centre=0) * np.nan
    return rel.isel(centre=np.flatnonzero(founding)).mean("centre")


def _state(series_fn):
    def value(ds, rows):
        x = np.asarray(series_fn(ds).values, dtype=float)[rows]
        x = x[~np.isnan(x)]
        return float(x.mean()) if x.size else float("nan")
    return value


def _annual_relapse(ds, rows):
    rel = float(np.asarray(ds["relapses"].values, dtype=float)[rows].sum())
    weeks = float(np.asarray(ds["remission_weeks"].values, dtype=float)[rows].sum())
    return float(1.0 - np.exp(-52.0 * rel / weeks)) if weeks > 0 else float("nan")


def _escalation_remission(ds, rows):
    out = np.asarray(ds["escalation_outcomes"].values, dtype=float)[rows]
    total = out.sum()
    return float(out[:, 0].sum() / total) if total > 0 else float("nan")


@dataclass(frozen=True)
class Quantity:
    """How a derived quantity is computed: the variables it needs, whether it is
    built from counters since the previous record (``counter``), and
    ``value(ds, rows)`` -> float over the records selected by ``rows``."""
    needs: tuple
    counter: bool
    value: object
    description: str


#: Derived quantities that targets may name as their ``variable``.
QUANTITIES = {
    "reliability_founding": Quantity(
        ("centre_reliability", "centre_member"), False, _state(founding_reliability),
        "mean r_c over the founding centres (members at the first record)"),
    "annual_relapse": Quantity(
        ("relapses", "remission_weeks"), True, _annual_relapse,
        "1 - exp(-52 sum(relapses) / sum(remission_weeks)) over the window"),
    "escalation_remission_12w": Quantity(
        ("escalation_outcomes",), True, _escalation_remission,
        "escalation_outcomes[outcome=0] / all escalation_outcomes over the window"),
}


def _quantity(name):
    if name in QUANTITIES:
        return QUANTITIES[name]
    return Quantity((name,), False, _state(lambda ds: ds[name]), f"/timeseries/{name}")


# ---- dates ----

def _start_date(ds):
    params = ds.attrs.get("parameters") or {}
    if "run.start_date" in params:
        return pd.Timestamp(str(params["run.start_date"]))
    units = ds["time"].encoding.get("units", "")
    if "since" in units:
        return pd.Timestamp(units.split("since", 1)[1].strip())
    return pd.Timestamp(ds["time"].values[0])


def anchor_date(ds, key):
    """The date of parameter ``key`` (a date, or a step counted from the start date)
    in the run ``ds``; None when the run's parameters are not at hand."""
    params = ds.attrs.get("parameters") or {}
    if key not in params:
        return None
    raw = params[key]
    text = str(raw).strip()
    try:
        step = int(text)
    except ValueError:
        return pd.Timestamp(text)
    return _start_date(ds) + pd.Timedelta(days=7 * step)


def resolve_date(target, ds):
    """``(start, end, label)`` of the target's date in run ``ds``: the window
    (``start == end`` for one date) and its text. ``None`` when the target is
    anchored to a parameter the run does not record."""
    text = target.date.strip()
    if target.anchor:
        base = anchor_date(ds, target.anchor)
        if base is None:
            return None
        weeks = float(text.lstrip("+").rstrip("w") or 0)
        day = (base + pd.Timedelta(days=7 * weeks)).normalize()
        return day, day, day.strftime("%Y-%m-%d")
    if "/" in text:
        a, b = text.split("/", 1)
        return pd.Timestamp(a), pd.Timestamp(b), text
    if len(text) == 4 and text.isdigit():
        return pd.Timestamp(f"{text}-01-01"), pd.Timestamp(f"{text}-12-31"), text
    day = pd.Timestamp(text)
    return day, day, text


#: How far a date may lie beyond the first or last record and still be "in the run":
#: one step (a record is written at the end of its step).
STEP = pd.Timedelta(days=7)


def select_records(times, start, end, counter=False):
    """Indices of the records a date or window uses, or None when the run does not cover it.

    The run covers the days from its first record to one step (7 days) after its
    last. One date (``start == end``): the last record at or before it. A window:
    the records inside it (for counters: the records whose step ends inside it,
    i.e. times in (start, end + 1 day]); the run must cover the whole window.
    """
    times = pd.DatetimeIndex(times)
    if start == end:
        if start < times[0] or start > times[-1] + STEP:
            return None
        return np.array([np.searchsorted(times.values, start.to_datetime64(), side="right") - 1])
    if times[0] > start + STEP or times[-1] < end - STEP:
        return None
    if counter:
        rows = (times > start) & (times <= end + pd.Timedelta(days=1))
    else:
        rows = (times >= start) & (times <= end + pd.Timedelta(days=1) - pd.Timedelta(1))
    idx = np.flatnonzero(rows)
    return idx if idx.size else None


def scale_for(ds):
    """The factor for per-100-centre targets: the run's centres / 100."""
    if "centre" in ds.sizes:
        return ds.sizes["centre"] / 100.0
    params = ds.attrs.get("parameters") or {}
    return float(params.get("population.centres", 100)) / 100.0


def evaluate(ds, targets=None):
    """Evaluate a run against the targets; returns one row per target (see the module).

    ``ds``: a Dataset from ``clhsim_analysis.load`` (its ``attrs["parameters"]``
    give the lever dates), or a path. ``targets``: a list of :class:`Target`
    (default :data:`TARGETS`).
    """
    if not hasattr(ds, "data_vars"):
        from .data import load
        ds = load(ds)
    targets = TARGETS if targets is None else targets
    scale = scale_for(ds)
    times = pd.DatetimeIndex(ds["time"].values)
    rows = []
    for t in targets:
        q = _quantity(t.variable)
        f = scale if t.per_100_centres else 1.0
        low = np.nan if t.low is None else t.low * f
        high = np.nan if t.high is None else t.high * f
        value = np.nan if t.value is None else t.value * f
        if t.per_100_centres and t.unit == "count" and f != 1.0:
            # A scaled band of whole things, widened to whole numbers (0.6-0.8 -> 0-1).
            low, high = np.floor(low), np.ceil(high)
        row = dict(target=t.name, variable=t.variable, date=t.date, simulated=np.nan,
                   low=low, high=high, value=value, within=pd.NA, status="ok",
                   weight=t.weight, unit=t.unit, description=t.description, source=t.source)
        missing = [v for v in q.needs if v not in ds.data_vars]
        when = resolve_date(t, ds)
        if missing:
            row["status"] = "not recorded"
            row["description"] += f" [the file has no {', '.join(missing)}]"
        elif when is None:
            row["status"] = "not recorded"
            row["description"] += f" [the file does not record {t.anchor}]"
        if when is not None:
            row["date"] = when[2]
        if row["status"] == "ok":
            if t.yearly_mean:
                years = [(pd.Timestamp(f"{y}-01-01"), pd.Timestamp(f"{y}-12-31"))
                         for y in range(when[0].year, when[1].year + 1)]
            else:
                years = [(when[0], when[1])]
            sels = [select_records(times, a, b, q.counter) for a, b in years]
            if any(sel is None for sel in sels):
                row["status"] = "not in run"
            else:
                sim = float(np.mean([q.value(ds, sel) for sel in sels]))
                row["simulated"] = sim
                if np.isnan(sim):
                    row["status"] = "undefined"
                else:
                    row["within"] = bool((np.isnan(low) or sim >= low)
                                         and (np.isnan(high) or sim <= high))
        rows.append(row)
    df = pd.DataFrame(rows, columns=["target", "variable", "date", "simulated", "low", "high",
                                     "value", "within", "status", "weight", "unit",
                                     "description", "source"])
    df["within"] = df["within"].astype("boolean")
    return df


def evaluate_many(runs, targets=None):
    """Evaluate several runs of one scenario (seeds) against the targets, on their mean.

    ``runs``: Datasets or paths. Returns one row per target with the columns ``target``,
    ``date``, ``n`` (runs with a value), ``mean``, ``sd`` (ddof 1; NaN for one run), ``min``,
    ``max``, ``low``, ``high``, ``value``, ``within`` (the mean in the band), ``status`` (the
    first run's, when none of the runs has a value), ``weight``, ``unit``, ``description``.
    """
    tables = [evaluate(r, targets) for r in runs]
    if not tables:
        raise ValueError("evaluate_many: no runs")
    sims = pd.concat([t["simulated"].rename(i) for i, t in enumerate(tables)], axis=1)
    first = tables[0]
    out = first[["target", "date"]].copy()
    out["n"] = sims.notna().sum(axis=1)
    out["mean"] = sims.mean(axis=1)
    out["sd"] = sims.std(axis=1, ddof=1)
    out["min"] = sims.min(axis=1)
    out["max"] = sims.max(axis=1)
    for c in ("low", "high", "value"):
        out[c] = first[c]
    within = [pd.NA if np.isnan(m) else bool((np.isnan(lo) or m >= lo) and
                                             (np.isnan(hi) or m <= hi))
              for m, lo, hi in zip(out["mean"], out["low"], out["high"])]
    out["within"] = pd.array(within, dtype="boolean")
    out["status"] = ["ok" if n > 0 else s for n, s in zip(out["n"], first["status"])]
    for c in ("weight", "unit", "description"):
        out[c] = first[c]
    return out
