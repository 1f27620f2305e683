#!/usr/bin/env bash
# Raising motivation.mu_patient from 0 to 0.2 raises mean patient motivation and observed
# remission at the end of the run, for every seed tried.
# usage: face_validity.sh CLHSIM PYTHON WORKDIR CONFIG [seeds...]
set -euo pipefail
bin=$1 py=$2 dir=$3 cfg=$4
shift 4
seeds=("$@")
[ ${#seeds[@]} -eq 0 ] && seeds=(1 2 3)
rm -rf "$dir" && mkdir -p "$dir"
export OMP_NUM_THREADS=1
for s in "${seeds[@]}"; do
  for mu in 0 0.2; do
    "$bin" run --quiet "$cfg" -P motivation.mu_patient=$mu -P run.seed="$s" \
      -o "$dir/mu${mu}_s$s.h5" > "$dir/mu${mu}_s$s.log" 2>&1 &
  done
  wait
done
"$py" - "$dir" "${seeds[@]}" <<'PY'
import sys
import h5py
d, seeds = sys.argv[1], sys.argv[2:]
bad = 0
for s in seeds:
    row = {}
    for mu in ("0", "0.2"):
        with h5py.File(f"{d}/mu{mu}_s{s}.h5", "r") as f:
            ts = f["timeseries"]
            row[mu] = (float(ts["motivation_mean"][-1, 0]), float(ts["remission_observed"][-1]))
    dm, dr = row["0.2"][0] - row["0"][0], row["0.2"][1] - row["0"][1]
    ok = dm > 0 and dr > 0
    bad += not ok
    print(f"seed {s}: patient motivation {row['0'][0]:.3f} -> {row['0.2'][0]:.3f} ({dm:+.3f}); "
          f"observed remission {row['0'][1]:.4f} -> {row['0.2'][1]:.4f} ({dr:+.4f}) "
          f"{'ok' if ok else 'WRONG DIRECTION'}")
sys.exit(1 if bad else 0)
PY
