"""Why the default's GP update costs NB-201 ranking, and a rank-preserving residual that does not (validation targets).

The default conditions its GP on the support's residuals ``z - m`` (``z`` the support's scaled values, ``m`` the
network's prediction). On NB-201 most of that residual is a *monotone warp* of ``m``: the network's scale is not
the support's (the bottom architectures are far below what a rank prior says, the top ones above it), a shape the
GP fits in value (its posterior mean correlates with the true query residual) while it costs ranking, because an
RBF fit of a monotone warp is not monotone in ``m``. This script measures that and one remedy, on the validation
targets only (NB-201 cifar100; NAS-Bench-Graph cora, photo), one default-settings checkpoint per target and meta
seed (``predictor_prior_decomposition.checkpoint``), the predictor-quality grid's support splits, 5 support seeds:

* ``default``: the adapted default member (meta-dkt);
* ``network``: ``m`` alone (no GP); ``source-transfer``: the zero-shot source rank;
* ``rank-warp``: the GP conditioned on ``m_(r(i)) - m_i`` instead, ``m_(j)`` the support's network predictions
  sorted and ``r(i)`` the rank of support value ``i``: the residual keeps only where the support *orders* the
  architectures differently from the network (zero where they agree), not the warp;
* ``rank-warp 0.5``: the GP on the mean of the two residuals;
* ``rank-warp rho``: the two mixed by the support's Spearman correlation of ``m`` with the values (at least 0): the
  warp trusted as far as the network ranks the support.

A ranking measure only: the warped predictions are in the network's scale, not the target's (no std, no values).
Also printed: the median correlation of the default's GP mean with the true query residual ``z - m``.

    python experiments/predictor_rank_warp.py --meta-seeds 0,1,2 --cache runs/prior-ckpts --dest experiments/results
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from predictor_prior_decomposition import validation_args, validation_cases, write
from scipy.stats import rankdata, spearmanr

from surrogate_nas.meta import gp_head
from surrogate_nas.meta.adapt import MetaGNNPredictor
from surrogate_nas.meta.deep_kernel import condition, make_gp, posterior, rank_residual
from surrogate_nas.meta.predict_inputs import PredictInputs
from surrogate_nas.predictors import make_predictor
from surrogate_nas.predictors.metrics import kendall_tau

#: the share of the rank residual in the GP's residual; "rho": the support's Spearman correlation of the network's
#: predictions with the values (clipped at 0), i.e. the warp is trusted as far as the network ranks the support
MIXES: dict[str, float | str] = {"rank-warp": 1.0, "rank-warp 0.5": 0.5, "rank-warp rho": "rho"}


def scored(ck, d, target: str, s_archs, y_sup, q_archs, y_query, seed: int) -> tuple[dict[str, float], float]:
    """(part -> Kendall tau on the query, correlation of the default's GP mean with the true query residual)."""
    st = make_predictor("source-transfer", space=ck.space, sources=d.sources).fit(s_archs, y_sup)
    p = MetaGNNPredictor(ck, sources=d.sources, task=target, seed=seed).fit(s_archs, y_sup)
    taus = {
        "source-transfer": kendall_tau(y_query, st.predict(q_archs)),
        "default": kendall_tau(y_query, p.predict(q_archs)),
    }
    e_s, r_s = p.gp_.train_inputs[0], p.gp_.train_targets
    m_q, e_q = gp_head.embed_all(p, PredictInputs(p, q_archs))
    taus["network"] = kendall_tau(y_query, m_q.numpy())
    z_s = torch.as_tensor(p.y_scale_.transform(y_sup) * p.z_scale_ + p.z_shift_, dtype=torch.float32)
    m_s = z_s - r_s  # the network's support predictions: the GP was conditioned on z - m
    order = rankdata(y_sup, method="ordinal")  # ties in the support's own order (the adapt option: the network's)
    rho = max(float(spearmanr(m_s.numpy(), y_sup)[0]), 0.0) if np.ptp(y_sup) > 0 else 0.0
    for name, share in MIXES.items():
        mix = rho if share == "rho" else float(share)
        gp = make_gp(e_s.shape[1], ck.meta["kernel"], ck.gp)
        condition(gp, e_s, rank_residual(m_s, r_s, mix, order)[0])
        taus[name] = kendall_tau(y_query, (m_q + posterior(gp, e_q, noise=False)[0]).numpy())
    z_q = p.y_scale_.transform(y_query) * p.z_scale_ + p.z_shift_
    mu = posterior(p.gp_, e_q, noise=False)[0].numpy()
    return taus, float(np.corrcoef(mu, z_q - m_q.numpy())[0, 1])


def main(argv=None) -> int:
    args = validation_args(__doc__.splitlines()[0], "predictor_rank_warp", argv)
    rows: list[dict] = []
    for key, ck, d, sup, qry in validation_cases(args, []):
        s_a, q_a = [d.archs[i] for i in sup], [d.archs[i] for i in qry]
        taus, corr = scored(ck, d, key["target"], s_a, d.y[sup], q_a, d.y[qry], key["seed"])
        rows += [{**key, "part": n, "kendall_tau": t} for n, t in taus.items()]
        rows.append({**key, "part": "corr(GP mean, residual)", "kendall_tau": np.nan, "corr": corr})
    df = pd.DataFrame(rows)
    write(df, report(df, args), args.dest, "predictor_rank_warp")
    return 0


def report(df: pd.DataFrame, args) -> str:
    taus = df[df.part != "corr(GP mean, residual)"]
    order = ["source-transfer", "network", "default", *MIXES]
    table = taus.pivot_table(index=["target", "k"], columns="part", values="kendall_tau", aggfunc="mean")[order]
    corr = df.dropna(subset=["corr"]).groupby(["target", "k"])["corr"].median().unstack("k")
    return "\n\n".join(
        [
            "# The GP's residual kept to ranking (validation targets)",
            f"Mean Kendall tau over {args.seeds} support seeds x meta seeds {','.join(map(str, args.meta_seeds))} "
            "(`python experiments/predictor_rank_warp.py`; the parts: its docstring).",
            table.round(3).to_markdown(),
            "Median correlation of the default's GP posterior mean with the true query residual `z - m`, by K:",
            corr.round(2).to_markdown(),
        ]
    )


if __name__ == "__main__":
    raise SystemExit(main())
