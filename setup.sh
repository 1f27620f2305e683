#!/usr/bin/env bash
# clhsim quick start.
#   ./setup.sh demo   install what is missing, build, run the default scenario on 2 ranks
#   ./setup.sh test   install what is missing, build (warnings are errors), run the test suite,
#                     then the unit tests again under ASan + UBSan
#   ./setup.sh build  install what is missing and build only
# On a cluster without root, load the modules (MPI, parallel HDF5, libyaml, Random123,
# cmocka) first: nothing is installed then, and the build uses what is loaded.
set -euo pipefail
cd "$(dirname "$0")"
what=${1:-demo}

PKGS="build-essential cmake pkg-config libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools
librandom123-dev libyaml-dev libcmocka-dev python3 python3-h5py python3-xarray python3-netcdf4
python3-h5netcdf python3-pandas python3-matplotlib python3-numpy python3-scipy clang-format
slurmctld slurmd slurm-client munge slurm-wlm-torque"

install_deps() {
  command -v apt-get > /dev/null || { echo "setup: no apt-get; using the loaded environment"; return 0; }
  local missing=()
  for p in $PKGS; do dpkg -s "$p" > /dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo > /dev/null && sudo -n true 2> /dev/null; then sudo="sudo"; else
      echo "setup: missing packages (${missing[*]}) and no root: install them or load modules" >&2
      return 0
    fi
  fi
  echo "setup: installing ${missing[*]}"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
}

# Open MPI refuses to run as root without these; more ranks than cores needs oversubscription.
mpi_env() {
  if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
  export OMPI_MCA_rmaps_base_oversubscribe=1
}

jobs=$(nproc 2> /dev/null || echo 2)
case "$what" in
  build | demo)
    install_deps
    cmake --preset release > /dev/null
    cmake --build build/release -j "$jobs"
    if [ "$what" = demo ]; then
      mpi_env
      OMP_NUM_THREADS=1 mpiexec -n 2 --bind-to none build/release/clhsim run -o clhsim.h5
    fi
    ;;
  test)
    install_deps
    cmake --preset ci > /dev/null
    cmake --build build/ci -j "$jobs"
    mpi_env
    ctest --preset ci -j 2
    # The unit tests again under AddressSanitizer + UBSan (aborting on any report): they
    # drive every module on 1-4 ranks in about a minute once built.
    cmake --preset asan > /dev/null
    cmake --build build/asan -j "$jobs"
    ctest --preset asan -j 2 -R '^test_'
    ;;
  *)
    echo "usage: ./setup.sh demo|test|build" >&2
    exit 2
    ;;
esac
