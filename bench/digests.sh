#!/usr/bin/env bash
# Final state digests and a hash of /timeseries for the refactoring check of issue 11: the
# default scenario, bench/network_on.yml and examples/cross_rank_ties.yml at 1x1, 2x1, 1x2,
# 3x2 and 4x1 ranks x threads. Two binaries give identical lists when nothing changed bits:
#   bench/digests.sh OLD/clhsim > old.txt; bench/digests.sh build/release/clhsim > new.txt
#   diff old.txt new.txt
# usage: digests.sh CLHSIM [STEPS]   (STEPS: run.steps for every run, default 120)
set -euo pipefail
bin=$(realpath "$1") steps=${2:-120}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
for cfg in default bench/network_on.yml examples/cross_rank_ties.yml; do
  args=()
  [ "$cfg" = default ] || args=("$here/$cfg")
  for layout in 1x1 2x1 1x2 3x2 4x1; do
    np=${layout%x*} nt=${layout#*x}
    out="$work/o.h5"
    rm -f "$out"
    (cd "$work" && OMP_NUM_THREADS=$nt mpiexec -n "$np" --bind-to none "$bin" run "${args[@]}" \
      -P run.steps="$steps" -P checkpoint.every=0 -o "$out" --quiet > log 2>&1) ||
      { echo "digests: $cfg $layout failed:" >&2; tail -5 "$work/log" >&2; exit 1; }
    d=$(grep -o 'final state digest [0-9a-f]*' "$work/log" | awk '{print $4}')
    ts=$(/usr/bin/python3 - "$out" << 'PY'
import h5py, hashlib, sys
h = hashlib.sha256()
with h5py.File(sys.argv[1], "r") as f:
    g = f["timeseries"]
    for k in sorted(g):
        h.update(k.encode()); h.update(g[k][()].tobytes())
print(h.hexdigest()[:16])
PY
)
    echo "$cfg $layout digest $d timeseries $ts"
  done
done
