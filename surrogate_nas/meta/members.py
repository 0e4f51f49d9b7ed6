"""An adapted predictor without a GP head: the network's predictions under the adapted weights, and the bootstrap
members (adaptations on resamples of the support) whose spread is its std and covariance.

Functions of a fitted :class:`~surrogate_nas.meta.adapt.MetaGNNPredictor`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from ..errors import DataError
from ..predictors.gnn import graph_inputs
from .predict_inputs import PredictInputs

if TYPE_CHECKING:
    from .adapt import MetaGNNPredictor

__all__ = ["bootstrap", "covariance", "outputs"]


def bootstrap(predictor: MetaGNNPredictor) -> list[tuple[dict, torch.Tensor]]:
    """``n_members`` adaptations, each on a bootstrap resample of the support (with its own source correlations).

    Resamples are drawn with a seeded ``numpy.random.Generator`` (``choice`` with replacement, as
    ``sklearn.utils.resample`` does): importing scikit-learn would add ~1.3 s to every cold ``predict``.
    """
    from tqdm.auto import tqdm

    archs, z, src = predictor.support_
    rng = np.random.default_rng(predictor.seed + 1)
    members = []
    bar = tqdm(range(predictor.n_members), desc="bootstrap members", disable=predictor._quiet(), leave=False, delay=2)
    for _ in bar:
        for _ in range(20):
            idx = rng.choice(len(archs), size=len(archs), replace=True)
            if np.ptp(z[idx]) > 0:
                corr = predictor._corr(src[idx], z[idx])
                inputs = graph_inputs(predictor.space_, [archs[i] for i in idx], src[idx], predictor.device)
                members.append((predictor._adapt(inputs, z[idx], corr, predictor.steps_)[-1], corr))
                break
    return members


def outputs(predictor: MetaGNNPredictor, inputs: PredictInputs, with_members: bool) -> np.ndarray:
    """[1 + members, n] predictions (target units) of the adapted network at ``inputs.archs``, then
    (``with_members``) of each bootstrap member (adapted on first use)."""
    archs = inputs.archs
    if with_members and predictor.members_ is None:
        predictor.members_ = bootstrap(predictor)
    cached = predictor._cached()  # the weights are the checkpoint's: read from the module, not gathered
    models = [(None if cached else predictor.params_, predictor.corr_)]
    models += list(predictor.members_ or []) if with_members else []
    out = np.empty((len(models), len(archs)))
    if cached:  # members adapt with the same (zero) steps: the checkpoint's own weights too
        rows, src, model, batch = predictor._pooled(inputs), inputs.src, predictor.ckpt_.model, predictor.BATCH
        with torch.no_grad():
            for i in range(0, len(archs), batch):
                g = rows[i : i + batch]
                s = torch.as_tensor(src[i : i + batch], dtype=torch.float32, device=predictor.device)
                for j, (_, corr) in enumerate(models):
                    out[j, i : i + len(g)] = model.readout(g, s, corr, len(g)).cpu().numpy()
    else:
        i = 0
        for b in inputs.batches():
            for j, (params, corr) in enumerate(models):
                out[j, i : i + b[3]] = predictor._forward(params, b, corr)
            i += b[3]
    out = predictor._to_y(out)
    bad = np.flatnonzero(~np.isfinite(out).all(0))
    if len(bad):
        raise DataError(
            f"the adapted model predicts a non-finite value for {len(bad)} of {len(archs)} "
            f"architectures (first: {predictor.space_.format(archs[bad[0]])!r}); try fewer inner steps "
            "or a smaller inner learning rate"
        )
    return out


def covariance(predictor: MetaGNNPredictor, inputs: PredictInputs) -> tuple[np.ndarray, np.ndarray]:
    """(mean [n], cov [n, n]): the adapted network's predictions and the covariance (1/M) of the bootstrap
    members' predictions (zeros without members)."""
    out = outputs(predictor, inputs, True)
    d = out[1:] - out[1:].mean(0) if len(out) > 1 else np.zeros((1, len(inputs.archs)))
    return out[0], d.T @ d / len(d)
