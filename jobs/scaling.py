#!/usr/bin/python3
"""One run of a strong- or weak-scaling study inside a batch job, or a summary of a study.

    scaling.py run --study strong --agents 1e7 --nodes 4 --ranks 32 --threads 4 --steps 50 \\
        --results DIR --launcher "srun --mpi=pmix --cpu-bind=cores" [-- -P key=value ...]
    scaling.py summary DIR [--study strong]

`run` measures as bench/bench.py does (clhsim_analysis.runner.bench_record: the same JSON
record as bench/results/*.json: agent-steps per second, per-phase max and mean times over
ranks, memory, ...) but launches clhsim with the job's launcher instead of mpiexec, and adds
the study's fields: study, nodes, ranks_per_node, agents_per_rank, job id, launcher. Agent
counts are approximate: population.centres = agents / 580 (runner.AGENTS_PER_CENTRE). `--agents` is the total for a strong study
and the count per rank for a weak one. One record per run: DIR/STUDY_NODESn_RxT_JOB.json.

`summary` prints a study's records with the speed-up and parallel efficiency relative to the
smallest node count (strong: T1*N1 / (TN*N); weak: T1 / TN, on the loop time).
"""
import argparse
import glob
import json
import os
import sys

from clhsim_analysis import runner  # jobs/clhsim_analysis: a link to analysis/clhsim_analysis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def do_run(a):
    ranks, nodes = a.ranks, a.nodes
    agents = a.agents * ranks if a.study == "weak" else a.agents
    binary = os.path.abspath(a.binary)
    os.makedirs(a.results, exist_ok=True)
    # The output goes to the results folder (a shared file system: every rank writes to it).
    outdir = os.path.join(a.results, f".out-{a.job}")
    os.makedirs(outdir, exist_ok=True)
    cfgs = [a.config] if a.config else []
    # `LAUNCHER -n RANKS BINARY ...` (srun: one task per rank, bound as the job says).
    rec = runner.bench_record(binary, agents, ranks, a.threads, a.steps, outdir, cfgs, a.extra,
                              launcher=a.launcher, echo="scaling")
    os.rmdir(outdir)
    rec.update(study=a.study, nodes=nodes, ranks_per_node=ranks / nodes,
               agents_per_rank=rec["agents"] / ranks, job_id=a.job, launcher=a.launcher)
    name = os.path.join(a.results, f"{a.study}_{nodes}n_{ranks}x{a.threads}_{a.job}.json")
    with open(name, "w") as f:
        json.dump(rec, f, indent=1)
    print(f"scaling: {a.study} {nodes} node(s) {ranks}x{a.threads}: {rec['agents']} agents, "
          f"loop {rec['loop_time_s']:.3f} s, {rec['agent_steps_per_s']:.3g} agent-steps/s -> {name}")


def do_summary(a):
    recs = []
    for p in sorted(glob.glob(os.path.join(a.dir, "*.json"))):
        with open(p) as f:
            r = json.load(f)
        if "study" in r and (a.study is None or r["study"] == a.study):
            recs.append(r)
    if not recs:
        sys.exit(f"no scaling records in {a.dir}")
    for study in sorted({r["study"] for r in recs}):
        rs = sorted((r for r in recs if r["study"] == study), key=lambda r: (r["nodes"], r["ranks"]))
        base = rs[0]
        print(f"{study} scaling ({len(rs)} runs; efficiency relative to {base['nodes']} node(s))")
        print(f"{'nodes':>5} {'ranks':>5} {'thr':>3} {'agents':>11} {'loop s':>9} "
              f"{'agent-steps/s':>13} {'speed-up':>8} {'efficiency':>10} {'xchg/step':>9}")
        for r in rs:
            t, t0 = r["loop_time_s"], base["loop_time_s"]
            if study == "strong":
                speedup = t0 / t if t else float("nan")
                eff = speedup * base["nodes"] / r["nodes"]
            else:
                speedup = (r["agent_steps_per_s"] / base["agent_steps_per_s"]
                           if base["agent_steps_per_s"] else float("nan"))
                eff = t0 / t if t else float("nan")
            print(f"{r['nodes']:>5} {r['ranks']:>5} {r['threads']:>3} {r['agents']:>11} {t:>9.3f} "
                  f"{r['agent_steps_per_s']:>13.3g} {speedup:>8.2f} {eff:>10.1%} "
                  f"{r.get('exchange_share_of_step', 0):>9.1%}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="one measured run inside a job")
    r.add_argument("--study", choices=["strong", "weak"], required=True)
    r.add_argument("--agents", type=float, required=True,
                   help="total agents (strong) or agents per rank (weak)")
    r.add_argument("--nodes", type=int, required=True)
    r.add_argument("--ranks", type=int, required=True)
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--steps", type=int, default=50)
    r.add_argument("--binary", default=os.path.join(ROOT, "build", "release", "clhsim"))
    r.add_argument("--config", default=os.path.join(ROOT, "bench", "network_on.yml"))
    r.add_argument("--results", default=os.path.join(ROOT, "bench", "results", "scaling"))
    r.add_argument("--launcher", default="srun --mpi=pmix --cpu-bind=cores")
    r.add_argument("--job", default=os.environ.get("SLURM_JOB_ID", os.environ.get("PBS_JOBID", "local")))
    r.add_argument("extra", nargs="*", help="more clhsim arguments (after --)")
    s = sub.add_parser("summary", help="print a study's table")
    s.add_argument("dir")
    s.add_argument("--study", choices=["strong", "weak"])
    a = ap.parse_args()
    if a.cmd == "run":
        do_run(a)
    else:
        do_summary(a)


if __name__ == "__main__":
    main()
