#!/usr/bin/python3
"""The table of src/util/vmath.c: 2^(k/128) ~ H[k] (1 + T[k]), k = 0..127.

Prints TAB (TAB[2k] = bits of T[k], TAB[2k+1] = bits of H[k] - k 2^45), computed at 60
digits with the decimal module, and says whether the same 2 KiB occur in the system's libm
(glibc keeps this table for its exp, exp2 and pow).

    bench/exp_table.py [--libm /lib/x86_64-linux-gnu/libm.so.6]
"""
import argparse
import struct
from decimal import Decimal, getcontext


def table():
    getcontext().prec = 60
    ln2 = Decimal(2).ln()
    tab = []
    for k in range(128):
        v = (ln2 * k / 128).exp()
        H = float(v)  # float(Decimal) rounds to nearest
        T = float((v - Decimal(H)) / Decimal(H))
        tab.append(struct.unpack("<Q", struct.pack("<d", T))[0])
        tab.append((struct.unpack("<Q", struct.pack("<d", H))[0] - (k << 45)) % 2**64)
    return tab


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--libm", default="/lib/x86_64-linux-gnu/libm.so.6")
    a = ap.parse_args()
    tab = table()
    for j in range(0, 256, 4):
        print("    " + ", ".join("0x%016x" % x for x in tab[j:j + 4]) + ",")
    try:
        data = open(a.libm, "rb").read()
        at = data.find(b"".join(struct.pack("<Q", x) for x in tab))
        print(f"/* {a.libm}: " + (f"the same table at offset {at} */" if at >= 0 else "not found */"))
    except OSError as e:
        print(f"/* {a.libm}: {e.strerror} */")


if __name__ == "__main__":
    main()
