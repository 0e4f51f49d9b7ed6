"""Whether two runs of one experiment grid computed the same cells: row for row, to the last bit.

    python experiments/compare_runs.py DIR_A DIR_B

Reads both run directories' ``experiment.sqlite`` (``surrogate-nas experiment run ... --out DIR``), prints the cells
they share that are identical and those that differ (the first differing fields of each), and the sum and median
of the cells' recorded seconds in each. Exit status 1 when a shared cell differs.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
from pathlib import Path


def cells(run_dir: str) -> dict[str, tuple[list, float]]:
    path = Path(run_dir) / "experiment.sqlite"
    if not path.is_file():
        raise SystemExit(f"{path} does not exist")
    with sqlite3.connect(path) as db:
        return {k: (json.loads(rows), s) for k, rows, s in db.execute("select key, rows, seconds from cells")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_a")
    ap.add_argument("run_b")
    args = ap.parse_args(argv)
    a, b = cells(args.run_a), cells(args.run_b)
    shared = sorted(set(a) & set(b))
    differ = [k for k in shared if a[k][0] != b[k][0]]
    for k in differ:
        first = next((x, y) for x, y in zip(a[k][0], b[k][0]) if x != y) if len(a[k][0]) == len(b[k][0]) else None
        what = {f: (first[0][f], first[1].get(f)) for f in first[0] if first[0][f] != first[1].get(f)} if first else \
            f"{len(a[k][0])} rows against {len(b[k][0])}"
        print(f"differs: {k}: {what}")
    print(f"cells in both: {len(shared)}; identical {len(shared) - len(differ)}, different {len(differ)} "
          f"(only in {args.run_a}: {len(set(a) - set(b))}, only in {args.run_b}: {len(set(b) - set(a))})")
    for name, run in ((args.run_a, a), (args.run_b, b)):
        secs = [run[k][1] for k in shared]
        if secs:
            print(f"{name}: cell seconds sum {sum(secs):.1f}, median {statistics.median(secs):.2f}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
