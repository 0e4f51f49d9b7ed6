"""How the transfer prior weighs its source tasks, scored alone (no network, no GP) on the validation targets.

    python experiments/predictor_prior_weights.py [--seeds 20] [--dest experiments/results]

The deep-kernel predictor's transfer prior is the mean of an architecture's source-task ranks weighted by each
source's support correlation (negative ones weigh 0). Variants of the weights, each scored by Kendall tau of the
prior alone on every non-support architecture of the validation targets (NB-201 cifar100; NAS-Bench-Graph cora,
photo), K = 5 / 10 / 20 / 50 / 100 random support architectures, ``--seeds`` splits each:

* ``corr^p``: the positive correlation to the power p (p = 1 is the code's default, ``ModelConfig.prior_power``);
* ``ls(lambda)``: least squares of the z-scored support values on the source ranks, shrunk by ``lambda`` towards
  the correlation weights (scaled to fit), negative weights clipped to 0;
* ``ls-rank(c K)``: the same on the support values' ranks, shrunk by ``c`` x the support size K
  (:func:`~surrogate_nas.predictors.inputs.least_squares_weights` with ``shrink = c``; ``c = 1`` is
  ``ModelConfig.source_weights = "least-squares"``).

Where every source correlates negatively the prior is undefined (NaN rows; the mean skips them). Writes
``predictor_prior_weights.md`` / ``.csv`` to ``--dest``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from surrogate_nas.benchmarks import load_benchmark
from surrogate_nas.predictors import inputs
from surrogate_nas.predictors.gnn import GraphRegressor
from surrogate_nas.predictors.inputs import SourceValues, support_correlations
from surrogate_nas.predictors.metrics import kendall_tau

CASES = (("nb201", "cifar100", "test_acc"), ("nas-bench-graph", "cora", "valid_perf"),
         ("nas-bench-graph", "photo", "valid_perf"))
KS = (5, 10, 20, 50, 100)


def corr_weights(power: float):
    def weights(src: np.ndarray, z: np.ndarray) -> np.ndarray:
        return np.clip(support_correlations(src, z).astype(float), 0, None) ** power
    return weights


def least_squares_weights(lam: float):
    def weights(src: np.ndarray, z: np.ndarray) -> np.ndarray:
        c = corr_weights(1.0)(src, z)
        c = c / max(c.sum(), 1e-6)
        x = np.nan_to_num(src)
        x = x - x.mean(0)
        a, b = x.T @ x + lam * np.eye(x.shape[1]), x.T @ z
        scale = (c @ b) / max(c @ a @ c, 1e-9)  # the correlation weights' best scale
        return np.clip(np.linalg.solve(a, b + lam * scale * c), 0, None)
    return weights


def rank_least_squares_weights(shrink: float):
    def weights(src: np.ndarray, z: np.ndarray) -> np.ndarray:
        return np.clip(inputs.least_squares_weights(src, z, support_correlations(src, z), shrink), 0, None)
    return weights


VARIANTS = {"corr^1 (default)": corr_weights(1.0), "corr^2": corr_weights(2.0), "corr^4": corr_weights(4.0),
            "ls(0.3)": least_squares_weights(0.3), "ls(1)": least_squares_weights(1.0),
            "ls(3)": least_squares_weights(3.0), "ls-rank(0.3 K)": rank_least_squares_weights(0.3),
            "ls-rank(1 K)": rank_least_squares_weights(1.0), "ls-rank(3 K)": rank_least_squares_weights(3.0)}


def prior(src: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The weighted mean of the known source ranks: the network's own transfer prior (``GraphRegressor._prior``,
    the non-negative weights in place of the correlations), in float64."""
    s = torch.as_tensor(src, dtype=torch.float64)
    return GraphRegressor._prior(s, torch.as_tensor(w, dtype=torch.float64), len(src), s).numpy()


def rows(seeds: int) -> list[dict]:
    out = []
    for bench, target, metric in CASES:
        table = load_benchmark(bench)
        archs = table.space.enumerate()
        sources = SourceValues(table, tuple(t for t in table.tasks if t != target), metric, True)
        src, y = sources(table.space, archs), table.vector(target, metric, archs)
        ok = np.flatnonzero(np.isfinite(y))
        for k in KS:
            for seed in range(seeds):
                sup = np.random.default_rng([seed, k]).choice(ok, k, replace=False)
                qry = np.setdiff1d(ok, sup)
                z = (y[sup] - y[sup].mean()) / y[sup].std()
                for name, weights in VARIANTS.items():
                    w = weights(src[sup], z)
                    tau = kendall_tau(y[qry], prior(src[qry], w)) if w.sum() > 0 else np.nan
                    out.append({"benchmark": bench, "target": target, "k": k, "seed": seed, "weights": name,
                                "kendall_tau": tau})
        print(f"{bench} {target}: done", flush=True)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--dest", help="write predictor_prior_weights.md/.csv here")
    args = ap.parse_args(argv)
    df = pd.DataFrame(rows(args.seeds))
    table = df.pivot_table(index=["benchmark", "target", "k"], columns="weights", values="kendall_tau",
                           aggfunc="mean")[list(VARIANTS)]
    text = (f"# The transfer prior's source weights, scored alone (validation targets, {args.seeds} splits per K)\n\n"
            "Mean Kendall tau of the prior alone on every non-support architecture; "
            "`python experiments/predictor_prior_weights.py`.\n\n" + table.round(4).to_markdown() + "\n")
    print(text)
    if args.dest:
        dest = Path(args.dest)
        df.to_csv(dest / "predictor_prior_weights.csv", index=False)
        (dest / "predictor_prior_weights.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
