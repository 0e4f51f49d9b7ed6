"""Whether two runs of experiment grids computed the same results: row for row, to the last bit.

    python experiments/compare_runs.py DIR_A DIR_B

Reads both run directories' ``experiment.sqlite`` (``surrogate-nas experiment run ... --out DIR``) and matches their
result rows by cell and method (a cell of a grid with other methods still shares the rows of the methods both ran),
prints how many shared rows are identical apart from the ``--ignore`` fields (default: ``seconds``, a timing), each
differing row's fields with the two values, and the sum and median of the recorded seconds of the cells both hold.
Exit status 1 when a shared row differs. ``--rename OLD=NEW`` reads DIR_A's rows of method OLD as NEW's (a method
the second grid runs under another name, e.g. the default before a change:
``--rename meta-dkt-ens=meta-dkt-ens-warp-0.5``).
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


def rows(run: dict, rename: dict[str, str] | None = None) -> dict[tuple, dict]:
    """Rows keyed by (cell, method, occurrence of that method in the cell); ``rename``: old method name -> new."""
    out = {}
    for key, (cell_rows, _) in run.items():
        seen: dict = {}
        for r in cell_rows:
            if rename and r.get("method") in rename:
                r = {**r, "method": rename[r["method"]]}
            m = r.get("method")
            seen[m] = seen.get(m, -1) + 1
            out[(key, m, seen[m])] = r
    return out


def _same(x, y) -> bool:
    """Equal values, NaN equal to NaN (an undefined metric in both runs is the same result)."""
    return x is y or x == y or (isinstance(x, float) and isinstance(y, float) and x != x and y != y)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_a")
    ap.add_argument("run_b")
    ap.add_argument("--ignore", default="seconds", help="comma-separated row fields not compared (default: seconds)")
    ap.add_argument("--rename", action="append", default=[], metavar="OLD=NEW",
                    help="read run_a's rows of method OLD as method NEW's (repeatable)")
    args = ap.parse_args(argv)
    rename = dict(r.split("=", 1) for r in args.rename)
    ignore = set(filter(None, args.ignore.split(",")))
    a, b = cells(args.run_a), cells(args.run_b)
    ra, rb = rows(a, rename), rows(b)
    shared = sorted(set(ra) & set(rb), key=str)
    fields = {k: {f: (v, rb[k].get(f)) for f, v in ra[k].items() if f not in ignore and not _same(v, rb[k].get(f))}
              for k in shared}
    differ = [k for k in shared if fields[k]]
    for k in differ:
        print(f"differs: {k}: {fields[k]}")
    print(f"rows in both: {len(shared)}; identical {len(shared) - len(differ)}, different {len(differ)} "
          f"(only in {args.run_a}: {len(set(ra) - set(rb))}, only in {args.run_b}: {len(set(rb) - set(ra))})")
    both = sorted(set(a) & set(b))
    for name, run in ((args.run_a, a), (args.run_b, b)):
        secs = [run[k][1] for k in both]
        if secs:
            print(f"{name}: seconds of the {len(both)} cells both hold: sum {sum(secs):.1f}, median "
                  f"{statistics.median(secs):.2f}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
