"""Calibration of a GP head's std from points the fit never saw (leave-one-out, or K-fold on large supports)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DataError
from .predict_inputs import PredictInputs

if TYPE_CHECKING:
    from .adapt import MetaGNNPredictor

__all__ = ["CALIBRATION_FOLDS", "LOO_MAX", "STD_FACTOR_RANGE", "held_out_std_factor"]

#: Supports up to this size are calibrated leave-one-out; larger ones by :data:`CALIBRATION_FOLDS`-fold.
LOO_MAX = 20
CALIBRATION_FOLDS = 10
#: Bounds of the held-out std calibration factor.
STD_FACTOR_RANGE = (0.25, 20.0)


def held_out_std_factor(predictor: MetaGNNPredictor, archs: list, y: np.ndarray, src: np.ndarray) -> float:
    """The std calibration factor of ``predictor`` (being fitted on the support ``archs``, ``y``, input columns
    ``src``) from points the fit never saw: the RMS of ``(y_i - mean_i) / std_i`` where ``mean_i``, ``std_i``
    (predictive, noise included) come from a fit on the support without point ``i`` -- target scale, source
    correlations, anchoring, adapted weights and GP all recomputed without it. Leave-one-out up to :data:`LOO_MAX`
    points, :data:`CALIBRATION_FOLDS`-fold (shuffled with the predictor's ``seed``) above; clipped to
    :data:`STD_FACTOR_RANGE`; 1.0 below 3 points."""
    n = len(archs)
    if n < 3:
        return 1.0
    if n <= LOO_MAX:
        folds = [np.array([i]) for i in range(n)]
    else:
        perm = np.random.default_rng([predictor.seed, n]).permutation(n)
        folds = np.array_split(perm, CALIBRATION_FOLDS)
    z = []
    fold_fit = copy.copy(predictor)  # refitted on parts of the support: its fitted state is its own
    fold_fit.calibrate = False
    for held in folds:
        train = np.setdiff1d(np.arange(n), held)
        if np.ptp(y[train]) == 0:
            continue
        try:
            fold_fit._fit_support([archs[i] for i in train], y[train], src[train])
            mean, std = fold_fit._predict(
                [archs[i] for i in held], True, PredictInputs(fold_fit, [archs[i] for i in held], src[held])
            )
        except DataError:
            continue
        z.extend((y[held] - mean) / np.maximum(std, 1e-12))
    if not z:
        return 1.0
    f = float(np.sqrt(np.mean(np.square(z))))
    lo, hi = STD_FACTOR_RANGE
    return min(max(f, lo), hi) if np.isfinite(f) else 1.0
