"""Reading clhsim outputs: the run as an xarray.Dataset and as a tidy pandas.DataFrame.

A clhsim output is one HDF5 file (docs/output.md):

- ``/timeseries``: one dataset per variable, ``time`` first (``centre_time`` for the
  per-centre ones), every axis a dimension scale, so xarray opens the group directly
  and decodes ``time`` to dates;
- ``/parameters``: the effective configuration, attribute ``yaml`` (the whole file)
  and one attribute per key (``run.seed``, ``levers.commons.on``, ...);
- ``/code``: the build (version, git revision, compiler, MPI, HDF5);
- ``/run``: written at the end (ranks, threads, seed, steps, wall time, ...).

:func:`load` returns ``/timeseries`` as a Dataset with the other three groups as
plain dictionaries in ``ds.attrs["parameters"]``, ``ds.attrs["code"]`` and
``ds.attrs["run"]``; :func:`to_frame` turns a run into one long table.
"""
import os
import re

import numpy as np
import pandas as pd
import xarray as xr

from .files import (PROVENANCE_KEYS, BadInput, ProvenanceText, check_file,  # noqa: F401
                    read_provenance)


#: The order of the axis columns in :func:`to_frame` (others follow, by name).
AXIS_ORDER = ("centre", "type", "tier", "tie_kind", "resource_kind", "degree_bin", "outcome")


_LABELS_IN_LONG_NAME = re.compile(r"(\d+) ([A-Za-z][\w-]*)")


def axis_labels(coord):
    """The names of a labelled axis (a list of str), or None.

    Names come from the CF ``flag_meanings`` attribute (the same as the label variable
    ``<axis>_name`` of newer files); an axis without one whose
    ``long_name`` lists ``0 name, 1 name, ...`` (the engagement ``tier``) is read
    from that.
    """
    attrs = coord.attrs
    if "flag_meanings" in attrs:
        names = str(attrs["flag_meanings"]).split()
        if len(names) == coord.size:
            return names
    found = _LABELS_IN_LONG_NAME.findall(str(attrs.get("long_name", "")))
    if found and [int(i) for i, _ in found] == [int(v) for v in coord.values]:
        return [name for _, name in found]
    return None


def _engine():
    """netCDF4 (about 20 times faster than h5netcdf at opening these files), else h5netcdf."""
    try:
        import netCDF4  # noqa: F401
        return "netcdf4"
    except ImportError:
        return "h5netcdf"


def load(path, engine=None):
    """Open a clhsim output as an ``xarray.Dataset``.

    The Dataset holds every variable of ``/timeseries``; ``time`` is decoded to
    ``datetime64``; the per-centre variables are put on ``time`` too (NaN at records
    without them when ``output.centre_every`` is coarser than ``output.every``); every labelled axis (``type``, ``tier``, ``tie_kind``, ...) keeps
    its integer coordinate and gains a ``<axis>_label`` coordinate with the names,
    so ``ds.agents_by_tier.sel(type=2)`` and ``ds.swap_dims(type="type_label")``
    both work. Values are read lazily (call ``.load()`` to read them all).

    ``ds.attrs`` gains (each a :class:`ProvenanceText`: JSON text, so ``ds.to_netcdf(...)``
    writes it as a text attribute, that also reads like a dict):

    - ``parameters``: every configuration key (``ds.attrs["parameters"]["run.seed"]``,
      ``"levers.qi_training.on"``, ...) and ``"yaml"``, the whole configuration;
    - ``code``: the build's identity (``version``, ``git_revision``, ...);
    - ``run``: the run's record (``ranks``, ``threads``, ``steps``, ``wall_time_s``, ...);
    - ``source_file``: the path.

    ``time_bnds`` (CF cell bounds of ``time``: the interval each record's counters cover)
    is kept as a variable where the file has it.

    Older files (``parameters`` etc. as dicts) and these both work with ``strip_provenance``.

    Raises :class:`BadInput` (naming the file) for a missing file or one that is
    not a clhsim output. ``engine`` is passed to ``xarray.open_dataset``
    (default ``netcdf4``, or ``h5netcdf`` where netCDF4 is not installed).
    """
    path = os.fspath(path)
    check_file(path)
    prov = read_provenance(path)
    try:
        ds = xr.open_dataset(path, group="timeseries", engine=engine or _engine())
    except Exception as err:  # the engines raise many kinds
        raise BadInput(f"{path}: xarray cannot open /timeseries ({err})") from None
    ds = _centre_series_on_time(ds)
    for dim in list(ds.dims):
        if dim in ds.coords and dim != "time":
            if f"{dim}_name" in ds.coords:  # the CF label variable (newer files)
                names = [v.decode() if isinstance(v, bytes) else str(v)
                         for v in ds[f"{dim}_name"].values]
            else:
                names = axis_labels(ds[dim])
            if names is not None:
                ds = ds.assign_coords({f"{dim}_label": (dim, names)})
    ds.attrs.update(parameters=ProvenanceText(prov["parameters"]),
                    code=ProvenanceText(prov["code"]), run=ProvenanceText(prov["run"]),
                    source_file=path)
    return ds


def with_names(obj):
    """``obj`` (a Dataset or DataArray from :func:`load`) with every labelled axis indexed by
    its names: ``type`` holds ``PAT``, ``FAM``, ... instead of 0, 1, ..., so plots name
    them (``with_names(ds).agents_by_tier.plot(col="type")`` titles its panels
    ``type = PAT``) and ``.sel(type="CLIN")`` works. The integers stay as ``<axis>_index``."""
    for dim in list(obj.dims):
        label = f"{dim}_label"
        if label in obj.coords and dim in obj.coords:
            obj = obj.assign_coords({f"{dim}_index": (dim, obj[dim].values)})
            obj = obj.drop_vars([c for c in (f"{dim}_name",) if c in obj.coords])
            obj = obj.swap_dims({dim: label}).drop_vars(dim).rename({label: dim})
    return obj


def _centre_series_on_time(ds):
    """The per-centre variables on the ``time`` axis.

    They have their own axis, ``centre_time`` (``output.centre_every``): the same
    records as ``time`` by default, or a subset. On ``time`` every tool here reads them
    like the others; records without them hold NaN (and their integer flags become
    floats). A run with ``output.centre_every = 0`` has none.
    """
    if "centre_time" not in ds.dims:
        return ds
    names = [v for v in ds.data_vars if "centre_time" in ds[v].dims]
    per = ds[names].rename({"centre_time": "time"})
    if not np.array_equal(per["time"].values, ds["time"].values):
        per = per.reindex(time=ds["time"].values)
    out = ds.drop_vars(names + ["centre_time"])
    return out.assign({n: per[n].assign_coords(time=out["time"]) for n in names})


def strip_provenance(ds):
    """A copy of ``ds`` without the provenance attributes that :func:`load` added.

    Not needed before ``Dataset.to_netcdf`` any more (they are text now), but still a way to
    a lean copy; the YAML configuration is kept as the text attribute ``parameters_yaml``.
    """
    out = ds.copy()
    params = out.attrs.get("parameters") or {}
    for key in PROVENANCE_KEYS + ("source_file",):
        out.attrs.pop(key, None)
    if "yaml" in params:
        out.attrs["parameters_yaml"] = params["yaml"]
    return out


def _as_dataset(obj):
    if isinstance(obj, xr.Dataset):
        return obj
    return load(obj)


def to_frame(obj, variables=None, labels=True, centres=True):
    """A run as a tidy ``pandas.DataFrame``: one row per time x variable x axis value.

    ``obj`` is a path or a Dataset from :func:`load`. Columns: ``date``
    (datetime64), ``variable``, one column per axis that any chosen variable has
    (``centre``, ``type``, ``tier``, ``tie_kind``, ``resource_kind``,
    ``degree_bin``, ...; empty (NA) in the rows of variables without that axis),
    and ``value`` (float64; integer counts are exact below 2**53). Labelled axes
    hold their names (``PAT``, ``contributor``, ``online``) as ordered categories
    when ``labels`` is true, their integers otherwise; other axes are nullable
    integers (``Int64``).

    ``variables``: the names to include (default: every variable except
    ``state_digest``, a 64-bit hash rather than a quantity). ``centres=False``
    leaves out the per-centre ``[time, centre]`` variables (most of the rows of a
    large run) unless they are named in ``variables``.

    ``df.attrs`` holds ``parameters``, ``code``, ``run`` and ``source_file`` as in
    :func:`load`.

    >>> df = to_frame("run.h5", centres=False)
    >>> df[df.variable == "remission_observed"].set_index("date").value.plot()
    >>> df.query("variable == 'agents_by_tier' and tier == 'leader'")
    """
    opened = not isinstance(obj, xr.Dataset)
    ds = _as_dataset(obj)
    try:
        return _frame(ds, variables, labels, centres)
    finally:
        if opened:
            ds.close()


def _frame(ds, variables, labels, centres):
    if variables is None:
        bounds = {str(c.attrs.get("bounds", "")) for c in ds.coords.values()} | {"time_bnds"}
        names = [v for v in ds.data_vars if v != "state_digest" and v not in bounds
                 and "time" in ds[v].dims and (centres or "centre" not in ds[v].dims)]
    else:
        names = list(variables)
        missing = [v for v in names if v not in ds.data_vars]
        if missing:
            raise KeyError(f"not in the run: {', '.join(missing)}")
    axes = []
    for name in names:
        for dim in ds[name].dims:
            if dim != "time" and dim not in axes:
                axes.append(dim)
    axes.sort(key=lambda d: (AXIS_ORDER.index(d) if d in AXIS_ORDER else len(AXIS_ORDER), d))
    label_of = {}
    for dim in axes:
        if labels and f"{dim}_label" in ds.coords:
            label_of[dim] = [str(v) for v in ds[f"{dim}_label"].values]
        elif labels and dim in ds.coords and axis_labels(ds[dim]) is not None:
            label_of[dim] = axis_labels(ds[dim])

    parts = []
    for name in names:
        da = ds[name]
        if "time" not in da.dims:
            continue
        da = da.transpose("time", *[d for d in da.dims if d != "time"])
        values = np.asarray(da.values)
        n = values.size
        part = {"date": np.repeat(np.asarray(ds["time"].values), n // max(da.sizes["time"], 1)),
                "variable": np.full(n, name, dtype=object)}
        # Index arrays for each axis, in C order (time slowest).
        shape = values.shape
        grids = np.indices(shape).reshape(len(shape), -1) if n else np.zeros((len(shape), 0), int)
        for k, dim in enumerate(da.dims[1:], start=1):
            coord = np.asarray(ds[dim].values) if dim in ds.coords else np.arange(shape[k])
            part[dim] = coord[grids[k]]
        part["value"] = values.reshape(-1).astype(np.float64)
        parts.append(pd.DataFrame(part))
    if parts:
        df = pd.concat(parts, ignore_index=True, sort=False)
    else:
        df = pd.DataFrame({"date": pd.Series([], dtype="datetime64[ns]"), "variable": [],
                           "value": []})
    for dim in axes:
        if dim not in df:
            df[dim] = pd.NA
        if dim in label_of:
            # Axis coordinates are 0 .. len-1, but map them by position to be safe.
            coord = [int(v) for v in ds[dim].values] if dim in ds.coords else \
                list(range(len(label_of[dim])))
            position = {v: i for i, v in enumerate(coord)}
            codes = pd.to_numeric(df[dim], errors="coerce").map(position).fillna(-1).astype(int)
            df[dim] = pd.Categorical.from_codes(codes, categories=label_of[dim], ordered=True)
        else:
            df[dim] = df[dim].astype("Int64")
    df = df[["date", "variable", *axes, "value"]]
    df.attrs = {k: ds.attrs.get(k) for k in PROVENANCE_KEYS + ("source_file",)
                if k in ds.attrs}
    return df
