#!/usr/bin/env bash
# The weak-scaling structure at 2, 4 and 8 ranks (bench/scaling_structure.py: network_on.yml,
# 16 centres per rank, 4 steps, oversubscribed): bytes_received_max_per_step and
# state_bytes_max_per_rank at 8 ranks at most GROWTH times those at 2 ranks.
# usage: scaling_structure.sh CLHSIM PYTHON OUTDIR GROWTH
set -euo pipefail
bin=$1 py=$2 dir=$3 growth=$4
here=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
"$py" "$here/bench/scaling_structure.py" --binary "$bin" --ranks 2 4 8 --steps 4 --no-plot \
  --results "$dir" --max-growth "$growth"
