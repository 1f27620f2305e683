#!/usr/bin/env bash
# The ImproveCareNow scenario (examples/icn.yml) stays on its calibrated trajectory.
#
# usage: icn_targets.sh CLHSIM OUTDIR        (PYTHON: a python3 with h5py, xarray, netCDF4 or
#                                             h5netcdf, pandas; default /usr/bin/python3)
#
# 1. examples/icn.yml must give the configuration the calibration chose: `clhsim config` of the
#    file equals `clhsim config` of the file with the calibrated overrides of
#    calibration/results/final.json (else the file was edited without recalibrating).
# 2. The scenario, full size (100 centres, 730 weeks), at 4 seeds that the calibration never
#    used (11-14), two runs at a time: the mean over the 4 seeds of each headline target
#    (observed remission 2007/2010/late 2015/2019, member centres, steroid use 2007/2018,
#    founding-centre reliability at week 100) must lie within
#        tol = max(4 * sd * sqrt(1/4 + 1/N), floor)
#    of the calibrated mean, where mean and sd are over the N = 10 seeds of
#    calibration/results/final.json (4 standard errors of the difference of two independent
#    ensemble means; floor 0.002 for shares, 0.5 for counts). docs/calibration.md gives the
#    derivation. About 20-40 s on 2 cores.
set -euo pipefail
bin=$1 dir=$2
py=${PYTHON:-/usr/bin/python3}
root=$(cd "$(dirname "$0")/../.." && pwd)
scenario=$root/examples/icn.yml
final=$root/calibration/results/final.json
seeds=(11 12 13 14)

if ! "$py" -c "import h5py, numpy, pandas, xarray" 2>/dev/null; then
  echo "SKIP: $py cannot import h5py, numpy, pandas and xarray"; exit 77
fi
rm -rf "$dir" && mkdir -p "$dir"
export OMP_NUM_THREADS=1

# 1. the file is the calibrated configuration
mapfile -t overrides < <("$py" - "$final" <<'PY'
import json, sys
ov = json.load(open(sys.argv[1]))["overrides"]
for k, v in sorted(ov.items()):
    print(f"{k}={v}")
PY
)
pargs=()
for o in "${overrides[@]}"; do pargs+=(-P "$o"); done
"$bin" config "$scenario" > "$dir/config_file.yml"
"$bin" config "$scenario" "${pargs[@]}" > "$dir/config_calibrated.yml"
if ! diff -u "$dir/config_file.yml" "$dir/config_calibrated.yml" > "$dir/config.diff"; then
  echo "FAIL: examples/icn.yml differs from the calibrated configuration (final.json):"
  cat "$dir/config.diff"; exit 1
fi
echo "examples/icn.yml is the calibrated configuration"

# 2. the trajectory: 4 seeds, two at a time
t0=$(date +%s)
for ((i = 0; i < ${#seeds[@]}; i += 2)); do
  for s in "${seeds[@]:i:2}"; do
    "$bin" run "$scenario" -P run.seed="$s" -o "$dir/icn_s$s.h5" --quiet > "$dir/icn_s$s.log" 2>&1 &
  done
  wait
done
echo "runs: $(( $(date +%s) - t0 )) s"

"$py" - "$root" "$final" "$dir" "${seeds[@]}" <<'PY'
import json, math, sys
import numpy as np
root, final, d, seeds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
from clhsim_analysis import load            # analysis/ on PYTHONPATH (tests/CMakeLists.txt)
from clhsim_analysis.targets import evaluate

HEADLINE = ["members_2007-01-01", "members_2009-06-01", "members_2012-03-01",
            "members_2015-05-01", "members_2015-12-01", "members_2016-06-01",
            "members_2017-06-01", "remission_2007", "remission_2010", "remission_2015",
            "remission_2019", "reliability_qi_100w", "steroid_2007", "steroid_2018"]
K = 4.0
ref = json.load(open(final))["per_seed"]
N = len(ref)
sims = {s: evaluate(load(f"{d}/icn_s{s}.h5")).set_index("target") for s in seeds}
n = len(seeds)
bad = 0
print(f"{'target':22s} {'calibrated (N=%d)' % N:>22s} {'this test (n=%d)' % n:>18s} "
      f"{'tolerance':>10s} {'§12 band':>14s}")
for t in HEADLINE:
    r = np.array([x[t] for x in ref], dtype=float)
    mu, sd = r.mean(), r.std(ddof=1)
    v = np.array([sims[s].loc[t, "simulated"] for s in seeds], dtype=float)
    floor = 0.5 if t.startswith("members") else 0.002
    tol = max(K * sd * math.sqrt(1 / n + 1 / N), floor)
    ok = abs(v.mean() - mu) <= tol
    bad += not ok
    row = sims[seeds[0]].loc[t]
    band = f"{row['low']:g}-{'' if math.isnan(row['high']) else format(row['high'], 'g')}"
    print(f"{t:22s} {mu:12.4f} ± {sd:7.4f} {v.mean():18.4f} {tol:10.4f} {band:>14s} "
          f"{'ok' if ok else 'DRIFTED'}")
sys.exit(1 if bad else 0)
PY
