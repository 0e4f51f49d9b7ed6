"""Rebuild ``experiments/results/predictor_quality.{md,csv,png}`` from a new run of the methods a change touched
and the previous full grid's rows of the methods it did not touch, after checking that they are unchanged.

    python experiments/predictor_quality_merge.py --new RUN_DIR --changed FF_RUN_DIR --previous OLD.csv \
        --check CHECK_DIR --out experiments/results

``--new``: a predictor-quality run directory (its methods' rows replace the previous ones); its ranking figures
must equal the previous grid's (only the calibration changed). ``--changed``: run directories of methods whose
inputs changed (their rows replace the previous ones unchecked). ``--check``: run directories of a few cells of
the carried-over methods, recomputed with the current code: every ranking figure of every one of their rows must
equal the previous grid's, or nothing is written. ``--drop``: methods left out of the merged report (named in
its footer).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from surrogate_nas.experiment.predictor_quality import write_report
from surrogate_nas.experiment.runner import predictor_quality_results

KEYS = ["benchmark", "target_task", "k", "method", "seed"]
RANKING = ["kendall_tau", "spearman_rho", "kendall_tau_top", "precision_at_1pct"]


def unchanged(old: pd.DataFrame, new: pd.DataFrame, what: str) -> int:
    """Rows of ``new`` found in ``old``, after checking their ranking figures agree (raises otherwise)."""
    both = new.merge(old, on=KEYS, suffixes=("", "_old"))
    if both.empty:
        raise SystemExit(f"{what}: no row in common with the previous grid")
    for c in RANKING:
        a, b = both[c].to_numpy(float), both[f"{c}_old"].to_numpy(float)
        if not np.allclose(a, b, rtol=0, atol=1e-9, equal_nan=True):
            bad = both[~np.isclose(a, b, rtol=0, atol=1e-9, equal_nan=True)].iloc[0]
            raise SystemExit(f"{what}: {c} differs from the previous grid at {bad[KEYS].to_dict()}: "
                             f"{bad[c]!r} vs {bad[f'{c}_old']!r}")
    return len(both)


def checkpoint_timings(run_dir: Path) -> pd.DataFrame:
    """Meta-training time and validation tau of every checkpoint under ``run_dir/checkpoints`` (from its config)."""
    import json

    rows = []
    for cfg in sorted(run_dir.glob("checkpoints/*/*/*/config.json")):
        info = json.loads(cfg.read_text())["info"]
        bench, target, name = cfg.parent.relative_to(run_dir / "checkpoints").parts
        rows.append({"benchmark": bench, "target_task": target, "checkpoint": name,
                     "meta_train_s": info.get("train_seconds"), "best_val_tau": info.get("best_val_tau")})
    return pd.DataFrame(rows, columns=["benchmark", "target_task", "checkpoint", "meta_train_s", "best_val_tau"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--new", required=True)
    ap.add_argument("--previous", required=True)
    ap.add_argument("--changed", nargs="*", default=[])
    ap.add_argument("--check", nargs="*", default=[])
    ap.add_argument("--drop", default="")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    old = pd.read_csv(args.previous)
    new, timings, run = predictor_quality_results(args.new)
    if timings.empty:  # its checkpoints were meta-trained outside the run: their own config.json has the figures
        timings = checkpoint_timings(Path(args.new))
    if run["missing"]:
        raise SystemExit(f"{args.new}: {run['missing']} cell(s) not finished")
    n_same = unchanged(old, new, f"{args.new} (shared methods)")
    n_check = sum(unchanged(old, predictor_quality_results(d)[0], d) for d in args.check)
    changed = []
    for d in args.changed:
        rows, t, info = predictor_quality_results(d)
        if info["missing"]:
            raise SystemExit(f"{d}: {info['missing']} cell(s) not finished")
        changed.append(rows)
        timings = pd.concat([timings, t if not t.empty else checkpoint_timings(Path(d))], ignore_index=True)
    new = pd.concat([new, *changed], ignore_index=True)
    drop = [m for m in args.drop.split(",") if m]
    rerun = sorted(new["method"].unique())
    carried = [m for m in old["method"].unique() if m not in rerun and m not in drop]
    df = pd.concat([new, old[old["method"].isin(carried)]], ignore_index=True)
    rank = {m: i for i, m in enumerate(old["method"].unique())}
    df = (df.assign(_m=df["method"].map(rank)).sort_values(["benchmark", "target_task", "k", "seed", "_m"], kind="stable")
          .drop(columns="_m").reset_index(drop=True))
    footer = (f"\nRerun with the current code: {', '.join(rerun)} ({len(new)} rows). Carried over from the previous "
              f"full grid, whose code path this change did not touch: {', '.join(carried)}; checked: {n_same} shared rows and {n_check} recomputed rows of "
              f"the carried methods give the same ranking figures to 1e-9. Left out: {', '.join(drop) or 'none'}.\n")
    write_report(df, timings, Path(args.out), "predictor_quality", footer)
    print(footer.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
