"""Start clhsim from Python: the launcher command, its environment, the run, and `/run`.

The one place that knows how the scripts in bench/, calibration/ and jobs/ start clhsim:

    from clhsim_analysis import runner
    proc, wall_s = runner.run(binary, ["run", "--quiet", "-o", "a.h5"], ranks=2, threads=1)
    attrs = runner.read_run("a.h5")            # the /run attributes: timings, rates, memory
    rec = runner.bench_record(binary, 1e6, 2, 1, 20, tmpdir, [cfg], [])   # bench/bench.py's

`ranks=None` starts the binary alone (one process, no launcher, no MPI environment); with
`ranks` it runs under `mpiexec -n RANKS --bind-to none` (threads placed by OpenMP, not
pinned by Open MPI), or under another `launcher` (a batch job's `srun ...`), which is given
`-n RANKS` and then the binary. The environment is the caller's with OMP_NUM_THREADS set to
`threads`, and for mpiexec Open MPI's oversubscription allowed (more ranks than cores on a
workstation) and, as root (containers), running as root allowed.

Only h5py (for `read_run` and `bench_record`) beyond the standard library.
"""
import os
import platform
import shlex
import subprocess
import sys
import time

#: The default population has about this many agents per centre: a benchmark of N agents
#: sets population.centres = N / AGENTS_PER_CENTRE.
AGENTS_PER_CENTRE = 580.0

#: Phases whose time is the network's (tie formation, decay and halo, resources, motivation,
#: engagement), summed into a benchmark record's network_time_s.
NETWORK_PHASES = ("new_ties", "decay_halo", "resources", "motivation", "engagement")


def command(binary, args, ranks=None, launcher=None, prefix=()):
    """The command line: `prefix` (e.g. ["nice", "-n", "10"]), then the binary alone
    (`ranks` None), or `mpiexec -n RANKS --bind-to none BINARY` (`launcher` None), or
    `LAUNCHER -n RANKS BINARY` (`launcher` a shell-quoted string such as
    "srun --mpi=pmix --cpu-bind=cores"); then `args`."""
    cmd = list(prefix)
    if ranks is not None:
        if launcher is None:
            cmd += ["mpiexec", "-n", str(ranks), "--bind-to", "none"]
        else:
            cmd += shlex.split(launcher) + ["-n", str(ranks)]
    return cmd + [binary] + list(args)


def environment(threads=None, mpi=True):
    """The caller's environment with OMP_NUM_THREADS = `threads` (unless None) and, for
    mpiexec (`mpi`), oversubscription and (as root) running as root allowed."""
    env = dict(os.environ)
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    if mpi:
        env["OMPI_MCA_rmaps_base_oversubscribe"] = "1"
        if os.geteuid() == 0:
            env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    return env


def run(binary, args, ranks=None, threads=None, launcher=None, prefix=(), echo=None):
    """Run clhsim (see `command` and `environment`), its output captured as text; returns
    (subprocess.CompletedProcess, wall seconds). The caller judges the exit status.
    `echo`: print "ECHO: COMMAND" before starting it."""
    cmd = command(binary, args, ranks, launcher, prefix)
    env = environment(threads, mpi=ranks is not None)
    if echo:
        print(f"{echo}: " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    t0 = time.time()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    return proc, time.time() - t0


def read_run(path):
    """The /run attributes of an output file (timings, rates, memory; docs/output.md), as
    Python numbers and strings."""
    import h5py
    with h5py.File(path, "r") as f:
        return {k: (v.item() if hasattr(v, "item") else v) for k, v in f["run"].attrs.items()}


def bench_record(binary, agents, ranks, threads, steps, outdir, cfgs, extra, warmup=0,
                 launcher=None, echo=None):
    """One benchmark run of about `agents` agents for `steps` steps (the first `warmup`
    untimed) on `ranks` x `threads`, the output in `outdir` (deleted once read), and its
    record: the build's identity (/code), size, throughput, per-phase times, memory, network
    figures and the final state digest (bench/README.md). `cfgs`: scenario files; `extra`:
    more clhsim arguments (-P key=value ...); `launcher`, `echo`: as for `run`. Exits the
    program with clhsim's output if the run fails."""
    import h5py
    centres = max(1, int(round(agents / AGENTS_PER_CENTRE)))
    out = os.path.join(outdir, f"bench_{int(agents)}_{ranks}x{threads}.h5")
    args = ["run", "--quiet", "--warmup", str(warmup)] + cfgs + [
        "-P", f"population.centres={centres}", "-P", f"run.steps={steps}",
        "-P", f"output.every={steps}", "-o", out, "--overwrite"] + extra
    proc, wall = run(binary, args, ranks, threads, launcher, echo=echo)
    if proc.returncode != 0:
        sys.exit(f"run failed ({' '.join(proc.args)}):\n{proc.stdout}\n{proc.stderr}")
    run_ = read_run(out)
    with h5py.File(out, "r") as f:
        code = {k: (v.decode() if isinstance(v, bytes) else str(v)) for k, v in f["code"].attrs.items()}
        digest = int(f["timeseries/state_digest"][-1])
    os.remove(out)
    cores = ranks * threads
    rec = {
        "host": platform.node(), "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "code": code, "ranks": ranks, "threads": threads, "centres": centres,
        "agents": int(run_["agents"]), "steps": steps,
        "warmup_steps": warmup, "timed_steps": int(run_.get("timed_steps", steps)),
        "config": cfgs, "overrides": extra,
        "host_cores": os.cpu_count(), "load_before": os.getloadavg()[0],
        "loop_time_s": run_["loop_time_s"], "wall_time_s": run_["wall_time_s"],
        "process_wall_s": wall,
        "agent_steps_per_s": run_["agent_steps_per_s"],
        "agent_steps_per_core_s": run_["agent_steps_per_s"] / cores,
        "state_bytes_per_agent": run_["bytes_per_agent"],
        "peak_rss_bytes_max_rank": run_["peak_rss_bytes_max"],
        "peak_rss_per_agent": run_["peak_rss_bytes_max"] * ranks / run_["agents"],
        "final_state_digest": f"{digest:016x}",
        "tie_ends": int(run_["tie_ends"]),
        "tie_ends_cross_rank": int(run_["tie_ends_cross_rank"]),
        "bytes_per_tie_end": run_["bytes_per_tie_end"],
        "tie_visits": int(run_["tie_visits"]),
        "tie_visits_per_core_s": run_["tie_visits_per_core_s"],
        "bytes_exchanged_per_step": run_["bytes_exchanged_per_step"],
        "bytes_gathered_per_step": run_.get("bytes_gathered_per_step", float("nan")),
        # Scale-out structure (issue 12): maxima over ranks, per step of the run loop.
        **{k: run_.get(k, float("nan")) for k in (
            "bytes_received_max_per_step", "bytes_sent_max_per_step", "messages_max_per_step",
            "state_bytes_max_per_rank")},
        "phase_mean_s": {k[5:-7]: v for k, v in run_.items() if k.startswith("time_") and k.endswith("_mean_s")},
        "phase_max_s": {k[5:-6]: v for k, v in run_.items() if k.startswith("time_") and k.endswith("_max_s")},
    }
    net = sum(rec["phase_mean_s"].get(p, 0) for p in NETWORK_PHASES)
    rec["network_time_s"] = net
    rec["exchange_share_of_step"] = rec["phase_mean_s"].get("communication", 0) / rec["loop_time_s"] if rec["loop_time_s"] else 0
    rec["exchange_share_of_network"] = rec["phase_mean_s"].get("communication", 0) / net if net else 0
    return rec
