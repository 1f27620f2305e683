"""bench/collect.py's text summary: the Markdown table of runs, the triad and checkpoint
lines, and the flags (summary.md)."""
import math
import os

from collect_stats import num

# --------------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------------
def fmt(v, spec):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return format(v, spec)


def markdown(rows, cols):
    out = ["| " + " | ".join(h for h, _, _ in cols) + " |",
           "|" + "|".join("---:" if sp else "---" for _, _, sp in cols) + "|"]
    for r in rows:
        out.append("| " + " | ".join(fmt(r.get(k), sp) if sp else str(r.get(k, "")) for _, k, sp in cols) + " |")
    return "\n".join(out)


def summary(df, triads, ckpts, plotted, outdir):
    lines = []
    cols = [("time", "time", ""), ("rev", "rev", ""), ("agents", "agents", "d"), ("steps", "steps", "d"),
            ("R×T", "decomposition", ""), ("agent-steps/s", "agent_steps_per_s", ".3g"),
            ("per core-s", "agent_steps_per_core_s", ".3g"), ("strong eff", "strong_efficiency", ".0%"),
            ("weak eff", "weak_efficiency", ".0%"), ("tie-visits/core-s", "tie_visits_per_core_s", ".3g"),
            ("state B/agent", "state_bytes_per_agent", ".0f"), ("RSS B/agent", "peak_rss_per_agent", ".0f"),
            ("xchg share", "exchange_share_of_step", ".1%"), ("est GB/s", "est_GBps", ".2f"),
            ("of triad", "of_triad", ".0%"), ("flags", "flags", "")]
    rows = []
    for r in df.to_dict("records"):
        r["rev"] = r["revision"][:12]
        r["time"] = str(r["time"])[:16]
        rows.append(r)
    lines.append(f"## clhsim runs ({len(df)}; plots use {plotted})\n")
    lines.append(markdown(rows, cols))
    if triads:
        lines.append("\n## Triad (STREAM-like, a = b + s·c, 24 bytes/element counted)\n")
        for t in sorted(triads, key=lambda r: r.get("time", "")):
            lines.append(f"- {t.get('host')} {t.get('time', '')[:16]}: "
                         + ", ".join(f"{p['threads']} thread{'s' * (p['threads'] > 1)} "
                                     f"{p['best_GBps']:.1f} GB/s (median {p['median_GBps']:.1f})"
                                     for p in t.get("per_threads", []))
                         + f"; load average before {t.get('loadavg_before', float('nan')):.1f}")
    if ckpts:
        lines.append("\n## Checkpoints\n")
        for c in sorted(ckpts, key=lambda r: r.get("time", "")):
            lines.append(f"- {c.get('time', '')[:16]} {c.get('agents')} agents on {c.get('ranks')} ranks: "
                         f"{fmt(num(c, 'bytes_per_agent'), '.0f')} B/agent, write "
                         f"{fmt(num(c, 'write_GBps'), '.2f')} GB/s, read {fmt(num(c, 'read_GBps'), '.2f')} GB/s "
                         f"(dd: write+fsync {fmt(num(c, 'dd_write_fsync_GBps'), '.2f')}, "
                         f"read {fmt(num(c, 'dd_read_GBps'), '.2f')})")
    notes = []
    bad = df[df["digest_ok"].map(lambda v: v is not None and not v)]
    for _, r in bad.iterrows():
        same = df[(df["code_key"] == r["code_key"]) & (df["agents"] == r["agents"]) & (df["steps"] == r["steps"])]
        notes.append(f"DIGEST: {r['file']} ({r['decomposition']}, {r['agents']} agents, {r['steps']} steps, "
                     f"rev {r['revision']}) ends with {r['final_state_digest']}, the reference "
                     f"({', '.join(sorted(same.loc[same['final_state_digest'] == r['digest_ref'], 'decomposition']))}) "
                     f"with {r['digest_ref']}: it computed something else (or ran another scenario: "
                     f"the records do not store -P overrides)")
    # Repeats of one configuration that disagree by more than 25 %.
    for k, g in df.groupby(["machine", "code_key", "agents", "steps", "decomposition"]):
        if len(g) > 1 and g["agent_steps_per_s"].max() > 1.25 * g["agent_steps_per_s"].min():
            notes.append(f"NOISE: {len(g)} runs of {k[4]} at {k[2]} agents, {k[3]} steps (rev "
                         f"{k[1].split('|')[0]}) range {g['agent_steps_per_s'].min():.3g}–"
                         f"{g['agent_steps_per_s'].max():.3g} agent-steps/s")
    over = df[df["oversubscribed"]]
    if len(over):
        notes.append(f"OVERSUBSCRIBED: {len(over)} run(s) asked for more cores than the host has ("
                     + ", ".join(sorted({f"{r.decomposition} on {r.host} ({r.host_cpus:.0f} cores)"
                                         for r in over.itertuples()})) + "): shown as × in the plots, never a baseline")
    slow = df[(df["strong_efficiency"] < 0.5) & (df["cores"] > df["strong_base_cores"]) & ~df["oversubscribed"]]
    for _, r in slow.iterrows():
        notes.append(f"SLOWER: {r['file']} ({r['decomposition']}) has strong efficiency "
                     f"{r['strong_efficiency']:.0%}"
                     + (" — slower than on fewer cores" if r["strong_speedup"] < 1 else ""))
    missing = df[df["phase_levers_joins_s_per_step"].isna()] if "phase_levers_joins_s_per_step" in df else df
    if len(missing):
        notes.append(f"OLD: {len(missing)} record(s) without per-phase times or tie figures "
                     f"(older bench.py); their cells are empty")
    if notes:
        lines.append("\n## Flags\n")
        lines += [f"- {n}" for n in notes]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(outdir, "summary.md"), "w") as f:
        f.write(text)
    return text
