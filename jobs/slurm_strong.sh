#!/bin/bash
# One run of a strong-scaling study: fixed total agents (CLHSIM_AGENTS, default 1e7): the same problem on more nodes.
# Submit one job per node count with jobs/submit_scaling.sh strong 1 2 4 8 (job arrays cannot
# vary the node count); each run writes one JSON record (jobs/scaling.py, the record of
# bench/bench.py plus the study's fields) to CLHSIM_RESULTS (default bench/results/scaling);
# `jobs/scaling.py summary bench/results/scaling` prints speed-up and efficiency.
#   sbatch --nodes=N jobs/slurm_strong.sh [-P key=value ...]
# Environment (optional): CLHSIM_ROOT (the source tree, default the submission folder),
# CLHSIM (default build/release/clhsim), CLHSIM_STEPS (default 50), CLHSIM_CONFIG (default
# bench/network_on.yml: every lever on from the first step), CLHSIM_RESULTS, CLHSIM_PYTHON
# (a python3 that imports h5py).
# Ranks per node x threads per rank: set --ntasks-per-node and --cpus-per-task to fill a node.
#SBATCH --job-name=clhsim-strong
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=2
#SBATCH --cpus-per-task=1
#SBATCH --exclusive
#SBATCH --time=00:30:00
#SBATCH --output=clhsim-strong-%j.out
##SBATCH --partition=compute
##SBATCH --account=myproject

set -uo pipefail
# module load gcc openmpi hdf5/parallel libyaml python/h5py   # site-specific

cd "${SLURM_SUBMIT_DIR:-.}" || exit 1
ROOT=${CLHSIM_ROOT:-$PWD}
AGENTS=${CLHSIM_AGENTS:-1e7}   # total
export OMP_PLACES=cores OMP_PROC_BIND=close
export SRUN_CPUS_PER_TASK=${SLURM_CPUS_PER_TASK:-1} # Slurm >= 22.05: srun does not inherit it
export HDF5_USE_FILE_LOCKING=${HDF5_USE_FILE_LOCKING:-FALSE}
PY=${CLHSIM_PYTHON:-}
if [ -z "$PY" ]; then
  for p in python3 /usr/bin/python3; do "$p" -c 'import h5py' 2> /dev/null && PY=$p && break; done
fi
[ -n "$PY" ] || { echo "clhsim: no python3 that imports h5py (set CLHSIM_PYTHON)" >&2; exit 1; }

"$PY" "$ROOT/jobs/scaling.py" run --study strong --agents "$AGENTS" \
  --nodes "${SLURM_JOB_NUM_NODES:-1}" --ranks "${SLURM_NTASKS:-1}" --threads "${SLURM_CPUS_PER_TASK:-1}" \
  --steps "${CLHSIM_STEPS:-50}" --binary "${CLHSIM:-$ROOT/build/release/clhsim}" \
  --config "${CLHSIM_CONFIG:-$ROOT/bench/network_on.yml}" \
  --results "${CLHSIM_RESULTS:-$ROOT/bench/results/scaling}" \
  --launcher "srun --mpi=pmix --cpu-bind=cores" -- "$@"
