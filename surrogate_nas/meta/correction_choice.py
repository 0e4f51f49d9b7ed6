"""``correction_weight="cv"`` (or ``"cv-top"``): the weight of a deep-kernel network's correction beyond its warp of
the transfer prior, chosen by the support itself (how well fits that never saw a point rank it; ``"cv-top"``: rank
its best points); ``"prior-fit"``: set by how well the zero-shot source rank ranks the support."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..predictors.metrics import kendall_tau, spearman_rho, weighted_tau
from .calibration import calibration_folds, fold_outputs

if TYPE_CHECKING:
    from .adapt import MetaGNNPredictor

__all__ = [
    "CHOICE_SCORES",
    "CORRECTION_CHOICES",
    "CORRECTION_RULES",
    "PRIOR_FIT_RANGE",
    "CorrectionChoice",
    "choose_correction",
    "held_out_choice",
    "prior_fit_weight",
]

#: The weights ``correction_weight="cv"`` (and ``"cv-top"``) choose from, in order of preference on a tie: the
#: default's before ``"prior-fit"`` (:data:`~surrogate_nas.meta.defaults.DEFAULT_CORRECTION_WEIGHT`), then more of the
#: network's correction.
CORRECTION_CHOICES = (0.25, 0.5, 1.0)
#: How a choice scores the out-of-fold means of the support's values (both oriented so that higher is better):
#: ``"cv"``, Kendall tau; ``"cv-top"``, the weighted tau (hyperbolic weights on the ranks of the values and of the
#: means, averaged: a swap among the best points costs most; :func:`~surrogate_nas.predictors.metrics.weighted_tau`).
CHOICE_SCORES = {"cv": kendall_tau, "cv-top": weighted_tau}
#: ``correction_weight="prior-fit"``'s bounds: the weight is ``1 - rho`` clipped to them, ``rho`` the support's
#: Spearman correlation with the zero-shot source rank (:func:`prior_fit_weight`): the two fixed weights the default
#: had before (:data:`~surrogate_nas.meta.defaults.DEFAULT_CORRECTION_WEIGHT`).
PRIOR_FIT_RANGE = (0.25, 0.5)
#: The ``correction_weight`` values that are rules a support applies rather than weights.
CORRECTION_RULES = (*CHOICE_SCORES, "prior-fit")


@dataclass(frozen=True)
class CorrectionChoice:
    """The weight a support chose, and what it was chosen on: the held-out parts (``folds``) and, per entry of
    :data:`CORRECTION_CHOICES`, per fold, the (mean, std) of a fit without that part (None where it failed:
    :func:`~surrogate_nas.meta.calibration.fold_outputs`)."""

    weight: float
    folds: list
    outputs: list
    score: str = "cv"
    sign: float = 1.0  # the support values' orientation: higher is better after multiplying by it


def choose_correction(
    predictor: MetaGNNPredictor, archs: list, y: np.ndarray, src, score: str = "cv"
) -> CorrectionChoice:
    """The entry of :data:`CORRECTION_CHOICES` whose fold fits (each fold's own target scale, source correlations and
    warp of the transfer prior: the calibration folds, :func:`~surrogate_nas.meta.calibration.calibration_folds`)
    rank the held-out support points best (``score`` of :data:`CHOICE_SCORES` of their out-of-fold means against
    ``y``; a tie, or a support too small to score, keeps the earlier entry)."""
    folds = calibration_folds(predictor.seed, len(archs))
    outputs = fold_outputs(predictor, archs, y, src, folds, CORRECTION_CHOICES)
    sign = 1.0 if predictor.values_up() else -1.0
    best = _best(folds, outputs, y, sign, score, skip=None)
    return CorrectionChoice(CORRECTION_CHOICES[best], folds, outputs, score, sign)


def held_out_choice(choice: CorrectionChoice, y: np.ndarray) -> list:
    """Per fold of ``choice``, the output of the weight chosen without that fold (:func:`choose_correction`'s rule on
    the other folds' points), so that a calibration from these outputs reads no point's value twice: neither its fit
    nor its weight saw it."""
    folds, outputs = choice.folds, choice.outputs
    return [outputs[_best(folds, outputs, y, choice.sign, choice.score, skip=f)][f] for f in range(len(folds))]


def _best(folds: list, outputs: list, y: np.ndarray, sign: float, score: str, skip: int | None) -> int:
    """The index of the weight whose out-of-fold means (``outputs``, per weight per fold of ``folds``) rank ``y`` best
    by ``score`` (:data:`CHOICE_SCORES`; both times ``sign``, so that higher is better) over the folds every weight
    fitted (but ``skip``); 0 where fewer than 3 points are scored or no score is finite."""
    usable = [f for f in range(len(folds)) if f != skip and all(out[f] is not None for out in outputs)]
    if sum(len(folds[f]) for f in usable) < 3:
        return 0
    idx = np.concatenate([folds[f] for f in usable])
    scorer = CHOICE_SCORES[score]
    taus = [scorer(sign * y[idx], sign * np.concatenate([out[f][0] for f in usable])) for out in outputs]
    taus = np.nan_to_num(np.asarray(taus, dtype=float), nan=-np.inf)
    return int(np.argmax(taus)) if np.isfinite(taus).any() else 0


def prior_fit_weight(predictor: MetaGNNPredictor, src: np.ndarray, y: np.ndarray) -> float:
    """``correction_weight="prior-fit"``'s weight for a support with input columns ``src`` and values ``y``:
    ``1 - rho`` clipped to :data:`PRIOR_FIT_RANGE`, ``rho`` the Spearman correlation of ``y`` with the zero-shot source
    rank oriented as the values run (the mean rank over the source columns, no support weighing them:
    :meth:`~surrogate_nas.meta.adapt.MetaGNNPredictor.zero_shot_scores`, so ``rho`` is not inflated by a choice of
    columns on the same points). Where the prior already ranks the support, the network keeps little of its
    correction beyond the prior's warp; where it does not, more. The lower bound where ``rho`` is undefined (fewer
    than 3 points, a constant column)."""
    lo, hi = PRIOR_FIT_RANGE
    prior = predictor.zero_shot_scores(src)  # oriented as the values run
    if len(y) < 3 or np.ptp(prior) == 0 or np.ptp(y) == 0:
        return lo
    rho = spearman_rho(prior, np.asarray(y, dtype=float))
    return float(np.clip(1.0 - rho, lo, hi)) if np.isfinite(rho) else lo
