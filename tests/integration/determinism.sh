#!/usr/bin/env bash
# /timeseries must be bit-identical for every ranks x threads decomposition.
# usage: determinism.sh CLHSIM PYTHON WORKDIR [extra clhsim run arguments...]
set -euo pipefail
bin=$1 py=$2 dir=$3
shift 3
extra=("$@")
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$dir" && mkdir -p "$dir"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
for rt in 1x1 2x1 1x2 4x1 3x2; do
  r=${rt%x*} t=${rt#*x}
  OMP_NUM_THREADS=$t mpiexec -n "$r" --bind-to none "$bin" run --quiet "${extra[@]}" \
    -o "$dir/$rt.h5" > "$dir/$rt.log" 2>&1 || { echo "run $rt failed:"; cat "$dir/$rt.log"; exit 1; }
done
status=0
for other in 2x1 1x2 4x1 3x2; do
  "$py" "$here/compare_timeseries.py" "$dir/1x1.h5" "$dir/$other.h5" || status=1
done
exit $status
