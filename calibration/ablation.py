#!/usr/bin/python3
"""Which rules matter for which MODEL.md §12 targets (docs/calibration.md): the default run
(MODEL.md v1.2) with one rule or lever switched off at a time, SEEDS seeds each with common
random numbers, weekly records; per target what the rule adds, written to
results/ablation.csv and printed as a Markdown table.

    /usr/bin/python3 calibration/ablation.py --bin PATH/TO/clhsim

The change reported is  value(defaults) - value(rule off),  i.e. what the rule adds, in the
target's own unit; `mean over seeds`, with its standard error.
"""
import argparse
import math
import os

import numpy as np
import pandas as pd

import calibrate as cal  # calibration/calibrate.py, beside this script

SEEDS = [1, 2, 3, 4]
LEVERS = ("registry", "qi_training", "previsit", "guidelines", "ehr", "commons", "roles",
          "engagement", "outreach", "research")
ABLATIONS = {
    "M1 evidence-based therapy (care.rem_evidence = 0)": {"care.rem_evidence": "0"},
    "M3 QI coaching (centres.coaching = 0)": {"centres.coaching": "0"},
    "research lever off": {"levers.research.max": "0"},
    "registry lever off": {"levers.registry.max": "0"},
    "pre-visit planning lever off": {"levers.previsit.max": "0"},
    "commons, roles, engagement, outreach levers off": {
        f"levers.{n}.max": "0" for n in ("commons", "roles", "engagement", "outreach")},
    "every lever off": {f"levers.{n}.max": "0" for n in LEVERS},
}
SHOW = ["remission_2007", "remission_2010", "remission_2015", "remission_2019",
        "reliability_qi_100w", "steroid_2007", "steroid_2018", "commons_users_2015",
        "engaged_core_2015", "annual_relapse", "escalation_remission_12w"]


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.environ.get("CLHSIM", "clhsim"))
    ap.add_argument("--jobs", type=int, default=cal.JOBS)
    a = ap.parse_args()
    run = cal.Runner(a.bin, a.jobs)
    base = run.ensemble([({}, s, "final", cal.FINAL_OVERRIDES) for s in SEEDS])
    b = pd.DataFrame([r["sim"] for r in base])
    rows = []
    for name, extra in ABLATIONS.items():
        recs = run.ensemble([({}, s, f"ablation {name}", cal.FINAL_OVERRIDES, extra)
                             for s in SEEDS])
        off = pd.DataFrame([r["sim"] for r in recs])
        d = b - off                                   # what the rule adds, per seed
        row = {"switched off": name}
        for t in SHOW:
            row[t] = d[t].mean()
            row[t + " se"] = d[t].std(ddof=1) / math.sqrt(len(SEEDS))
            row[t + " off"] = off[t].mean()
        rows.append(row)
    df = pd.DataFrame(rows)
    df.to_csv(os.path.join(cal.RESULTS, "ablation.csv"), index=False, float_format="%.5g")
    fmt = {t: ("{:+.0f}" if t.startswith(("commons", "engaged")) else "{:+.3f}") for t in SHOW}
    print("defaults (mean of seeds " + ", ".join(map(str, SEEDS)) + "): " +
          ", ".join(f"{t} {b[t].mean():.3f}" for t in SHOW))
    print("| switched off | " + " | ".join(SHOW) + " |")
    print("|---" * (len(SHOW) + 1) + "|")
    for r in rows:
        cells = []
        for t in SHOW:
            v, se = r[t], r[t + " se"]
            cells.append(fmt[t].format(v) + ("" if abs(v) > 2 * se else " (ns)"))
        print(f"| {r['switched off']} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
