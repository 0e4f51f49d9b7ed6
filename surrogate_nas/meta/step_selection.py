"""``inner_steps="cv"``: the number of inner steps chosen by K-fold cross-validation on the support set."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..benchmarks.ranks import spearman
from ..predictors.gnn import graph_inputs
from ..predictors.support import scale_targets

if TYPE_CHECKING:
    from .adapt import MetaGNNPredictor

__all__ = ["STEP_CHOICES", "select_steps"]

#: Inner-step counts ``inner_steps="cv"`` chooses from.
STEP_CHOICES = (0, 1, 2, 3, 5, 8, 12, 20)


def select_steps(predictor: MetaGNNPredictor, archs: list, z: np.ndarray, src: np.ndarray) -> int:
    """The entry of :data:`STEP_CHOICES` whose adaptations rank the held-out folds of the support best (out-of-fold
    Spearman over ``z``, the support's values on the network's scale). Each fold is adapted as ``predictor`` adapts
    a support: its own target scale, source correlations (the held-out values stay out of its inputs) and
    anchoring."""
    from sklearn.model_selection import KFold
    from tqdm.auto import tqdm

    n = len(archs)
    preds = np.zeros((len(STEP_CHOICES), n))
    kfold = KFold(n_splits=min(5, n // 2), shuffle=True, random_state=predictor.seed)
    folds = tqdm(
        kfold.split(np.arange(n)),
        total=kfold.get_n_splits(),
        desc="inner steps by CV",
        disable=predictor._quiet(),
        leave=False,
        delay=2,
    )
    space, device = predictor.space_, predictor.device
    for train, held in folds:
        zt = z[train]
        if np.ptp(zt) == 0:
            continue
        zt = scale_targets(zt, "inner-step CV fold").transform(zt)
        corr = predictor._corr(src[train], zt)  # the held-out fold's values stay out of its inputs
        t_archs = [archs[i] for i in train]
        if predictor.targets == "anchored":
            shift, scale = predictor._anchor(t_archs, src[train], corr)
            zt = zt * scale + shift
        inputs = graph_inputs(space, t_archs, src[train], device)
        states = predictor._adapt(inputs, zt, corr, max(STEP_CHOICES), keep=STEP_CHOICES)
        h_inputs = graph_inputs(space, [archs[i] for i in held], src[held], device)
        for j, params in enumerate(states):
            preds[j, held] = predictor._forward(params, h_inputs, corr)
    scores = [spearman(p, z) if np.ptp(p) > 0 else -1.0 for p in preds]
    scores = np.nan_to_num(np.asarray(scores, dtype=float), nan=-1.0)
    return int(STEP_CHOICES[int(np.argmax(scores))])
