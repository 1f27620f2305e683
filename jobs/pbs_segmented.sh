#!/bin/bash
# A long clhsim run split into segments under PBS Pro / OpenPBS: each segment stops before its
# walltime with a checkpoint (clhsim exits with status 3), submits the next segment
# (depend=afterany: it starts when this one has ended), which restarts from the checkpoint.
#   qsub -v CONFIG=my.yml,CLHSIM_CKPT=run1/ckpt,CLHSIM_OUT=run1.h5 jobs/pbs_segmented.sh
# PBS has no warning signal before the walltime (it sends TERM and, kill_delay seconds later,
# KILL), so the first segment sets clhsim's run.max_wall_time to the walltime less
# CLHSIM_MARGIN seconds (default 300: start-up, MPI shutdown, the qsub); clhsim anticipates
# its last step and checkpoint itself. The checkpoint keeps that setting, so every segment must
# have the same walltime. A TERM (or USR1) to the job still asks clhsim to checkpoint and stop.
# Environment (optional; qsub -V carries it to every segment):
#   CONFIG, CLHSIM_ARGS  the first segment's configuration and run arguments (see pbs_hybrid.sh)
#   CLHSIM               the program (default build/release/clhsim)
#   CLHSIM_CKPT          checkpoint folder (default checkpoints); if it holds a `latest` file
#                        the job restarts from it: use a new folder for a new run
#   CLHSIM_OUT           output file (default clhsim.h5)
#   CLHSIM_WALLTIME      walltime in seconds (default: asked of qstat -f)
#   CLHSIM_RESTART_ARGS  extra arguments for the restarts
#   CLHSIM_MAX_SEGMENTS  stop chaining after this many segments (default 100)
#   CLHSIM_SEGMENT_SCRIPT  the script the next segment runs (default: this job's copy of it)
#PBS -N clhsim-seg
#PBS -l select=1:ncpus=2:mpiprocs=2:ompthreads=1
#PBS -l walltime=12:00:00
#PBS -j oe
##PBS -q workq
##PBS -A myproject

set -uo pipefail
# module load gcc openmpi hdf5/parallel libyaml   # site-specific

cd "${PBS_O_WORKDIR:-${SLURM_SUBMIT_DIR:-.}}" || exit 1
CLHSIM=${CLHSIM:-build/release/clhsim}
CKPT=${CLHSIM_CKPT:-checkpoints}
OUT=${CLHSIM_OUT:-clhsim.h5}
SEGMENT=${CLHSIM_SEGMENT:-1}
MAX_SEGMENTS=${CLHSIM_MAX_SEGMENTS:-100}
MARGIN=${CLHSIM_MARGIN:-300}
JOB=${PBS_JOBID:-${SLURM_JOB_ID:-local}}
if [ -n "${PBS_NODEFILE:-}" ] && [ -r "$PBS_NODEFILE" ]; then
  ranks=$(wc -l < "$PBS_NODEFILE")
  nodes=$(sort -u "$PBS_NODEFILE" | wc -l)
  threads=${OMP_NUM_THREADS:-1}
else # Slurm's qsub wrapper
  ranks=${SLURM_NTASKS:-1}
  nodes=${SLURM_JOB_NUM_NODES:-1}
  threads=${SLURM_CPUS_PER_TASK:-${OMP_NUM_THREADS:-1}}
fi
per_node=$((ranks / nodes))
export OMP_NUM_THREADS=$threads OMP_PLACES=cores OMP_PROC_BIND=close
export HDF5_USE_FILE_LOCKING=${HDF5_USE_FILE_LOCKING:-FALSE}

# The walltime in seconds: CLHSIM_WALLTIME, else qstat -f (PBS), else squeue (Slurm's wrapper).
walltime_s() {
  local w
  if [ -n "${CLHSIM_WALLTIME:-}" ]; then
    echo "$CLHSIM_WALLTIME"
    return
  fi
  w=$(qstat -f "$JOB" 2> /dev/null | sed -n 's/^ *Resource_List.walltime = //p')
  [ -z "$w" ] && [ -n "${SLURM_JOB_ID:-}" ] && w=$(squeue -h -j "$SLURM_JOB_ID" -o %l 2> /dev/null)
  # [[D-]HH:]MM:SS -> seconds
  echo "$w" | awk -F'[-:]' '/^[0-9][0-9:-]*$/ {
    s = 0; n = split($0, a, /[-:]/); m[1] = 1; m[2] = 60; m[3] = 3600; m[4] = 86400
    for (i = n; i >= 1; i--) s += a[i] * m[n - i + 1]
    print s }'
}

# shellcheck disable=SC2317 # called from the traps
forward() {
  echo "clhsim: job $JOB received $1: asking clhsim to checkpoint and stop"
  [ -n "$PID" ] && kill -USR1 "$PID" 2> /dev/null # mpirun passes USR1 to every rank
}
PID=
trap 'forward TERM' TERM
trap 'forward USR1' USR1

if [ -f "$CKPT/latest" ]; then
  echo "clhsim: segment $SEGMENT (job $JOB): restart from $CKPT/$(cat "$CKPT/latest")"
  # shellcheck disable=SC2206 # CLHSIM_RESTART_ARGS is a list of words
  cmd=(restart "$CKPT" ${CLHSIM_RESTART_ARGS:-} -o "$OUT")
else
  # shellcheck disable=SC2206 # CLHSIM_ARGS is a list of words
  cmd=(run ${CONFIG:+"$CONFIG"} "$@" ${CLHSIM_ARGS:-} -P checkpoint.dir="$CKPT")
  wall=$(walltime_s)
  if [ -n "$wall" ] && [ "$wall" -gt "$MARGIN" ]; then
    cmd+=(-P run.max_wall_time=$((wall - MARGIN)))
  else
    echo "clhsim: walltime unknown (set CLHSIM_WALLTIME): relying on TERM at the walltime" >&2
  fi
  cmd+=(-o "$OUT")
  echo "clhsim: segment $SEGMENT (job $JOB): ${cmd[*]}"
fi

echo "clhsim: $ranks rank(s) ($per_node per node) x $threads thread(s)"
mpirun -n "$ranks" --map-by "ppr:$per_node:node:PE=$threads" --bind-to core \
  "$CLHSIM" "${cmd[@]}" &
PID=$!
status=0
wait "$PID" || status=$?
while [ "$status" -gt 128 ] && kill -0 "$PID" 2> /dev/null; do
  status=0
  wait "$PID" || status=$?
done
echo "clhsim: segment $SEGMENT (job $JOB): clhsim exit status $status"

if [ "$status" -ne 3 ]; then
  [ "$status" -eq 0 ] && echo "clhsim: run complete: $OUT"
  exit "$status"
fi
if [ "$SEGMENT" -ge "$MAX_SEGMENTS" ]; then
  echo "clhsim: $SEGMENT segments (CLHSIM_MAX_SEGMENTS): not submitting another" >&2
  exit 3
fi
# -V: the next segment gets this environment (CLHSIM_*, modules); the #PBS lines give its size.
if next=$(qsub -V -v "CLHSIM_SEGMENT=$((SEGMENT + 1))" -W "depend=afterany:$JOB" \
  "${CLHSIM_SEGMENT_SCRIPT:-$0}"); then
  echo "clhsim: submitted segment $((SEGMENT + 1)) as job $next (afterany:$JOB)"
  exit 0
fi
echo "clhsim: could not submit the next segment; resubmit the same command to continue" >&2
exit 3
