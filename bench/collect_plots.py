"""bench/collect.py's plots: strong and weak scaling, phases, memory, bandwidth (PNG)."""
import math
import os

import numpy as np
import pandas as pd
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from collect_stats import baseline  # noqa: E402

# --------------------------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------------------------
def size_label(agents, steps):
    return f"{agents:.3g} agents, {steps} steps"


def wide(cores):
    return len(cores) > 0 and max(cores) / max(1, min(cores)) >= 8


def style_axes(ax, xcores):
    """Core counts as ticks; a log2 axis when they span a factor of 8 or more."""
    xcores = sorted(int(c) for c in xcores)
    if wide(xcores):
        ax.set_xscale("log", base=2)
        if len(xcores) > 12:
            xcores = [c for c in xcores if c & (c - 1) == 0] or xcores[:: len(xcores) // 12 + 1]
    ax.set_xticks(xcores)
    ax.set_xticklabels([str(c) for c in xcores])
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.grid(True, alpha=0.3)


def run_markers(ax, g, x, y, color, scale=1.0, annotate=True):
    """Every run a marker: ○ one thread per rank, ■ threaded ranks, × oversubscribed."""
    for sel, marker, fill in ((~g["oversubscribed"] & (g["threads"] == 1), "o", "none"),
                              (~g["oversubscribed"] & (g["threads"] > 1), "s", color),
                              (g["oversubscribed"], "x", color)):
        s = g[sel]
        ax.plot(s[x], s[y] * scale, marker, color=color, mfc=fill, ms=7)
    if annotate:
        for _, r in g.iterrows():
            ax.annotate(r["decomposition"], (r[x], r[y] * scale), fontsize=7, xytext=(5, -3),
                        textcoords="offset points", color=color)


def marker_legend(ax, over):
    ax.plot([], [], "o", color="0.3", mfc="none", label="run, 1 thread per rank")
    ax.plot([], [], "s", color="0.3", label="run, threaded ranks")
    if over:
        ax.plot([], [], "x", color="0.3", label="oversubscribed (more cores than the host)")


def best_line(g, col):
    """The best run at each core count, oversubscribed runs left out."""
    g = g[~g["oversubscribed"]]
    if g.empty:
        return pd.Series(dtype=float)
    idx = g.groupby("cores")["agent_steps_per_s"].idxmax()
    return g.loc[idx].set_index("cores")[col].sort_index()


def plot_scaling(df, out, kind):
    """Speed-up and efficiency vs cores; one line per size (strong) or per agents per core
    (weak); every run a marker, the line through the best run at each core count."""
    col = "strong" if kind == "strong" else "weak"
    d = df[df[f"{col}_speedup"].notna()]
    keys = ["machine", "code_key", "agents", "steps"] if kind == "strong" else \
        ["machine", "code_key", "steps", "weak_series"]
    groups = [(k, g) for k, g in d.groupby(keys, dropna=False) if g["cores"].nunique() > 1]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12.5, 5))
    if not groups:
        for a in (a1, a2):
            a.text(0.5, 0.5, f"no {kind}-scaling series\n(need one size at two or more core counts"
                   + ("" if kind == "strong" else ",\nsame agents per core") + ")",
                   ha="center", va="center", transform=a.transAxes)
            a.set_axis_off()
    allcores = sorted(d["cores"].unique()) if len(d) else [1]
    multi_rev = len({k[1] for k, _ in groups}) > 1
    multi_machine = len({k[0] for k, _ in groups}) > 1
    for i, (k, g) in enumerate(sorted(groups, key=lambda kg: (kg[0][0], kg[0][2], kg[0][3]))):
        color = f"C{i % 10}"
        if kind == "strong":
            label = size_label(k[2], k[3])
        else:
            label = f"{float(k[3]):.3g} agents/core, {k[2]} steps"
        if multi_rev:
            label += f" @{k[1].split('|')[0]}"
        if multi_machine:
            label += f" ({k[0]})"
        sp, ef = best_line(g, f"{col}_speedup"), best_line(g, f"{col}_efficiency")
        c0 = baseline(g)[0]
        cs = np.array(sorted(g["cores"].unique()), dtype=float)
        a1.plot(cs, cs / c0, ":", color=color, lw=1)
        a1.plot(sp.index, sp.values, "-", color=color, label=label)
        a2.plot(ef.index, ef.values * 100, "-", color=color, label=label)
        run_markers(a1, g, "cores", f"{col}_speedup", color)
        run_markers(a2, g, "cores", f"{col}_efficiency", color, 100)
    if groups:
        a1.plot([], [], "k:", lw=1, label="ideal (c / c₀), dotted in the series' colour")
        a2.axhline(100, color="k", ls="--", lw=1, label="ideal")
        marker_legend(a1, bool(d["oversubscribed"].any()))
        for a in (a1, a2):
            style_axes(a, allcores)
            a.set_xlabel("cores (ranks × threads)")
        if kind == "strong":
            a1.set_ylabel("speed-up  (agent-steps/s ÷ best at the fewest cores)")
            a2.set_ylabel("parallel efficiency (%)  = speed-up × c₀ / c")
        else:
            a1.set_ylabel("scaled speed-up  (agent-steps/s ÷ best at the fewest cores)")
            a2.set_ylabel("weak efficiency (%)  = per-core rate ÷ best 1-core rate")
        a2.set_ylim(bottom=0, top=max(120, a2.get_ylim()[1]))
        if wide(allcores):
            a1.set_yscale("log", base=2)
            a1.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        else:
            a1.set_ylim(bottom=0)
        a1.legend(fontsize=8, loc="upper left")
    title = ("Strong scaling: fixed total agents" if kind == "strong"
             else "Weak scaling: fixed agents per core")
    fig.suptitle(f"clhsim {title}\n(line: best run at each core count; labels: ranks×threads)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def plot_phases(df, out):
    phases = [c for c in df.columns if c.startswith("phase_") and c.endswith("_s_per_step")]
    names = [c[6:-11] for c in phases]
    comp = [(n, c) for n, c in zip(names, phases) if n != "communication"]
    d = df[df[[c for _, c in comp]].notna().any(axis=1)]
    sizes = sorted({(r.agents, r.steps, r.code_key) for r in d.itertuples()})
    if not sizes:
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.text(0.5, 0.5, "no run with per-phase times", ha="center", va="center")
        ax.set_axis_off()
        fig.savefig(out, dpi=110)
        plt.close(fig)
        return
    multi_rev = len({s[2] for s in sizes}) > 1
    ncol = min(3, len(sizes))
    nrow = math.ceil(len(sizes) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.8 * ncol, 4.3 * nrow), squeeze=False)
    colors = {n: plt.get_cmap("tab10")(i % 10) for i, (n, _) in enumerate(comp)}
    for ax, (agents, steps, ck) in zip(axes.flat, sizes):
        g = d[(d["agents"] == agents) & (d["steps"] == steps) & (d["code_key"] == ck)]
        g = g.sort_values(["cores", "ranks", "time"])
        x = np.arange(len(g))
        bottom = np.zeros(len(g))
        for n, c in comp:
            v = g[c].fillna(0).to_numpy() * 1e3
            ax.bar(x - 0.08, v, 0.6, bottom=bottom, color=colors[n], label=n)
            bottom += v
        if "phase_communication_s_per_step" in g:
            v = g["phase_communication_s_per_step"].fillna(0).to_numpy() * 1e3
            ax.bar(x + 0.31, v, 0.14, color="white", edgecolor="k", hatch="////",
                   label="MPI communication\n(time inside the phases)")
        labels, seen = [], {}
        for r in g.itertuples():
            seen[r.decomposition] = seen.get(r.decomposition, 0) + 1
            labels.append(r.decomposition + (f" #{seen[r.decomposition]}" if seen[r.decomposition] > 1 else "")
                          + ("\n(over)" if r.oversubscribed else ""))
        ax.set_xticks(x)
        ax.set_xticklabels(labels, fontsize=8)
        ax.set_xlabel("run (ranks × threads; #n: a repeat)")
        ax.set_ylabel("ms per step (mean over ranks)")
        t = size_label(agents, steps)
        if multi_rev:
            t += f"\n@{ck.split('|')[0]}"
        ax.set_title(t, fontsize=10)
        ax.grid(True, axis="y", alpha=0.3)
    for ax in list(axes.flat)[len(sizes):]:
        ax.set_axis_off()
    h, l_ = axes.flat[0].get_legend_handles_labels()
    fig.legend(h[::-1], l_[::-1], loc="upper left", bbox_to_anchor=(1.0, 0.93), fontsize=8,
               title="phase (in step order,\nbottom to top)")
    fig.suptitle("clhsim time per step by phase, stacked (hatched: MPI communication, part of the phases;"
                 " (over): oversubscribed)", fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(fig)


def plot_memory(df, ckpts, out):
    fig, ax = plt.subplots(figsize=(8.5, 5.2))
    d = df[df["agents"] > 0]
    decs = sorted(d.groupby("decomposition"), key=lambda kg: (kg[1]["cores"].iloc[0], kg[0]))
    for i, (dec, g) in enumerate(decs):
        g = g.groupby("agents")["peak_rss_per_agent"].median().dropna()
        thr = int(dec.split("x")[1]) > 1
        ax.plot(g.index, g.values, ("s--" if thr else "o-"), color=f"C{i % 10}", ms=6 if thr else 8,
                mfc="none" if thr else f"C{i % 10}", label=f"peak RSS per agent, {dec} (max rank RSS × ranks)")
    st = d.groupby("agents")["state_bytes_per_agent"].median().dropna()
    ax.plot(st.index, st.values, "k^-", lw=2, label="model state per agent (clhsim's own count)")
    if ckpts:
        c = pd.DataFrame([{"agents": r.get("agents"), "bpa": r.get("bytes_per_agent")} for r in ckpts]).dropna()
        c = c.groupby("agents")["bpa"].median()
        ax.plot(c.index, c.values, "kx:", ms=9, label="checkpoint file per agent (checkpoint_bench.py)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.yaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(
        lambda v, _: f"{v:,.0f}" if str(int(round(v)))[0] in "2345" else ""))
    ax.set_xlabel("agents (log)")
    ax.set_ylabel("bytes per agent (log)")
    ax.set_title("clhsim memory per agent vs size\n(peak RSS approaches the state as each rank's fixed "
                 "~30 MB is amortised)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def plot_bandwidth(df, triads, out):
    fig, ax = plt.subplots(figsize=(10.5, 5.5))
    hosts = sorted({t.get("host") for t in triads})
    for j, h in enumerate(hosts):
        t = max((t for t in triads if t.get("host") == h), key=lambda r: r.get("time", ""))
        per = sorted((p["threads"], p["best_GBps"]) for p in t["per_threads"])
        ax.plot([p[0] for p in per], [p[1] for p in per], "-", color="k", lw=2.5, alpha=max(0.3, 0.85 - 0.3 * j),
                marker="D", label=f"measured triad on {h} (best of {t.get('trials')}, {t.get('time', '')[:16]})")
        for c, v in per:
            ax.annotate(f"{v:.1f} GB/s", (c, v), xytext=(6, -12), textcoords="offset points", fontsize=8)
    d = df[df["est_GBps"].notna()]
    allcores = sorted(set(d["cores"]) | {p["threads"] for t in triads for p in t["per_threads"]}) or [1]
    multi_rev = d["code_key"].nunique() > 1
    multi_machine = d["machine"].nunique() > 1
    for i, (k, g) in enumerate(sorted(d.groupby(["agents", "steps", "code_key", "machine"]), key=lambda kg: kg[0])):
        color = f"C{i % 10}"
        line = best_line(g, "est_GBps")
        label = f"clhsim estimate, {size_label(k[0], k[1])}"
        if multi_rev:
            label += f" @{k[2].split('|')[0]}"
        if multi_machine:
            label += f" ({k[3]})"
        ax.plot(line.index, line.values, "-", color=color, label=label)
        run_markers(ax, g, "cores", "est_GBps", color, annotate=False)
    marker_legend(ax, bool(d["oversubscribed"].any()))
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    style_axes(ax, allcores)
    ax.set_xlabel("cores (triad: OpenMP threads; clhsim: ranks × threads)")
    ax.set_ylabel("memory bandwidth (GB/s, log)")
    ax.set_title("clhsim estimated memory traffic vs the STREAM-like triad ceiling\n"
                 "estimate = state bytes per agent × agent-steps/s (order of magnitude; see bench/README.md)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(fig)




def plot_all(pdf, ckpts, triads, outdir):
    """Every figure of collect.py into `outdir`."""
    plot_scaling(pdf, os.path.join(outdir, "strong_scaling.png"), "strong")
    plot_scaling(pdf, os.path.join(outdir, "weak_scaling.png"), "weak")
    plot_phases(pdf, os.path.join(outdir, "phases.png"))
    plot_memory(pdf, ckpts, os.path.join(outdir, "memory.png"))
    plot_bandwidth(pdf, triads, os.path.join(outdir, "bandwidth.png"))
