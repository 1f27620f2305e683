#!/usr/bin/env bash
# The default run is the calibrated ImproveCareNow scenario (MODEL.md v1.2) and stays on its
# calibrated trajectory.
#
# usage: icn_targets.sh CLHSIM OUTDIR        (PYTHON: a python3 with h5py, xarray, netCDF4 or
#                                             h5netcdf, pandas; default /usr/bin/python3)
#
# 1. The defaults are the configuration the calibration confirmed: `clhsim config` equals
#    `clhsim config` with the overrides of calibration/results/final.json (every calibration
#    candidate at its default; else a default was changed without recalibrating).
# 2. The default run, full size (100 centres, 730 weeks), at 4 seeds that the calibration never
#    used (11-14), two runs at a time: the mean over the 4 seeds of every §12 target must lie
#    within
#        tol = max(4 * sd * sqrt(1/4 + 1/N), floor)
#    of the calibrated mean, where mean and sd are over the N = 10 seeds of
#    calibration/results/final.json (4 standard errors of the difference of two independent
#    ensemble means; floor 0.002 for shares, 0.5 for counts). docs/calibration.md gives the
#    derivation. About 20-40 s on 2 cores.
set -euo pipefail
bin=$1 dir=$2
py=${PYTHON:-/usr/bin/python3}
root=$(cd "$(dirname "$0")/../.." && pwd)
final=$root/calibration/results/final.json
seeds=(11 12 13 14)

if ! "$py" -c "import h5py, numpy, pandas, xarray" 2>/dev/null; then
  echo "SKIP: $py cannot import h5py, numpy, pandas and xarray"; exit 77
fi
rm -rf "$dir" && mkdir -p "$dir"
export OMP_NUM_THREADS=1

# 1. the defaults are the calibrated configuration
[ -f "$final" ] || { echo "FAIL: $final is missing (calibration/calibrate.py confirm writes it)"; exit 1; }
mapfile -t overrides < <("$py" - "$final" <<'PY'
import json, sys
ov = json.load(open(sys.argv[1]))["overrides"]
for k, v in sorted(ov.items()):
    print(f"{k}={v}")
PY
)
pargs=()
for o in "${overrides[@]}"; do pargs+=(-P "$o"); done
"$bin" config > "$dir/config_default.yml"
"$bin" config "${pargs[@]}" > "$dir/config_calibrated.yml"
if ! diff -u "$dir/config_default.yml" "$dir/config_calibrated.yml" > "$dir/config.diff"; then
  echo "FAIL: the defaults differ from the calibrated configuration (final.json):"
  cat "$dir/config.diff"; exit 1
fi
echo "the defaults are the calibrated configuration"

# 2. the trajectory: 4 seeds, two at a time
t0=$(date +%s)
for ((i = 0; i < ${#seeds[@]}; i += 2)); do
  for s in "${seeds[@]:i:2}"; do
    "$bin" run -P run.seed="$s" -o "$dir/icn_s$s.h5" --quiet > "$dir/icn_s$s.log" 2>&1 &
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

from clhsim_analysis.targets import TARGETS
HEADLINE = [t.name for t in TARGETS]     # every target of MODEL.md §12
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
    floor = 0.5 if sims[seeds[0]].loc[t, "unit"] == "count" else 0.002
    tol = max(K * sd * math.sqrt(1 / n + 1 / N), floor)
    ok = abs(v.mean() - mu) <= tol
    bad += not ok
    row = sims[seeds[0]].loc[t]
    band = f"{row['low']:g}-{'' if math.isnan(row['high']) else format(row['high'], 'g')}"
    print(f"{t:22s} {mu:12.4f} ± {sd:7.4f} {v.mean():18.4f} {tol:10.4f} {band:>14s} "
          f"{'ok' if ok else 'DRIFTED'}")
sys.exit(1 if bad else 0)
PY
