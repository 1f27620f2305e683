#!/usr/bin/python3
"""What a tie visit costs in the network phases, apart from what an agent costs.

The network phases (2-6) do work per agent (keyed draws, the motivation and engagement
updates, largest-need searches) and work per neighbour-list entry ("tie visit"). At the
default tie density an agent has about 3 neighbour entries, so the per-agent work
dominates and tie-visits per core-second (visits / network time) measures mostly that.
This script runs the benchmark scenario at several tie densities (peer and online tie
rates scaled up) with the same agents, and fits

    network time per step = a * agents + b * tie visits per step

by least squares over the runs: 1/b is the marginal rate of the neighbour sweeps
(tie-visits per core-second with the per-agent work taken out), a the per-agent cost.

    bench/tie_density.py --agents 1e6 --scales 1 20 80 200
"""
import argparse
import json
import os
import tempfile
import time

import numpy as np

from clhsim_analysis import runner  # bench/clhsim_analysis: a link to analysis/clhsim_analysis

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "release", "clhsim"))
    ap.add_argument("--agents", type=float, default=1e6)
    ap.add_argument("--scales", nargs="+", type=float, default=[1, 20, 80, 200],
                    help="multipliers of network.peer_rate (0.5) and network.online_rate (0.01, "
                         "capped at 1)")
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--results", default=os.path.join(HERE, "results", "tie_density"))
    a = ap.parse_args()
    os.makedirs(a.results, exist_ok=True)
    cfgs = [os.path.join(HERE, "network_on.yml")]
    rows = []
    print(f"{'scale':>6} {'visits/agent/step':>17} {'net ms/step':>11} {'visits/core-s':>13}")
    with tempfile.TemporaryDirectory() as tmp:
        for s in a.scales:
            extra = ["-P", f"network.peer_rate={0.5 * s}",
                     "-P", f"network.online_rate={min(1.0, 0.01 * s)}"]
            rec = runner.bench_record(a.binary, a.agents, 1, 1, a.steps, tmp, cfgs, extra, a.warmup)
            rec["tie_density_scale"] = s
            name = f"{time.strftime('%Y%m%dT%H%M%S')}_{rec['agents']}_scale{s:g}.json"
            with open(os.path.join(a.results, name), "w") as f:
                json.dump(rec, f, indent=1)
            n = rec["timed_steps"]
            visits = rec["tie_visits"] / n
            net = rec["network_time_s"] / n
            rows.append((rec["agents"], visits, net))
            print(f"{s:>6g} {visits / rec['agents']:>17.2f} {1e3 * net:>11.1f} "
                  f"{rec['tie_visits_per_core_s']:>13.3g}", flush=True)
    X = np.array([[r[0], r[1]] for r in rows], dtype=float)
    y = np.array([r[2] for r in rows])
    (pa, pb), *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ np.array([pa, pb])
    print(f"fit: network time per step = {pa * 1e9:.1f} ns x agents + {pb * 1e9:.2f} ns x tie visits"
          f"  (max residual {1e3 * np.max(np.abs(resid)):.2f} ms)")
    print(f"marginal tie-visit rate 1/b = {1 / pb:.3g} per core-second; "
          f"per-agent work a = {pa * 1e9:.1f} ns per agent-step")


if __name__ == "__main__":
    main()
