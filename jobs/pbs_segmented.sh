#!/bin/bash
# A long clhsim run split into segments under PBS Pro / OpenPBS: each segment stops before its
# walltime with a checkpoint (clhsim exits with status 3), submits the next segment
# (depend=afterany: it starts when this one has ended), which restarts from the checkpoint.
#   qsub -v CONFIG=my.yml,CLHSIM_CKPT=run1/ckpt,CLHSIM_OUT=run1.h5 jobs/pbs_segmented.sh
# PBS has no warning signal before the walltime (it sends TERM and, kill_delay seconds later,
# KILL), so the first segment sets clhsim's run.max_wall_time to the walltime less
# CLHSIM_MARGIN seconds (default 300: start-up, MPI shutdown, the qsub); clhsim anticipates
# its last step and checkpoint itself. The checkpoint keeps that setting, so every segment must
# have the same walltime. `qsig -s USR1 JOB` asks clhsim to checkpoint and stop now, and the
# next segment continues; a TERM to the job shell checkpoints and ends the chain (status 3;
# resubmit the same command to continue); jobs/README.md, "Stopping a run: signals and launchers".
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

# Stop requests (jobs/README.md, "Stopping a run: signals and launchers"): a USR1, TERM or INT
# to this shell becomes one USR1 to mpirun, which passes it to every rank: clhsim checkpoints
# and exits 3. A USR1 (qsig -s USR1) is "stop now, continue in the next segment"; a TERM or
# INT not preceded by a USR1 is "stop": no next segment is submitted. Where PBS signals every
# process (qdel, the walltime) mpirun gets the TERM itself and kills the job: the ranks, which
# get it too, have odls_base_sigkill_timeout seconds until mpirun's TERM and as many again
# until its KILL (10 s here; an exit with status 3 then takes twice that longer); mpirun then
# exits 1.
export OMPI_MCA_odls_base_sigkill_timeout=${OMPI_MCA_odls_base_sigkill_timeout:-10}
warned=0 stop_chain=0
# The launcher runs in the background (a trap would wait for a foreground command to end),
# started by a subshell that ignores TERM, INT, HUP and USR1 (so that its wait is never
# interrupted), waits for it and writes its exit status to a file: bash's wait, interrupted
# by a trapped signal just as the launcher ends, can return 128 + the signal (or -1) instead.
tmpd=$(mktemp -d "${TMPDIR:-/tmp}/clhsim-job.XXXXXX") || exit 1
trap 'rm -rf "$tmpd"' EXIT
PID="" early="" forwarded=0
# shellcheck disable=SC2317 # called from the traps
forward() {
  if [ "$1" = USR1 ]; then
    warned=1
  elif [ "$warned" -eq 0 ]; then
    stop_chain=1
  fi
  if [ -z "$PID" ]; then # still starting: stopped as soon as its pid is known
    early=$1
    return
  fi
  if [ "$forwarded" -eq 1 ]; then # once: a launcher dies of a USR1 that comes as it ends
    echo "clhsim: job $JOB received $1: already stopping"
    return
  fi
  forwarded=1
  echo "clhsim: job $JOB received $1: asking clhsim to checkpoint and stop"
  kill -USR1 "$PID" 2> /dev/null
}
trap 'forward TERM' TERM
trap 'forward INT' INT
trap 'forward USR1' USR1
# launch CMD...: run the launcher CMD as above; its exit status in $status.
launch() {
  local sub
  (
    trap '' TERM INT HUP USR1 # never interrupted (the launcher resets them)
    "$@" < /dev/null &
    echo $! > "$tmpd/pid"
    wait $!
    echo $? > "$tmpd/status"
  ) &
  sub=$!
  until [ -s "$tmpd/pid" ] || ! kill -0 "$sub" 2> /dev/null; do sleep 0.01; done
  read -r PID < "$tmpd/pid" 2> /dev/null
  if [ -n "$early" ] && [ -n "$PID" ]; then # nothing computed yet; USR1 may not be handled yet
    echo "clhsim: job $JOB received $early while starting: stopping"
    kill -TERM "$PID" 2> /dev/null
  fi
  while kill -0 "$sub" 2> /dev/null; do
    wait "$sub"
    [ $? -eq 127 ] && break # not a child (any more)
  done
  trap '' TERM INT USR1 # it has ended: later requests must not cut the reading short
  status=""
  read -r status < "$tmpd/status" 2> /dev/null
  status=${status:-1}
}

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
launch mpirun -n "$ranks" --map-by "ppr:$per_node:node:PE=$threads" --bind-to core \
  "$CLHSIM" "${cmd[@]}"
echo "clhsim: segment $SEGMENT (job $JOB): clhsim exit status $status"

if [ "$status" -ne 3 ]; then
  [ "$status" -eq 0 ] && echo "clhsim: run complete: $OUT"
  exit "$status"
fi
if [ "$stop_chain" -eq 1 ]; then
  echo "clhsim: stopped on request: not submitting another segment; resubmit the same command to continue"
  exit 3
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
