"""Two runs of ``latency_transfer.py`` (e.g. two checkouts) set against each other, paired by setting, meta seed and
support seed: per setting the mean Spearman rho of a method in each run and their difference, then the difference
per meta seed, its mean over the meta seeds and that mean's standard error.

    python experiments/latency_paired.py BEFORE.csv[,...] AFTER.csv[,...] --method meta/default [--after-method M] \\
        [--targets T,...] [--name NAME --dest experiments/results]

``BEFORE`` / ``AFTER``: the ``latency_transfer.csv`` of each run, or several runs' (comma-separated: e.g. one per set
of meta seeds), rows of ``--method`` (of ``--after-method`` in the second), matched on target, meta_seed, seed and k;
``--targets``: only these settings.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from surrogate_nas.io import atomic_write_text

KEYS = ["target", "meta_seed", "seed", "k"]


def paired(before: pd.DataFrame, after: pd.DataFrame, method: str, after_method: str) -> pd.DataFrame:
    """The matched rows: ``before``, ``after`` and ``difference`` (after minus before) per key."""
    a = before[before.method == method][KEYS + ["spearman_rho"]]
    b = after[after.method == after_method][KEYS + ["spearman_rho"]]
    m = a.merge(b, on=KEYS, suffixes=("_before", "_after"), validate="one_to_one")
    if m.empty:
        raise SystemExit(f"no rows of {method!r} and {after_method!r} share a target, meta seed and seed")
    m = m.rename(columns={"spearman_rho_before": "before", "spearman_rho_after": "after"})
    return m.assign(difference=m["after"] - m["before"])


def report(m: pd.DataFrame, method: str, after_method: str, files: tuple[str, str]) -> str:
    by_target = m.groupby("target")[["before", "after", "difference"]].mean()
    by_seed = m.groupby("meta_seed")["difference"].mean()
    se = by_seed.std(ddof=1) / np.sqrt(len(by_seed)) if len(by_seed) > 1 else float("nan")
    lines = [f"# `{after_method}` ({files[1]}) against `{method}` ({files[0]})", "",
             f"Mean Spearman rho over {m.seed.nunique()} support seeds and {len(by_seed)} meta seed(s), paired.", "",
             "| setting | before | after | difference |", "|---|---|---|---|"]
    lines += [f"| `{t}` | {r.before:.3f} | {r.after:.3f} | {r.difference:+.4f} |" for t, r in by_target.iterrows()]
    lines += [f"| **mean** | {m.before.mean():.3f} | {m.after.mean():.3f} | {m.difference.mean():+.4f} |", "",
              "Per meta seed (mean difference over settings and seeds): "
              + ", ".join(f"{s}: {d:+.4f}" for s, d in by_seed.items())
              + f"; mean {by_seed.mean():+.4f}, standard error {se:.4f}.", ""]
    return "\n".join(lines)


def read(files: str, targets: str | None) -> pd.DataFrame:
    """The rows of the comma-separated CSV files, only ``targets`` (comma-separated) when given."""
    df = pd.concat([pd.read_csv(f) for f in files.split(",")], ignore_index=True)
    return df[df.target.isin(targets.split(","))] if targets else df


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--method", default="meta/default")
    ap.add_argument("--after-method", help="the method in AFTER (default: --method)")
    ap.add_argument("--targets", help="comma-separated settings (default: every shared one)")
    ap.add_argument("--name", default="latency_paired")
    ap.add_argument("--dest", type=Path)
    args = ap.parse_args(argv)
    after_method = args.after_method or args.method
    m = paired(read(args.before, args.targets), read(args.after, args.targets), args.method, after_method)
    md = report(m, args.method, after_method, (args.before, args.after))
    print(md)
    if args.dest:
        atomic_write_text(args.dest / f"{args.name}.csv", m.to_csv(index=False))
        atomic_write_text(args.dest / f"{args.name}.md", md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
