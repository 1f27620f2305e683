#!/bin/bash
# A hybrid MPI + OpenMP clhsim run under PBS Pro / OpenPBS.
#   qsub -v CONFIG=my.yml,CLHSIM_ARGS="-P run.seed=7" jobs/pbs_hybrid.sh
# (PBS passes no arguments to a job script: the configuration comes in the environment.
# Where the script does get arguments, e.g. Slurm's qsub wrapper, they are used too.)
# Environment (optional): CONFIG, a configuration file; CLHSIM_ARGS, more clhsim run arguments
# (words; a value with commas cannot travel in qsub -v: put it in the configuration file);
# CLHSIM, the program (default build/release/clhsim); CLHSIM_OUT, the output file (default
# clhsim-JOBID.h5 in the submission folder).
# select=N chunks (one per node) of ncpus=C cores, mpiprocs=R ranks and ompthreads=T threads
# per rank, with C = R x T. Adapt to your site (jobs/README.md): queue, project, modules.
#PBS -N clhsim
#PBS -l select=1:ncpus=2:mpiprocs=2:ompthreads=1
#PBS -l walltime=01:00:00
#PBS -j oe
##PBS -q workq
##PBS -A myproject

set -uo pipefail
# module load gcc openmpi hdf5/parallel libyaml   # site-specific

# PBS_O_WORKDIR: where qsub ran (Slurm's qsub wrapper sets SLURM_SUBMIT_DIR instead).
cd "${PBS_O_WORKDIR:-${SLURM_SUBMIT_DIR:-.}}" || exit 1
CLHSIM=${CLHSIM:-build/release/clhsim}
JOB=${PBS_JOBID:-${SLURM_JOB_ID:-local}}
OUT=${CLHSIM_OUT:-clhsim-${JOB%%.*}.h5}
# Ranks and nodes from the allocation: PBS lists each node once per MPI process (mpiprocs).
if [ -n "${PBS_NODEFILE:-}" ] && [ -r "$PBS_NODEFILE" ]; then
  ranks=$(wc -l < "$PBS_NODEFILE")
  nodes=$(sort -u "$PBS_NODEFILE" | wc -l)
  threads=${OMP_NUM_THREADS:-1} # PBS sets it from ompthreads
else
  ranks=${SLURM_NTASKS:-1}
  nodes=${SLURM_JOB_NUM_NODES:-1}
  threads=${SLURM_CPUS_PER_TASK:-${OMP_NUM_THREADS:-1}}
fi
per_node=$((ranks / nodes))
export OMP_NUM_THREADS=$threads OMP_PLACES=cores OMP_PROC_BIND=close
export HDF5_USE_FILE_LOCKING=${HDF5_USE_FILE_LOCKING:-FALSE}

args=(${CONFIG:+"$CONFIG"} "$@")
# shellcheck disable=SC2206 # CLHSIM_ARGS is a list of words
args+=(${CLHSIM_ARGS:-})
echo "clhsim: job $JOB: $ranks rank(s) ($per_node per node) x $threads thread(s)"
# ppr:R:node:PE=T puts R ranks on each node and gives each T cores to bind its threads to.
mpirun -n "$ranks" --map-by "ppr:$per_node:node:PE=$threads" --bind-to core \
  "$CLHSIM" run "${args[@]}" -o "$OUT"
status=$?
echo "clhsim: exit status $status"
exit $status # the job's exit status is the run's
