#!/usr/bin/python3
"""Check the analysis tools (analysis/clhsim_analysis) against real runs read with h5py.

Usage (run by tests/integration/analysis.sh):

  check_analysis.py report RUN.h5 DIR      report's files: PNGs non-trivial; summary.txt and
                                           targets.csv numbers equal the file's, computed
                                           here with h5py; dates past the run "not in run"
  check_analysis.py compare OUT RUN.h5...  compare's printed first difference and largest
                                           differences equal the files'
  check_analysis.py frame RUN.h5           load() and to_frame(): shape, dates, values,
                                           provenance
  check_analysis.py many OUT.csv RUN.h5... `targets` of several runs (its CSV in OUT.csv)
                                           against evaluate() of each; a yearly-mean target
  check_analysis.py export RUN.h5 FLAT.nc  `export --flat`'s file: no groups, /timeseries's
                                           dimensions, variables, values and attributes, the
                                           provenance as global attributes (plain netCDF4)
  check_analysis.py portable RUN.h5 DIR    load(RUN).to_netcdf() works (provenance as text that
                                           still reads like a dict); with_names; short labels
                                           in plain xarray; report's figures: run and seed on
                                           every panel, integer count ticks, target legend
                                           marks as drawn, SVG and PDF copies
  check_analysis.py future RUN.h5 DIR      targets on relapses / remission_weeks /
                                           escalation_outcomes: "not recorded" without them;
                                           with them (added to a copy of the run), the
                                           formulas of MODEL.md §12 / issue 6

Several checks may be given at once, separated by "+". Every check prints one line;
exit status 1 at the first failure.
"""
import math
import os
import re
import shutil
import sys

import h5py
import numpy as np
import pandas as pd

import clhsim_analysis as ca  # analysis/ on PYTHONPATH (tests/CMakeLists.txt)
from clhsim_analysis.targets import Target


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def ok(msg):
    print(f"ok: {msg}")


def read(path):
    """The run, independently of the package: dates, variables, parameters."""
    with h5py.File(path, "r") as f:
        g = f["timeseries"]
        data = {k: v[()] for k, v in g.items() if isinstance(v, h5py.Dataset)}
        start = g["time"].attrs["units"].decode().split("since ")[1]
        params = {k: v for k, v in f["parameters"].attrs.items()}
    dates = pd.Timestamp(start) + pd.to_timedelta(data["time"], unit="D")
    return pd.DatetimeIndex(dates), data, params


def at(dates, day):
    """Index of the last record at or before ``day``."""
    return int(np.searchsorted(dates.values, pd.Timestamp(day).to_datetime64(), "right") - 1)


def year_rows(dates, year):
    return np.flatnonzero(dates.year == year)


def expected_targets(path):
    """What some targets must come to, computed here: {name: value or None (not in run)}."""
    dates, d, params = read(path)
    last = dates[-1]
    out = {}

    def point(name, var, day):
        day = pd.Timestamp(day)
        out[name] = None if day > last + pd.Timedelta(days=7) else float(d[var][at(dates, day)])

    def year(name, var, y):
        covered = dates[0] <= pd.Timestamp(f"{y}-01-08") and \
            last >= pd.Timestamp(f"{y}-12-24")
        out[name] = float(np.nanmean(d[var][year_rows(dates, y)])) if covered else None

    point("members_2007-01-01", "members", "2007-01-01")
    point("members_2009-06-01", "members", "2009-06-01")
    point("commons_users_2015", "commons_users", "2015-12-31")
    point("engaged_core_2015", "engaged_core", "2015-12-31")
    year("remission_2007", "remission_observed", 2007)
    year("remission_2010", "remission_observed", 2010)
    year("steroid_2007", "steroid_use", 2007)
    year("steroid_2018", "steroid_use", 2018)
    founding = d["centre_member"][0] == 1
    qi_on = pd.Timestamp(params["levers.qi_training.on"].decode())
    out["reliability_qi_start"] = float(d["centre_reliability"][at(dates, qi_on)][founding].mean())
    day = qi_on + pd.Timedelta(weeks=100)
    out["reliability_qi_100w"] = None if day > last + pd.Timedelta(days=7) else \
        float(d["centre_reliability"][at(dates, day)][founding].mean())
    return out


def parse_summary(text):
    """The target rows of summary.txt: {name: (date, simulated text, band, verdict)}."""
    rows = {}
    for line in text.splitlines():
        parts = re.split(r"\s{2,}", line.strip())
        if len(parts) == 5 and parts[0] != "target":
            rows[parts[0]] = tuple(parts[1:])
    return rows


def check_png(path):
    from matplotlib.image import imread
    if not os.path.isfile(path):
        fail(f"{path} was not written")
    size = os.path.getsize(path)
    if size < 8000:
        fail(f"{path}: only {size} bytes")
    img = imread(path)
    if img.ndim == 2:  # a palette PNG read as indices is unusual; matplotlib gives RGB(A)
        fail(f"{path}: unexpected image shape {img.shape}")
    h, w = img.shape[:2]
    rgb = img[..., :3].reshape(-1, 3)
    packed = (rgb * 255).astype(np.uint32) @ np.array([65536, 256, 1], dtype=np.uint32)
    colours = len(np.unique(packed))
    ink = float((rgb.mean(axis=1) < 0.9).mean())
    if h < 300 or w < 500 or colours < 16 or ink < 0.02:
        fail(f"{path}: looks empty ({w}x{h} px, {colours} colours, {100 * ink:.1f} % ink)")
    return f"{os.path.basename(path)} {w}x{h} {size // 1024} KiB {colours} colours"


def cmd_report(path, outdir):
    names = ["remission", "members", "steroids", "reliability", "engagement", "commons",
             "commons_users", "ties", "overview"]
    ok("PNGs: " + "; ".join(check_png(os.path.join(outdir, f"{n}.png")) for n in names))

    dates, d, params = read(path)
    with open(os.path.join(outdir, "summary.txt")) as f:
        text = f.read()
    rows = parse_summary(text)
    expected = expected_targets(path)
    table = pd.read_csv(os.path.join(outdir, "targets.csv"))
    if list(table.target) != [t.name for t in ca.TARGETS]:
        fail(f"targets.csv rows {list(table.target)} are not the TARGETS")
    if set(rows) != set(table.target):
        fail(f"summary.txt target rows {sorted(rows)} differ from targets.csv")
    by_name = table.set_index("target")
    units = {t.name: t.unit for t in ca.TARGETS}
    checked = 0
    for name, want in expected.items():
        date, shown, band, verdict = rows[name]
        sim = by_name.loc[name, "simulated"]
        if want is None:
            if verdict != "not in run" or shown != "-" or not math.isnan(sim):
                fail(f"{name}: the run ends {dates[-1]:%Y-%m-%d}, before {date}, but the "
                     f"summary says {shown!r} {verdict!r} (csv {sim})")
            continue
        # targets.csv holds the full value; summary.txt rounds it.
        if not np.isclose(sim, want, rtol=1e-12, atol=0):
            fail(f"{name}: targets.csv says {sim!r}, the file gives {want!r}")
        number = float(shown.replace("%", "").strip())
        value = 100 * want if units[name] == "share" else want
        tol = 0.005 if units[name] == "share" else 0.5
        if abs(number - value) > tol + 1e-9:
            fail(f"{name}: summary says {shown}, the file gives {value}")
        lo, hi = by_name.loc[name, "low"], by_name.loc[name, "high"]
        inside = (math.isnan(lo) or want >= lo) and (math.isnan(hi) or want <= hi)
        if verdict != ("yes" if inside else "no"):
            fail(f"{name}: {want} in [{lo}, {hi}] is {inside}, summary says {verdict!r}")
        checked += 1
    if checked == 0:
        fail("no target could be checked: is the run too short?")
    # Targets needing variables the file may not have.
    for name in ("annual_relapse", "escalation_remission_12w"):
        if "relapses" not in d and rows[name][3] != "not recorded":
            fail(f"{name}: the file has no relapses counters, summary says {rows[name][3]!r}")
        if "relapses" in d and rows[name][3] == "not recorded":
            fail(f"{name}: the file has the counters, summary says 'not recorded'")
    # The end-of-run line.
    m = re.search(r"member centres (\d+) of (\d+)", text)
    if not m or int(m.group(1)) != int(d["members"][-1]) or \
            int(m.group(2)) != d["centre"].shape[0]:
        fail(f"end of run: members line {m and m.group(0)!r} vs {d['members'][-1]}")
    m = re.search(r"observed remission ([\d.]+) % \(established", text)
    if not m or abs(float(m.group(1)) - 100 * d["remission_observed"][-1]) > 0.005 + 1e-9:
        fail(f"end of run: observed remission {m and m.group(1)} vs "
             f"{100 * d['remission_observed'][-1]}")
    m = re.search(r"(\d+) records from (\S+) to (\S+)", text)
    if not m or int(m.group(1)) != len(dates) or m.group(3) != f"{dates[-1]:%Y-%m-%d}":
        fail(f"summary's record count/dates {m and m.group(0)!r}")
    ok(f"summary.txt and targets.csv: {checked} target values equal the file's; dates after "
       f"{dates[-1]:%Y-%m-%d} not in run; end-of-run numbers equal")


def cmd_compare(out_path, paths):
    with open(out_path) as f:
        text = f.read()
    (ta, a, _), = [read(paths[0])]
    blocks = re.split(r"^A vs ", text, flags=re.M)[1:]
    if len(blocks) != len(paths) - 1:
        fail(f"compare printed {len(blocks)} comparisons for {len(paths)} runs")
    for path, block in zip(paths[1:], blocks):
        tb, b, _ = read(path)
        diffs = {}
        for name in sorted(set(a) & set(b)):
            x, y = a[name], b[name]
            n = min(len(x), len(y))
            rows = [i for i in range(n) if x[i].tobytes() != y[i].tobytes()]
            if rows or x.shape != y.shape:
                diffs[name] = rows[0] if rows else n
        if not diffs:
            if "IDENTICAL" not in block.splitlines()[0]:
                fail(f"{path}: identical to {paths[0]} but compare says {block.splitlines()[0]}")
            ok(f"compare {paths[0]} vs {path}: identical, as the bytes are")
            continue
        if "DIFFERENT" not in block.splitlines()[0]:
            fail(f"{path}: differs from {paths[0]} but compare says {block.splitlines()[0]}")
        first = min(diffs.values())
        m = re.search(r"first difference: record (\d+) \((\S+)\) in (.*)", block)
        if not m or int(m.group(1)) != first or m.group(2) != f"{ta[first]:%Y-%m-%d}":
            fail(f"{path}: first difference is record {first} ({ta[first]:%Y-%m-%d}); "
                 f"compare says {m and m.group(0)!r}")
        firsts = sorted(k for k, v in diffs.items() if v == first)
        if not m.group(3).startswith(", ".join(firsts[:6])):
            fail(f"{path}: variables differing first {firsts}, compare says {m.group(3)!r}")
        m = re.search(r"variables that differ: (\d+) of (\d+)", block)
        if not m or int(m.group(1)) != len(diffs):
            fail(f"{path}: {len(diffs)} variables differ; compare says {m and m.group(0)!r}")
        for var in ("remission_observed", "steroid_use", "members", "engaged_core"):
            n = min(len(a[var]), len(b[var]))
            dv = np.abs(a[var][:n].astype(float) - b[var][:n].astype(float))
            want = float(np.nanmax(dv)) if n else 0.0
            m = re.search(rf"^\s+{var}\s+(\S+)(?: .*at (\S+) \(record (\d+)\))?", block, re.M)
            if not m:
                fail(f"{path}: no largest difference printed for {var}")
            got = float(m.group(1))
            if not np.isclose(got, want, rtol=1e-5, atol=0):
                fail(f"{path}: largest |A-B| of {var} is {want!r}, compare says {got}")
            if want > 0 and int(m.group(3)) != int(np.nanargmax(dv)):
                fail(f"{path}: {var} differs most at record {int(np.nanargmax(dv))}, "
                     f"compare says {m.group(3)}")
        ok(f"compare {paths[0]} vs {path}: first difference record {first}, {len(diffs)} "
           f"variables differ, largest differences as printed")


def cmd_frame(path):
    dates, d, params = read(path)
    ds = ca.load(path)
    if not np.array_equal(pd.DatetimeIndex(ds.time.values), dates):
        fail("load: dates differ from units + time")
    if ds.attrs["parameters"]["run.seed"] != int(params["run.seed"]):
        fail("load: parameters run.seed")
    if "steps:" not in ds.attrs["parameters"]["yaml"] or "git_revision" not in ds.attrs["code"]:
        fail("load: the YAML or /code missing from attrs")
    if int(ds.attrs["run"]["steps"]) != len(dates) - 1:
        fail(f"load: /run steps {ds.attrs['run']['steps']} for {len(dates)} records")
    if list(ds.type_label.values) != ["PAT", "FAM", "CLIN", "QIS", "RES"]:
        fail(f"load: type labels {list(ds.type_label.values)}")
    df = ca.to_frame(ds)
    # (time_bnds: the cell bounds of time; nv and <axis>_strlen: dimensions, no variables)
    variables = [k for k in d if k not in ("state_digest", "time", "centre_time", "time_bnds",
                                           "nv") and not k.endswith("_strlen")
                 and d[k].ndim >= 1 and k not in ds.coords]
    want_rows = sum(d[k].size for k in variables)
    if len(df) != want_rows:
        fail(f"to_frame: {len(df)} rows, expected {want_rows} (sum of the variables' sizes)")
    if list(df.columns[:2]) != ["date", "variable"] or df.columns[-1] != "value" or \
            "centre" not in df.columns or "tier" not in df.columns:
        fail(f"to_frame columns {list(df.columns)}")
    if set(df.variable) != set(variables):
        fail(f"to_frame variables {sorted(set(df.variable) ^ set(variables))}")
    k = len(dates) // 2
    got = df[(df.variable == "members") & (df.date == dates[k])].value
    if len(got) != 1 or got.iloc[0] != d["members"][k]:
        fail(f"to_frame: members at {dates[k]} {list(got)} vs {d['members'][k]}")
    got = df[(df.variable == "agents_by_tier") & (df.date == dates[-1]) & (df.type == "CLIN")
             & (df.tier == "aware")].value
    if len(got) != 1 or got.iloc[0] != d["agents_by_tier"][-1, 2, 1]:
        fail(f"to_frame: agents_by_tier CLIN aware {list(got)} vs {d['agents_by_tier'][-1, 2, 1]}")
    sub = df[(df.variable == "centre_remission_observed") & (df.centre == 3)]
    if not np.array_equal(sub.value.values, d["centre_remission_observed"][:, 3], equal_nan=True):
        fail("to_frame: centre_remission_observed of centre 3")
    if not df.attrs.get("parameters") or df.attrs["parameters"]["run.seed"] != \
            int(params["run.seed"]):
        fail("to_frame: df.attrs['parameters']")
    small = ca.to_frame(path, centres=False)
    if "centre" in small.columns or len(small) != sum(d[k].size for k in variables
                                                      if "centre" not in ds[k].dims):
        fail("to_frame(centres=False)")
    ok(f"load and to_frame: {len(df)} rows x {len(df.columns)} columns, values, labels, "
       f"dates and provenance as in the file")


def cmd_future(path, workdir):
    """The targets built from relapses / remission_weeks / escalation_outcomes: on the run's
    own counters where the binary records them; otherwise "not recorded", and then on a copy
    of the run with made-up counters added."""
    dates, d, _ = read(path)
    n = len(dates)
    if "relapses" in d:
        copy = path
        relapses, weeks, outcomes = d["relapses"], d["remission_weeks"], d["escalation_outcomes"]
        origin = "the run's own counters"
    else:
        table = ca.evaluate(ca.load(path)).set_index("target")
        for name in ("annual_relapse", "escalation_remission_12w"):
            if table.loc[name, "status"] != "not recorded":
                fail(f"{name} without its variables: {table.loc[name].to_dict()}")
        copy = os.path.join(workdir, "future.h5")
        shutil.copy(path, copy)
        rng = np.random.default_rng(7)
        relapses = rng.integers(0, 50, n)
        weeks = rng.integers(1000, 5000, n)
        outcomes = rng.integers(0, 40, (n, 2))
        with h5py.File(copy, "r+") as f:
            g = f["timeseries"]
            for name, data in (("relapses", relapses), ("remission_weeks", weeks)):
                ds = g.create_dataset(name, data=data.astype(np.int64), maxshape=(None,))
                ds.attrs["units"], ds.attrs["long_name"] = b"1", name.encode()
                ds.dims[0].attach_scale(g["time"])
            axis = g.create_dataset("outcome", data=np.arange(2, dtype=np.int64))
            axis.make_scale("outcome")
            ds = g.create_dataset("escalation_outcomes", data=outcomes.astype(np.int64),
                                  maxshape=(None, 2))
            ds.attrs["units"], ds.attrs["long_name"] = b"1", b"escalation outcomes"
            ds.dims[0].attach_scale(g["time"])
            ds.dims[1].attach_scale(axis)
        origin = "'not recorded' without the counters; made-up counters added to a copy"
    year = int(dates[0].year)
    mine = [Target("relapse", "annual_relapse", str(year), 0.25, 0.5),
            Target("escalation", "escalation_remission_12w", str(year), 0.59, 0.69),
            Target("relapse_week", "annual_relapse", f"{dates[3]:%Y-%m-%d}", 0.25, 0.5)]
    got = ca.evaluate(ca.load(copy), mine).set_index("target")
    rows = (dates > pd.Timestamp(f"{year}-01-01")) & (dates <= pd.Timestamp(f"{year + 1}-01-01"))
    want = {"relapse": 1 - math.exp(-52 * relapses[rows].sum() / weeks[rows].sum()),
            "escalation": outcomes[rows, 0].sum() / outcomes[rows].sum(),
            "relapse_week": 1 - math.exp(-52 * relapses[3] / weeks[3]) if weeks[3] else math.nan}
    for name, value in want.items():
        if math.isnan(value):
            continue
        if got.loc[name, "status"] != "ok" or not np.isclose(got.loc[name, "simulated"], value,
                                                             rtol=1e-12):
            fail(f"{name}: evaluate gives {got.loc[name].to_dict()}, expected {value}")
    full = ca.evaluate(ca.load(copy)).set_index("target")
    for name in ("annual_relapse", "escalation_remission_12w"):
        if full.loc[name, "status"] == "not recorded":
            fail(f"{name}: still 'not recorded' with the variables present")
    ok(f"relapse/escalation targets ({origin}): annual relapse {want['relapse']:.4f} and "
       f"remission after escalation {want['escalation']:.4f} in {year}, as the formulas give")


def cmd_many(outfile, paths):
    """`targets A.h5 B.h5 ...` (saved as CSV in OUTFILE) and evaluate_many: per target the
    mean, sd, min and max of the runs' single evaluations, `within` on the mean; and a
    yearly-mean target on a made-up run: the mean of each year's pooled figure."""
    singles = [ca.evaluate(ca.load(p)).set_index("target")["simulated"] for p in paths]
    sims = pd.concat(singles, axis=1)
    table = pd.read_csv(outfile).set_index("target")
    for name, row in table.iterrows():
        v = sims.loc[name].astype(float)
        if v.notna().sum() == 0:
            if row["n"] != 0:
                fail(f"targets (many): {name} has n {row['n']} without values")
            continue
        want = dict(mean=v.mean(), sd=v.std(ddof=1), min=v.min(), max=v.max())
        for k, x in want.items():
            if not np.isclose(row[k], x, rtol=1e-12, atol=0, equal_nan=True):
                fail(f"targets (many): {name} {k} {row[k]!r}, the runs give {x!r}")
        lo = -np.inf if np.isnan(row["low"]) else row["low"]
        hi = np.inf if np.isnan(row["high"]) else row["high"]
        if bool(row["within"]) != bool(lo <= want["mean"] <= hi):
            fail(f"targets (many): {name} within {row['within']} for mean {want['mean']}")
    # yearly mean: four years of made-up weekly escalation outcomes
    import xarray as xr
    t = pd.date_range("2008-01-06", "2011-12-25", freq="7D")
    rng = np.random.default_rng(3)
    out = rng.integers(0, 30, (len(t), 2)).astype(np.int64)
    out[t.year == 2011] *= np.array([3, 1])           # a busier, better year
    ds = xr.Dataset({"escalation_outcomes": (("time", "outcome"), out)}, coords={"time": t})
    ds.attrs["parameters"] = {"run.start_date": "2008-01-01", "population.centres": 100}
    yearly = Target("e", "escalation_remission_12w", "2008-01-01/2011-12-31", None, None,
                    yearly_mean=True)
    pooled = Target("p", "escalation_remission_12w", "2008-01-01/2011-12-31", None, None)
    got = ca.evaluate(ds, [yearly, pooled]).set_index("target")["simulated"]
    years = [out[t.year == y] for y in range(2008, 2012)]
    want_y = np.mean([y[:, 0].sum() / y.sum() for y in years])
    want_p = out[:, 0].sum() / out.sum()
    if not (np.isclose(got["e"], want_y, rtol=1e-12) and np.isclose(got["p"], want_p,
                                                                     rtol=1e-12)):
        fail(f"yearly mean {got['e']} (want {want_y}), pooled {got['p']} (want {want_p})")
    ok(f"targets of {len(paths)} runs: mean, sd, min, max and the band check equal the single "
       f"runs'; a yearly-mean target is the mean of the years ({want_y:.4f}; pooled "
       f"{want_p:.4f})")


def cmd_export(path, flat):
    import netCDF4
    with netCDF4.Dataset(flat, "r") as nc, h5py.File(path, "r") as f:
        g = f["timeseries"]
        if nc.groups:
            fail(f"{flat}: has groups {list(nc.groups)}")
        nc.set_auto_maskandscale(False)
        nc.set_auto_chartostring(False)
        want = sorted(k for k, v in g.items()
                      if isinstance(v, h5py.Dataset)
                      and not str(v.attrs.get("NAME", b"")).count("not a netCDF variable"))
        if sorted(nc.variables) != want:
            fail(f"{flat}: variables {sorted(nc.variables)}, /timeseries has {want}")
        for name in want:
            a, b = g[name][()], nc.variables[name][...]
            if a.dtype.kind == "S":  # the label variables' characters
                a, b = a.view("u1"), np.asarray(b).view("u1")
            if a.shape != b.shape or a.tobytes() != np.asarray(b, dtype=a.dtype).tobytes():
                fail(f"{flat}: {name} differs from /timeseries/{name}")
            for k, v in g[name].attrs.items():
                if k in ("DIMENSION_LIST", "REFERENCE_LIST", "CLASS", "NAME", "_Netcdf4Dimid"):
                    continue
                got = nc.variables[name].getncattr(k)
                v = v.decode() if isinstance(v, bytes) else v
                same = got == v if isinstance(v, str) else np.array_equal(
                    np.asarray(got), np.asarray(v), equal_nan=np.asarray(v).dtype.kind == "f")
                if not same:
                    fail(f"{flat}: {name}@{k} = {got!r}, /timeseries has {v!r}")
        for dim in ("time", "centre_time"):
            if dim in nc.dimensions and not nc.dimensions[dim].isunlimited():
                fail(f"{flat}: {dim} is not unlimited")
        if nc.variables["visits"].cell_methods != "time: sum" or \
                nc.variables["time"].bounds != "time_bnds":
            fail(f"{flat}: CF cell_methods / bounds lost")
        seed = int(f["run"].attrs["seed"])
        if int(nc.getncattr("run_seed")) != seed or \
                nc.getncattr("code_git_revision") != f["code"].attrs["git_revision"].decode() or \
                "steps:" not in nc.getncattr("parameters_yaml") or \
                nc.getncattr("Conventions") != "CF-1.9" or \
                "date_created" not in nc.ncattrs():
            fail(f"{flat}: the provenance global attributes are wrong or missing")
    ok(f"export --flat: {len(want)} variables in the root group, values and attributes equal "
       "/timeseries's, provenance as global attributes")


def cmd_portable(path, outdir):
    import xarray as xr
    from matplotlib.figure import Figure
    from clhsim_analysis import reporting
    ds = ca.load(path)
    target = os.path.join(outdir, "load_to_netcdf.nc")
    ds.to_netcdf(target)  # failed while ds.attrs held dicts
    back = xr.open_dataset(target)
    params = back.attrs["parameters"]
    import json
    if json.loads(params)["run.seed"] != ds.attrs["parameters"]["run.seed"] or \
            "run.seed" not in ds.attrs["parameters"] or \
            dict(ds.attrs["parameters"].items())["yaml"] != ds.attrs["parameters"]["yaml"]:
        fail("load: provenance attributes do not round-trip through to_netcdf")
    if list(back["type_name"].values) != list(ds["type_label"].values):
        fail(f"to_netcdf: type_name {back['type_name'].values}")
    back.close()
    named = ca.with_names(ds)
    if list(named["type"].values[:1]) != ["PAT"] or int(named.agents_by_tier.sel(
            type="CLIN", tier="leader").isel(time=-1)) != int(
            ds.agents_by_tier.sel(type=2, tier=4).isel(time=-1)):
        fail(f"with_names: type {named['type'].values}")
    grid = named.agents_by_tier.isel(time=-1).plot(col="type")
    titles = [ax.get_title() for ax in grid.axs.flat]
    if titles[0] != "type = PAT":
        fail(f"with_names: facet titles {titles}")
    # plain xarray, no clhsim code: the axis label is long_name [units], one short line
    raw = xr.open_dataset(path, group="timeseries")
    for name in raw.data_vars:
        if name == raw["time"].attrs.get("bounds", raw["time"].encoding.get("bounds")):
            continue  # CF: the cell bounds take their metadata from time
        ln = str(raw[name].attrs.get("long_name", ""))
        if not ln or len(ln) > 40:
            fail(f"{name}: long_name {ln!r} is not a short label")
    fig = Figure()
    ax = fig.add_subplot()
    raw["visits"].plot(ax=ax)
    if "\n" in ax.get_ylabel() or ax.get_ylabel() != "clinic visits [1]":
        fail(f"plain xarray label {ax.get_ylabel()!r}")
    if raw["visits"].attrs.get("cell_methods") != "time: sum" or \
            "cell_methods" in raw["members"].attrs:
        fail("cell_methods: counters over the interval only")
    raw.close()
    # report's figures
    rep = os.path.join(outdir, "rep_portable")
    written = ca.report(path, rep, stream=False)
    seed = ds.attrs["parameters"]["run.seed"]
    for name in [n for n, _ in reporting.PANELS] + ["overview"]:
        for ext in ("svg", "pdf"):
            p = os.path.join(rep, f"{name}.{ext}")
            if not os.path.getsize(p) > 1000 or written.get(f"{name}.{ext}") != p:
                fail(f"report: no {p}")
        svg = open(os.path.join(rep, f"{name}.svg")).read()
        if f"seed {seed}" not in svg or os.path.basename(path) not in svg:
            fail(f"report: {name}.svg does not name the run and its seed")
    table = ca.evaluate(ds)
    run = reporting._Run(ds.load(), table)
    for panel in (reporting.panel_members, reporting.panel_commons, reporting.panel_users):
        fig = Figure()
        ax = fig.add_subplot()
        panel(ax, run)
        fig.canvas.draw() if hasattr(fig.canvas, "draw") else None
        ticks = ax.get_yticks()
        if not np.allclose(ticks, np.round(ticks)):
            fail(f"{panel.__name__}: count axis ticks {ticks}")
    fig = Figure()
    ax = fig.add_subplot()
    reporting.panel_members(ax, run)   # the members target at 2007-01-01: a diamond
    handles, labels = ax.get_legend_handles_labels()
    marks = {lab: getattr(h, "get_marker", lambda: None)() for h, lab in zip(handles, labels)
             if "target" in lab}
    if not marks or any(m != "D" for m in marks.values()):
        fail(f"members panel: target legend entries {marks} are not diamonds")
    ok("load().to_netcdf works; with_names facets 'type = PAT'; short long_names; figures "
       "name run and seed, count ticks integer, target legend diamonds, SVG and PDF")


def run_one(args):
    cmd = args[0] if args else ""
    if cmd == "report" and len(args) == 3:
        cmd_report(args[1], args[2])
    elif cmd == "compare" and len(args) >= 4:
        cmd_compare(args[1], args[2:])
    elif cmd == "frame" and len(args) == 2:
        cmd_frame(args[1])
    elif cmd == "future" and len(args) == 3:
        cmd_future(args[1], args[2])
    elif cmd == "export" and len(args) == 3:
        cmd_export(args[1], args[2])
    elif cmd == "portable" and len(args) == 3:
        cmd_portable(args[1], args[2])
    elif cmd == "many" and len(args) >= 3:
        cmd_many(args[1], args[2:])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


def main(argv):
    """Run the checks named on the command line, several separated by "+" (one Python
    start-up for them all)."""
    current = []
    for arg in argv[1:] + ["+"]:
        if arg == "+":
            run_one(current)
            current = []
        else:
            current.append(arg)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
