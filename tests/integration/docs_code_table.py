#!/usr/bin/env python3
"""docs/model.md's table "Where each rule is in the code" names `file`: `function`, ...;
fail when a named function is no longer in the file the table names (a rename or a move
that the documentation did not follow). usage: docs_code_table.py REPO_ROOT"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1])
text = (root / "docs/model.md").read_text()
section = text.split("## Where each rule is in the code", 1)[1].split("\n## ", 1)[0]
rows = [line for line in section.splitlines() if line.startswith("| §")]
checked, bad = 0, []
for row in rows:
    cell = row.rsplit("|", 2)[-2]
    # Backticked tokens and the text between them.
    parts = re.split(r"`([^`]*)`", cell)
    between, tokens = parts[0::2], parts[1::2]
    k = 0
    while k < len(tokens):
        tok = tokens[k]
        if re.fullmatch(r"[\w./]+\.[ch]", tok) and between[k + 1].startswith(":"):
            path = root / tok if "/" in tok else root / "src/model" / tok
            if not path.is_file():
                bad.append(f"{tok}: no such file ({row[:40]}...)")
                k += 1
                continue
            src = path.read_text()
            k += 1
            # The functions listed after "file:", separated by commas and parentheses only.
            while k < len(tokens) and re.fullmatch(r"[:\s,()]*", between[k]):
                name = tokens[k]
                if not re.fullmatch(r"[A-Za-z_]\w*", name):
                    break
                checked += 1
                if not re.search(r"\b" + re.escape(name) + r"\s*\(", src):
                    bad.append(f"{name}: not in {tok}")
                k += 1
        else:
            k += 1
if not rows or checked < 20:
    bad.append(f"the table was not found or names too few functions ({checked})")
for b in bad:
    print("FAIL docs/model.md code table:", b)
print(f"{checked} functions checked in {len(rows)} rows")
sys.exit(1 if bad else 0)
