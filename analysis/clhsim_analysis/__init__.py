"""clhsim_analysis: read, summarise, plot and compare clhsim runs.

    import clhsim_analysis as ca
    ds = ca.load("run.h5")                 # xarray.Dataset of /timeseries, dates decoded;
                                           # ds.attrs["parameters"|"code"|"run"]: JSON
                                           # text that reads like a dict
    df = ca.to_frame(ds)                   # tidy pandas.DataFrame (date, variable, axes, value)
    table = ca.evaluate(ds)                # the MODEL.md §12 targets: simulated vs band
    ca.report("run.h5", "report/")         # PNG figures, summary.txt, targets.csv
    ca.compare(["a.h5", "b.h5"], "cmp/")   # bit-identical? else differences, plot
    ens = ca.load_ensemble("ens.h5")       # `clhsim ensemble`: a `member` dimension with the
                                           # seed and the varied parameters as coordinates
    many = ca.load_many(["a.h5", "b.h5"], dim="seed_run")   # separate runs, stacked
    groups, reps = ca.trial_analyse(ens, "2012-01-01")       # a simulated trial's effect
    ca.export_flat("run.h5", "flat.nc")    # /timeseries as a netCDF-4 file without groups

Command line: ``clhsim-analysis report|compare|targets|ensemble|trial|frame|export ...`` (analysis/clhsim-analysis,
or ``python3 -m clhsim_analysis`` with analysis/ on PYTHONPATH). Needs numpy, pandas,
xarray, h5py, h5netcdf or netCDF4, matplotlib (for the figures only) and scipy (trials only).

The names below are imported when first used, so that ``import clhsim_analysis`` (and the
command line's error messages) do not wait for xarray and matplotlib.
"""
import importlib

__version__ = "0.1.0"

_WHERE = {
    "BadInput": "files", "check_file": "files", "read_provenance": "files",
    "ProvenanceText": "files",
    "load": "data", "to_frame": "data", "axis_labels": "data", "strip_provenance": "data",
    "with_names": "data", "export_flat": "export",
    "TARGETS": "targets", "Target": "targets", "QUANTITIES": "targets", "evaluate": "targets",
    "report": "reporting", "compare": "comparison",
    "load_ensemble": "ensembles", "load_many": "ensembles", "member_table": "ensembles",
    "trial_frame": "trials", "trial_effect": "trials", "trial_analyse": "trials",
}

__all__ = sorted(_WHERE)


def __getattr__(name):
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
