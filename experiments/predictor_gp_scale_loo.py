"""The GP's signal scale chosen by the support's leave-one-out likelihood: does it tell NB-201 from NAS-Bench-Graph?

The decomposition (experiments/results/predictor_prior_decomposition.md) found that NB-201 wants a much smaller GP
update than NAS-Bench-Graph, and that the support's marginal likelihood (type-II ML) does not tell them apart. This
script tries the support's *leave-one-out* predictive likelihood instead, which is known to be more robust to a
misspecified GP than the marginal likelihood (Sundararajan & Keerthi 2001): for the adapted default member
(meta-dkt, one checkpoint per target and meta seed), the GP's outputscale is multiplied by each ``a`` in
:data:`SCALES`, the closed-form LOO log predictive density of the support residuals is computed for each
(``mu_i = r_i - [K^-1 r]_i / [K^-1]_ii``, ``var_i = 1 / [K^-1]_ii``, ``K`` the support's covariance with noise), and
the best ``a`` is used (``loo``). Each fixed ``a`` is scored too (what an oracle choice would get). Validation targets
only (NB-201 cifar100; NAS-Bench-Graph cora, photo), the predictor-quality grid's support splits, 5 support seeds.

    python experiments/predictor_gp_scale_loo.py --meta-seeds 0,1,2 --cache DIR --dest experiments/results

``--cache DIR``: checkpoints as ``predictor_prior_decomposition.py`` names them (``nb201-cifar100-seed0``, ...;
meta-trained there when absent).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from predictor_prior_decomposition import validation_args, validation_cases, write

from surrogate_nas.meta.adapt import MetaGNNPredictor
from surrogate_nas.meta.deep_kernel import condition, scaled_signal
from surrogate_nas.predictors.metrics import kendall_tau

#: Multipliers of the GP's meta-learned outputscale the support chooses among (1: the default).
SCALES = (0.03, 0.1, 0.3, 1.0, 3.0)


def loo_log_density(gp, scale: float) -> float:
    """Sum over the support of the log LOO predictive density of its residuals with the GP's outputscale x ``scale``."""
    x, r = gp.train_inputs[0], gp.train_targets.double()
    with torch.no_grad():
        k = gp.covar_module(x).to_dense().double() * scale
        k = k + float(gp.likelihood.noise) * torch.eye(len(r), dtype=torch.float64)
        inv = torch.linalg.inv(k)
        d = torch.diagonal(inv)
        mu, var = r - (inv @ r) / d, 1.0 / d
        return float((-0.5 * torch.log(2 * np.pi * var) - 0.5 * (r - mu) ** 2 / var).sum())


def scaled_predictions(p: MetaGNNPredictor, archs, scales) -> list[np.ndarray]:
    """The fitted ``p``'s predictions at ``archs`` with its GP's signal variance times each of ``scales``, the GP
    conditioned again on the same support residuals for each; the GP is left as fitted."""
    gp, out = p.gp_, []
    for a in scales:
        with scaled_signal(gp, a):
            condition(gp, gp.train_inputs[0], gp.train_targets)
            out.append(p.predict(archs))
    condition(gp, gp.train_inputs[0], gp.train_targets)
    return out


def scored(ck, d, target: str, s_archs, y_sup, q_archs, y_query, seed: int) -> dict:
    """Kendall tau of the default, of the LOO-chosen scale and of every fixed scale; the chosen scale."""
    p = MetaGNNPredictor(ck, sources=d.sources, task=target, seed=seed, calibrate=False).fit(s_archs, y_sup)
    gp = p.gp_
    density = {a: loo_log_density(gp, a) for a in SCALES}
    chosen = max(density, key=density.__getitem__)
    preds = scaled_predictions(p, q_archs, SCALES)
    taus = {f"x{a:g}": kendall_tau(y_query, pred) for a, pred in zip(SCALES, preds)}
    return {"default": taus["x1"], "loo": taus[f"x{chosen:g}"], **taus, "chosen": chosen}


def main(argv=None) -> int:
    args = validation_args(__doc__.splitlines()[0], "predictor_gp_scale_loo", argv)
    rows, log = [], []
    for key, ck, d, sup, qry in validation_cases(args, log):
        s_a, q_a = [d.archs[i] for i in sup], [d.archs[i] for i in qry]
        rows.append({**key, **scored(ck, d, key["target"], s_a, d.y[sup], q_a, d.y[qry], key["seed"])})
    df = pd.DataFrame(rows)
    write(df, report(df, args, log), args.dest, "predictor_gp_scale_loo")
    return 0


def report(df: pd.DataFrame, args, log: list[str]) -> str:
    cols = ["default", "loo", *[f"x{a:g}" for a in SCALES]]
    tau = df.groupby(["target", "k"])[cols].mean()
    chosen = df.groupby(["target", "k"]).chosen.agg(["median", "mean"])
    lines = [
        "# The GP's signal scale chosen by leave-one-out (validation targets)",
        "",
        f"`python experiments/predictor_gp_scale_loo.py --seeds {args.seeds} --meta-seeds "
        f"{','.join(map(str, args.meta_seeds))}`: the adapted default member per target and meta seed, the grid's "
        f"support splits; `loo`: the outputscale multiplier in {SCALES} with the best leave-one-out log predictive "
        "density of the support residuals; `xA`: the multiplier A for every support (`x1` is the default). Mean "
        f"Kendall tau over the meta seeds and {args.seeds} support seeds.",
        "",
        tau.round(4).to_markdown(),
        "",
        "## The chosen multiplier",
        "",
        chosen.round(3).to_markdown(),
        "",
        *[f"- {line}" for line in log],
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
