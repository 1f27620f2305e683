"""The light part of reading clhsim outputs (h5py only, no xarray): is a file a clhsim
output, and its provenance groups ``/parameters``, ``/code`` and ``/run``.

Kept apart from :mod:`clhsim_analysis.data` so that ``compare`` and the command line's
error messages do not wait for xarray to import.
"""
import json
import os

import h5py
import numpy as np

#: Attributes that :func:`clhsim_analysis.load` adds to ``Dataset.attrs``: each a
#: :class:`ProvenanceText` (JSON text that also reads like a dict), so ``Dataset.to_netcdf``
#: writes them as text attributes.
PROVENANCE_KEYS = ("parameters", "code", "run")


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


class ProvenanceText(str):
    """A provenance group as JSON text that also reads like the dict it encodes.

    ``ds.attrs["parameters"]`` is a ``str`` (the JSON of every key), so netCDF writers take
    it as an ordinary text attribute (``ds.to_netcdf(...)`` works), and it answers the
    mapping calls: ``p["run.seed"]``, ``p.get("yaml")``, ``"run.seed" in p``, ``p.keys()``,
    ``p.items()``, ``dict(p.items())``. Indexing with an integer or a slice is the text's.
    """

    def __new__(cls, mapping):
        mapping = {str(k): _jsonable(v) for k, v in dict(mapping).items()}
        obj = super().__new__(cls, json.dumps(mapping, sort_keys=True))
        obj._map = mapping
        return obj

    def __reduce__(self):
        return (ProvenanceText, (self._map,))

    def __getitem__(self, key):
        if isinstance(key, str):
            return self._map[key]
        return str.__getitem__(self, key)

    def __contains__(self, key):
        return key in self._map

    def __iter__(self):
        return iter(self._map)

    def get(self, key, default=None):
        return self._map.get(key, default)

    def keys(self):
        return self._map.keys()

    def values(self):
        return self._map.values()

    def items(self):
        return self._map.items()

    def as_dict(self):
        """A plain dict (a copy)."""
        return dict(self._map)


class BadInput(Exception):
    """A file that is missing, unreadable, not HDF5 or not a clhsim output.

    ``str(err)`` starts with the file's path, so it can be shown as it is.
    """


def check_file(path):
    """Raise :class:`BadInput` unless ``path`` is a readable clhsim output file.

    A clhsim output is an HDF5 file with a ``/timeseries/time`` dataset and a
    ``/parameters`` group.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise BadInput(f"{path}: no such file")
    if os.path.isdir(path):
        raise BadInput(f"{path}: is a folder, not an output file")
    if not os.access(path, os.R_OK):
        raise BadInput(f"{path}: not readable (permission denied)")
    try:
        is_hdf5 = h5py.is_hdf5(path)
    except OSError as err:
        raise BadInput(f"{path}: cannot be read ({err})") from None
    if not is_hdf5:
        hint = " (a .tmp file is a run that has not finished)" if path.endswith(".tmp") else ""
        raise BadInput(f"{path}: not an HDF5 file{hint}")
    try:
        with h5py.File(path, "r") as f:
            if not isinstance(f.get("timeseries/time"), h5py.Dataset):
                raise BadInput(f"{path}: not a clhsim output (no /timeseries/time dataset)")
            if not isinstance(f.get("parameters"), h5py.Group):
                raise BadInput(f"{path}: not a clhsim output (no /parameters group)")
            if f["timeseries/time"].shape[0] == 0:
                raise BadInput(f"{path}: the run has no records (/timeseries/time is empty)")
    except OSError as err:
        raise BadInput(f"{path}: cannot be read as HDF5 ({err})") from None


def _plain(value):
    """An HDF5 attribute value as a plain Python value (str, int, float, list or array)."""
    if isinstance(value, h5py.Empty):  # an empty list in older files (NULL dataspace)
        return []
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode("ascii", errors="replace")
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "S":
            return [v.decode("ascii", errors="replace") for v in value.ravel()]
        if value.dtype.kind == "O":
            return [_plain(v) for v in value.ravel()]
        if value.size == 0:  # an empty list: a zero-length array
            return []
        return value
    if isinstance(value, np.generic):
        return value.item()
    return value


def read_provenance(path):
    """Read ``/parameters``, ``/code`` and ``/run`` (and the root attributes).

    Returns a dict with keys ``parameters``, ``code``, ``run`` and ``file``, each a
    dict of attribute name -> plain Python value. ``parameters["yaml"]`` is the
    whole configuration text (read from the attribute, or from the ``yaml`` dataset
    that replaces it when the text is too long for an attribute). A group that the
    file lacks (``/run`` of an unusual file) gives an empty dict.
    """
    out = {}
    with h5py.File(os.fspath(path), "r") as f:
        for group in PROVENANCE_KEYS:
            g = f.get(group)
            out[group] = {k: _plain(v) for k, v in g.attrs.items()} if g is not None else {}
        yaml_ds = f.get("parameters/yaml")
        if isinstance(yaml_ds, h5py.Dataset):
            out["parameters"]["yaml"] = _plain(yaml_ds[()])
        out["file"] = {k: _plain(v) for k, v in f.attrs.items()}
    return out
