#!/usr/bin/python3
"""The CLHS hypotheses answered from the experiment ensembles (examples/experiments/).

usage: analyse.py OUTDIR --doc docs/experiments.md --img docs/img/experiments [--wall S]

OUTDIR holds the ensemble files run_all.sh wrote (h1_network.h5, ...). For every hypothesis:
the outcomes of each member, the mean of each group (the members that share every design
value but the seed) with a 95 % interval over the seeds, the contrasts the hypothesis names
(the same seeds at both ends: paired differences, Student-t interval), a figure (PNG and SVG)
and a verdict per outcome: **supported** when the interval of the difference lies wholly on
the predicted side of 0, **contradicted** when wholly on the other side, **not detected**
when it holds 0. The trial (H6) is analysed with clhsim_analysis.trials. Everything in the
document is computed here: run it again and it is rewritten.
"""
import argparse
import datetime
import os
import sys

import numpy as np
import pandas as pd
import matplotlib

matplotlib.use("Agg")
# the same figures give the same SVG text (element ids, no date): reruns change no byte
matplotlib.rcParams["svg.hashsalt"] = "clhsim-experiments"
matplotlib.rcParams["svg.fonttype"] = "path"
from matplotlib.figure import Figure  # noqa: E402

import clhsim_analysis as ca  # noqa: E402
from clhsim_analysis.trials import analyse as trial_analyse, t_quantile  # noqa: E402

PAT, FAM = 0, 1


def _year(ds, var, year, sel=None):
    x = ds[var] if sel is None else ds[var].isel(sel)
    t = x["time"].dt.year == year
    return x.isel(time=np.where(t.values)[0])


def _mean_year(var, year, **sel):
    def f(ds):
        x = _year(ds, var, year, sel or None)
        return float(x.mean().item())
    return f


def _sum_from(var, start):
    def f(ds):
        x = ds[var]
        keep = x["time"].values >= np.datetime64(start)
        return float(x.isel(time=np.where(keep)[0]).sum().item())
    return f


def _founders(year):
    def f(ds):  # true remission of the 7 founding centres (members in every scenario)
        x = _year(ds, "centre_remission_true", year).isel(centre=slice(0, 7))
        return float(x.mean().item())
    return f


def _families(var, year):
    def f(ds):
        x = _year(ds, var, year).isel(type=[PAT, FAM])
        return float(x.mean().item())
    return f


def _families_engaged(year):
    def f(ds):  # families (PAT + FAM) at tier >= 2 (participants and above), year mean
        x = _year(ds, "agents_by_tier", year).isel(type=[PAT, FAM])
        return float(x.isel(tier=[2, 3, 4]).sum(["type", "tier"]).mean().item())
    return f


# name: (function of one member's Dataset, label, unit scale, unit)
OUTCOMES = {
    "remission_2019": (_mean_year("remission_observed", 2019),
                       "observed remission 2019, established members", 100, "%"),
    "true_remission_2019": (_mean_year("remission_true", 2019),
                            "true remission 2019, members", 100, "%"),
    "founders_remission_2019": (_founders(2019), "true remission 2019, the 7 founding centres",
                                100, "%"),
    "evidence_2019": (_mean_year("evidence", 2019), "evidence level E_tx, 2019", 1, ""),
    "engaged_core_2019": (_mean_year("engaged_core", 2019), "engaged core (E >= 3), 2019", 1,
                          "agents"),
    "families_engaged_2019": (_families_engaged(2019), "families at E >= 2, 2019", 1, "agents"),
    "family_motivation_2019": (_families("motivation_mean", 2019),
                               "motivation m of patients and caregivers, 2019", 1, ""),
    "family_autonomy_2019": (_families("autonomy_mean", 2019),
                             "autonomy A of patients and caregivers, 2019", 1, ""),
    "mean_degree_2019": (_mean_year("mean_degree", 2019, type=PAT), "patients' mean degree, 2019",
                         1, "ties"),
    "resources_created": (_sum_from("resources_created", "2007-01-01"),
                          "resources created 2007-2020", 1, ""),
    "adoptions": (_sum_from("adoptions", "2007-01-01"), "adoptions 2007-2020", 1, ""),
    "commons_adoptions": (_sum_from("commons_adoptions", "2007-01-01"),
                          "adoptions from the commons 2007-2020", 1, ""),
    "commons_users_2019": (_mean_year("commons_users", 2019), "distinct commons users, 2019", 1,
                           "agents"),
}

# Each hypothesis: its design, what it claims, the model's mechanism (what the rules make
# possible, not a result), the contrasts (a reference group and the group the claim says
# should be higher: selectors on the members' coordinates), the outcomes (+1: predicted to
# rise), and the first outcome of each contrast is its primary one.
HYPOTHESES = [
    dict(design="h1_network", title="H1. Network effects: size and density raise outcomes",
         claim="A bigger network (more member centres) and a denser one (more ties between "
               "its people) improve outcomes: more data and more shared know-how per centre.",
         mechanism="Size acts through the registry: more member centres write more records "
                   "(N_rec), research output grows with log(1 + N_rec/1000) and raises the "
                   "evidence level E_tx that speeds remission after escalation in every member "
                   "centre (M1). Density acts through ties: peer, event and online ties carry "
                   "resources, motivation and exposure to leaders.",
         contrasts=[("network size 25 -> 96 centres", {"scenario": "size_25"},
                     {"scenario": "icn"},
                     ["founders_remission_2019", "evidence_2019", "remission_2019"]),
                    ("network size 50 -> 96 centres", {"scenario": "size_50"},
                     {"scenario": "icn"},
                     ["founders_remission_2019", "evidence_2019", "remission_2019"]),
                    ("tie rates x0.5 -> x2", {"scenario": "sparse"}, {"scenario": "dense"},
                     ["remission_2019", "mean_degree_2019", "engaged_core_2019",
                      "commons_users_2019"])],
         order=["size_25", "size_50", "icn", "sparse", "dense"]),
    dict(design="h2_motivation",
         title="H2. Motivation and autonomy support raise engagement and outcomes",
         claim="Infrastructure that supports participants' autonomy (roles they can take) and "
               "higher intrinsic motivation raise engagement and, through it, outcomes.",
         mechanism="Roles raise autonomy A* of agents with E >= 2 (§5); motivation m* = "
                   "sigma(2A + 2K + 2Rl + 3V - theta); m drives moves up the engagement ladder "
                   "(§6), adherence (§8: a* = 0.4 + 0.2 m + ...) and resource creation.",
         contrasts=[("roles lever off -> on (theta 3.5)",
                     {"levers.roles.max": 0, "motivation.theta": 3.5},
                     {"levers.roles.max": 1, "motivation.theta": 3.5},
                     ["engaged_core_2019", "family_autonomy_2019", "family_motivation_2019",
                      "remission_2019"]),
                    ("motivation threshold theta 4.0 -> 3.0 (roles on)",
                     {"levers.roles.max": 1, "motivation.theta": 4.0},
                     {"levers.roles.max": 1, "motivation.theta": 3.0},
                     ["engaged_core_2019", "family_motivation_2019", "remission_2019",
                      "true_remission_2019"])]),
    dict(design="h3_transaction",
         title="H3. Lower transaction costs raise resource flow and outcomes",
         claim="A commons platform and tools that make creating and sharing cheap raise the "
               "flow of resources and, through it, outcomes.",
         mechanism="Creation rate lambda = lambda0 m K (1 - create_cost (1 - I_tools)); the "
                   "commons lever also posts resources (p_post I_commons m) and lets agents "
                   "find them (find_rate I_find). Adopted self-management resources raise "
                   "coverage s[1], which raises adherence and lowers relapse (§8).",
         contrasts=[("creation cost 0.9 -> 0.3 (commons on)",
                     {"levers.commons.max": 1, "resources.create_cost": 0.9},
                     {"levers.commons.max": 1, "resources.create_cost": 0.3},
                     ["resources_created", "adoptions", "remission_2019"]),
                    ("commons platform off -> on (cost 0.6)",
                     {"levers.commons.max": 0, "resources.create_cost": 0.6},
                     {"levers.commons.max": 1, "resources.create_cost": 0.6},
                     ["adoptions", "commons_adoptions", "remission_2019"])]),
    dict(design="h4_matching", title="H4. Better matching raises adoption",
         claim="Making it easier to find the resource that meets a need (search, matching) "
               "raises adoption.",
         mechanism="A searcher with an unmet need finds a resource in the commons with "
                   "probability 1 - exp(-find_rate I_find N/(1 + N/40)); what it finds it "
                   "adopts with probability v (0.5 + 0.5 m)(1 + f).",
         contrasts=[("find rate x0.25 -> x4", {"resources.find_rate": 0.0125},
                     {"resources.find_rate": 0.2},
                     ["commons_adoptions", "commons_users_2019", "adoptions",
                      "remission_2019"]),
                    ("find rate x1 -> x4", {"resources.find_rate": 0.05},
                     {"resources.find_rate": 0.2},
                     ["commons_adoptions", "commons_users_2019", "adoptions",
                      "remission_2019"])]),
    dict(design="h5_peer",
         title="H5. Peer influence raises activation and outcomes",
         claim="Patients' and families' motivation spreads through their ties (the patient "
               "influence parameter of the authors' own agent-based model, swept 0-0.2 "
               "there): more influence, more activated patients, better outcomes.",
         mechanism="m += eta_m (m* - m) + mu sum_j w_ij (m_j - m)/sum w: influence pulls m "
                   "toward tie partners' m, which may be higher (clinicians, engaged peers) or "
                   "lower.",
         contrasts=[("mu_patient 0 -> 0.2", {"motivation.mu_patient": 0},
                     {"motivation.mu_patient": 0.2},
                     ["family_motivation_2019", "families_engaged_2019", "remission_2019",
                      "true_remission_2019"]),
                    ("mu_patient 0 -> 0.05 (default)", {"motivation.mu_patient": 0},
                     {"motivation.mu_patient": 0.05},
                     ["family_motivation_2019", "families_engaged_2019", "remission_2019"])]),
]

TRIAL = dict(design="h6_previsit_trial",
             title="H6. A simulated cluster-randomised trial of pre-visit planning",
             claim="Pre-visit planning and population management (the previsit lever: "
                   "recalls of patients due or overdue, escalation more likely when a flare is "
                   "seen) improve remission in the centres that adopt it.",
             mechanism="I_pvp raises the chance that a clinician escalates a seen flare (x "
                       "(1 + 0.5 I_pvp)); I_pop recalls patients whose true state is active "
                       "while their last assessment says remission (probability r_c I_pop a "
                       "week). A recall reveals a hidden flare: observed remission can fall "
                       "while true remission rises.",
             date="2010-03-01", baseline="2008-03-01",
             outcomes=[("centre_remission_true", "true remission"),
                       ("centre_remission_observed", "observed remission"),
                       ("centre_steroid_use", "steroid use")])


def member_outcomes(ds, names):
    rows = []
    for m in range(ds.sizes["member"]):
        one = ds.isel(member=m)
        row = {c: one[c].item() for c in ds.coords if ds[c].dims == ("member",)}
        for n in names:
            row[n] = OUTCOMES[n][0](one)
        rows.append(row)
    df = pd.DataFrame(rows)
    for c in df.columns:
        if df[c].dtype == object:
            df[c] = df[c].astype(str)
    return df


def _select(df, sel):
    mask = np.ones(len(df), dtype=bool)
    for k, v in sel.items():
        col = df[k]
        mask &= np.isclose(col.astype(float), float(v)) if not isinstance(v, str) else \
            (col.astype(str) == v)
    return df[mask]


def paired(df, ref, alt, outcome):
    a = _select(df, ref).set_index("seed")[outcome]
    b = _select(df, alt).set_index("seed")[outcome]
    common = a.index.intersection(b.index)
    d = (b.loc[common] - a.loc[common]).values.astype(float)
    n = len(d)
    mean = float(d.mean()) if n else np.nan
    se = float(d.std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan
    t = t_quantile(0.975, n - 1) if n > 1 else np.nan
    base = float(a.loc[common].mean()) if n else np.nan
    return dict(n=n, ref=base, alt=float(b.loc[common].mean()) if n else np.nan, diff=mean,
                low=mean - t * se, high=mean + t * se)


def verdict(r, sign=+1):
    if not np.isfinite(r["low"]):
        return "not computed"
    lo, hi = sign * r["low"], sign * r["high"]
    lo, hi = min(lo, hi), max(lo, hi)
    if lo > 0:
        return "supported"
    if hi < 0:
        return "contradicted"
    return "not detected"


def _fmt(x, scale):
    v = x * scale
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    if abs(v) >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def group_label(row, keys):
    parts = []
    for k in keys:
        v = row[k]
        parts.append(f"{k.split('.')[-1]}={v:g}" if isinstance(v, (float, int, np.floating))
                     else str(v))
    return ", ".join(parts)


def figure(h, df, ds, outcomes, path):
    keys = [c for c in df.columns if c not in ("member", "seed") and c not in OUTCOMES]
    if "scenario" in keys:  # scenarios are named: the name is the label
        keys = ["scenario"]
    groups = df.groupby(keys if len(keys) > 1 else keys[0], sort=False) if keys else [((), df)]
    labels, stats = [], []
    for key, sub in groups:
        key = key if isinstance(key, tuple) else (key,)
        labels.append(group_label(dict(zip(keys, key)), keys))
        stats.append(sub)
    if h.get("order") and all(o in labels for o in h["order"]):
        idx = [labels.index(o) for o in h["order"] if o in labels]
        labels = [labels[i] for i in idx]
        stats = [stats[i] for i in idx]
    n = len(outcomes) + 1
    fig = Figure(figsize=(3.6 * min(n, 3), 3.2 * ((n + 2) // 3)), layout="constrained")
    axes = fig.subplots((n + 2) // 3, min(n, 3), squeeze=False).ravel()
    ax = axes[0]
    styles = ["-", "--", ":", "-."]
    markers = ["o", "s", "^", "v", "D", "P"]
    for i, (lab, sub) in enumerate(zip(labels, stats)):
        x = ds["remission_observed"].isel(member=sub.index.values).mean("member")
        ax.plot(x["time"].values, x.values * 100, styles[i % 4], lw=1.2, label=lab,
                marker=markers[i % 6], markevery=104, ms=4)
    ax.set_title("observed remission, established members (%)", fontsize=8)
    ax.legend(fontsize=6)
    for j, o in enumerate(outcomes):
        ax = axes[j + 1]
        fn, lab, scale, unit = OUTCOMES[o]
        for i, sub in enumerate(stats):
            v = sub[o].values.astype(float) * scale
            m = v.mean()
            ci = t_quantile(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 \
                else 0
            ax.errorbar(i, m, yerr=ci, fmt=markers[i % 6], ms=5, capsize=3)
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=7)
        ax.set_title(lab + (f" ({unit})" if unit else ""), fontsize=8)
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.suptitle(f"{h['title']} (mean of {len(stats[0])} seeds, 95 % interval)", fontsize=9)
    fig.savefig(path + ".png", dpi=100)
    fig.savefig(path + ".svg", metadata={"Date": None})


def hypothesis_section(h, outdir, imgdir):
    path = os.path.join(outdir, h["design"] + ".h5")
    ds = ca.load_ensemble(path)
    names = []
    for c in h["contrasts"]:
        names += [o for o in c[3] if o not in names]
    df = member_outcomes(ds, names)
    figure(h, df, ds, names[:5], os.path.join(imgdir, h["design"]))
    lines = [f"## {h['title']}", "", f"**Claim.** {h['claim']}", "",
             f"**In the model.** {h['mechanism']}", "",
             f"**Design** (`examples/experiments/{h['design']}.yml`, {ds.sizes['member']} "
             f"members):", "", "```yaml"]
    lines += [ln for ln in ds.attrs["design"].strip().splitlines() if not ln.startswith("#")]
    lines += ["```", "", "| contrast | outcome | reference | other | difference (95 % CI) | "
              "relative | verdict |", "|---|---|---|---|---|---|---|"]
    verdicts = []
    for name, ref, alt, outs in h["contrasts"]:
        for k, o in enumerate(outs):
            fn, lab, scale, unit = OUTCOMES[o]
            r = paired(df, ref, alt, o)
            v = verdict(r)
            rel = r["diff"] / r["ref"] if r["ref"] else np.nan
            rel = rel if np.isfinite(rel) else np.nan
            if v == "supported" and abs(rel) < 0.01:
                v = "supported, small (< 1 %)"
            if k == 0 or ("remission" in o and not any(x[0] == name and "remission" in x[1]
                                                      for x in verdicts)):
                verdicts.append((name, o, v, r))
            u = " pp" if unit == "%" else ""
            lines.append(f"| {name if k == 0 else ''} | {lab}{' **(primary)**' if k == 0 else ''}"
                         f" | {_fmt(r['ref'], scale)} | {_fmt(r['alt'], scale)} | "
                         f"{_fmt(r['diff'], scale)}{u} ({_fmt(r['low'], scale)} to "
                         f"{_fmt(r['high'], scale)}) | "
                         f"{f'{rel * 100:+.1f} %' if np.isfinite(rel) else '-'} | {v} |")
    lines += ["", f"Paired over the {verdicts[0][3]['n']} seeds both groups share; "
              "'supported': the interval lies above 0 (the predicted direction; 'small' when "
              "the difference is under 1 % of the reference), 'contradicted': below, 'not "
              "detected': it holds 0. 'relative': the difference over the reference.", "",
              f"![{h['title']}](img/experiments/{h['design']}.png)", "",
              "The figure: the first panel the mean over seeds of each group; the others each "
              "group's mean with the 95 % interval of the mean over its seeds (unpaired: the "
              "paired differences in the table are tighter).", ""]
    return lines, verdicts


def trial_section(t, outdir, imgdir):
    path = os.path.join(outdir, t["design"] + ".h5")
    ds = ca.load_ensemble(path)
    lines = [f"## {t['title']}", "", f"**Claim.** {t['claim']}", "",
             f"**In the model.** {t['mechanism']}", "",
             f"**Design** (`examples/experiments/{t['design']}.yml`, {ds.sizes['member']} "
             f"members):", "", "```yaml"]
    lines += [ln for ln in ds.attrs["design"].strip().splitlines() if not ln.startswith("#")]
    lines += ["```", "",
              f"Effect at {t['date']} (intervention - control, centres that are members; "
              f"fixed effect per replicate x size stratum, adjusted for the centre's value at "
              f"{t['baseline']}; HC1 interval; 'power': the share of the single replicate "
              "trials whose own interval excludes 0):", "",
              "| outcome | scenario | replicates | centres | control | intervention | effect "
              "(95 % CI), pp | power | verdict |", "|---|---|---|---|---|---|---|---|---|"]
    verdicts = []
    from clhsim_analysis.trials import trial_report
    for k, (var, lab) in enumerate(t["outcomes"]):
        g, reps = trial_analyse(ds, t["date"], outcome=var, baseline=t["baseline"])
        if k == 0:
            trial_report(path, t["date"], os.path.join(imgdir, "trial_tmp"), outcome=var,
                         baseline=t["baseline"])
            for ext in ("png", "svg"):
                os.replace(os.path.join(imgdir, "trial_tmp", f"trial.{ext}"),
                           os.path.join(imgdir, f"{t['design']}.{ext}"))
            for f in os.listdir(os.path.join(imgdir, "trial_tmp")):
                os.remove(os.path.join(imgdir, "trial_tmp", f))
            os.rmdir(os.path.join(imgdir, "trial_tmp"))
        for _, r in g.iterrows():
            sign = -1 if var == "centre_steroid_use" else +1
            v = verdict(r, sign) if r["scenario"] != "a_a_null" else \
                ("null holds (interval covers 0)" if r["low"] <= 0 <= r["high"]
                 else "null rejected: check the analysis")
            if k < 2 and r["scenario"] != "a_a_null":
                verdicts.append(("previsit trial, centres' outcome at " + t["date"], var, v,
                                 {"diff": r["estimate"], "low": r["low"], "high": r["high"]}))
            lines.append(f"| {lab} | {r['scenario']} | {r['replicates']} | {r['centres']} | "
                         f"{r['mean_control'] * 100:.1f} % | {r['mean_intervention'] * 100:.1f} %"
                         f" | {r['estimate'] * 100:+.2f} ({r['low'] * 100:+.2f} to "
                         f"{r['high'] * 100:+.2f}) | {r['power']:.2f} | {v} |")
    lines += ["", "Predicted direction: up for remission, down for steroid use. The a_a_null "
              "scenario randomises the same way with the lever off in both arms: its "
              "interval must cover 0.", "", f"![{t['title']}](img/experiments/{t['design']}.png)",
              ""]
    return lines, verdicts


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("outdir")
    p.add_argument("--doc", required=True)
    p.add_argument("--img", required=True)
    p.add_argument("--wall", type=float, default=np.nan)
    p.add_argument("--ranks", type=int, default=0)
    a = p.parse_args()
    os.makedirs(a.img, exist_ok=True)
    body, summary = [], []
    members = 0
    for h in HYPOTHESES:
        lines, v = hypothesis_section(h, a.outdir, a.img)
        body += lines
        summary += [(h["title"].split(".")[0], *x) for x in v]
    lines, v = trial_section(TRIAL, a.outdir, a.img)
    body += lines
    summary += [(TRIAL["title"].split(".")[0], *x) for x in v]
    for f in sorted(os.listdir(a.outdir)):
        if f.endswith(".h5"):
            import h5py
            with h5py.File(os.path.join(a.outdir, f), "r") as fh:
                members += int(fh["timeseries/member"].shape[0])
    head = ["# Experiments: the CLHS hypotheses in the model", "",
            "<!-- written by examples/experiments/analyse.py (run_all.sh); do not edit: run "
            "it again -->", "",
            "Each hypothesis of the collaborative-learning-health-system framework that the "
            "model can speak to, as an ensemble (`clhsim ensemble`, docs/ensembles.md) of the "
            "calibrated ICN scenario (model "
            f"{ca.load_ensemble(os.path.join(a.outdir, HYPOTHESES[0]['design'] + '.h5')).attrs['model_version']}"
            ") with the named parameters changed, and the answer with its uncertainty. "
            "Reproduce: `./setup.sh build && examples/experiments/run_all.sh` "
            f"({members} members; this run: {a.wall / 60:.1f} minutes on {a.ranks} ranks of "
            f"the 2-core machine, written {datetime.date.today().isoformat()}).", "",
            "How to read it: a **verdict** is about the model, not about the world. "
            "'Supported' means the model, as calibrated, produces the effect, with 95 % "
            "confidence over seed noise; 'not detected' means the effect, if any, is smaller "
            "than the seeds can resolve at this ensemble size; 'contradicted' means the model "
            "produces the opposite. Outcomes are means over 2019 (or totals 2007-2020) "
            "computed per member; differences are paired by seed (common random numbers).", "",
            "## Summary", "",
            "The primary outcome of each contrast (what the hypothesis says moves first) and, "
            "where it is not the primary one, the first remission outcome (whether it reaches "
            "patients).", "",
            "| hypothesis | contrast | outcome | difference (95 % CI) | verdict |",
            "|---|---|---|---|---|"]
    for hyp, name, o, v, r in summary:
        lab = OUTCOMES[o][1] if o in OUTCOMES else o
        if r is None:
            diff = "see H6"
        else:
            scale, unit = (OUTCOMES[o][2], OUTCOMES[o][3]) if o in OUTCOMES else (100, "%")
            u = " pp" if unit == "%" else ""
            diff = (f"{_fmt(r['diff'], scale)}{u} ({_fmt(r['low'], scale)} to "
                    f"{_fmt(r['high'], scale)})")
        head.append(f"| {hyp} | {name} | {lab} | {diff} | **{v}** |")
    head.append("")
    text = "\n".join(head + body) + "\n"
    tmp = a.doc + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(text)
    os.replace(tmp, a.doc)
    print(f"{a.doc}: {len(summary)} contrasts; figures in {a.img}/")
    for hyp, name, o, v, _ in summary:
        print(f"  {hyp}: {name}: {o}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
