#!/usr/bin/env bash
# An error on one rank mid-run ends every rank promptly with a non-zero status, names
# the rank, and leaves no output file (neither OUT.h5 nor OUT.h5.tmp). RANK:STEP fails
# after a step; RANK:STEP:PHASE inside a phase (5, 6, 7 or 9: the failing rank goes on
# through the step's later exchanges, and the error, naming the phase, is agreed at its end).
# usage: failing_rank.sh CLHSIM WORKDIR
set -uo pipefail
bin=$1 dir=$2
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir" || exit 1
fail=0
for spec in 1:5 2:1 0:3 1:4:5 2:3:9 0:6:7; do
  rm -f out.h5 out.h5.tmp
  CLHS_FAULT_INJECT=$spec OMP_NUM_THREADS=1 timeout 120 mpiexec -n 3 --bind-to none "$bin" run \
    --quiet -P run.steps=20 -o out.h5 > run.out 2> run.err
  st=$?
  if [ $st -eq 0 ] || [ $st -eq 124 ]; then
    echo "FAIL $spec: exit status $st (0 = error ignored, 124 = hang)"; fail=1
  fi
  grep -q "rank ${spec%%:*}" run.err || { echo "FAIL $spec: message does not name the rank"; cat run.err; fail=1; }
  case $spec in *:*:*)
    grep -q "phase ${spec##*:} " run.err || { echo "FAIL $spec: message does not name the phase"; fail=1; }
  esac
  if [ -e out.h5 ] || [ -e out.h5.tmp ]; then echo "FAIL $spec: output left behind"; fail=1; fi
  echo "ok $spec: status $st: $(head -n 1 run.err)"
done
exit $fail
