"""Where the default meta-predictor loses the top of the ranking: its prediction taken apart, on the validation targets.

On NB-201 the default ranks the true top 5% below its own zero-shot prior while its overall Kendall tau is within
0.01 of it (experiments/results/predictor_quality.md). This script scores each part of the default's prediction
(``transfer prior + learned correction + GP posterior``) on the overall ranking *and* on its top, on the same support
splits as the predictor-quality grid, on the validation targets only (NB-201 cifar100; NAS-Bench-Graph cora, photo),
one deep-kernel checkpoint per target and meta seed (the default's settings, 400 iterations):

* ``source-transfer``: the zero-shot mean source rank;
* ``prior only``: the network's transfer prior (the support-correlation-weighted source rank) -- no GP;
* ``network``: the prior plus the network's learned correction -- no GP (the GP's mean);
* ``default``: the GP conditioned on the support's residuals from the network (meta-dkt, one member);
* ``weight W``: the adapt option ``correction_weight = W`` -- the GP's mean keeps the network's monotone warp of its
  prior and ``W`` times the rest of its correction.

And the correction itself (``network - prior only``) against the truth: its Kendall tau with the values and with their
rank residual from the prior (``rank(values) - rank(prior)``, what a ranking needs beyond the prior), over all the
query and within the true top 5%.

    python experiments/predictor_top_decomposition.py --meta-seeds 0,1,2 --cache runs/prior-ckpts \
        --dest experiments/results
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
from predictor_prior_decomposition import (
    cases_sentence,
    log_section,
    part_means,
    validation_args,
    validation_rows,
    write,
)
from scipy.stats import kendalltau, rankdata

from surrogate_nas.meta import gp_head
from surrogate_nas.meta.adapt import MetaGNNPredictor
from surrogate_nas.meta.predict_inputs import PredictInputs
from surrogate_nas.predictors import make_predictor
from surrogate_nas.predictors.metrics import kendall_tau, kendall_tau_top, precision_at

WEIGHTS = (0.5, 0.0)
METRICS = {"kendall_tau": kendall_tau, "tau_top5": kendall_tau_top, "precision_at_1pct": precision_at}


def parts(ck, d, s_archs, y_sup, q_archs, target: str, seed: int) -> dict[str, np.ndarray]:
    """name -> prediction on the query of every part."""
    transfer = make_predictor("source-transfer", space=ck.space, sources=d.sources)
    out = {"source-transfer": transfer.fit(s_archs, y_sup).predict(q_archs)}

    def fitted(weight=None):
        p = MetaGNNPredictor(ck, sources=d.sources, task=target, seed=seed, calibrate=False, correction_weight=weight)
        return p.fit(s_archs, y_sup)

    default = fitted()
    net, prior = gp_head.network_and_prior(default, PredictInputs(default, q_archs))
    out["prior only"], out["network"] = prior, net
    out["default"] = default.predict(q_archs)
    for w in WEIGHTS:
        out[f"weight {w:g}"] = fitted(w).predict(q_archs)
    return out


def anatomy(y: np.ndarray, prior: np.ndarray, network: np.ndarray) -> dict[str, float]:
    """Kendall tau of the correction (``network - prior``) with the values and with their rank residual from the prior,
    over the query and within its true top 5%."""
    corr, top = network - prior, y >= np.quantile(y, 0.95)
    residual = rankdata(y) - rankdata(prior)
    top_residual = rankdata(y[top]) - rankdata(prior[top])
    return {
        "correction ~ values": kendalltau(corr, y)[0],
        "correction ~ rank residual": kendalltau(corr, residual)[0],
        "top 5%: correction ~ values": kendalltau(corr[top], y[top])[0],
        "top 5%: correction ~ rank residual": kendalltau(corr[top], top_residual)[0],
    }


def score(key: dict, ck, d, s_archs, y_sup, q_archs, yq) -> list[dict]:
    """One case's rows: each part's ranking metrics, and the correction's anatomy."""
    preds = parts(ck, d, s_archs, y_sup, q_archs, key["target"], key["seed"])
    rows = [{**key, "part": name, **{m: f(yq, pred) for m, f in METRICS.items()}} for name, pred in preds.items()]
    return rows + [{**key, "part": "(correction)", **anatomy(yq, preds["prior only"], preds["network"])}]


def main(argv=None) -> int:
    args = validation_args(__doc__.splitlines()[0], "predictor_top_decomposition", argv)
    log: list[str] = []
    df = validation_rows(args, log, score)
    write(df, report(df, args, log), args.dest, "predictor_top_decomposition")
    return 0


def report(df: pd.DataFrame, args, log: list[str]) -> str:
    parts_df = df[df["part"] != "(correction)"]
    order = list(dict.fromkeys(parts_df["part"]))
    lines = [
        "# The default meta-predictor's top taken apart (validation targets)",
        "",
        cases_sentence("predictor_top_decomposition", args)
        + f"; means over the meta seeds and {args.seeds} support seeds. Validation targets only.",
        "",
    ]
    titles = {
        "kendall_tau": "Kendall tau",
        "tau_top5": "Kendall tau within the true top 5%",
        "precision_at_1pct": "precision@1%",
    }
    for (bench, target), g in parts_df.groupby(["benchmark", "target"], sort=False):
        for metric, title in titles.items():
            t = part_means(g, metric, order)
            lines += [f"## {bench} {target}: {title}", "", t.round(3).to_markdown(), ""]
    cols = [c for c in df.columns if c.startswith(("correction", "top 5%"))]
    anat = df[df["part"] == "(correction)"].groupby(["benchmark", "target", "k"])[cols].mean()
    lines += [
        "## The network's learned correction against the truth (Kendall tau)",
        "",
        "`correction` = network - prior only; `rank residual` = rank(values) - rank(prior only).",
        "",
        anat.round(3).to_markdown(),
        "",
        *log_section(log),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
