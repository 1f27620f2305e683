#!/usr/bin/python3
"""Checkpoint write and read bandwidth beside the disk's own sequential bandwidth.

For each size: run a short simulation that writes one checkpoint at its last step (the
network grown for a few steps with every lever on), then restart from it for one more step.
Reports the checkpoint's size per agent, write and read GB/s (from the /run attributes
checkpoint_write_s and restart_read_s: the read includes the checksum pass, loading and
restoring the output), the restart's wall time, and `dd` with fsync on the same folder,
measured in the same run. One JSON record per size in bench/results/.

    bench/checkpoint_bench.py                      # 1e6 and 1e7 agents on 2 ranks
    bench/checkpoint_bench.py --agents 1e6 --ranks 1
"""
import argparse
import glob
import json
import os
import shutil
import platform
import subprocess
import sys
import tempfile
import time

from clhsim_analysis import runner  # bench/clhsim_analysis: a link to analysis/clhsim_analysis

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def dd_bandwidth(folder, mib):
    """Sequential write with fsync, then read back, with dd; GB/s each."""
    path = os.path.join(folder, "dd.bin")
    t0 = time.time()
    subprocess.run(["dd", "if=/dev/zero", f"of={path}", "bs=4M", f"count={mib // 4}", "conv=fsync"],
                   check=True, capture_output=True)
    w = mib * 1048576 / (time.time() - t0) / 1e9
    t0 = time.time()
    subprocess.run(["dd", f"if={path}", "of=/dev/null", "bs=4M"], check=True, capture_output=True)
    r = mib * 1048576 / (time.time() - t0) / 1e9
    os.remove(path)
    return w, r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "release", "clhsim"))
    ap.add_argument("--agents", nargs="+", type=float, default=[1e6, 1e7])
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--folder", default=None, help="where to write (default: a temporary folder in bench/)")
    ap.add_argument("--results", default=os.path.join(HERE, "results"))
    a = ap.parse_args()
    os.makedirs(a.results, exist_ok=True)
    base = a.folder or tempfile.mkdtemp(prefix="ckpt_bench_", dir=HERE)
    cfg = os.path.join(HERE, "network_on.yml")
    print(f"{'agents':>10} {'ckpt MB':>8} {'B/agent':>8} {'write s':>8} {'write GB/s':>10} "
          f"{'read s':>7} {'read GB/s':>9} {'restart s':>9} {'dd w GB/s':>9} {'dd r GB/s':>9}")
    for n in a.agents:
        d = os.path.join(base, f"a{int(n)}")
        shutil.rmtree(d, ignore_errors=True)  # the harness's own scratch folder: a fresh run
        os.makedirs(d, exist_ok=True)
        centres = max(1, int(round(n / runner.AGENTS_PER_CENTRE)))
        common = [cfg, "-P", f"population.centres={centres}", "-P", f"checkpoint.dir={d}/ck",
                  "-P", f"output.every={a.steps}"]
        run, _ = runner.run(a.binary, ["run", "--quiet"] + common + [
            "-P", f"run.steps={a.steps}", "-P", f"checkpoint.every={a.steps}", "-o", f"{d}/a.h5"],
            a.ranks, a.threads)
        if run.returncode != 0:
            sys.exit(run.stdout + run.stderr)
        attrs = runner.read_run(f"{d}/a.h5")
        w_s = float(attrs["checkpoint_write_s"])
        agents = int(attrs["agents"])
        ck = sorted(glob.glob(f"{d}/ck/ckpt_*[0-9].h5"))[-1]
        size = os.path.getsize(ck)
        rs, restart_wall = runner.run(a.binary, ["restart", f"{d}/ck", "-P", f"run.steps={a.steps + 1}",
                                                 "-P", "checkpoint.every=0", "-o", f"{d}/b.h5"],
                                      a.ranks, a.threads)
        if rs.returncode != 0:
            sys.exit(rs.stdout + rs.stderr)
        r_s = float(runner.read_run(f"{d}/b.h5")["restart_read_s"])
        ddw, ddr = dd_bandwidth(d, max(256, min(4096, size // 1048576 * 2)))
        rec = {"host": platform.node(), "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
               "agents": agents, "ranks": a.ranks, "threads": a.threads, "steps": a.steps,
               "checkpoint_bytes": size, "bytes_per_agent": size / agents,
               "write_s": w_s, "write_GBps": size / w_s / 1e9,
               "read_s": r_s, "read_GBps": size / r_s / 1e9,
               "restart_wall_s": restart_wall, "dd_write_fsync_GBps": ddw, "dd_read_GBps": ddr}
        with open(os.path.join(a.results, f"ckpt_{time.strftime('%Y%m%dT%H%M%S')}_{agents}.json"), "w") as f:
            json.dump(rec, f, indent=1)
        print(f"{agents:>10} {size / 1e6:>8.1f} {size / agents:>8.1f} {w_s:>8.2f} {size / w_s / 1e9:>10.3f} "
              f"{r_s:>7.2f} {size / r_s / 1e9:>9.3f} {restart_wall:>9.2f} {ddw:>9.3f} {ddr:>9.3f}", flush=True)
        subprocess.run(["rm", "-rf", d])
    if not a.folder:
        os.rmdir(base)


if __name__ == "__main__":
    main()
