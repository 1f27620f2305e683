#!/usr/bin/env bash
# A real (short) run's output opens in xarray with both engines and decoded dates,
# and holds /parameters, /code and /run (with the host and the batch job id: SLURM's
# before PBS's).
set -euo pipefail
bin=$1 py=$2 dir=$3
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
OMP_NUM_THREADS=1 mpiexec -n 2 --bind-to none -x SLURM_JOB_ID=777 -x PBS_JOBID=4242.pbs \
  "$bin" run --quiet -P run.steps=30 -P output.every=3 -o run.h5
test ! -e run.h5.tmp
"$py" "$here/check_xarray.py" run.h5 --expect-records 11
"$py" - <<'PY'
import h5py, numpy as np, socket
with h5py.File("run.h5", "r") as f:
    assert "yaml" in f["parameters"].attrs, "no /parameters yaml"
    for k in ("git_revision", "compiler", "mpi_version", "hdf5_version"):
        assert k in f["code"].attrs, f"/code lacks {k}"
    run = f["run"].attrs
    assert int(run["ranks"]) == 2 and int(run["steps"]) == 30
    assert run["job_id"] == b"777", run["job_id"]
    assert run["host"].decode() == socket.gethostname(), run["host"]
    t = f["timeseries/time"][()]
    assert np.array_equal(t, 7.0 * 3 * np.arange(11)), t
    assert f["timeseries/centre_reliability"].shape == (11, 100)
    m = f["timeseries/members"][()]
    assert m[0] == 7 and np.all(np.diff(m) >= 0)
print("run output ok")
PY
# output.centre_every: the per-centre series on their own time axis (every 9 steps), or none at all with 0; the file opens in xarray either way.
OMP_NUM_THREADS=1 mpiexec -n 2 --bind-to none "$bin" run --quiet -P run.steps=30 \
  -P output.every=3 -P output.centre_every=9 -o coarse.h5
OMP_NUM_THREADS=1 mpiexec -n 2 --bind-to none "$bin" run --quiet -P run.steps=30 \
  -P output.every=3 -P output.centre_every=0 -o none.h5
"$py" - <<'PY'
import h5py, numpy as np, xarray as xr
with h5py.File("coarse.h5", "r") as f:
    g = f["timeseries"]
    assert np.array_equal(g["centre_time"][()], 7.0 * np.array([0, 9, 18, 27])), \
        g["centre_time"][()]
    assert g["centre_reliability"].shape == (4, 100) and g["time"].shape == (11,)
    assert g["centre_reliability"].compression == "gzip"
with h5py.File("none.h5", "r") as f:
    g = f["timeseries"]
    left = [k for k in g if k in ("centre", "centre_time") or
            (isinstance(g[k], h5py.Dataset) and g[k].ndim > 1 and "centre" in k)]
    assert not left and "centre_reliability" not in g, left
    assert g["members"].shape == (11,)
for path in ("coarse.h5", "none.h5"):
    for engine in ("h5netcdf", "netcdf4"):
        ds = xr.open_dataset(path, group="timeseries", engine=engine)
        assert ds.sizes["time"] == 11, (path, engine, dict(ds.sizes))
        if path == "coarse.h5":
            assert ds["centre_reliability"].dims == ("centre_time", "centre")
            assert str(ds["centre_time"].values[1])[:10] == "2007-03-05"
        ds.close()
print("centre_every output ok")
PY
