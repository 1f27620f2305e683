#!/usr/bin/env bash
# /timeseries (and so the state digest) must be bit-identical whichever vector instruction set
# the kernels run on (src/util/isa.h): CLHS_ISA=scalar, avx2 and avx512 against the default
# choice, at 1 x 1 and (scalar) at 2 x 1. The scenario exercises every vectorised rule (every
# lever on: ties, the commons, events). A request the CPU cannot run falls back to a narrower
# set; the test says which sets it covered (/run's `isa`) and fails if a forced scalar run did
# not run scalar. An unknown CLHS_ISA exits 2.
# usage: determinism_isa.sh CLHSIM PYTHON WORKDIR SCENARIO [extra clhsim run arguments...]
set -euo pipefail
bin=$1 py=$2 dir=$3 scenario=$4
shift 4
extra=("$@")
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$dir" && mkdir -p "$dir"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_NUM_THREADS=1
run() { # NAME RANKS ISA
  CLHS_ISA=$3 mpiexec -n "$2" --bind-to none "$bin" run --quiet "$scenario" "${extra[@]}" \
    -o "$dir/$1.h5" > "$dir/$1.log" 2>&1 || { echo "run $1 failed:"; cat "$dir/$1.log"; exit 1; }
}
isa_of() { "$py" -c "import h5py, sys; print(h5py.File(sys.argv[1], 'r')['run'].attrs['isa'].decode())" "$1"; }
run default 1 ""
for isa in scalar avx2 avx512; do run "$isa" 1 "$isa"; done
run scalar_2x1 2 scalar
status=0
echo "default choice: $(isa_of "$dir/default.h5")"
for isa in scalar avx2 avx512; do
  ran=$(isa_of "$dir/$isa.h5")
  [ "$ran" = "$isa" ] && echo "CLHS_ISA=$isa: ran $ran" || echo "CLHS_ISA=$isa: not run by this CPU, ran $ran"
  "$py" "$here/compare_timeseries.py" "$dir/default.h5" "$dir/$isa.h5" || status=1
done
"$py" "$here/compare_timeseries.py" "$dir/default.h5" "$dir/scalar_2x1.h5" || status=1
if [ "$(isa_of "$dir/scalar.h5")" != scalar ]; then echo "FAIL: CLHS_ISA=scalar did not run scalar"; status=1; fi
# an unknown instruction set: exit 2, the variable named
set +e
CLHS_ISA=sse9 "$bin" run --quiet "$scenario" -o "$dir/bad.h5" > "$dir/bad.log" 2>&1
rc=$?
set -e
if [ $rc -ne 2 ] || ! grep -q "CLHS_ISA=sse9" "$dir/bad.log" || [ -e "$dir/bad.h5" ]; then
  echo "FAIL: CLHS_ISA=sse9 gave exit $rc (want 2, the variable named, no output):"; cat "$dir/bad.log"; status=1
fi
exit $status
