"""The default meta-predictor at K = 0 against zero-shot source transfer, and the grid's K > 0 against that prior.

Part 1, K = 0: the default (meta-dkt-ens: 3 deep-kernel members, meta seeds 0-2, as the predictor-quality grid builds
it) of every target is fitted on an empty support and predicts every architecture of the target; ``source-transfer``
(the mean rank over the other tasks) predicts the same architectures. Reported: each one's Kendall tau on all of the
target's architectures, and the largest absolute difference between the two predictions (0: the same prediction).

Part 2, K > 0, read from the grid's rows (``--grid``, the shipped ``experiments/results/predictor_quality.csv``):
per target and K, the default's tau minus source-transfer's on the same support split and query (5 seeds, paired):
mean, standard error over seeds, and whether it is below by more than twice that (below its own K = 0 prediction by
more than the split-to-split noise). Held-out targets are the headline; the validation targets are marked.

    surrogate-nas experiment run predictor-quality --config experiments/configs/predictor-zero-shot.yaml \\
        --out runs/zeroshot --workers 2
    python experiments/predictor_zero_shot.py --checkpoints runs/zeroshot/checkpoints \\
        --grid experiments/results/predictor_quality.csv --dest experiments/results

``--checkpoints DIR``: a predictor-quality run's ``checkpoints/`` (``BENCH/TARGET/dkt-seed{0,1,2}``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from surrogate_nas.benchmarks import load_benchmark
from surrogate_nas.experiment.config import is_validation_target
from surrogate_nas.experiment.predictor_quality import build, member_names, target_data
from surrogate_nas.io import atomic_write_text
from surrogate_nas.meta.checkpoint import load_checkpoint
from surrogate_nas.predictors.metrics import kendall_tau

TARGETS = {
    "nb201": ("test_acc", ("ImageNet16-120", "cifar10", "cifar100")),
    "nas-bench-graph": ("valid_perf", ("arxiv", "citeseer", "computers", "cs", "physics", "pubmed", "cora", "photo")),
}
DEFAULT = "meta-dkt-ens"
PRIOR = "source-transfer"


def members(root: Path, bench: str, target: str) -> dict:
    """The default's checkpoints of one target by the grid's cell names (``dkt-ens/i``)."""
    names = member_names("dkt-ens")
    return {n: load_checkpoint(root / bench / target / f"dkt-seed{i}") for i, n in enumerate(names)}


def zero_shot_rows(root: Path) -> pd.DataFrame:
    """Part 1: one row per target."""
    rows = []
    for bench, (metric, targets) in TARGETS.items():
        table = load_benchmark(bench)
        for target in targets:
            d = target_data(table, bench, target, metric)
            t = time.perf_counter()
            default = build(DEFAULT, table.space, d.sources, members(root, bench, target), 0, target).fit([], [])
            pred = default.predict(d.archs)
            seconds = time.perf_counter() - t
            two = [d.archs[0], d.archs[1]]  # source-transfer ignores its support; fit() wants one
            prior = build(PRIOR, table.space, d.sources, {}, 0, target).fit(two, d.y[:2]).predict(d.archs)
            rows.append({"benchmark": bench, "target_task": target, "validation": is_validation_target(bench, target),
                         "archs": len(d.archs), "tau_default_k0": kendall_tau(d.y, pred),
                         "tau_source_transfer": kendall_tau(d.y, prior),
                         "max_abs_difference": float(np.max(np.abs(pred - prior))), "seconds": seconds})
            print(f"{bench}/{target}: K = 0 tau {rows[-1]['tau_default_k0']:.4f}, source-transfer "
                  f"{rows[-1]['tau_source_transfer']:.4f}, max |difference| {rows[-1]['max_abs_difference']:.3g}",
                  flush=True)
    return pd.DataFrame(rows)


def paired_rows(grid: Path) -> pd.DataFrame:
    """Part 2: per (benchmark, target, K), the default minus source-transfer over the grid's seeds."""
    df = pd.read_csv(grid)
    df = df[df.method.isin([DEFAULT, PRIOR])]
    wide = df.pivot_table(index=["benchmark", "target_task", "k", "seed"], columns="method", values="kendall_tau")
    diff = (wide[DEFAULT] - wide[PRIOR]).rename("difference").reset_index()
    out = diff.groupby(["benchmark", "target_task", "k"])["difference"].agg(["mean", "std", "count"]).reset_index()
    out["se"] = out["std"] / np.sqrt(out["count"])
    out["below_by_more_than_2se"] = out["mean"] < -2 * out["se"]
    out["validation"] = [is_validation_target(b, t) for b, t in zip(out.benchmark, out.target_task)]
    return out.drop(columns="std").rename(columns={"count": "seeds"})


def report(zero: pd.DataFrame, paired: pd.DataFrame, args) -> str:
    lines = ["# The default at K = 0 and against its K = 0 prediction", "",
             "Part 1, K = 0 (`predict --zero-shot`): the default fitted on an empty support, every architecture of the "
             "target predicted; Kendall tau on all of them. *(val)*: a validation target.", "",
             "| target | archs | default, K = 0 | source-transfer | max abs difference of the predictions |",
             "|---|---|---|---|---|"]
    for r in zero.itertuples():
        name = f"{r.benchmark} {r.target_task}" + (" *(val)*" if r.validation else "")
        lines.append(f"| {name} | {r.archs} | {r.tau_default_k0:.4f} | {r.tau_source_transfer:.4f} | "
                     f"{r.max_abs_difference:.3g} |")
    lines += ["", f"Part 2, K > 0 (the grid's rows, `{args.grid}`): the default's tau minus source-transfer's "
              "on the same splits, mean over the seeds (standard error); **bold**: below by more than 2 standard "
              "errors.", ""]
    ks = sorted(paired.k.unique())
    lines += ["| target | " + " | ".join(f"K = {k}" for k in ks) + " |", "|---|" + "---|" * len(ks)]
    for (bench, target), g in paired.groupby(["benchmark", "target_task"], sort=False):
        cells = []
        for r in g.sort_values("k").itertuples():
            cell = f"{r.mean:+.4f} ({r.se:.4f})"
            cells.append(f"**{cell}**" if r.below_by_more_than_2se else cell)
        name = f"{bench} {target}" + (" *(val)*" if g.validation.iloc[0] else "")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    held = paired[~paired.validation]
    below = held[held.below_by_more_than_2se]
    lines += ["", f"Held-out (target, K) cells below source-transfer by more than 2 standard errors: {len(below)} of "
              f"{len(held)}" + (": " + ", ".join(f"{r.benchmark} {r.target_task} K = {r.k} ({r.mean:+.4f})"
                                                  for r in below.itertuples()) if len(below) else "") + ".", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoints", type=Path, required=True, help="a predictor-quality run's checkpoints/")
    ap.add_argument("--grid", type=Path, default=Path(__file__).parent / "results" / "predictor_quality.csv")
    ap.add_argument("--dest", type=Path, default=None, help="write predictor_zero_shot{,_paired}.csv and .md here")
    args = ap.parse_args(argv)
    zero, paired = zero_shot_rows(args.checkpoints), paired_rows(args.grid)
    md = report(zero, paired, args)
    print(md)
    if args.dest:
        atomic_write_text(args.dest / "predictor_zero_shot.csv", zero.to_csv(index=False))
        atomic_write_text(args.dest / "predictor_zero_shot_paired.csv", paired.to_csv(index=False))
        atomic_write_text(args.dest / "predictor_zero_shot.md", md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
