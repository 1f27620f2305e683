#!/usr/bin/env python3
"""Compare the /timeseries groups of two clhsim outputs bit for bit.

Exit 0 if every dataset has the same shape, dtype and bytes; 1 otherwise,
listing the first differences (variable, first differing record).
"""
import sys

import h5py
import numpy as np


def load(path):
    out = {}
    with h5py.File(path, "r") as f:
        g = f["timeseries"]
        for name, ds in g.items():
            if isinstance(ds, h5py.Dataset):
                out[name] = ds[()]
    return out


def main(argv):
    if len(argv) != 3:
        print("usage: compare_timeseries.py A.h5 B.h5", file=sys.stderr)
        return 2
    a, b = load(argv[1]), load(argv[2])
    bad = []
    if set(a) != set(b):
        bad.append(f"variables differ: only in A {sorted(set(a) - set(b))}, "
                   f"only in B {sorted(set(b) - set(a))}")
    for name in sorted(set(a) & set(b)):
        x, y = a[name], b[name]
        if x.shape != y.shape or x.dtype != y.dtype:
            bad.append(f"{name}: shape/dtype {x.shape} {x.dtype} vs {y.shape} {y.dtype}")
        elif x.tobytes() != y.tobytes():
            xb = x.reshape(x.shape[0], -1) if x.ndim else x.reshape(1, 1)
            yb = y.reshape(y.shape[0], -1) if y.ndim else y.reshape(1, 1)
            rows = [i for i in range(xb.shape[0]) if xb[i].tobytes() != yb[i].tobytes()]
            bad.append(f"{name}: differs first at record {rows[0]} ({len(rows)} records differ)")
    n = len(a.get("time", []))
    if bad:
        print(f"DIFFERENT: {argv[1]} vs {argv[2]}")
        for line in bad:
            print("  " + line)
        return 1
    if n == 0:
        print("no records in /timeseries/time", file=sys.stderr)
        return 1
    print(f"identical: {len(a)} variables, {n} records")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
