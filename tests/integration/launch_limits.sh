#!/usr/bin/env bash
# How clhsim is launched must never crash it (issue 10, items 6-8):
#  - long paths: an output path and a checkpoint folder of ~300 characters work (Open MPI's
#    sharedfp/lockedfile aborted on names of 245 characters or more); with that component
#    forced (OMPI_MCA_sharedfp=lockedfile) they are refused up front with exit 2 and a message;
#  - absurd thread counts (OMP_NUM_THREADS=100000, or 2^32+1 that wraps in an int) end with
#    exit 2 and a message naming OMP_NUM_THREADS, never a signal;
#  - more OpenMP threads than cores: clhsim re-executes itself with OMP_WAIT_POLICY=passive
#    (and says so) unless the user chose a policy (then it warns). The runs are pinned to one
#    core with taskset, so ranks x threads exceed the cores on any machine; what is checked is
#    the mechanism (the note, the exit status, the ranks still connecting), never a duration.
# usage: launch_limits.sh CLHSIM WORKDIR
set -uo pipefail
bin=$1 dir=$2
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir" || exit 1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_NUM_THREADS=1
unset OMPI_MCA_sharedfp OMPI_MCA_io OMP_WAIT_POLICY GOMP_SPINCOUNT OMP_THREAD_LIMIT
fail=0
small=(-P population.centres=6 -P run.steps=4)

# run NAME NP -- clhsim arguments: runs under mpiexec (NP > 0) or alone (NP = 0); sets $st.
run() {
  local name=$1 np=$2
  shift 3
  if [ "$np" -gt 0 ]; then
    timeout 300 mpiexec -n "$np" --bind-to none "$bin" "$@" > "$name.out" 2> "$name.err"
  else
    timeout 300 "$bin" "$@" > "$name.out" 2> "$name.err"
  fi
  st=$?
  if [ $st -gt 128 ] || [ $st -eq 124 ]; then
    echo "FAIL $name: killed by a signal or hung (status $st):"; tail -20 "$name.err"; fail=1
    return 1
  fi
  return 0
}
ok_run() { # NAME NP -- args: exit 0 expected
  local name=$1
  run "$@" || return 1
  if [ $st -ne 0 ]; then echo "FAIL $name: exit status $st, expected 0:"; tail -20 "$name.err"; fail=1; return 1; fi
  echo "ok   $name"
}
refused() { # NAME NP "pattern|pattern" -- args: exit 2 and every pattern in stderr expected
  local name=$1 np=$2 patterns=$3
  shift 4
  run "$name" "$np" -- "$@" || return 1
  if [ $st -ne 2 ]; then echo "FAIL $name: exit status $st, expected 2:"; tail -20 "$name.err"; fail=1; return 1; fi
  local IFS='|' p
  for p in $patterns; do
    grep -qF -- "$p" "$name.err" || { echo "FAIL $name: message lacks '$p':"; cat "$name.err"; fail=1; return 1; }
  done
  echo "ok   $name: $(grep -m1 'error' "$name.err" | head -c 300)"
}
has() { # NAME pattern: the run's stderr says it
  grep -qF -- "$2" "$1.err" || { echo "FAIL $1: stderr lacks '$2':"; cat "$1.err"; fail=1; return 1; }
}
lacks() {
  if grep -qF -- "$2" "$1.err"; then echo "FAIL $1: stderr says '$2':"; cat "$1.err"; fail=1; return 1; fi
}

# ---- 6. long paths: ~300 characters (a folder of 200 characters inside this one) ----
long=$(pwd)/$(printf 'd%.0s' $(seq 200))
mkdir -p "$long" || exit 1
out=$long/$(printf 'o%.0s' $(seq 60)).h5
ck=$long/$(printf 'c%.0s' $(seq 60))
[ ${#out} -ge 270 ] || { echo "FAIL setup: path only ${#out} characters"; exit 1; }
for np in 1 2; do
  if ok_run long_np$np "$np" -- run "${small[@]}" --quiet -o "$out.$np" \
      -P checkpoint.dir="$ck.$np" -P checkpoint.every=2; then
    [ -s "$out.$np" ] || { echo "FAIL long_np$np: no output file ${#out} characters long"; fail=1; }
    ls "$ck.$np"/ckpt_*.h5 > /dev/null 2>&1 || { echo "FAIL long_np$np: no checkpoint in the long folder"; fail=1; }
  fi
done
ok_run long_restart 2 -- restart "$ck.2" -P run.steps=6 --quiet -o "$out.r"
[ -s "$out.r" ] || { echo "FAIL long_restart: no output"; fail=1; }
# The component forced back in: refused before any work, naming the setting and the limit.
OMPI_MCA_sharedfp=lockedfile refused long_lockedfile_output 2 "output.path|characters|at most 244|lockedfile" \
  -- run "${small[@]}" --quiet -o "$out.lf"
[ -e "$out.lf" ] && { echo "FAIL long_lockedfile_output: output written"; fail=1; }
OMPI_MCA_sharedfp=lockedfile refused long_lockedfile_ckpt 2 "checkpoint.dir|characters|at most 244|lockedfile" \
  -- run "${small[@]}" --quiet -o short_lf.h5 -P checkpoint.dir="$ck.lf" -P checkpoint.every=2

# ---- 7. absurd thread counts ----
for v in 100000 4294967297; do
  OMP_NUM_THREADS=$v refused threads_$v 0 "OMP_NUM_THREADS=$v|at most" -- run "${small[@]}" --quiet -o t_$v.h5
  OMP_NUM_THREADS=$v refused threads_${v}_np2 2 "OMP_NUM_THREADS=$v|at most" -- run "${small[@]}" --quiet -o t2_$v.h5
done

# ---- 8. threads beyond the cores: pinned to one core, 2 ranks x 2 threads and 1 x 2 ----
cpu=$(taskset -pc $$ 2> /dev/null | sed 's/.*: *//; s/[-,].*//')
if [ -z "$cpu" ]; then
  echo "skip oversubscription: taskset cannot read this process's CPUs"
else
  pin=(taskset -c "$cpu")
  export OMP_NUM_THREADS=2
  if timeout 300 "${pin[@]}" mpiexec -n 2 --bind-to none "$bin" run "${small[@]}" -o over.h5 \
      > over_np2.out 2> over_np2.err; then
    has over_np2 "OMP_WAIT_POLICY=passive" && has over_np2 "2 rank(s) x 2 thread(s)" &&
      grep -qF "2 rank(s) x 2 thread(s)" over_np2.out && echo "ok   over_np2: $(grep -m1 note over_np2.err)"
  else
    echo "FAIL over_np2: status $?"; cat over_np2.err; fail=1
  fi
  if timeout 300 "${pin[@]}" "$bin" run "${small[@]}" -o over1.h5 > over_np1.out 2> over_np1.err; then
    has over_np1 "OMP_WAIT_POLICY=passive" && echo "ok   over_np1 (singleton)"
  else
    echo "FAIL over_np1: status $?"; cat over_np1.err; fail=1
  fi
  # The user's choice wins: no re-execution; an active policy is warned about.
  if OMP_WAIT_POLICY=active timeout 300 "${pin[@]}" "$bin" run -P population.centres=2 \
      -P run.steps=2 -o act.h5 > over_active.out 2> over_active.err; then
    has over_active "warning" && has over_active "OMP_WAIT_POLICY=passive" &&
      lacks over_active "clhsim set" && echo "ok   over_active (warned)"
  else
    echo "FAIL over_active: status $?"; cat over_active.err; fail=1
  fi
  if OMP_WAIT_POLICY=passive timeout 300 "${pin[@]}" "$bin" run "${small[@]}" -o pas.h5 \
      > over_passive.out 2> over_passive.err; then
    lacks over_passive "warning" && lacks over_passive "note" && echo "ok   over_passive (quiet)"
  else
    echo "FAIL over_passive: status $?"; cat over_passive.err; fail=1
  fi
  # Not oversubscribed (one thread per rank): nothing said.
  if OMP_NUM_THREADS=1 timeout 300 "${pin[@]}" mpiexec -n 2 --bind-to none "$bin" run "${small[@]}" \
      -o one.h5 > one.out 2> one.err; then
    lacks one "OMP_WAIT_POLICY" && echo "ok   one_thread (quiet)"
  else
    echo "FAIL one_thread: status $?"; cat one.err; fail=1
  fi
fi
exit $fail
