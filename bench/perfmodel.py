#!/usr/bin/python3
"""A performance model of a clhsim step, fitted to measured records, projected to 1,024 nodes.

Every term is measured by the code itself (/run), none is assumed from the design:

    T_step = n * t_agent / (T * e_thr)                     compute (all phases, per agent)
           + f_imb * compute                               load imbalance / waiting
           + M(P) * alpha * ceil(log2 P)                   latency: every message a rank
                                                           sends or receives per step, each
                                                           charged a tree depth (pessimistic
                                                           for point-to-point messages)
           + R * B(n, P) / beta                            bytes a node's R ranks receive

    M(P)    = m0 + m1 * log2 P                             messages_max_per_step, fitted on
                                                           the weak-scaling structure records
    B(n, P) = b0 + b_agent * n + b_rank * P                bytes_received_max_per_step: a
                                                           fixed part (reductions, records'
                                                           selection), a part per agent (halo,
                                                           tie events, offers, partner
                                                           requests) and what is still O(P)
                                                           (the allgathers of P per-rank
                                                           totals: partner weights, commons)

fitted constants:
    t_agent  seconds per agent-step on one core (the quietest 1 x 1 record, >= 5e5 agents,
             bench/bench.py)
    e_thr    thread efficiency inside a rank (1 x 2 against 1 x 1 at the same size)
    f_imb    (communication time - transfer estimate) / compute of the best 2 x 1 record
    m0, m1, b0, b_rank  least squares over bench/scaling_structure.py's rows (P >= 2, 16
             centres per rank: constant work per rank)
    b_agent  the 2 x 1 bench.py record's bytes_received_max_per_step less b0 + 2 b_rank, per
             agent of its largest rank
stated (not measurable here) — change them on the command line:
    alpha    network latency per message            (default 1.5 us, InfiniBand-class)
    beta     per-node injection bandwidth           (default 12.5 GB/s, 100 Gb/s)

    bench/perfmodel.py [RESULTS] [--alpha 1.5e-6] [--beta 12.5e9] [--cores-per-node 64]
                       [--ranks-per-node 8] [--agents 1e9 1e10]
"""
import argparse
import glob
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
AGENTS_PER_CENTRE = 580  # the default population (bench/bench.py sizes runs the same way)


def load(results):
    bench, rows = [], []
    for f in glob.glob(os.path.join(results, "**", "*.json"), recursive=True):
        try:
            r = json.load(open(f))
        except (OSError, ValueError):
            continue
        if isinstance(r, dict) and "agent_steps_per_s" in r and "phase_mean_s" in r:
            bench.append(r)
        elif isinstance(r, dict) and "rows" in r:
            rows += [x for x in r["rows"] if x["ranks"] >= 2 and "messages_max_per_step" in x]
    return bench, rows


def lsq(xs, ys):
    """Least squares y = a + b x; (a, b)."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx > 0 else 0.0
    return my - b * mx, b


def fit(bench, rows):
    one = [r for r in bench if r["ranks"] == 1 and r["threads"] == 1 and r["agents"] >= 5e5]
    if not one:
        sys.exit("no 1x1 records at >= 5e5 agents: run bench/bench.py --agents 1e6 first")
    if len({r["ranks"] for r in rows}) < 2:
        sys.exit("no weak-scaling structure records at two or more rank counts: run "
                 "bench/scaling_structure.py first")
    best = max(one, key=lambda r: r["agent_steps_per_core_s"])  # the quietest measurement
    t_agent = 1.0 / best["agent_steps_per_core_s"]
    thr = [r for r in bench if r["ranks"] == 1 and r["threads"] == 2 and r["agents"] == best["agents"]]
    e_thr = max((r["agent_steps_per_core_s"] for r in thr), default=best["agent_steps_per_core_s"]) \
        / best["agent_steps_per_core_s"]
    m0, m1 = lsq([math.log2(r["ranks"]) for r in rows], [r["messages_max_per_step"] for r in rows])
    b0, b_rank = lsq([r["ranks"] for r in rows], [r["bytes_received_max_per_step"] for r in rows])
    b_rank = max(b_rank, 0.0)
    two = [r for r in bench if r["ranks"] == 2 and r["threads"] == 1 and r["agents"] >= 5e5
           and r.get("bytes_received_max_per_step", float("nan")) == r.get("bytes_received_max_per_step")]
    f_imb, b_agent = 0.05, 0.0
    if two:
        r2 = max(two, key=lambda r: r["agent_steps_per_core_s"])
        ts = r2.get("timed_steps", r2["steps"])
        comm = r2["phase_mean_s"].get("communication", 0) / ts
        compute = r2["loop_time_s"] / ts - comm
        f_imb = max(0.0, comm / compute) if compute > 0 else 0.05
        b_agent = max(0.0, (r2["bytes_received_max_per_step"] - b0 - 2 * b_rank) / (r2["agents"] / 2))
    return dict(t_agent=t_agent, e_thr=min(1.0, e_thr), f_imb=f_imb, m0=m0, m1=m1, b0=b0,
                b_rank=b_rank, b_agent=b_agent,
                source=f"{best['agents']} agents, rev {best.get('code', {}).get('git_revision', '?')}; "
                       f"{len(rows)} structure rows at {sorted({r['ranks'] for r in rows})} ranks")


def step_time(m, a, agents_rank, ranks):
    compute = agents_rank * m["t_agent"] / (a.threads * m["e_thr"])
    if ranks == 1:
        return compute, 0.0, {}
    depth = math.ceil(math.log2(ranks))
    parts = dict(
        imbalance=m["f_imb"] * compute,
        latency=(m["m0"] + m["m1"] * math.log2(ranks)) * a.alpha * depth,
        transfer=a.ranks_per_node * (m["b0"] + m["b_agent"] * agents_rank + m["b_rank"] * ranks)
        / a.beta)
    return compute, sum(parts.values()), parts


def table(m, a, total):
    per_node_weak = total / 1024
    print(f"\n{total:.0e} agents ({total / AGENTS_PER_CENTRE:.2g} centres); weak: {per_node_weak:.3g} "
          "agents per node\n")
    print("| nodes | weak: step s | weak efficiency | strong: step s | speed-up | strong efficiency | "
          "comm share (strong) |")
    print("|---|---|---|---|---|---|---|")
    base_w = base_s = None
    parts = {}
    for nodes in [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]:
        ranks = nodes * a.ranks_per_node
        cw, kw, _ = step_time(m, a, per_node_weak / a.ranks_per_node, ranks)
        cs, ks, parts = step_time(m, a, total / ranks, ranks)
        tw, ts = cw + kw, cs + ks
        if base_w is None:
            base_w, base_s = tw, ts
        print(f"| {nodes} | {tw:.4f} | {base_w / tw:.1%} | {ts:.4f} | {base_s / ts:.0f} | "
              f"{base_s / ts / nodes:.1%} | {ks / ts:.1%} |")
    print("\nAt 1,024 nodes (strong), per step: compute "
          f"{step_time(m, a, total / (1024 * a.ranks_per_node), 1024 * a.ranks_per_node)[0] * 1e3:.2f} ms, "
          + ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in parts.items()))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="?", default=os.path.join(HERE, "results"))
    ap.add_argument("--alpha", type=float, default=1.5e-6)
    ap.add_argument("--beta", type=float, default=12.5e9)
    ap.add_argument("--cores-per-node", type=int, default=64)
    ap.add_argument("--ranks-per-node", type=int, default=8)
    ap.add_argument("--agents", type=float, nargs="+", default=[1e9, 1e10])
    a = ap.parse_args()
    a.threads = a.cores_per_node // a.ranks_per_node
    m = fit(*load(a.results))
    print(f"fitted on {m['source']}:\n  t_agent {m['t_agent'] * 1e9:.0f} ns per agent-step per core, "
          f"thread efficiency {m['e_thr']:.2f}, imbalance/wait {m['f_imb']:.3f} of compute;\n"
          f"  messages per step {m['m0']:.1f} + {m['m1']:.2f} log2 P; bytes received per step "
          f"{m['b0']:.0f} + {m['b_agent']:.4f} per agent + {m['b_rank']:.1f} per rank")
    print(f"assumed: latency {a.alpha * 1e6:.1f} us per message and tree level, bandwidth "
          f"{a.beta / 1e9:.1f} GB/s per node, {a.cores_per_node} cores per node as "
          f"{a.ranks_per_node} ranks x {a.threads} threads; a record every step")
    for total in a.agents:
        table(m, a, total)


if __name__ == "__main__":
    main()
