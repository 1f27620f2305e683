#!/usr/bin/python3
"""Fuzz the configuration: every key of `clhsim config --markdown`, hostile values.

usage: fuzz_config.py CLHSIM WORKDIR [--jobs N] [--seed S] [--verbose]

Each case runs clhsim once (under `timeout`) in a scratch folder of its own and asserts:
  - the exit status is 0 or 2 (2: bad input), never 1, never a signal, never a hang;
  - on exit 2 the message starts "clhsim: error:" and the scratch folder is as it was
    (a listing before and after: nothing written, not even a .tmp);
  - values that can never be valid (a broken or tagged YAML value, nan, 1e309, an
    unclosed bracket, a control character in a path, a fixed constant) end with 2;
  - a run that ends with 0 left its output file and no .tmp.
Kinds of cases:
  P: `clhsim config -P key=value` (fast): every key with a few values, and every value
     with one key of every kind;
  F: `clhsim config FILE.yml`, the value written in the file at the key's place, plus
     hostile files (deep nesting, tags, encodings, aliases, a directory, /dev/zero...);
  R: `clhsim run` of a tiny world (2 centres, 2 steps, a checkpoint every step, output and
     checkpoints inside the scratch folder) with a fixed-seed sample of the P and F cases.
The case list is a function of the key table and the seed only: the same cases every time.
Prints one line per failure and a summary line; exits 1 if any case failed.
"""
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

# ---- a small deterministic generator (same sample on every Python version) ----------------


class SplitMix64:
    def __init__(self, seed):
        self.s = seed & 0xFFFFFFFFFFFFFFFF

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        return z ^ (z >> 31)

    def below(self, n):
        return self.next() % n

    def choice(self, seq):
        return seq[self.below(len(seq))]

    def sample(self, seq, k):
        pool = list(seq)
        out = []
        for _ in range(min(k, len(pool))):
            out.append(pool.pop(self.below(len(pool))))
        return out


# ---- hostile values -------------------------------------------------------------------------

LONG = "a" * 100000
LONG_PATH = "/".join(["d" * 49] * 100)  # 4,999 characters, relative
DEEP = "[" * 100000

# (value, refused-by-every-key-but-paths). Paths (-P) are taken verbatim, so only the empty
# string, control characters and overlong text are refused there.
VALUES = [
    ("", True),
    (" ", True),
    ("0", False),
    ("-0", False),
    ("1", False),
    ("-1", False),
    ("+5", False),
    ("2", False),
    ("0.5", False),
    ("1.0", False),
    ("2147483647", False),
    ("2147483648", False),
    ("4294967296", False),
    ("9223372036854775807", False),
    ("9223372036854775808", False),
    ("-9223372036854775809", False),
    ("18446744073709551615", False),
    ("18446744073709551616", False),
    ("99999999999999999999999999999999", False),
    ("1e309", True),
    ("-1e309", True),
    ("1e-400", False),
    ("1e3", False),
    ("0x10", False),
    ("1_000", False),
    ("nan", True),
    ("NaN", True),
    (".nan", True),
    ("inf", True),
    ("-inf", True),
    (".inf", True),
    ("abc", False),
    ("yes", False),
    ("true", False),
    ("null", False),
    ("~", False),
    ("2007-02-30", False),
    ("0000-01-01", False),
    ("9999-12-31", False),
    ("10000-01-01", False),
    ("2007-1-1", False),
    ("[", True),
    ("]", True),
    ("{", True),
    ("}", True),
    ("{a: 1}", False),
    ("[1, [2, [3]]]", False),
    ("[0, 1, 2147483646]", False),
    ("[[2007-01-01, 7], [2006-01-01, 8]]", False),
    ("&x", False),
    ("*x", True),
    ("&x 5", False),
    ("!!binary aGVsbG8=", True),
    ("!foo 5", True),
    ("!!str 5", False),
    ("!!int 5", False),
    ("|", False),
    (">\n  folded", False),
    ("|\n  a\n  b", False),
    ("- a", False),
    ("? a", False),
    ("a: b", False),
    ("'", True),
    ('"', True),
    ('"unterminated', True),
    ("#", False),
    ("@x", True),
    ("`x", True),
    ("%TAG ! tag:x,2024:", False),
    ("---", False),
    ("...", False),
    ("\x01", True),
    ("\x7f", True),
    ("a\tb", False),
    ("a\nb", False),
    ("\r", False),
    ("\x1b[31mred", True),
    ("\udcff\udcfe", False),  # invalid UTF-8 (surrogate escapes: raw bytes 0xff 0xfe)
    ("\ufeff5", False),
    ("é", False),
    (LONG, True),
    ("9" * 100000, True),
    (DEEP, True),
    ("/dev/null", False),
    ("/proc/1/x", False),
    ("/", False),
    (".", False),
    ("..", False),
    ("../escape.h5", False),
    ("/nonexistent/dir/x.h5", False),
    ("x" * 1023, False),
    ("x" * 1024, False),
    (LONG_PATH, False),
    ("$(touch pwned)", False),
    ("clhsim.stop", False),
]
MUST_REFUSE_PATH = {"", LONG, "9" * 100000, DEEP, "x" * 1024, LONG_PATH}


def show(v):
    """A value for a report line: escaped and cut short."""
    r = repr(v)
    return r if len(r) <= 40 else r[:30] + "...'(%d chars)" % len(v)


def has_control(v):
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in v)


ALWAYS = dict(VALUES)
NUMERIC_BAD = {"1e309", "-1e309", "nan", "NaN", ".nan", "inf", "-inf", ".inf"}
BLANKS = " \t\n\r\f\v"


def must_refuse(mode, kind, value):
    """True when no key of this kind may take the value (clhsim must exit 2)."""
    if kind == "fixed":
        return True
    always = ALWAYS.get(value, False)
    if kind == "path":
        v = value.strip(BLANKS)
        if mode == "P" and not v.startswith(("'", '"')):
            # -P takes a path verbatim (trimmed): refused when empty, too long or holding a
            # control character.
            return v == "" or len(v) > 1023 or has_control(v)
        # In a file (or quoted) it is YAML: a number-like text is a fine path.
        return (always and value not in NUMERIC_BAD) or len(value) > 1023
    if kind == "ilist" and mode == "F" and value.strip(BLANKS) == "":
        return False  # an empty value in a file is null: an empty list (every centre)
    return always


# ---- the keys ---------------------------------------------------------------------------------


def kind_of(key, default, rng):
    if key.startswith("constants."):
        return "fixed"
    if rng.startswith("YYYY-MM-DD or a step"):
        return "date_or_step"
    if rng == "YYYY-MM-DD":
        return "date"
    if "characters" in rng:
        return "path"
    if "`" in rng:
        return "enum"
    if "numbers, each in" in rng:
        return "vector"
    if "[date, count]" in rng:
        return "schedule"
    if "centre indices" in rng:
        return "ilist"
    if rng == "[0, 18446744073709551615]":
        return "uint"
    return "number"


def read_keys(clhsim, env):
    out = subprocess.run([clhsim, "config", "--markdown"], env=env, capture_output=True,
                         text=True, timeout=120, check=True).stdout
    keys = []
    for line in out.splitlines():
        m = re.match(r"\| `([a-z_0-9.]+)` \| `([^`]*)` \| (.*?) \|", line)
        if m:
            keys.append((m.group(1), kind_of(m.group(1), m.group(2), m.group(3))))
    if len(keys) < 100:
        sys.exit("fuzz_config: only %d keys in `clhsim config --markdown`" % len(keys))
    return keys


def yaml_at(key, value):
    """A YAML file that sets @key to the raw text @value, nested at the key's place."""
    parts = key.split(".")
    text = ""
    for d, p in enumerate(parts[:-1]):
        text += "  " * d + p + ":\n"
    return text + "  " * (len(parts) - 1) + parts[-1] + ": " + value + "\n"


# Hostile files beyond one value: (name, bytes). Each must be refused (2) unless listed in
# FILES_OK.
def hostile_files():
    def nest(n):
        return "".join("  " * i + "k%d:\n" % i for i in range(n))

    laughs = "".join("l%d: &l%d [%s]\n" % (i, i, ", ".join(["*l%d" % (i - 1)] * 9)
                                            if i else "1, 1, 1, 1, 1, 1, 1, 1, 1")
                     for i in range(10))
    files = [
        ("deep_flow_seq", "run:\n  steps: " + DEEP + "\n"),
        ("deep_flow_map", "care:\n  h_rel: " + "{a: " * 100000 + "\n"),
        ("deep_block_seq", "- " * 100000 + "x\n"),
        ("deep_block_map", nest(1000)),
        ("tag_on_section", "run: !sec\n  steps: 2\n"),
        ("tag_on_key", "run:\n  !k steps: 2\n"),
        ("tag_top", "!top\nrun:\n  steps: 2\n"),
        ("tag_verbatim", "run:\n  steps: !<tag:yaml.org,2002:binary> 2\n"),
        ("tag_directive", "%TAG !! tag:evil.example,2024:\n---\nrun:\n  steps: !!int 2\n"),
        ("yaml_directive", "%YAML 1.3\n---\nrun:\n  steps: 2\n"),
        ("two_documents", "run:\n  steps: 2\n---\nrun:\n  steps: 3\n"),
        ("utf8_bom_bad", "\ufeffrun:\n  stepz: 2\n"),
        ("invalid_utf8", "run:\n  steps: \udcff\udcfe\n"),
        ("nul_byte", "run:\n  steps: 2\x00\n"),
        ("laughs", laughs + "levers:\n  ehr:\n    centres: *l9\n"),
        ("alias_section", "run: &r {steps: 2}\nlevers:\n  registry: *r\n"),
        ("merge_key", "base: &b {steps: 2}\nrun:\n  <<: *b\n"),
        ("undefined_alias", "run:\n  steps: *nope\n"),
        ("duplicate_key", "run:\n  steps: 2\n  steps: 3\n"),
        ("complex_key", "? [run]\n: {steps: 2}\n"),
        ("many_keys", "run:\n" + "".join("  k%d: 1\n" % i for i in range(10000))),
        ("huge_scalar", "output:\n  path: " + "p" * 1000000 + "\n"),
        ("long_line_comment", "# " + "c" * 1000000 + "\nrun:\n  steps: x\n"),
        ("tabs", "run:\n\tsteps: 2\n"),
        ("scalar_top", "just text\n"),
        ("sequence_top", "- run\n- steps\n"),
        ("big_centre_list", "levers:\n  ehr:\n    centres: [" + ", ".join(["0"] * 100000)
         + ", 100]\n"),
    ]
    files_ok = {
        "empty": "",
        "comments_only": "# nothing\n# here\n",
        "blank_lines": "\n\n   \n",
        "crlf": "run:\r\n  steps: 2\r\n",
        "utf8_bom": "\ufeffrun:\n  steps: 2\n",
        "utf16_bom": "run:\n  steps: 2\n",  # written as UTF-16 below
        "document_markers": "---\nrun:\n  steps: 2\n...\n",
        "core_tags": "run: !!map\n  steps: !!int 2\n  seed: !!str 7\n",
        "anchor_alias": "run:\n  steps: &two 2\nnetwork:\n  conference_ties: *two\n",
        "centre_list_zeros": "levers:\n  ehr:\n    centres: [" + ", ".join(["0"] * 100000)
                             + "]\n",
        "dotted_key": "run.steps: 2\n",
    }
    return files, files_ok


# Runs of valid values at the edges of their ranges (each a list of -P after the base).
EDGE_RUNS = [
    ["checkpoint.dir=" + "/".join(["d" * 50] * 5)],
    ["checkpoint.dir=clhsim.stop"],
    ["checkpoint.dir=."],
    ["checkpoint.dir=out.h5"],
    ["checkpoint.dir=" + "x" * 1023],
    ["output.path=a b#c.h5"],
    ["output.path=-x"],
    ["output.path=ck"],
    ["output.path=" + "x" * 250],
    ["output.path=no/such/folder/out.h5"],
    ["run.max_wall_time=1e-300"],  # stops after a step with a checkpoint: exit 3 is right
    ["checkpoint.wall=1e-300"],
    ["checkpoint.keep=1"],
    ["checkpoint.every=1000000000"],
    ["output.every=1000000000"],
    ["output.established_weeks=0"],
    ["run.start_date=9999-12-31"],
    ["run.start_date=0000-01-01"],
    ["run.steps=1"],
    ["population.centres=1"],
    ["population.patients_min=1", "population.patients_max=1"],
    ["population.patients_median=1e-300"],
    ["population.patients_sigma=10"],
    ["population.researchers_min=0", "population.researchers_per_centre=0"],
    ["population.caregivers_per_patient=0"],
    ["centres.join=bass", "centres.initial_share=0", "centres.bass_p=0", "centres.bass_q=0"],
    ["centres.schedule=[[0000-01-01, 100]]"],
    ["levers.ehr.centres=[1, 1, 0]", "levers.ehr.on=0", "levers.ehr.ramp=1e-300"],
    ["levers.commons.on=9999-12-31", "levers.commons.max=0"],
    ["resources.saturation=1e-300", "resources.held_max=1"],
    ["network.decay=1", "network.prune_below=1", "network.reinforce=1"],
    ["care.turnover=1", "care.h_rel=1", "care.h_rem=1", "care.misread=1"],
    ["motivation.theta=-100", "motivation.w_v=100"],
]

# Failures whose cause lies outside src/config (reported as KNOWN, not failed, unless
# CLHS_FUZZ_STRICT=1): (mode, key, value) -> the problem. Empty it as they are fixed.
KNOWN = {}

# ---- running cases ----------------------------------------------------------------------------


class Worker:
    """A scratch folder and an Open MPI session folder of one's own (singletons in parallel
    would otherwise share /tmp/ompi.*)."""

    def __init__(self, root, n, env):
        self.scratch = os.path.join(root, "scratch", "w%d" % n)
        self.tmp = os.path.join(root, "tmp", "w%d" % n)
        os.makedirs(self.scratch)
        os.makedirs(self.tmp)
        self.env = dict(env, TMPDIR=self.tmp)


def listing(folder):
    out = []
    for base, dirs, files in os.walk(folder):
        for name in dirs + files:
            p = os.path.join(base, name)
            st = os.lstat(p)
            out.append((os.path.relpath(p, folder), st.st_mode, st.st_size, st.st_mtime_ns))
    return sorted(out)


def clear(folder):
    for name in os.listdir(folder):
        p = os.path.join(folder, name)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.remove(p)


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    clhsim, work = os.path.abspath(args[0]), os.path.abspath(args[1])
    jobs, seed, verbose = 3, 20240610, False
    i = 2
    while i < len(args):
        if args[i] == "--jobs":
            jobs = int(args[i + 1])
            i += 2
        elif args[i] == "--seed":
            seed = int(args[i + 1])
            i += 2
        elif args[i] == "--verbose":
            verbose = True
            i += 1
        else:
            sys.exit("fuzz_config.py: unknown argument " + args[i])
    t0 = time.monotonic()
    if os.path.exists(work):
        shutil.rmtree(work)
    os.makedirs(os.path.join(work, "inputs"))
    env = dict(os.environ)
    env.update({
        "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
        "OMPI_MCA_rmaps_base_oversubscribe": "1", "OMP_NUM_THREADS": "1",
        # A singleton without its helper daemon, on shared memory only: 0.03 s a start
        # instead of 0.3 s. Nothing here needs a second process.
        "OMPI_MCA_ess_singleton_isolated": "1", "OMPI_MCA_pml": "ob1", "OMPI_MCA_btl": "self",
    })
    keys = read_keys(clhsim, env)
    rng = SplitMix64(seed)
    by_kind = {}
    for k, kind in keys:
        by_kind.setdefault(kind, []).append(k)
    kinds = dict(keys)

    # ---- P: -P key=value ----
    # Every settable key with two values (one of a short list of the worst, in turn, and one
    # drawn from all), every value on keys of two kinds, and a sample of the fixed constants
    # (they share one refusal). About 460 cases: a start costs 0.03-0.06 s on 2 cores.
    cases = []  # (mode, key, value[, file or argv])
    core = ["", "-1", "1e309", "nan", "!!binary aGVsbG8=", "!foo 5", "[", "{a: 1}", "*x",
            "\x1b[31mred", DEEP, LONG, "99999999999999999999999999999999", "a\nb"]
    settable = [k for k, kind in keys if kind != "fixed"]
    for n, k in enumerate(settable):
        cases.append(("P", k, core[n % len(core)]))
        cases.append(("P", k, rng.choice(VALUES)[0]))
    kind_names = sorted(kd for kd in by_kind if kd != "fixed")
    for v, _ in VALUES:
        for kind in rng.sample(kind_names, 2):
            cases.append(("P", rng.choice(by_kind[kind]), v))
    for k in rng.sample(by_kind.get("fixed", []), 10):
        cases.append(("P", k, rng.choice(VALUES)[0]))
    # ---- F: the value in a file ----
    inputs = os.path.join(work, "inputs")
    nfile = 0

    def write(text, encoding="utf-8"):
        nonlocal nfile
        path = os.path.join(inputs, "c%04d.yml" % nfile)
        nfile += 1
        with open(path, "wb") as f:
            f.write(text.encode(encoding, errors="surrogateescape"))
        return path

    for k in rng.sample([k for k, _ in keys], 40):  # keys with a random value
        v = rng.choice(VALUES)[0]
        cases.append(("F", k, v, write(yaml_at(k, v))))
    for v, _ in VALUES:  # every value at one key
        k = rng.choice(settable)
        cases.append(("F", k, v, write(yaml_at(k, v))))
    files, files_ok = hostile_files()
    for name, text in files:
        cases.append(("F", "(file " + name + ")", None, write(text)))
    for name, text in files_ok.items():
        cases.append(("F", "(file " + name + ")", "ok",
                      write(text, "utf-16" if name == "utf16_bom" else "utf-8")))
    for name, path in [("a directory", inputs), ("/dev/zero", "/dev/zero"),
                       ("/proc/1/x", "/proc/1/x"), ("nonexistent", "/nonexistent/c.yml"),
                       ("5,000-character path", os.path.join(inputs, LONG_PATH + ".yml")),
                       ("control characters", os.path.join(inputs, "a\x1b[2Jb.yml"))]:
        cases.append(("F", "(file " + name + ")", None, path))
    cases.append(("F", "(file /dev/null)", "ok", "/dev/null"))
    ncfg = len(cases)

    # ---- run them (P and F first: the R sample is drawn from their outcomes) ----
    workers = [Worker(work, n, env) for n in range(jobs)]
    free = list(workers)
    lock = threading.Lock()

    def take():
        with lock:
            return free.pop()

    def give(w):
        with lock:
            free.append(w)

    def run_case(idx, case):
        mode, key, value = case[0], case[1], case[2]
        w = take()
        try:
            if mode == "P":
                argv = ["config", "-P", "%s=%s" % (key, value)]
            elif mode == "F":
                argv = ["config", case[3]]
            else:
                argv = case[3]
            before = listing(w.scratch)
            limit = 60 if mode == "R" else 30
            try:
                p = subprocess.run(["timeout", "-k", "5", str(limit), clhsim] + argv,
                                   cwd=w.scratch, env=w.env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                st, err = p.returncode, p.stderr.decode("utf-8", "replace")
            except OSError as e:  # e.g. an argument over the kernel's limit
                return idx, None, "cannot start: %s" % e
            after = listing(w.scratch)
            problems = []
            allowed = (0, 2, 3) if mode == "R" and key == "run.max_wall_time" else (0, 2)
            if st == 124 or st == 137:
                problems.append("hang: no exit within %d s" % limit)
            elif st not in allowed:
                problems.append("exit status %d%s" % (st, " (signal %d)" % (st - 128)
                                                     if st > 128 else ""))
            if st == 2:
                if "clhsim: error:" not in err:
                    problems.append("exit 2 without a 'clhsim: error:' message")
                if after != before:
                    problems.append("exit 2 but the scratch folder changed: %s" %
                                    sorted(set(a[0] for a in after) ^ set(b[0] for b in before)))
            if st == 0 and mode != "R" and after != before:
                problems.append("`clhsim config` wrote into the scratch folder")
            if st == 0 and mode == "R":
                names = [a[0] for a in after]
                if case[4] not in names:
                    problems.append("exit 0 without its output %s" % case[4])
                if any(n.endswith(".tmp") for n in names):
                    problems.append("exit 0 left a .tmp file")
            if st == 0 and mode != "R" and key in kinds and value is not None and \
                    must_refuse(mode, kinds[key], value):
                problems.append("accepted a value that no %s key may take" % kinds[key])
            if st == 0 and mode == "F" and value is None:
                problems.append("a hostile file was accepted")
            if st == 2 and mode == "F" and value == "ok":
                problems.append("a valid file was refused")
            if after:
                clear(w.scratch)
            msg = "; ".join(problems)
            if problems:
                msg += "\n    stderr: " + err.strip().replace("\n", "\n            ")[:600]
            return idx, st, msg
        finally:
            give(w)

    results = [None] * ncfg

    def run_all(batch, offset):
        with ThreadPoolExecutor(max_workers=jobs) as ex:
            for idx, st, msg in ex.map(lambda ic: run_case(*ic), list(enumerate(batch, offset))):
                results[idx] = (st, msg)

    run_all(cases, 0)

    # ---- R: a fixed-seed sample, as a run of a tiny world ----
    # Until the memory estimate refuses worlds that cannot fit, a value that was accepted and
    # could make the run big or long (a number above 2, which may be a count of centres,
    # patients or steps, or a rate of new ties or resources) is not run; so are accepted
    # absolute or '..' paths (a run as root could rename its output over a device node: issue
    # 10, item 1) and paths that leave the scratch folder.
    def runnable(i):
        mode, key, value = cases[i][0], cases[i][1], cases[i][2]
        st = results[i][0]
        if value is None or value == "ok" or mode not in ("P", "F"):
            return mode == "F" and value is None and st == 2 and key in (
                "(file tag_on_key)", "(file deep_flow_seq)", "(file two_documents)")
        if st != 0:
            return True  # refused by config: must be refused by run too
        if kinds.get(key) == "path" and (value.strip().startswith(("/", "~")) or ".." in value):
            return False
        undated = re.sub(r"\d{4,}-\d\d-\d\d", "", value)
        return not any(abs(float(x)) > 2 for x in re.findall(
            r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?", undated) if x)

    pool = [i for i in range(ncfg) if runnable(i)]
    sample = rng.sample([i for i in pool if results[i][0] == 0], 14) + \
        rng.sample([i for i in pool if results[i][0] != 0], 14)
    base = ["-q", "-P", "population.centres=2", "-P", "run.steps=2", "-P", "checkpoint.every=1",
            "-P", "checkpoint.dir=ck", "-o", "out.h5"]
    runs = []
    for i in sorted(sample):
        mode, key, value = cases[i][0], cases[i][1], cases[i][2]
        if mode == "P":  # the fuzzed -P comes last: it overrides the base
            argv = ["run"] + base + ["-P", "%s=%s" % (key, value)]
        else:  # the base -P override the file: the world stays tiny
            argv = ["run", cases[i][3]] + base
        runs.append(("R", key, value, argv, "out.h5"))
    # Valid values at the edges, which only a run exercises (the rest of the program). An
    # output.path goes without -o (which would override it).
    for kv in EDGE_RUNS:
        key, value = kv[0].split("=", 1)
        own = key == "output.path"
        argv = ["run"] + (base[:-2] if own else base)
        for a in kv:
            argv += ["-P", a]
        runs.append(("R", key, value, argv, value if own else "out.h5"))
    results += [None] * len(runs)
    cases += runs
    run_all(runs, ncfg)

    # ---- report ----
    fails = 0
    count = {}
    per_mode = {}
    strict = os.environ.get("CLHS_FUZZ_STRICT") == "1"
    known = 0
    for (st, msg), case in zip(results, cases):
        count[st] = count.get(st, 0) + 1
        per_mode[case[0]] = per_mode.get(case[0], 0) + 1
        what = case[1] if case[2] is None or case[2] == "ok" else "%s=%s" % (
            case[1], show(case[2]))
        why = KNOWN.get(case[:3])
        if msg and why and not strict:
            known += 1
            print("KNOWN %s %s: %s (%s)" % (case[0], what, msg.split("\n")[0], why))
        elif msg:
            fails += 1
            print("FAIL %s %s: %s" % (case[0], what, msg))
        elif why:
            print("note: %s %s passes now: remove it from KNOWN in %s" % (case[0], what,
                                                                         sys.argv[0]))
        elif verbose:
            print("ok   %s %s: %s" % (case[0], what, st))
    dt = time.monotonic() - t0
    statuses = ", ".join("exit %s: %d" % (k, count[k]) for k in sorted(count, key=str))
    print("fuzz_config: %d cases (%d config -P, %d config FILE, %d run) in %.1f s with %d jobs;"
          " %s; %d failed, %d known" % (len(cases), per_mode.get("P", 0), per_mode.get("F", 0),
                                         per_mode.get("R", 0), dt, jobs, statuses, fails, known))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
