"""The GP's signal scale chosen by nested leave-one-task-out: does it tell NB-201 from NAS-Bench-Graph?

NB-201's validation target (cifar100) wants a GP about 10x weaker than its meta-learned one up to K = 50 and
NAS-Bench-Graph's the meta-learned one (experiments/results/predictor_gp_scale_loo.md); neither the support's
likelihoods nor the checkpoint's own meta-validation episodes (the training tasks on held-out architectures, tasks the
network has seen) tell them apart. This script asks the question the way the outer protocol asks it, inside the
training tasks only: for a validation target T (NB-201 cifar100; NAS-Bench-Graph cora, photo) and each of its training
tasks t, a deep-kernel checkpoint is meta-trained on the training tasks other than t (the default's settings; T is
never read), adapted on K support architectures of t with the other training tasks as sources, and each multiplier of
the GP's meta-learned signal variance in :data:`~surrogate_nas.meta.deep_kernel.GP_SCALES` scored by Kendall tau on
t's other architectures.
``inner`` rows: these nested folds (what a selection rule could read without the target). ``outer`` rows (with
``--outer DIR``, the default's 3-member ensemble of the predictor-quality grid, members named as
``predictor_prior_decomposition.py`` names them: ``nb201-cifar100-seed0`` ...): the same multipliers on T itself,
every member's GP scaled alike, and ``nested rule``: at each K the multiplier with the best mean over the nested
folds. ``--targets held-out`` asks the same of the grid's held-out targets (``..._heldout.md``): where a rule chosen on
the validation targets is measured.

    python experiments/predictor_gp_scale_nested.py --meta-seeds 0 --cache runs/nested-ckpts --outer runs/loo-ckpts \
        --workers 2 --dest experiments/results
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from predictor_gp_scale_loo import scaled_predictions
from predictor_prior_decomposition import KS, TARGETS, checkpoint, write

from surrogate_nas.benchmarks import load_benchmark
from surrogate_nas.experiment.config import is_validation_target
from surrogate_nas.experiment.predictor_quality import ENSEMBLE, split, target_data
from surrogate_nas.meta.adapt import MetaGNNPredictor
from surrogate_nas.meta.checkpoint import load_checkpoint
from surrogate_nas.meta.deep_kernel import GP_SCALES
from surrogate_nas.meta.ensemble import MetaEnsemble
from surrogate_nas.predictors.inputs import SourceValues
from surrogate_nas.predictors.metrics import kendall_tau


def fold_rows(bench: str, outer: str, metric: str, inner: str, meta_seed: int, seeds: int, cache) -> tuple:
    """Kendall tau of every multiplier on the nested fold (outer target, inner task), every K and support seed."""
    torch.set_num_threads(1)  # one core per fold: the folds run side by side
    table = load_benchmark(bench)
    train = [t for t in table.tasks if t not in (outer, inner)]
    name = f"{bench}-{outer}-without-{inner}-seed{meta_seed}"
    ck, secs = checkpoint(table, bench, inner, metric, train, meta_seed, cache, name)
    sources = SourceValues(table, tuple(train), metric)
    archs = table.archs(inner, metric)
    y = table.vector(inner, metric, archs)
    rows = []
    for k in KS:
        for seed in range(seeds):
            sup, qry = split(table.space, archs, k, np.random.default_rng([seed, k]))
            p = MetaGNNPredictor(ck, sources=sources, task=inner, seed=seed, calibrate=False)
            p.fit([archs[i] for i in sup], y[sup])
            q_archs = [archs[i] for i in qry]
            key = {"benchmark": bench, "target": outer, "inner": inner, "meta_seed": meta_seed, "k": k, "seed": seed}
            for a, pred in zip(GP_SCALES, scaled_predictions(p, q_archs, GP_SCALES)):
                rows.append({**key, "scale": a, "kendall_tau": kendall_tau(y[qry], pred)})
    return rows, f"{bench}/{outer} without {inner}: meta seed {meta_seed}, meta-trained in {secs:.0f} s (0: cached)"


def outer_rows(bench: str, outer: str, metric: str, members: Path, seeds: int) -> tuple:
    """Kendall tau on the outer target of the default's ensemble (members meta seeds 0-2 from ``members``) with
    every member's GP signal variance x each multiplier, every K and support seed (the grid's splits and seeds)."""
    torch.set_num_threads(1)
    table = load_benchmark(bench)
    d = target_data(table, bench, outer, metric)
    cks = [load_checkpoint(members / f"{bench}-{outer}-seed{s}") for s in range(ENSEMBLE)]
    rows = []
    for k in KS:
        for seed in range(seeds):
            sup, qry = split(table.space, d.archs, k, np.random.default_rng([seed, k]))
            ens = MetaEnsemble(cks, seed=seed, sources=d.sources, task=outer, calibrate=False)
            ens.fit([d.archs[i] for i in sup], d.y[sup])
            q_archs = [d.archs[i] for i in qry]
            by_member = [scaled_predictions(m, q_archs, GP_SCALES) for m in ens.members_]
            for j, a in enumerate(GP_SCALES):
                tau = kendall_tau(d.y[qry], np.mean([preds[j] for preds in by_member], axis=0))
                rows.append({"benchmark": bench, "target": outer, "k": k, "seed": seed, "scale": a, "kendall_tau": tau})
    return rows, f"{bench}/{outer}: the ensemble of {members}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5, help="support seeds per K")
    ap.add_argument("--meta-seeds", default="0", help="comma-separated meta seeds")
    ap.add_argument("--cache", type=Path, default=None, help="checkpoint directory (reused when present)")
    ap.add_argument(
        "--targets",
        choices=("validation", "held-out"),
        default="validation",
        help="the validation targets (where a rule may be chosen) or the held-out ones (where it is measured)",
    )
    ap.add_argument("--outer", type=Path, default=None, help="the grid's ensemble members of the targets")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--dest", type=Path, default=None, help="write predictor_gp_scale_nested[_heldout].md/.csv here")
    args = ap.parse_args(argv)
    targets = TARGETS if args.targets == "validation" else held_out()
    folds = []
    for bench, outer, metric in targets:
        tasks = load_benchmark(bench).tasks
        for meta_seed in map(int, args.meta_seeds.split(",")):
            folds += [(bench, outer, metric, t, meta_seed, args.seeds, args.cache) for t in tasks if t != outer]
    outers = [(b, t, m, args.outer, args.seeds) for b, t, m in targets] if args.outer else []
    with ProcessPoolExecutor(args.workers) as pool:
        done = list(pool.map(fold_rows, *zip(*folds)))
        done_outer = list(pool.map(outer_rows, *zip(*outers))) if outers else []
    rows = [{**r, "part": "inner"} for fold, _ in done for r in fold]
    rows += [{**r, "part": "outer"} for fold, _ in done_outer for r in fold]
    log = [line for _, line in done + done_outer]
    df = pd.DataFrame(rows)
    name = "predictor_gp_scale_nested" + ("" if args.targets == "validation" else "_heldout")
    write(df, report(df, args, log), args.dest, name)
    return 0


def held_out() -> list[tuple[str, str, str]]:
    """(benchmark, target, metric) of every held-out target of the predictor-quality grid."""
    metrics = {bench: metric for bench, _, metric in TARGETS}
    return [
        (bench, t, metric)
        for bench, metric in metrics.items()
        for t in load_benchmark(bench).tasks
        if not is_validation_target(bench, t)
    ]


def report(df: pd.DataFrame, args, log: list[str]) -> str:
    outer = df[df.part == "outer"]
    df = df[df.part == "inner"]
    per_fold = df.groupby(["benchmark", "target", "inner", "k", "scale"]).kendall_tau.mean().unstack("scale")
    inner = per_fold.groupby(["benchmark", "target", "k"]).mean()
    best = inner.idxmax(axis=1).rename("best multiplier")
    lines = [
        f"# The GP's signal scale on nested leave-one-task-out folds ({args.targets} targets' training tasks)",
        "",
        f"`python experiments/predictor_gp_scale_nested.py --seeds {args.seeds} --meta-seeds {args.meta_seeds} "
        f"--targets {args.targets}"
        + (f" --cache {args.cache}" if args.cache else "")
        + (f" --outer {args.outer}" if args.outer else "")
        + f" --workers {args.workers}`: "
        "for each target, each of its training tasks held out in turn (a checkpoint meta-trained on the "
        "others, the target never read); Kendall tau of the adapted member with the GP's signal variance x each "
        f"multiplier, mean over {args.seeds} support seeds and the meta seeds.",
        "",
        "## Mean over the nested folds",
        "",
        pd.concat([inner, best], axis=1).round(4).to_markdown(),
        "",
        *outer_report(outer, best),
        "## Per fold",
        "",
        per_fold.round(4).to_markdown(),
        "",
        "## Log",
        "",
        "```",
        *log,
        "```",
        "",
    ]
    return "\n".join(lines)


def outer_report(outer: pd.DataFrame, best: pd.Series) -> list[str]:
    """The ensemble's tau on the validation targets per multiplier, the nested rule's, and its gain over x1."""
    if outer.empty:
        return []
    tau = outer.groupby(["benchmark", "target", "k", "scale"]).kendall_tau.mean().unstack("scale")
    rule = pd.Series([tau.loc[i, best.loc[i]] for i in tau.index], index=tau.index, name="nested rule")
    gain = (rule - tau[1.0]).rename("rule - x1")
    return [
        "## The default's ensemble on the outer targets",
        "",
        "The grid's 3-member ensemble (meta seeds 0-2) on the outer target itself, every member's GP signal "
        "variance times the multiplier; `nested rule`: the multiplier the nested folds chose at that K (above).",
        "",
        pd.concat([tau, rule, gain], axis=1).round(4).to_markdown(),
        "",
        "## Mean over the outer targets per benchmark",
        "",
        pd.concat([tau[1.0].rename("x1"), rule, gain], axis=1)
        .groupby(["benchmark", "k"])
        .mean()
        .round(4)
        .to_markdown(),
        "",
    ]


if __name__ == "__main__":
    sys.exit(main())
