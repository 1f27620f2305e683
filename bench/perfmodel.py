#!/usr/bin/python3
"""A performance model of a clhsim step, fitted to measured records, projected to 1,024 nodes.

Model of one step on P ranks (T threads each), n = agents per rank:

    T_step = n * t_agent / (T * e_thr)                      compute (all phases, per agent)
           + f_imb * n * t_agent / (T * e_thr)              load imbalance / waiting
           + n_red  * (alpha * ceil(log2 P))                small reductions (tree)
           + n_a2a  * (alpha * ceil(log2 P))                personalised exchanges: NBX (sends to
                                                            the tied ranks, a non-blocking
                                                            barrier: O(log P) latency)
           + bytes(n, P) / beta                             halo, tie events, offers, notices
           + gather(C) / beta                               per-centre statistics to rank 0
                                                            at every record (output.every = 1)
           + allgather(C) / beta                            event partners: every rank receives
                                                            every centre's candidate totals
                                                            (48 bytes) each event week (every
                                                            webinar_every = 4 steps)

fitted constants (from the JSON records of bench/bench.py in RESULTS):
    t_agent  seconds per agent-step on one core, 1-rank runs, network_on scenario
    e_thr    thread efficiency inside a rank (1 x T versus 1 x 1 at the same size)
    f_imb    (mean communication time - pure transfer estimate) / compute, 2-rank runs
    bytes    measured bytes exchanged per step per agent, scaled by (P-1)/P: cross-centre
             ties join random centres, so the share that crosses ranks tends to 1
stated (not measurable here) — change them on the command line:
    alpha    network latency per message            (default 1.5 us, InfiniBand-class)
    beta     per-node injection bandwidth           (default 12.5 GB/s, 100 Gb/s)
    n_red    reductions per step (counted in the code: agree, stop requests, N_rec,
             error agreement inside phases 2 and 4, records)            default 12
    n_a2a    personalised exchanges per step (partner requests, tie events x2, halo,
             offers, adoption notices, turnover drops)                  default 7

    bench/perfmodel.py [RESULTS] [--alpha 1.5e-6] [--beta 12.5e9] [--cores-per-node 64]
                       [--ranks-per-node 8] [--agents 1e10] [--design current|sparse]
"""
import argparse
import glob
import json
import math
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def load(results):
    recs = []
    for f in glob.glob(os.path.join(results, "**", "*.json"), recursive=True):
        try:
            r = json.load(open(f))
        except (OSError, ValueError):
            continue
        if isinstance(r, dict) and "agent_steps_per_s" in r and "phase_mean_s" in r:
            recs.append(r)
    return recs


def fit(recs):
    one = [r for r in recs if r["ranks"] == 1 and r["threads"] == 1 and r["agents"] >= 5e5]
    if not one:
        sys.exit("no 1x1 records with per-phase times at >= 5e5 agents: run bench/bench.py first")
    best = max(one, key=lambda r: r["agent_steps_per_core_s"])  # the quietest measurement
    t_agent = 1.0 / best["agent_steps_per_core_s"]
    thr = [r for r in recs if r["ranks"] == 1 and r["threads"] == 2 and r["agents"] == best["agents"]]
    e_thr = max((r["agent_steps_per_core_s"] for r in thr), default=best["agent_steps_per_core_s"]) \
        / best["agent_steps_per_core_s"]
    two = [r for r in recs if r["ranks"] == 2 and r["threads"] == 1 and r["agents"] >= 5e5]
    f_imb, bpa = 0.05, 0.1
    if two:
        r2 = max(two, key=lambda r: r["agent_steps_per_core_s"])
        ts = r2.get("timed_steps", r2["steps"])
        comm = r2["phase_mean_s"].get("communication", 0) / ts
        compute = r2["loop_time_s"] / ts - comm
        f_imb = max(0.0, comm / compute) if compute > 0 else 0.05
        bpa = r2.get("bytes_exchanged_per_step", 0) / r2["agents"] / 0.5  # at (P-1)/P = 1/2
    return dict(t_agent=t_agent, e_thr=min(1.0, e_thr), f_imb=f_imb, bytes_per_agent_step=bpa,
                source=f"{best['agents']} agents, rev {best.get('code', {}).get('git_revision', '?')}")


def step_time(m, a, agents_rank, ranks, centres):
    T = a.threads
    compute = agents_rank * m["t_agent"] / (T * m["e_thr"])
    imb = m["f_imb"] * compute if ranks > 1 else 0.0
    red = a.n_red * a.alpha * math.ceil(math.log2(ranks)) if ranks > 1 else 0.0
    # both designs: the sparse data exchange (NBX in clhs_comm_alltoallv; until session 2 an
    # MPI_Alltoall of counts, O(P) messages per rank), O(log P) latency
    a2a = a.n_a2a * a.alpha * math.ceil(math.log2(max(ranks, 2)))
    nodes = ranks / a.ranks_per_node
    bytes_node = m["bytes_per_agent_step"] * agents_rank * a.ranks_per_node * (ranks - 1) / ranks
    xfer = bytes_node / a.beta if ranks > 1 else 0.0
    # rank 0 receives every centre's statistics (~112 bytes each) at every record
    gather = centres * 112 / a.beta if nodes > 1 and a.design == "current" else 0.0
    # event weeks: every rank of a node receives every centre's totals (48 bytes each);
    # online ties no longer do this (partners from the ranks' totals, an O(P) allgather)
    allg = (48 * centres * a.ranks_per_node / 4) / a.beta if nodes > 1 and a.design == "current" else 0.0
    return compute, imb + red + a2a + xfer + gather + allg, dict(imb=imb, red=red, a2a=a2a,
                                                                 xfer=xfer, gather=gather,
                                                                 allgather=allg)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="?", default=os.path.join(HERE, "results"))
    ap.add_argument("--alpha", type=float, default=1.5e-6)
    ap.add_argument("--beta", type=float, default=12.5e9)
    ap.add_argument("--cores-per-node", type=int, default=64)
    ap.add_argument("--ranks-per-node", type=int, default=8)
    ap.add_argument("--agents", type=float, default=1e10)
    ap.add_argument("--n-red", type=int, default=12)
    ap.add_argument("--n-a2a", type=int, default=7)
    ap.add_argument("--design", choices=["current", "sparse"], default="current",
                    help="sparse: network-wide figures by reduction instead of a gather to rank "
                         "0, and event partners without the allgather of every centre's totals")
    a = ap.parse_args()
    a.threads = a.cores_per_node // a.ranks_per_node
    m = fit(load(a.results))
    print(f"fitted on {m['source']}: t_agent = {m['t_agent'] * 1e9:.0f} ns per agent-step per core, "
          f"thread efficiency {m['e_thr']:.2f}, imbalance/wait {m['f_imb']:.3f} of compute, "
          f"{m['bytes_per_agent_step']:.3f} bytes exchanged per agent-step (all crossing)")
    print(f"assumed: latency {a.alpha * 1e6:.1f} us, bandwidth {a.beta / 1e9:.1f} GB/s per node, "
          f"{a.cores_per_node} cores per node as {a.ranks_per_node} ranks x {a.threads} threads; "
          f"{a.n_red} reductions and {a.n_a2a} personalised exchanges per step; a record every step; "
          f"design: {a.design}\n")
    nodes_list = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
    total = a.agents
    per_node_weak = total / 1024
    print("| nodes | weak: agents | step s | efficiency | strong: step s | speed-up | efficiency | "
          "comm share (strong) |")
    print("|---|---|---|---|---|---|---|---|")
    base_w = base_s = None
    for nodes in nodes_list:
        ranks = nodes * a.ranks_per_node
        # weak: agents per node fixed at the 1,024-node share of the total
        aw = per_node_weak * nodes
        cw, kw, _ = step_time(m, a, aw / ranks, ranks, aw / 580)
        tw = cw + kw
        # strong: the whole population
        cs, ks, parts = step_time(m, a, total / ranks, ranks, total / 580)
        ts = cs + ks
        if base_w is None:
            base_w, base_s = tw, ts
        print(f"| {nodes} | {aw:.3g} | {tw:.3f} | {base_w / tw:.1%} | {ts:.3f} | {base_s / ts:.0f} | "
              f"{base_s / ts / nodes:.1%} | {ks / ts:.1%} |")
    print("\nAt 1,024 nodes (strong), the communication terms per step:",
          ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in parts.items()))


if __name__ == "__main__":
    main()
