"""The command line: ``clhsim-analysis report|compare|targets|ensemble|trial|frame|export ...``.

Exit status: 0 success (compare: all runs identical), 1 compare: runs differ,
2 bad input (a missing file, one that is not a clhsim output, bad arguments).
"""
import argparse
import difflib
import os
import sys

from .files import BadInput, check_file

EPILOG = """exit status: 0 success (compare: identical); 1 compare: the runs differ;
2 bad input (missing file, not a clhsim output, bad arguments)"""


def _output_folder(path):
    """Make the output folder, or raise BadInput naming it (not a traceback)."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as err:
        raise BadInput(f"{path}: cannot create the output folder ({err.strerror})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise BadInput(f"{path}: cannot write in the output folder (permission denied)")


def _report(args):
    check_file(args.run)  # before the slow imports: a bad file is reported at once
    _output_folder(args.output)
    from .reporting import report
    report(args.run, args.output)
    return 0


def _compare(args):
    from .comparison import compare
    result = compare(args.runs, outdir=args.output, plot=not args.no_plot)
    return 0 if result["identical"] else 1


def _targets(args):
    for run in args.runs:
        check_file(run)
    import pandas as pd
    from .data import load
    from .targets import evaluate, evaluate_many
    if len(args.runs) > 1:
        table = evaluate_many([load(r) for r in args.runs])
        if args.csv:
            table.to_csv(args.csv if args.csv != "-" else sys.stdout, index=False,
                         float_format="%.17g")
            return 0
        with pd.option_context("display.width", 200, "display.max_columns", 20,
                               "display.max_rows", 200, "display.float_format", "{:.4g}".format):
            print(f"{len(args.runs)} runs; 'within': their mean lies in the band")
            print(table[["target", "date", "mean", "sd", "min", "max", "low", "high", "within",
                         "status"]].to_string(index=False))
        return 0
    table = evaluate(load(args.runs[0]))
    if args.csv:
        table.to_csv(args.csv if args.csv != "-" else sys.stdout, index=False,
                     float_format="%.17g")
        return 0
    with pd.option_context("display.width", 200, "display.max_columns", 20,
                           "display.max_rows", 200):
        print(table[["target", "date", "simulated", "low", "high", "within", "status"]]
              .to_string(index=False))
    return 0


def _ensemble(args):
    _output_folder(args.output)
    from .ensemble_report import ensemble_report
    ensemble_report(args.file, args.output)
    return 0


def _trial(args):
    import pandas as pd
    from .trials import trial_report
    g = trial_report(args.file, args.date, args.output, outcome=args.outcome,
                     baseline=args.baseline)
    cols = [c for c in g.columns if c not in ("dof", "adjusted")]
    with pd.option_context("display.width", 200, "display.max_columns", 30,
                           "display.float_format", "{:.4g}".format):
        print(f"trial effect on {g.attrs['outcome']} at {g.attrs['date']} (intervention - "
              f"control, 95 % CI{', adjusted for ' + str(args.baseline) if args.baseline else ''}"
              f"); 'power': share of single replicates whose interval excludes 0")
        print(g[cols].to_string(index=False))
    print(f"{args.output}/: trial.csv, replicates.csv, trial.png, trial.svg")
    return 0


def _frame(args):
    check_file(args.run)
    from .data import to_frame
    variables = [v.strip() for v in args.variables.split(",")] if args.variables else None
    if variables:
        import h5py
        with h5py.File(args.run, "r") as f:
            known = sorted(k for k, v in f["timeseries"].items() if isinstance(v, h5py.Dataset))
        unknown = [v for v in variables if v not in known]
        if unknown:
            hints = []
            for v in unknown:
                close = difflib.get_close_matches(v, known, n=3, cutoff=0.6)
                hints.append(f"'{v}'" + (f" (did you mean {', '.join(close)}?)" if close else ""))
            raise BadInput(f"{args.run}: no variable {'; '.join(hints)}")
    try:
        df = to_frame(args.run, variables=variables, centres=args.centres)
    except KeyError as err:
        raise BadInput(f"{args.run}: {err.args[0]}") from None
    df.to_csv(args.output if args.output != "-" else sys.stdout, index=False)
    if args.output != "-":
        print(f"{args.output}: {len(df)} rows x {len(df.columns)} columns")
    return 0


def _export(args):
    if not args.flat:
        raise BadInput("export: give --flat (the one format there is: a netCDF-4 file "
                       "without groups)")
    from .export import export_flat
    export_flat(args.run, args.output)
    print(f"{args.output}: /timeseries of {args.run} as a flat netCDF-4 file")
    return 0


def parser():
    p = argparse.ArgumentParser(
        prog="clhsim-analysis", epilog=EPILOG,
        description="Figures, summaries, target checks and comparisons of clhsim runs.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    r = sub.add_parser("report", epilog=EPILOG,
                       help="figures (PNG), summary.txt and targets.csv of one run",
                       description="Figures (PNG), summary.txt and targets.csv of one run; "
                                   "the summary is also printed.")
    r.add_argument("run", metavar="RUN.h5")
    r.add_argument("-o", "--output", metavar="DIR", default="report",
                   help="folder for the files (default: report)")
    r.set_defaults(func=_report)

    c = sub.add_parser("compare", epilog=EPILOG,
                       help="are runs bit-identical? if not, how do they differ (with a plot)",
                       description="Compare runs with the first, byte for byte over "
                                   "/timeseries; report differences over time and plot the "
                                   "key variables (seeds of one scenario: mean and band).")
    c.add_argument("runs", metavar="RUN.h5", nargs="+")
    c.add_argument("-o", "--output", metavar="DIR", default=".",
                   help="folder for compare.png (default: the current folder)")
    c.add_argument("--no-plot", action="store_true", help="do not draw compare.png")
    c.set_defaults(func=_compare)

    t = sub.add_parser("targets", epilog=EPILOG,
                       help="the MODEL.md §12 targets: simulated value against the band",
                       description="Evaluate a run against the MODEL.md §12 targets; "
                                   "several runs (seeds of one scenario): their mean, SD, "
                                   "min and max, the mean against the band.")
    t.add_argument("runs", metavar="RUN.h5", nargs="+")
    t.add_argument("--csv", metavar="FILE", help="write the full table as CSV (- for stdout)")
    t.set_defaults(func=_targets)

    e = sub.add_parser("ensemble", epilog=EPILOG,
                       help="an ensemble file: bands per group, targets, sensitivity (PRCC)",
                       description="Summarise a `clhsim ensemble` file: per group of members "
                                   "(those that share every varied parameter but the seed) the "
                                   "mean and 10-90 %% band over time and the §12 targets; for "
                                   "hypercube parameters, partial rank correlations.")
    e.add_argument("file", metavar="ENSEMBLE.h5")
    e.add_argument("-o", "--output", metavar="DIR", default="ensemble_report",
                   help="folder for the files (default: ensemble_report)")
    e.set_defaults(func=_ensemble)

    tr = sub.add_parser("trial", epilog=EPILOG,
                        help="a simulated cluster-randomised trial: effect with its interval",
                        description="The effect of the trial's lever on a centre-level outcome "
                                    "at a date: intervention - control with a fixed effect per "
                                    "replicate and size stratum (ANCOVA on the baseline with "
                                    "--baseline), robust 95 %% interval; per group of members "
                                    "and per replicate (docs/ensembles.md).")
    tr.add_argument("file", metavar="ENSEMBLE.h5")
    tr.add_argument("--date", required=True, metavar="YYYY-MM-DD",
                    help="when to measure the outcome (the nearest record)")
    tr.add_argument("--baseline", metavar="YYYY-MM-DD",
                    help="adjust for each centre's outcome at this date")
    tr.add_argument("--outcome", default="centre_remission_observed", metavar="VAR",
                    help="a per-centre variable (default: centre_remission_observed)")
    tr.add_argument("-o", "--output", metavar="DIR", default="trial_report",
                    help="folder for the files (default: trial_report)")
    tr.set_defaults(func=_trial)

    f = sub.add_parser("frame", epilog=EPILOG,
                       help="the run as a tidy CSV table (date, variable, axes, value)",
                       description="Write the run as a tidy table: one row per time x "
                                   "variable x axis value.")
    f.add_argument("run", metavar="RUN.h5")
    f.add_argument("-o", "--output", metavar="FILE.csv", default="-",
                   help="output file (default: stdout)")
    f.add_argument("--variables", metavar="A,B,...", help="only these variables")
    f.add_argument("--no-centres", dest="centres", action="store_false",
                   help="leave out the per-centre variables")
    f.set_defaults(func=_frame)

    x = sub.add_parser("export", epilog=EPILOG,
                       help="the run as a flat netCDF-4 file (no groups: CDO and other "
                            "classic-model tools read it)",
                       description="Write /timeseries (dimensions, variables, CF attributes) "
                                   "into the root group of a new netCDF-4 file, with the "
                                   "run's provenance (/, /code, /run, the configuration) as "
                                   "global attributes; written to a temporary name and renamed. "
                                   "Equivalent: ncks -O -G : -g timeseries IN.h5 OUT.nc")
    x.add_argument("--flat", action="store_true", required=True,
                   help="no groups (required: the only export there is)")
    x.add_argument("run", metavar="IN.h5")
    x.add_argument("output", metavar="OUT.nc")
    x.set_defaults(func=_export)
    return p


def main(argv=None):
    p = parser()
    argv = sys.argv[1:] if argv is None else argv
    args = p.parse_args(argv)  # exits 2 on bad arguments
    if args.command == "compare" and len(args.runs) < 2:
        p.exit(2, "clhsim-analysis compare: needs at least two runs\n")
    try:
        return args.func(args)
    except BadInput as err:
        print(f"clhsim-analysis {args.command}: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # e.g. a file that cannot be written: one line, not a traceback
        where = err.filename or "?"
        print(f"clhsim-analysis {args.command}: {where}: {err.strerror or err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
