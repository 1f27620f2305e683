#!/usr/bin/env bash
# An error on one rank mid-run ends every rank promptly with a non-zero status, names
# the rank, and leaves no output file (neither OUT.h5 nor OUT.h5.tmp).
# usage: failing_rank.sh CLHSIM WORKDIR
set -uo pipefail
bin=$1 dir=$2
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir" || exit 1
fail=0
for spec in 1:5 2:1 0:3; do
  rm -f out.h5 out.h5.tmp
  CLHS_FAULT_INJECT=$spec OMP_NUM_THREADS=1 timeout 120 mpiexec -n 3 --bind-to none "$bin" run \
    --quiet -P run.steps=20 -o out.h5 > run.out 2> run.err
  st=$?
  if [ $st -eq 0 ] || [ $st -eq 124 ]; then
    echo "FAIL $spec: exit status $st (0 = error ignored, 124 = hang)"; fail=1
  fi
  grep -q "rank ${spec%%:*}" run.err || { echo "FAIL $spec: message does not name the rank"; cat run.err; fail=1; }
  if [ -e out.h5 ] || [ -e out.h5.tmp ]; then echo "FAIL $spec: output left behind"; fail=1; fi
  echo "ok $spec: status $st: $(head -n 1 run.err)"
done
exit $fail
