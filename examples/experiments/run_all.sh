#!/usr/bin/env bash
# The CLHS hypotheses as experiments (docs/experiments.md): every design here run as an
# ensemble, one after another in one job, then analysed into docs/experiments.md and its
# figures (docs/img/experiments/).
#
#   examples/experiments/run_all.sh              # 2 ranks (NP=...), release build
#   sbatch -n 32 --wrap "examples/experiments/run_all.sh"   # on a cluster: NP from Slurm
#
# Environment: NP ranks (default: SLURM_NTASKS, else 2), CLHSIM the program (default
# build/release/clhsim), OUT the folder for the ensemble files (default experiments_out/),
# PYTHON (default /usr/bin/python3). Stopped (a signal, exit 3) or killed, run it again: each
# ensemble runs only its missing members. About 13 minutes on the 2-core machine here.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${CLHSIM:-$root/build/release/clhsim}
np=${NP:-${SLURM_NTASKS:-2}}
out=${OUT:-$root/experiments_out}
py=${PYTHON:-/usr/bin/python3}
[ -x "$bin" ] || { echo "run_all.sh: no $bin: build first (./setup.sh build)" >&2; exit 2; }
mkdir -p "$out"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
launch=(mpiexec -n "$np")
[ -n "${SLURM_JOB_ID:-}" ] && command -v srun > /dev/null && launch=(srun -n "$np")
start=$(date +%s)
for design in "$here"/h*.yml; do
  name=$(basename "$design" .yml)
  echo "== $name"
  "${launch[@]}" "$bin" ensemble "$design" -o "$out/$name.h5"
done
echo "ensembles done in $(($(date +%s) - start)) s"
PYTHONPATH="$root/analysis${PYTHONPATH:+:$PYTHONPATH}" "$py" "$here/analyse.py" "$out" \
  --doc "$root/docs/experiments.md" --img "$root/docs/img/experiments" \
  --wall "$(($(date +%s) - start))" --ranks "$np"
