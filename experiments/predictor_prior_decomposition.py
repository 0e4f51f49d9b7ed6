"""Where the default meta-predictor loses to its own prior: its prediction taken apart, on the validation targets.

The default (deep-kernel GP head) predicts ``transfer prior + learned correction + GP posterior of the residual``.
On NB-201 the zero-shot source rank beats it up to K = 20 (experiments/results/predictor_quality.md). This script
scores each part on the same support splits as the predictor-quality grid (``split`` with seed (s, K)), on the
validation targets only (NB-201 cifar100; NAS-Bench-Graph cora, photo), one deep-kernel checkpoint per target and
meta seed (the default's settings, 400 iterations):

* ``source-transfer``, ``ridge-source``: the zero-shot mean source rank, and ridge on the source values;
* ``prior only``: the network's transfer prior (the support-correlation-weighted source rank) -- no GP;
* ``network``: the prior plus the network's learned correction -- no GP (what the GP's mean is);
* ``default``: the GP conditioned on the support's residuals from the network (meta-dkt, one member);
* ``earned sd=S``: the correction as a GP basis with a N(0, S^2) weight (``correction_sd``), the GP's mean the prior;
* ``earned sd=0.5, GP x0.1``: the same with the GP's residual kernel scaled by 0.1 (a diagnostic knob, no option);
* ``default, GP x (1 - r^2)``: the default with the GP's residual kernel scaled by ``1 - r^2``, ``r`` the support's
  correlation between the network's prediction and the values (clipped at 0): the share of the variance the prior
  mean leaves (a diagnostic knob, no option);
* ``default, GP re-fit``: the default with the GP's hyper-parameters re-fitted on the support by type-II maximum
  likelihood (``gp_steps=50``): what the support's own evidence says the GP should be;
* ``default, normal scores``: the default adapted on the normal scores of the support values (a rank-based output
  warp: Kendall tau is invariant to it, the GP's residuals are not).

Kendall tau on every other architecture of the target and the 90% interval's coverage; means over support seeds
and meta seeds.

    python experiments/predictor_prior_decomposition.py --meta-seeds 0,1,2 --cache runs/prior-ckpts \
        --dest experiments/results
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm, rankdata

from surrogate_nas.benchmarks import load_benchmark
from surrogate_nas.experiment.predictor_quality import split, target_data
from surrogate_nas.meta.adapt import MetaGNNPredictor
from surrogate_nas.meta.checkpoint import is_checkpoint_dir, load_checkpoint, save_checkpoint
from surrogate_nas.meta.maml import default_meta_config
from surrogate_nas.meta.pretrain import pretrain
from surrogate_nas.predictors import make_predictor
from surrogate_nas.predictors.metrics import calibration_report, kendall_tau

TARGETS = (
    ("nb201", "cifar100", "test_acc"),
    ("nas-bench-graph", "cora", "valid_perf"),
    ("nas-bench-graph", "photo", "valid_perf"),
)
KS = (5, 10, 20, 50, 100)


def checkpoint(
    table, bench: str, target: str, metric: str, train: list, meta_seed: int, cache: Path | None, name: str = ""
):
    """(checkpoint meta-trained on ``train`` for ``target`` with the default's settings, seconds; 0 when read from
    ``cache``), cached there as ``name`` (default ``{bench}-{target}-seed{meta_seed}``)."""
    d = cache / (name or f"{bench}-{target}-seed{meta_seed}") if cache else None
    if d is not None and is_checkpoint_dir(d):
        return load_checkpoint(d), 0.0
    t = time.perf_counter()
    ck = pretrain(
        table,
        train,
        metric,
        meta_config=default_meta_config(iterations=400, seed=meta_seed),
        benchmark_name=bench,
        target=target,
        progress=False,
    )
    if d is not None:
        save_checkpoint(ck, d)
    return ck, time.perf_counter() - t


def shrink_gp(p: MetaGNNPredictor, factor: float) -> MetaGNNPredictor:
    """Scale the residual kernel's outputscale (the first summand, the meta-learned one) and condition again."""
    from surrogate_nas.meta.deep_kernel import condition

    gp = p.gp_
    residual = gp.covar_module.kernels[0] if hasattr(gp.covar_module, "kernels") else gp.covar_module
    residual.outputscale = residual.outputscale * factor
    condition(gp, gp.train_inputs[0], gp.train_targets)
    return p


def residual_share(p: MetaGNNPredictor) -> float:
    """``1 - r^2`` (at least 0.01), ``r`` the correlation (clipped at 0) of the network's prediction with the support's
    values: the share of their variance the GP's prior mean leaves to the residual. The network's prediction at the
    support is the values minus the residuals the GP was conditioned on."""
    z = np.asarray(p.support_[1], dtype=float)
    r = np.corrcoef(z - p.gp_.train_targets.numpy(), z)[0, 1]
    r = max(float(r), 0.0) if np.isfinite(r) else 0.0
    return max(1.0 - r * r, 0.01)


def parts(ck, d, s_archs, y_sup, q_archs, target: str, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """name -> (prediction, std or None) of every part on the query."""

    from surrogate_nas.meta import gp_head
    from surrogate_nas.meta.predict_inputs import PredictInputs

    space = ck.space
    out: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    for name in ("source-transfer", "ridge-source"):
        out[name] = (make_predictor(name, space=space, sources=d.sources).fit(s_archs, y_sup).predict(q_archs), None)

    def fitted(sd=None, y=y_sup, **options):
        p = MetaGNNPredictor(ck, sources=d.sources, task=target, seed=seed, correction_sd=sd, **options)
        return p.fit(s_archs, y)

    default = fitted()
    net, prior = gp_head.network_and_prior(default, PredictInputs(default, q_archs))
    out["prior only"], out["network"] = (prior, None), (net, None)
    out["default"] = default.predict(q_archs, return_std=True)
    for sd in (0.5, 2.0):
        out[f"earned sd={sd:g}"] = fitted(sd).predict(q_archs, return_std=True)
    # the shrunk GPs' stds keep the calibration factor of the unshrunk fit: their coverage is not reported
    out["earned sd=0.5, GP x0.1"] = (shrink_gp(fitted(0.5), 0.1).predict(q_archs), None)
    shrunk = fitted()
    out["default, GP x (1 - r^2)"] = (shrink_gp(shrunk, residual_share(shrunk)).predict(q_archs), None)
    out["default, GP re-fit"] = fitted(gp_steps=50).predict(q_archs, return_std=True)
    scores = norm.ppf((rankdata(y_sup) - 0.5) / len(y_sup))
    out["default, normal scores"] = (fitted(y=scores).predict(q_archs), None)  # not in the target's units
    return out


def validation_args(description: str, name: str, argv=None) -> argparse.Namespace:
    """The options this script and its siblings share (support seeds, meta seeds, checkpoint cache, ``--dest`` for
    ``NAME.md/.csv``); ``meta_seeds`` parsed to a list."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--seeds", type=int, default=5, help="support seeds per K")
    ap.add_argument("--meta-seeds", default="0", help="comma-separated meta seeds (one checkpoint per target each)")
    ap.add_argument("--cache", type=Path, default=None, help="checkpoint directory (reused when present)")
    ap.add_argument("--dest", type=Path, default=None, help=f"write {name}.md/.csv here")
    args = ap.parse_args(argv)
    args.meta_seeds = [int(s) for s in args.meta_seeds.split(",")]
    return args


def validation_cases(args: argparse.Namespace, log: list[str]):
    """Yields (key, checkpoint, target data, support indices, query indices) for every validation target, meta seed,
    K and support seed (the predictor-quality grid's splits); ``key``: benchmark, target, meta_seed, k, seed. Each
    checkpoint's line goes to ``log`` and stdout."""
    for bench, target, metric in TARGETS:
        table = load_benchmark(bench)
        d = target_data(table, bench, target, metric)
        for meta_seed in args.meta_seeds:
            ck = logged_checkpoint(table, bench, target, metric, d, meta_seed, args.cache, log)
            for k, seed, sup, qry in grid_splits(table, d, args.seeds):
                key = {"benchmark": bench, "target": target, "meta_seed": meta_seed, "k": k, "seed": seed}
                yield key, ck, d, sup, qry


def logged_checkpoint(table, bench: str, target: str, metric: str, d, meta_seed: int, cache: Path | None, log: list):
    """:func:`checkpoint` for ``target`` (its data ``d``) and ``meta_seed``, its line added to ``log`` and printed."""
    ck, secs = checkpoint(table, bench, target, metric, d.train, meta_seed, cache)
    log.append(f"{bench}/{target}: meta seed {meta_seed}, meta-trained in {secs:.0f} s (0: cached)")
    print(log[-1], flush=True)
    return ck


def grid_splits(table, d, seeds: int):
    """Yields (K, seed, support indices, query indices) of the predictor-quality grid's splits of ``d``'s
    architectures for every K of :data:`KS` and ``seeds`` support seeds."""
    for k in KS:
        for seed in range(seeds):
            sup, qry = split(table.space, d.archs, k, np.random.default_rng([seed, k]))
            yield k, seed, sup, qry


def part_means(g: pd.DataFrame, column: str, order: list) -> pd.DataFrame:
    """The mean of ``column`` per K (rows) and part (columns, in ``order``) of one target's rows ``g``."""
    return g.groupby(["k", "part"])[column].mean().unstack("part")[order]


def write(df: pd.DataFrame, md: str, dest: Path | None, name: str) -> None:
    """Print the report; with ``dest``, write ``NAME.csv`` (the rows) and ``NAME.md`` there."""
    print(md)
    if dest:
        dest.mkdir(parents=True, exist_ok=True)
        df.to_csv(dest / f"{name}.csv", index=False)
        (dest / f"{name}.md").write_text(md)


def validation_rows(args: argparse.Namespace, log: list[str], score) -> pd.DataFrame:
    """The rows ``score(key, checkpoint, target data, support archs, support values, query archs, query values)``
    returns (a list of dicts) for every case of :func:`validation_cases`."""
    rows: list[dict] = []
    for key, ck, d, sup, qry in validation_cases(args, log):
        rows += score(key, ck, d, [d.archs[i] for i in sup], d.y[sup], [d.archs[i] for i in qry], d.y[qry])
    return pd.DataFrame(rows)


def cases_sentence(name: str, args: argparse.Namespace) -> str:
    """How a report's cases were made: the command, one checkpoint per target and meta seed, the grid's splits."""
    return (
        f"`python experiments/{name}.py --seeds {args.seeds} --meta-seeds {','.join(map(str, args.meta_seeds))}`: one "
        "deep-kernel checkpoint per target and meta seed (the default's settings; the default itself averages 3 meta "
        "seeds' predictions), the predictor-quality grid's support splits"
    )


def log_section(log: list[str]) -> list[str]:
    """The report's closing "Log" section: the checkpoints' lines as a code block."""
    return ["## Log", "", "```", *log, "```", ""]


def main(argv=None) -> int:
    args = validation_args(__doc__.splitlines()[0], "predictor_prior_decomposition", argv)
    log: list[str] = []

    def score(key, ck, d, s_a, y_sup, q_a, yq) -> list[dict]:
        rows = []
        for name, (pred, std) in parts(ck, d, s_a, y_sup, q_a, key["target"], key["seed"]).items():
            cov = calibration_report(yq, pred, std)["coverage_90"] if std is not None else np.nan
            rows.append({**key, "part": name, "kendall_tau": kendall_tau(yq, pred), "coverage_90": cov})
        return rows

    df = validation_rows(args, log, score)
    write(df, report(df, args, log), args.dest, "predictor_prior_decomposition")
    return 0


def report(df: pd.DataFrame, args, log: list[str]) -> str:
    order = list(dict.fromkeys(df["part"]))
    lines = [
        "# The default meta-predictor taken apart (validation targets)",
        "",
        cases_sentence("predictor_prior_decomposition", args)
        + ", Kendall tau on every other architecture (mean over the meta seeds and "
        f"{args.seeds} support seeds). Validation targets only: what is chosen from this table is chosen where "
        "the defaults may be chosen.",
        "",
    ]
    for (bench, target), g in df.groupby(["benchmark", "target"], sort=False):
        tau = part_means(g, "kendall_tau", order)
        lines += [f"## {bench} {target}: Kendall tau", "", tau.round(3).to_markdown(), ""]
        cov = g.dropna(subset=["coverage_90"]).groupby(["k", "part"])["coverage_90"].mean().unstack("part")
        lines += [f"## {bench} {target}: 90% interval coverage", "", cov.round(2).to_markdown(), ""]
    lines += log_section(log)
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
