#!/usr/bin/python3
"""How much an ensemble costs beyond its members (issue 14).

    bench/ensemble_overhead.py ENSEMBLE.h5 WALL_S RANKS [--bin CLHSIM --solo N]

WALL_S: the ensemble's measured wall time (e.g. from `/usr/bin/time`), RANKS: its ranks.
Prints the sum of the members' own wall times (each member's /run wall_time_s, as recorded
in /members/run) divided by RANKS, and the ensemble's wall time against it. With --solo N,
N members (evenly spaced) are also run alone as separate processes (`clhsim run` of the
member's configuration, one at a time, whole-process wall time, MPI start-up included), and
the separate-run estimate M x mean(solo wall) / RANKS is printed against the ensemble too.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ensemble")
    ap.add_argument("wall", type=float)
    ap.add_argument("ranks", type=int)
    ap.add_argument("--bin")
    ap.add_argument("--solo", type=int, default=0)
    a = ap.parse_args()
    with h5py.File(a.ensemble, "r") as f:
        runs = [x.decode() if isinstance(x, bytes) else x for x in f["members/run"][()]]
        yamls = [x.decode() if isinstance(x, bytes) else x for x in f["members/config_yaml"][()]]
    walls = []
    for r in runs:
        for line in r.splitlines():
            if line.startswith("wall_time_s: "):
                walls.append(float(line.split(": ", 1)[1]))
    walls = np.array(walls)
    M = len(runs)
    ideal = walls.sum() / a.ranks
    print(f"{M} members; their own wall times sum to {walls.sum():.1f} s "
          f"(mean {walls.mean():.2f} s); / {a.ranks} ranks = {ideal:.1f} s")
    print(f"ensemble wall {a.wall:.1f} s = {a.wall / ideal:.3f} x that "
          f"({100 * (a.wall / ideal - 1):+.1f} %)")
    if a.solo and a.bin:
        pick = np.linspace(0, M - 1, a.solo).round().astype(int)
        solo = []
        env = dict(os.environ, OMP_NUM_THREADS="1")
        with tempfile.TemporaryDirectory() as tmp:
            for m in pick:
                cfg = os.path.join(tmp, "m.yml")
                with open(cfg, "w") as fh:
                    fh.write(yamls[m])
                t0 = time.time()
                subprocess.run([a.bin, "run", cfg, "-o", os.path.join(tmp, "m.h5"), "--quiet",
                                "--overwrite", "-P", "checkpoint.every=0",
                                "-P", f"checkpoint.dir={tmp}/ck"],
                               check=True, env=env, stdout=subprocess.DEVNULL)
                solo.append(time.time() - t0)
        solo = np.array(solo)
        est = M * solo.mean() / a.ranks
        print(f"{len(solo)} members run alone: mean {solo.mean():.2f} s whole-process "
              f"(their in-ensemble walls: mean {walls[pick].mean():.2f} s); "
              f"separate runs of all {M} / {a.ranks} ranks = {est:.1f} s; ensemble wall = "
              f"{a.wall / est:.3f} x that ({100 * (a.wall / est - 1):+.1f} %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
