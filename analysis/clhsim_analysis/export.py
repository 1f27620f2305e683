"""``clhsim-analysis export --flat IN.h5 OUT.nc``: a flat netCDF-4 file (no groups).

Tools that read the netCDF classic data model only, such as CDO ("NetCDF4 groups not
supported"), cannot open a clhsim output, whose variables are in the group ``/timeseries``.
The flat file holds ``/timeseries``'s dimensions (``time`` and ``centre_time`` unlimited),
variables (values, types, chunking and compression as they are) and attributes (CF
``units``, ``long_name``, ``cell_methods``, ``bounds``, ``coordinates``, ...) in its root
group, and as global attributes the root's (``title``, ``Conventions``, ``history``, ...),
``/timeseries``'s, the whole configuration (``parameters_yaml``), and ``/code`` and ``/run``
(``code_<key>``, ``run_<key>``). The same as ``ncks -O -G : -g timeseries IN.h5 OUT.nc``
(NCO), plus the provenance.

Written to ``OUT.nc.PID.tmp`` beside OUT and renamed to OUT when complete; IN itself is never
written (OUT naming IN, even through a link, is refused).
"""
import os

import numpy as np

from .files import BadInput, check_file, read_provenance

#: records copied at a time (per-centre variables of large runs do not fit in memory whole)
_RECORDS_PER_COPY = 256


def _text(value):
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode("utf-8", errors="replace")
    return value


def _global(value):
    """An attribute value netCDF can hold: text, a number, or a 1-D numeric array."""
    value = _text(value)
    if isinstance(value, (list, tuple)):
        if not value or all(isinstance(v, str) for v in value):
            return " ".join(str(v) for v in value)
        return np.asarray(value)
    return value


def _check_paths(src, dest):
    if os.path.isdir(dest):
        raise BadInput(f"{dest}: is a folder; give the name of the file to write")
    folder = os.path.dirname(os.path.abspath(dest))
    if not os.path.isdir(folder):
        raise BadInput(f"{dest}: its folder {folder} does not exist")
    if os.path.exists(dest) and os.path.samefile(src, dest):
        raise BadInput(f"{dest}: is the input file; the export never overwrites its input")
    if not os.access(folder, os.W_OK):
        raise BadInput(f"{dest}: cannot write in {folder} (permission denied)")


def export_flat(src, dest):
    """Write ``/timeseries`` of clhsim output ``src`` as a flat netCDF-4 file ``dest``.

    Returns ``dest``. Raises :class:`BadInput` for a bad input file or destination.
    """
    import netCDF4

    src, dest = os.fspath(src), os.fspath(dest)
    check_file(src)
    _check_paths(src, dest)
    prov = read_provenance(src)
    tmp = f"{dest}.{os.getpid()}.tmp"
    try:
        with netCDF4.Dataset(src, "r") as fin, \
                netCDF4.Dataset(tmp, "w", format="NETCDF4") as fout:
            _copy(fin, fin.groups["timeseries"], fout, prov, src)
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return dest


def _copy(root, g, out, prov, src):
    g.set_auto_maskandscale(False)
    g.set_auto_chartostring(False)
    for name, dim in g.dimensions.items():
        out.createDimension(name, None if dim.isunlimited() else len(dim))
    for name, var in g.variables.items():
        kw = {}
        filters = var.filters() or {}
        if filters.get("zlib"):
            kw.update(zlib=True, complevel=filters.get("complevel", 1),
                      shuffle=bool(filters.get("shuffle")))
        chunking = var.chunking()
        if chunking != "contiguous":
            kw["chunksizes"] = chunking
        attrs = {k: var.getncattr(k) for k in var.ncattrs()}
        fill = attrs.pop("_FillValue", None)
        v = out.createVariable(name, var.datatype, var.dimensions, fill_value=fill, **kw)
        v.set_auto_maskandscale(False)
        v.set_auto_chartostring(False)
        v.setncatts(attrs)
        if var.ndim == 0:
            v[...] = var[...]
            continue
        n = var.shape[0]
        for a in range(0, n, _RECORDS_PER_COPY):
            b = min(n, a + _RECORDS_PER_COPY)
            v[a:b] = var[a:b]
    # Global attributes: the root's, then /timeseries's own, then the provenance groups.
    attrs = {k: root.getncattr(k) for k in root.ncattrs()}
    attrs.update({k: g.getncattr(k) for k in g.ncattrs()})
    history = str(_text(attrs.get("history", "")))
    attrs["history"] = (history + "\n" if history else "") + \
        f"flattened from {os.path.basename(src)} (group /timeseries) by clhsim-analysis " \
        "export --flat"
    if "yaml" in prov["parameters"]:
        attrs["parameters_yaml"] = prov["parameters"]["yaml"]
    for group in ("code", "run"):
        for k, value in prov[group].items():
            attrs[f"{group}_{k}"] = value
    out.setncatts({k: _global(v) for k, v in attrs.items()})
