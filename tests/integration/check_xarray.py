#!/usr/bin/python3
"""Check that a clhsim output opens in the analysis tools.

Usage: /usr/bin/python3 tests/integration/check_xarray.py OUTPUT.h5 [--expect-records N]

Opens group /timeseries with xarray through both netCDF back ends (h5netcdf
and netcdf4), asserts that `time` decodes to datetime64, that every variable
has `units` and `long_name`, that both engines agree on every value, and that
labelled axes come back as their labels. Also reads /parameters, /code and /run
with h5py. Prints the variables. Exit status 0 when all is well.

Needs Debian's python3-xarray, python3-h5netcdf, python3-netcdf4, python3-h5py:
run it with /usr/bin/python3 (the `python3` on PATH may be a build without them).
"""
import argparse
import re
import sys

import h5py
import numpy as np
import xarray as xr


def open_both(path):
    out = {}
    for engine in ("h5netcdf", "netcdf4"):
        ds = xr.open_dataset(path, group="timeseries", engine=engine)
        ds.load()
        out[engine] = ds
    return out


#: dimensions without a coordinate variable: the cell bounds' and the label variables' axes
def pure_dim(name):
    return name == "nv" or name.endswith("_strlen")


def check_dataset(ds, engine, expect_records):
    problems = []
    bounds = {c.attrs.get("bounds") for c in ds.coords.values()} - {None}
    if "time" not in ds.coords:
        problems.append(f"{engine}: no time coordinate")
        return problems
    if not np.issubdtype(ds["time"].dtype, np.datetime64):
        problems.append(f"{engine}: time has dtype {ds['time'].dtype}, not datetime64")
    if expect_records is not None and ds.sizes.get("time") != expect_records:
        problems.append(f"{engine}: {ds.sizes.get('time')} records, expected {expect_records}")
    for name, var in ds.data_vars.items():
        if name in bounds:  # CF: a bounds variable takes its units from its coordinate
            continue
        # per-centre variables have their own time axis (output.centre_every)
        first = ("centre_time",) if "centre" in var.dims else ("time",)
        if var.dims[:1] != first:
            problems.append(f"{engine}: {name} does not start with the {first[0]} axis: "
                            f"{var.dims}")
        for attr in ("units", "long_name"):
            if attr not in var.attrs:
                problems.append(f"{engine}: {name} has no {attr}")
        if any(d.startswith("phony_dim") for d in var.dims):
            problems.append(f"{engine}: {name} has invented dimensions {var.dims}")
    for name in ds.dims:
        if name not in ds.coords and not pure_dim(name):
            problems.append(f"{engine}: dimension {name} has no coordinate")
        if len(str(var.attrs.get("long_name", ""))) > 40:
            problems.append(f"{engine}: {name} has a long long_name (a plot label): "
                            f"{var.attrs['long_name']!r}; the description goes in comment")
        if var.attrs.get("cell_methods") not in (None, "time: sum"):
            problems.append(f"{engine}: {name} cell_methods {var.attrs['cell_methods']!r}")
    # CF cell bounds of time: (previous record, this record]; the first record [t0, t0].
    if "time_bnds" in ds:
        if ds["time"].attrs.get("bounds") != "time_bnds" and \
                ds["time"].encoding.get("bounds") != "time_bnds":
            problems.append(f"{engine}: time has no bounds = time_bnds")
        tb, t = ds["time_bnds"].values, ds["time"].values
        if ds["time_bnds"].dims != ("time", "nv") or not (
                np.array_equal(tb[:, 1], t) and np.array_equal(tb[1:, 0], t[:-1])
                and (t.size == 0 or tb[0, 0] == t[0])):
            problems.append(f"{engine}: time_bnds {ds['time_bnds'].dims} is not "
                            "(previous time, time)")
    # CF label variables: <axis>_name coordinates holding the flag_meanings as text.
    for dim in ds.dims:
        if dim in ds.coords and "flag_meanings" in ds[dim].attrs:
            label = f"{dim}_name"
            if label not in ds.coords:
                problems.append(f"{engine}: labelled axis {dim} has no label coordinate {label}")
            elif [str(v) for v in ds[label].values] != str(ds[dim].attrs["flag_meanings"]).split():
                problems.append(f"{engine}: {label} = {ds[label].values} is not {dim}'s "
                                "flag_meanings")
            elif not re.fullmatch(r"[A-Za-z0-9_ ]+", str(ds[dim].attrs["flag_meanings"])):
                problems.append(f"{engine}: {dim} flag_meanings has characters CF does not allow: "
                                f"{ds[dim].attrs['flag_meanings']!r}")
    return problems


def null_dataspace_attributes(f):
    """Attributes with a NULL dataspace anywhere in the file (R's hdf5r cannot read them)."""
    found = []

    def visit(name, obj):
        for key in obj.attrs:
            aid = h5py.h5a.open(obj.id, key.encode())
            if aid.get_space().get_simple_extent_type() == h5py.h5s.NULL:
                found.append(f"{name or '/'}@{key}")
    visit("", f)
    f.visititems(visit)
    return found


def same(a, b):
    if a.dtype.kind == "f":
        return np.array_equal(a, b, equal_nan=True)
    return np.array_equal(a, b)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path")
    ap.add_argument("--expect-records", type=int, default=None)
    args = ap.parse_args()

    problems = []
    both = open_both(args.path)
    for engine, ds in both.items():
        problems += check_dataset(ds, engine, args.expect_records)
    a, b = both["h5netcdf"], both["netcdf4"]
    if set(a.variables) != set(b.variables):
        problems.append(f"engines disagree on variables: {sorted(a.variables)} vs {sorted(b.variables)}")
    for name in set(a.variables) & set(b.variables):
        if a[name].dims != b[name].dims:
            problems.append(f"engines disagree on the axes of {name}: {a[name].dims} vs {b[name].dims}")
        elif not same(a[name].values, b[name].values):
            problems.append(f"engines disagree on the values of {name}")
    for name, coord in a.coords.items():
        # Labelled axes: integer coordinates with CF flag_values / flag_meanings.
        if "flag_meanings" in coord.attrs:
            meanings = str(coord.attrs["flag_meanings"]).split()
            values = np.atleast_1d(coord.attrs.get("flag_values", []))
            if len(meanings) != coord.size or len(values) != coord.size:
                problems.append(f"{name}: {coord.size} values but flag_meanings {meanings}, "
                                f"flag_values {values}")

    with h5py.File(args.path, "r") as f:
        for group in ("parameters", "code"):
            if group not in f:
                problems.append(f"no /{group} group")
        if "parameters" in f and "yaml" not in f["parameters"].attrs and "yaml" not in f["parameters"]:
            problems.append("no /parameters yaml")
        for bad in null_dataspace_attributes(f):
            problems.append(f"attribute with a NULL dataspace: {bad}")
        for attr in ("date_created", "history"):
            if "timeseries" in f and attr in f["timeseries"].attrs:
                problems.append(f"/timeseries has {attr}: two identical runs then differ there")
        code = dict(f["code"].attrs) if "code" in f else {}
        run = dict(f["run"].attrs) if "run" in f else {}

    print(a)
    print()
    print("time:", a["time"].values[:3], "...", a["time"].values[-1:])
    for name, coord in a.coords.items():
        if name != "time":
            labels = coord.attrs.get("flag_meanings")
            print(f"{name}:", coord.values, f"labels: {labels}" if labels else "")
    print("code:", {k: (v.decode() if isinstance(v, bytes) else v) for k, v in code.items()})
    if run:
        print("run:", {k: (v.decode() if isinstance(v, bytes) else v) for k, v in run.items()})

    if problems:
        for p in problems:
            print("PROBLEM:", p, file=sys.stderr)
        return 1
    print("OK: opens with h5netcdf and netcdf4, time decodes to datetime64")
    return 0


if __name__ == "__main__":
    sys.exit(main())
