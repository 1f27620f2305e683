#!/bin/bash
# Submit a scaling study: one job per node count (a job array cannot vary the node count).
#   jobs/submit_scaling.sh strong|weak NODES... [-- clhsim arguments: -P key=value ...]
#   jobs/submit_scaling.sh strong 1 2 4 8 16
#   CLHSIM_AGENTS_PER_RANK=2e6 jobs/submit_scaling.sh weak 1 2 4 8 -- -P network.online_rate=0
# The job scripts are jobs/slurm_strong.sh and jobs/slurm_weak.sh (ranks per node and threads
# per rank in their #SBATCH lines); their environment variables (CLHSIM_AGENTS,
# CLHSIM_AGENTS_PER_RANK, CLHSIM_STEPS, CLHSIM_RESULTS, ...) travel with the jobs. Site
# options: SBATCH_PARTITION, SBATCH_ACCOUNT, SBATCH_TIMELIMIT, or SCALING_SBATCH_OPTS.
# When all have run: jobs/scaling.py summary bench/results/scaling
set -euo pipefail
usage() {
  echo "usage: $0 strong|weak NODES... [-- -P key=value ...]" >&2
  exit 2
}
[ $# -ge 2 ] || usage
study=$1
shift
case $study in strong | weak) ;; *) usage ;; esac
root=$(cd "$(dirname "$0")/.." && pwd)
nodes=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
  [[ $1 =~ ^[1-9][0-9]*$ ]] || usage
  nodes+=("$1")
  shift
done
[ $# -gt 0 ] && shift # the --
[ ${#nodes[@]} -gt 0 ] || usage
# shellcheck disable=SC2206 # a list of words
extra_opts=(${SCALING_SBATCH_OPTS:-})
for n in "${nodes[@]}"; do
  id=$(sbatch --parsable --nodes="$n" --job-name="clhsim-$study-${n}n" \
    --export="ALL,CLHSIM_ROOT=${CLHSIM_ROOT:-$root}" "${extra_opts[@]}" \
    "$root/jobs/slurm_$study.sh" "$@")
  echo "$study scaling, $n node(s): job ${id%%;*}"
done
