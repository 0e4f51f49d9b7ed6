"""The default ensemble's members weighted by what the support shows about each, on the validation targets.

The default (meta-dkt-ens) averages its 3 members' predictions with equal weights. Its members differ (meta seed, and
the training task each early-stops on), and on NAS-Bench-Graph at small K one member alone often ranks better than the
average (experiments/results/predictor_quality.md: meta-dkt, the seed-0 member, against meta-dkt-ens). This script
asks whether the support can tell which member to trust: each member is fitted on the support without each held-out
part (leave-one-out up to 20 points, 10 folds above, as the std calibration splits it) and scored on the held-out
values, then the members' full-support predictions are combined by

* ``equal``: the default's average;
* ``pseudo-bma``: weights proportional to ``exp`` of each member's summed held-out log predictive density (pseudo
  Bayesian model averaging, Geisser & Eddy 1979; Yao et al. 2018);
* ``best-density``: the member with the best held-out log density alone;
* ``best-held-out-tau``: the member whose held-out means rank the support best (Kendall tau) alone;

beside each member alone. Validation targets only (NB-201 cifar100; NAS-Bench-Graph cora, photo), the predictor-quality
grid's support splits, 5 support seeds, Kendall tau on every other architecture.

    python experiments/predictor_member_weights.py --meta-seeds 0,1,2 --cache DIR --dest experiments/results

``--cache DIR``: checkpoints as ``predictor_prior_decomposition.py`` names them (``nb201-cifar100-seed0``, ...; a link
to a grid's ``dkt-seed<i>`` checkpoint is the same member; meta-trained there when absent).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from predictor_prior_decomposition import (
    TARGETS,
    cases_sentence,
    grid_splits,
    log_section,
    logged_checkpoint,
    part_means,
    validation_args,
    write,
)
from scipy.stats import norm

from surrogate_nas.benchmarks import load_benchmark
from surrogate_nas.experiment.predictor_quality import target_data
from surrogate_nas.meta.adapt import MetaGNNPredictor
from surrogate_nas.meta.calibration import calibration_folds
from surrogate_nas.predictors.metrics import kendall_tau


def held_out(ck, d, target: str, seed: int, archs: list, y: np.ndarray) -> tuple[float, float]:
    """(summed log predictive density, Kendall tau) of a member's predictions of support values from fits that never
    saw them (the std calibration's folds)."""
    mean, std = np.empty(len(y)), np.empty(len(y))
    for held in calibration_folds(seed, len(y)):
        train = np.setdiff1d(np.arange(len(y)), held)
        fit = MetaGNNPredictor(ck, sources=d.sources, task=target, seed=seed, calibrate=False)
        fit.fit([archs[i] for i in train], y[train])
        mean[held], std[held] = fit.predict([archs[i] for i in held], return_std=True)
    return float(norm.logpdf(y, mean, np.maximum(std, 1e-12)).sum()), kendall_tau(y, mean)


def combined(members, d, target: str, seed: int, s_archs, y_sup, q_archs) -> tuple[dict[str, np.ndarray], float]:
    """(name -> query prediction of every combination and member, the largest pseudo-BMA weight)."""
    preds, density, taus = [], [], []
    for ck in members:
        p = MetaGNNPredictor(ck, sources=d.sources, task=target, seed=seed).fit(s_archs, y_sup)
        preds.append(p.predict(q_archs))
        lpd, tau = held_out(ck, d, target, seed, s_archs, y_sup)
        density.append(lpd)
        taus.append(tau if np.isfinite(tau) else -np.inf)
    stacked, density = np.array(preds), np.array(density)
    w = np.exp(density - density.max())
    w /= w.sum()
    out = {
        "equal": stacked.mean(0),
        "pseudo-bma": w @ stacked,
        "best-density": stacked[int(np.argmax(density))],
        "best-held-out-tau": stacked[int(np.argmax(taus))],
    }
    out.update({f"member {i}": pred for i, pred in enumerate(preds)})
    return out, float(w.max())


def main(argv=None) -> int:
    args = validation_args(__doc__.splitlines()[0], "predictor_member_weights", argv)
    rows, log = [], []
    for bench, target, metric in TARGETS:
        table = load_benchmark(bench)
        d = target_data(table, bench, target, metric)
        members = [logged_checkpoint(table, bench, target, metric, d, s, args.cache, log) for s in args.meta_seeds]
        for k, seed, sup, qry in grid_splits(table, d, args.seeds):
            s_a, q_a = [d.archs[i] for i in sup], [d.archs[i] for i in qry]
            preds, w_max = combined(members, d, target, seed, s_a, d.y[sup], q_a)
            key = {"benchmark": bench, "target": target, "k": k, "seed": seed, "largest_weight": w_max}
            rows += [{**key, "part": n, "kendall_tau": kendall_tau(d.y[qry], p)} for n, p in preds.items()]
    df = pd.DataFrame(rows)
    write(df, report(df, args, log), args.dest, "predictor_member_weights")
    return 0


def report(df: pd.DataFrame, args, log: list[str]) -> str:
    order = list(dict.fromkeys(df["part"]))
    lines = [
        "# The default ensemble's members weighted by the support's held-out evidence (validation targets)",
        "",
        cases_sentence("predictor_member_weights", args) + ", Kendall tau on every other architecture (mean over "
        f"{args.seeds} support seeds); the members are combined per support (see the script's docstring).",
        "",
    ]
    for (bench, target), g in df.groupby(["benchmark", "target"], sort=False):
        tau = part_means(g, "kendall_tau", order)
        tau["largest pseudo-BMA weight"] = g.groupby("k")["largest_weight"].mean()
        lines += [f"## {bench} {target}: Kendall tau", "", tau.round(3).to_markdown(), ""]
    diff = df.pivot_table(index=["benchmark", "target", "k", "seed"], columns="part", values="kendall_tau")
    diff = diff[order].sub(diff["equal"], axis=0).groupby("benchmark").mean()
    lines += [
        "## Mean difference from `equal` (the default) over targets, K and seeds",
        "",
        diff.drop(columns="equal").round(4).to_markdown(),
        "",
    ]
    lines += log_section(log)
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
