#!/bin/bash
# A hybrid MPI + OpenMP clhsim run under Slurm.
#   sbatch jobs/slurm_hybrid.sh CONFIG.yml [more clhsim run arguments: -P key=value ...]
# Environment (optional): CLHSIM, the program (default build/release/clhsim); CLHSIM_OUT, the
# output file (default clhsim-JOBID.h5 in the submission folder).
# Adapt to your site (jobs/README.md): partition, account, modules, nodes, tasks per node,
# cpus per task (= OpenMP threads per rank).
#SBATCH --job-name=clhsim
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=2
#SBATCH --cpus-per-task=1
#SBATCH --time=01:00:00
#SBATCH --output=clhsim-%j.out
##SBATCH --partition=compute
##SBATCH --account=myproject

set -uo pipefail
# module load gcc openmpi hdf5/parallel libyaml   # site-specific

cd "${SLURM_SUBMIT_DIR:-.}" || exit 1
CLHSIM=${CLHSIM:-build/release/clhsim}
OUT=${CLHSIM_OUT:-clhsim-${SLURM_JOB_ID:-local}.h5}
export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}
export OMP_PLACES=cores OMP_PROC_BIND=close
# Since Slurm 22.05 srun does not inherit --cpus-per-task.
export SRUN_CPUS_PER_TASK=${SLURM_CPUS_PER_TASK:-1}
# Some parallel file systems do not support HDF5's file locking.
export HDF5_USE_FILE_LOCKING=${HDF5_USE_FILE_LOCKING:-FALSE}

echo "clhsim: job ${SLURM_JOB_ID:-?}: ${SLURM_NTASKS:-?} rank(s) x ${OMP_NUM_THREADS} thread(s) on ${SLURM_JOB_NODELIST:-?}"
srun --mpi=pmix --cpu-bind=cores "$CLHSIM" run "$@" -o "$OUT"
status=$?
echo "clhsim: exit status $status"
# The job's state follows the script's status: without this a failed run reads COMPLETED.
exit $status
