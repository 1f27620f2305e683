#!/usr/bin/env bash
# A checkpoint written by the model v1.1 code (tests/data/v11_checkpoint.tar.gz: the tiny run
# of its tiny.yml, 4 of 8 steps, written by clhsim git 9891f85) continues as v1.1: `restart`
# says so, and the run ends with the state digest the v1.1 code's uninterrupted 8-step run gave
# (V11_DIGEST; the same file run with `clhsim run tiny.yml -P checkpoint.every=0` by that
# code). Under v1.2's defaults for the keys v1.2 added (steroid_g, steroid_etx, coaching) the
# digest differs, so a restart that mixed the rules fails here.
# usage: checkpoint_v11.sh CLHSIM OUTDIR
set -euo pipefail
bin=$(realpath "$1") dir=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
V11_DIGEST=3549713c1ca00b35
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
tar xzf "$root/tests/data/v11_checkpoint.tar.gz"
export OMP_NUM_THREADS=1
for np in 1 2; do
  rm -rf "ck$np" && cp -r ck "ck$np"
  mpiexec -n $np --bind-to none "$bin" restart "ck$np" -P run.steps=8 -o "cont$np.h5" \
    > "restart$np.log" 2>&1 || { echo "FAIL: restart at $np ranks:"; cat "restart$np.log"; exit 1; }
  grep -q "written under model v1.1: it continues as v1.1" "restart$np.log" ||
    { echo "FAIL: restart at $np ranks did not say it continues as v1.1:"; cat "restart$np.log"; exit 1; }
  grep -q "has no /timeseries/remission_observed_all" "restart$np.log" ||
    { echo "FAIL: no note on the outputs the v1.1 snapshot lacks:"; cat "restart$np.log"; exit 1; }
  d=$(grep -o 'final state digest [0-9a-f]*' "restart$np.log" | awk '{print $4}')
  if [ "$d" != "$V11_DIGEST" ]; then
    echo "FAIL: continued at $np ranks to digest $d, the v1.1 code's run ends at $V11_DIGEST"
    exit 1
  fi
  echo "v1.1 checkpoint continued as v1.1 at $np rank(s): digest $d"
done
