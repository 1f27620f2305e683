"""Many runs as one xarray Dataset with a ``member`` dimension.

- :func:`load_ensemble` opens the file that ``clhsim ensemble DESIGN.yml`` writes: every
  /timeseries variable with a leading ``member`` dimension, coordinates ``seed``,
  ``scenario`` (when the design has scenarios) and each parameter the design varies
  (``care.rem_evidence``, ...), and ``ds.attrs["members"]``: per member its configuration
  (YAML text) and its /run record (a dict).
- :func:`load_many` stacks separate run files the same way, along a dimension of your
  choosing, with the run's seed and the parameters that differ between the files as
  coordinates.

Both give the per-centre variables on ``time`` (as :func:`clhsim_analysis.load` does) and
the labelled axes their ``<axis>_label`` coordinates.
"""
import os

import h5py
import numpy as np
import pandas as pd
import xarray as xr

from .data import _centre_series_on_time, _engine, axis_labels, load
from .files import BadInput


def _labels(ds):
    for dim in list(ds.dims):
        if dim in ds.coords and dim not in ("time", "member"):
            names = axis_labels(ds[dim])
            if names is not None:
                ds = ds.assign_coords({f"{dim}_label": (dim, names)})
    return ds


def _run_record(text):
    out = {}
    for line in str(text).splitlines():
        key, sep, value = line.partition(": ")
        if not sep:
            continue
        try:
            out[key] = int(value)
        except ValueError:
            try:
                out[key] = float(value)
            except ValueError:
                out[key] = value
    return out


def load_ensemble(path, engine=None):
    """Open an ensemble file (``clhsim ensemble``) as an ``xarray.Dataset`` with a
    ``member`` dimension. ``ds.attrs``: ``design`` (the design file's text),
    ``model_version``, ``members`` (a list of dicts ``{"config_yaml": str, "run": dict}``),
    ``source_file``. Raises :class:`BadInput` for a missing file or one that is not an
    ensemble file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise BadInput(f"{path}: no such file")
    try:
        with h5py.File(path, "r") as f:
            if "timeseries/member" not in f or "members" not in f:
                raise BadInput(f"{path}: not a clhsim ensemble file (no /timeseries/member)")
            design = f.attrs.get("design", b"")
            trial = {k: f.attrs[k] for k in ("trial_lever", "trial_seed", "trial_strata")
                     if k in f.attrs}
            version = f.attrs.get("model_version", b"")
            yamls = [x.decode() if isinstance(x, bytes) else str(x)
                     for x in f["members/config_yaml"][()]]
            runs = [_run_record(x.decode() if isinstance(x, bytes) else x)
                    for x in f["members/run"][()]]
    except OSError as err:
        raise BadInput(f"{path}: cannot be read ({err})") from None
    ds = xr.open_dataset(path, group="timeseries", engine=engine or _engine())
    ds = _labels(_centre_series_on_time(ds))
    dec = (lambda v: v.decode() if isinstance(v, bytes) else str(v))
    ds.attrs.update(design=dec(design), model_version=dec(version), source_file=path,
                    members=[{"config_yaml": y, "run": r} for y, r in zip(yamls, runs)],
                    **{k: dec(v) for k, v in trial.items()})
    return ds


def load_many(paths, dim="run", engine=None):
    """Stack separate run files along ``dim`` (default ``run``).

    Coordinates along ``dim``: ``file`` (the path), ``seed`` (``run.seed``) and every
    configuration key whose value differs between the files (named by the key, e.g.
    ``care.rem_evidence``; numbers where every value is one, else text), so a plot or a
    groupby can name the parameter that differs rather than the file. The runs must share
    their time axis (``run.steps``, ``run.start_date``, ``output.every``)."""
    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise BadInput("load_many: no files")
    runs = [load(p, engine=engine) for p in paths]
    params = [r.attrs["parameters"] for r in runs]
    skip = {"yaml", "output.path", "run.seed", "checkpoint.dir"}
    keys = sorted(k for k in params[0] if k not in skip and
                  len({str(p.get(k)) for p in params}) > 1)
    for r, p in zip(runs[1:], paths[1:]):
        if r.sizes.get("time") != runs[0].sizes.get("time") or \
                not np.array_equal(r["time"].values, runs[0]["time"].values):
            raise BadInput(f"{p}: its time axis differs from {paths[0]}'s; load_many stacks "
                           "runs with the same run.steps, run.start_date and output.every")
    bare = [r.drop_vars([c for c in r.coords if c.endswith("_label")]) for r in runs]
    for r in bare:
        r.attrs = {}
    out = xr.concat(bare, dim=dim, coords="minimal", compat="override", join="override")
    coords = {"file": (dim, paths),
              "seed": (dim, np.array([int(p.get("run.seed", 0)) for p in params],
                                     dtype=np.uint64))}
    for k in keys:
        vals = [p.get(k) for p in params]
        try:
            coords[k] = (dim, np.array([float(v) for v in vals]))
        except (TypeError, ValueError):
            coords[k] = (dim, np.array([str(v) for v in vals], dtype=object))
    out = out.assign_coords(coords)
    out = _labels(out)
    out.attrs["runs"] = [{"parameters": p, "code": r.attrs.get("code"),
                          "run": r.attrs.get("run")} for p, r in zip(params, runs)]
    return out


def member_table(ds, dim="member"):
    """The coordinates along ``dim`` (seed, scenario, parameters) as a ``pandas.DataFrame``."""
    cols = {c: ds[c].values for c in ds.coords if ds[c].dims == (dim,)}
    return pd.DataFrame(cols)
