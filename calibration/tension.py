#!/usr/bin/python3
"""Why the remission targets of MODEL.md §12 cannot all be met together (docs/calibration.md,
"Targets that conflict"). Three pieces of evidence, written to results/tension.json and
results/tension.png:

1. frontier: over every parameter set the screen and the calibration ran (results/runs.jsonl),
   observed remission 2010 and late 2015 against founding-centre reliability at week 100;
2. cohorts: in one run of the chosen scenario (weekly records), each centre's observed
   remission against the weeks since it joined, by joining cohort, and who the established
   members are in 2010 and in late 2015;
3. late mechanisms: the chosen scenario with the levers that act after 2010 (commons, roles,
   engagement, outreach) switched off, and with the self-management rules at the top of
   their ranges (care.rel_selfmgmt = 1, resources.coverage_gain = 1): how much remission they
   move;
4. sanity (MODEL.md §12): the chosen scenario with every lever off: remission must stay near
   its initial 0.57 in every centre.

    /usr/bin/python3 calibration/tension.py --bin PATH/TO/clhsim
"""
import argparse
import json
import os

import h5py
import numpy as np
import pandas as pd

import calibrate as cal  # calibration/calibrate.py, beside this script

SEEDS = [1, 2, 3]
LATE_LEVERS_OFF = {f"levers.{n}.max": "0" for n in ("commons", "roles", "engagement",
                                                     "outreach")}
SELFMGMT_MAX = {"care.rel_selfmgmt": "1", "resources.coverage_gain": "1"}
ALL_LEVERS_OFF = {f"levers.{n}.max": "0" for n in ("registry", "qi_training", "previsit",
                                                   "guidelines", "ehr", "commons", "roles",
                                                   "engagement", "outreach", "research")}


def frontier(cache):
    rows = []
    by_point = {}
    for r in cache.values():
        if r["overrides"].get("output.every") != "4" or set(r["overrides"]) != set(
                cal.overrides_for({})):
            continue        # only the screen's and the calibration's runs
        k = json.dumps(r["point"], sort_keys=True)
        by_point.setdefault(k, []).append(r["sim"])
    for k, sims in by_point.items():
        df = pd.DataFrame(sims).mean()
        rows.append(dict(point=k, seeds=len(sims), reliability_qi_100w=df["reliability_qi_100w"],
                         remission_2007=df["remission_2007"],
                         remission_2010=df["remission_2010"],
                         remission_2015=df["remission_2015"],
                         remission_2019=df["remission_2019"],
                         escalation_remission_12w=df["escalation_remission_12w"]))
    f = pd.DataFrame(rows)
    out = dict(parameter_sets=len(f))
    for thr in (0.80, 0.75, 0.70):
        sel = f[f.reliability_qi_100w >= thr]
        out[f"min_remission_2010_given_reliability_ge_{thr:.2f}"] = (
            float(sel.remission_2010.min()) if len(sel) else None)
        out[f"sets_with_reliability_ge_{thr:.2f}"] = int(len(sel))
    sel = f[f.remission_2010 <= 0.71]
    out["sets_with_remission_2010_le_0.71"] = int(len(sel))
    out["max_remission_2015_given_remission_2010_le_0.71"] = (
        float(sel.remission_2015.max()) if len(sel) else None)
    out["max_reliability_given_remission_2010_le_0.71"] = (
        float(sel.reliability_qi_100w.max()) if len(sel) else None)
    d = f.remission_2015 - f.remission_2010
    out["rise_2010_to_late_2015"] = dict(min=float(d.min()), median=float(d.median()),
                                         max=float(d.max()))
    return f, out


def cohorts(path):
    with h5py.File(path, "r") as fh:
        ts = fh["timeseries"]
        dates = cal_dates(ts)
        member = ts["centre_member"][:]
        rem = ts["centre_remission_observed"][:]
        rel = ts["centre_reliability"][:]
        est = ts["centre_established"][:]
    joined = np.argmax(member == 1, axis=0)            # record index of joining
    never = member.max(axis=0) == 0
    jdate = pd.DatetimeIndex(dates[joined])
    bins = [("founding", None, "2007-01-02"), ("joined 2007-2009", "2007-01-02", "2010-01-01"),
            ("joined 2010-2012", "2010-01-01", "2013-01-01"),
            ("joined 2013-2015", "2013-01-01", "2016-01-01"),
            ("joined 2016-2017", "2016-01-01", "2018-01-01")]
    out = {}
    weeks = np.arange(0, 521, 26)
    for name, a, b in bins:
        sel = ~never & (jdate < pd.Timestamp(b)) & (
            jdate >= pd.Timestamp(a) if a else True)
        idx = np.flatnonzero(sel)
        curve_rem, curve_rel = [], []
        for w in weeks:
            v, r = [], []
            for c in idx:
                i = joined[c] + w            # weekly records: record i is week i
                if i < len(dates):
                    v.append(rem[i, c])
                    r.append(rel[i, c])
            curve_rem.append(float(np.nanmean(v)) if len(v) == len(idx) and v else None)
            curve_rel.append(float(np.nanmean(r)) if len(r) == len(idx) and r else None)
        out[name] = dict(centres=int(len(idx)), weeks_since_joining=weeks.tolist(),
                         remission_observed=curve_rem, reliability=curve_rel)
    comp = {}
    for label, a, b in (("2010", "2010-01-01", "2011-01-01"),
                        ("late 2015", "2015-10-01", "2016-01-01")):
        rows = (dates >= pd.Timestamp(a)) & (dates < pd.Timestamp(b))
        i = np.flatnonzero(rows)[len(np.flatnonzero(rows)) // 2]
        e = est[i] == 1
        age = (i - joined[e]) / 52.0
        comp[label] = dict(established_centres=int(e.sum()),
                           median_years_member=float(np.median(age)),
                           share_member_under_2_years=float(np.mean(age < 2)),
                           mean_centre_remission=float(np.nanmean(rem[i, e])),
                           mean_centre_reliability=float(np.nanmean(rel[i, e])))
    return out, comp


def cal_dates(ts):
    units = ts["time"].attrs["units"]
    units = units.decode() if isinstance(units, bytes) else str(units)
    start = pd.Timestamp(units.split("since ")[1].strip())
    return start + pd.to_timedelta(ts["time"][:], unit="D")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.environ.get("CLHSIM", "clhsim"))
    a = ap.parse_args()
    run = cal.Runner(a.bin)
    with open(os.path.join(cal.RESULTS, "chosen.json")) as fh:
        point = json.load(fh)["chosen"]
    f, fr = frontier(run.cache)
    keep = os.path.join(cal.RAW, "tension_chosen_s1.h5")
    jobs = [(point, 1, "tension cohorts", cal.FINAL_OVERRIDES, None, keep)]
    jobs += [(point, s, "tension chosen", None, None) for s in SEEDS]
    jobs += [(point, s, "tension late levers off", None, LATE_LEVERS_OFF) for s in SEEDS]
    jobs += [(point, s, "tension self-management max", None, SELFMGMT_MAX) for s in SEEDS]
    keep_off = os.path.join(cal.RAW, "tension_levers_off_s1.h5")
    jobs += [(point, 1, "sanity levers off", None, ALL_LEVERS_OFF, keep_off)]
    recs = run.ensemble(jobs)
    sanity = levers_off(keep_off)
    coh, comp = cohorts(keep)
    cf = {}
    names = ["remission_2007", "remission_2010", "remission_2015", "remission_2019",
             "commons_users_2019", "engaged_core_2015", "annual_relapse"]
    for tag in ("tension chosen", "tension late levers off", "tension self-management max"):
        # by the jobs' tags (a cached record keeps the tag of the run that made it)
        df = pd.DataFrame([r["sim"] for j, r in zip(jobs, recs) if j[2] == tag])
        cf[tag.replace("tension ", "")] = {n: dict(mean=float(df[n].mean()),
                                                    sd=float(df[n].std(ddof=1)))
                                           for n in names}
    out = dict(frontier=fr, cohorts=coh, established=comp, counterfactuals=cf, sanity=sanity,
               point=point)
    with open(os.path.join(cal.RESULTS, "tension.json"), "w") as fh:
        json.dump(out, fh, indent=2)
    f.to_csv(os.path.join(cal.RESULTS, "frontier.csv"), index=False, float_format="%.4g")
    plot(f, coh, os.path.join(cal.RESULTS, "tension.png"))
    os.remove(keep)
    os.remove(keep_off)
    print(json.dumps(dict(frontier=fr, established=comp, counterfactuals=cf, sanity=sanity),
                     indent=1))


def levers_off(path):
    """Every lever off: network and per-centre remission over the whole run (all centres:
    with every lever off nothing distinguishes members). Records every 4 weeks."""
    with h5py.File(path, "r") as fh:
        ts = fh["timeseries"]
        obs = ts["centre_remission_observed"][:]
        true = ts["centre_remission_true"][:]
        net = ts["remission_true"][:]
        start_share = float(np.mean(true[0]))
    yearly = np.array([np.nanmean(true[i:i + 13], axis=0) for i in range(0, len(true) - 12, 13)])
    return dict(initial_true_remission_all_centres=start_share,
                network_true_remission_members=dict(min=float(np.nanmin(net)),
                                                    max=float(np.nanmax(net))),
                all_centres_mean_true=dict(min=float(np.min(np.nanmean(true, axis=1))),
                                           max=float(np.max(np.nanmean(true, axis=1)))),
                all_centres_mean_observed=dict(min=float(np.min(np.nanmean(obs, axis=1))),
                                               max=float(np.max(np.nanmean(obs, axis=1)))),
                centre_year_mean_true_quantiles_5_50_95=[float(q) for q in np.nanquantile(
                    yearly, [0.05, 0.5, 0.95])])


def plot(f, coh, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 2, figsize=(11, 4.2))
    ax[0].scatter(f.reliability_qi_100w, f.remission_2010, s=12, label="2010 (year mean)")
    ax[0].scatter(f.reliability_qi_100w, f.remission_2015, s=12, marker="x",
                  label="late 2015 (Oct-Dec)")
    ax[0].axvspan(0.80, 0.92, color="grey", alpha=0.15, lw=0)
    ax[0].axhspan(0.65, 0.71, color="C0", alpha=0.12, lw=0)
    ax[0].axhspan(0.77, 0.83, color="C1", alpha=0.12, lw=0)
    ax[0].set_xlabel("founding-centre reliability, week 100")
    ax[0].set_ylabel("observed remission, established members")
    ax[0].set_title("every parameter set run (mean over seeds)", fontsize=10)
    ax[0].legend(fontsize=8)
    for name, c in coh.items():
        y = [np.nan if v is None else v for v in c["remission_observed"]]
        ax[1].plot(np.array(c["weeks_since_joining"]) / 52, y, marker=".",
                   label=f"{name} ({c['centres']})")
    ax[1].axhspan(0.65, 0.71, color="C0", alpha=0.12, lw=0)
    ax[1].axhspan(0.77, 0.83, color="C1", alpha=0.12, lw=0)
    ax[1].axvline(1.0, color="k", lw=0.5, ls=":")
    ax[1].set_xlabel("years since the centre joined (dotted: established)")
    ax[1].set_ylabel("centre observed remission (mean over cohort)")
    ax[1].set_title("chosen scenario, seed 1, by joining cohort", fontsize=10)
    ax[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
