#!/usr/bin/python3
"""clhsim benchmark: agent-steps per core-second and memory per agent at several sizes.

Not a test: it measures. Each run writes one JSON record (bench/results/*.json) with the
build's identity, decomposition, size, throughput, peak memory and final state digest,
and the script prints a table.

    bench/bench.py                         # 1e5, 1e6, 1e7 agents on 1 and 2 ranks
    bench/bench.py --agents 1e6 --ranks 1 2 --threads 1 --steps 20

Agent counts are approximate: the default population has about 580 agents per centre,
so the script sets population.centres = agents / 580.
"""
import argparse
import json
import os
import sys
import tempfile
import time

from clhsim_analysis import runner  # bench/clhsim_analysis: a link to analysis/clhsim_analysis

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "release", "clhsim"))
    ap.add_argument("--agents", nargs="+", type=float, default=[1e5, 1e6, 1e7])
    ap.add_argument("--ranks", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--threads", nargs="+", type=int, default=[1])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5,
                    help="steps run before timing starts (default 5); they are not in the figures")
    ap.add_argument("--results", default=os.path.join(HERE, "results"))
    ap.add_argument("-P", action="append", default=[], help="extra override section.key=value")
    ap.add_argument("--config", default=os.path.join(HERE, "network_on.yml"),
                    help="scenario file (default: bench/network_on.yml, every lever on from step 0)")
    a = ap.parse_args()
    if not os.path.exists(a.binary):
        sys.exit(f"{a.binary} not found: build first (cmake --preset release && cmake --build build/release)")
    os.makedirs(a.results, exist_ok=True)
    cfgs = [a.config] if a.config else []
    extra = sum((["-P", p] for p in a.P), [])
    print(f"{'agents':>10} {'ranks':>5} {'thr':>3} {'steps':>5} {'loop s':>8} "
          f"{'agent-steps/s':>14} {'per core-s':>12} {'state B/agent':>13} {'RSS B/agent':>11} "
          f"{'tie-visits/core-s':>17} {'xchg B/step':>11} {'gath B/step':>11} {'xchg/step':>9} "
          f"{'xrank ends':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in a.agents:
            for r in a.ranks:
                for t in a.threads:
                    rec = runner.bench_record(a.binary, n, r, t, a.steps, tmp, cfgs, extra, a.warmup)
                    name = f"{time.strftime('%Y%m%dT%H%M%S')}_{rec['agents']}_{r}x{t}.json"
                    with open(os.path.join(a.results, name), "w") as f:
                        json.dump(rec, f, indent=1)
                    print(f"{rec['agents']:>10} {r:>5} {t:>3} {a.steps:>5} {rec['loop_time_s']:>8.2f} "
                          f"{rec['agent_steps_per_s']:>14.3g} {rec['agent_steps_per_core_s']:>12.3g} "
                          f"{rec['state_bytes_per_agent']:>13.1f} {rec['peak_rss_per_agent']:>11.1f} "
                          f"{rec['tie_visits_per_core_s']:>17.3g} {rec['bytes_exchanged_per_step']:>11.3g} "
                          f"{rec['bytes_gathered_per_step']:>11.3g} "
                          f"{rec['exchange_share_of_step']:>9.1%} {rec['tie_ends_cross_rank']:>10}",
                          flush=True)


if __name__ == "__main__":
    main()
