"""Calibration of a GP head's std from points the fit never saw (leave-one-out, or K-fold on large supports)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..errors import DataError
from ..predictors.support import scale_targets
from . import gp_head
from .predict_inputs import PredictInputs

if TYPE_CHECKING:
    from .adapt import MetaGNNPredictor

__all__ = [
    "CALIBRATION_FOLDS",
    "LOO_MAX",
    "STD_FACTOR_RANGE",
    "calibration_folds",
    "fold_outputs",
    "fold_z",
    "held_out_std_factor",
]

#: Supports up to this size are calibrated leave-one-out; larger ones by :data:`CALIBRATION_FOLDS`-fold.
LOO_MAX = 20
CALIBRATION_FOLDS = 10
#: Bounds of the held-out std calibration factor.
STD_FACTOR_RANGE = (0.25, 20.0)


def held_out_std_factor(predictor: MetaGNNPredictor, archs: list, y: np.ndarray, src: np.ndarray) -> float:
    """The std calibration factor of ``predictor`` (being fitted on the support ``archs``, ``y``, input columns
    ``src``) from points the fit never saw: the RMS of ``(y_i - mean_i) / std_i`` where ``mean_i``, ``std_i``
    (predictive, noise included) come from a fit on the support without point ``i`` -- target scale, source
    correlations, anchoring, adapted weights and GP all recomputed without it; where the correction weight is chosen
    on the support (``correction_weight="cv"``, ``"cv-top"``), the weight chosen without point ``i``'s fold
    (:func:`~surrogate_nas.meta.correction_choice.held_out_choice`). Leave-one-out up to :data:`LOO_MAX`
    points, :data:`CALIBRATION_FOLDS`-fold (shuffled with the predictor's ``seed``) above
    (:func:`calibration_folds`); clipped to :data:`STD_FACTOR_RANGE`; 1.0 below 3 points."""
    n = len(archs)
    if n < 3:
        return 1.0
    choice = predictor.correction_choice_
    if choice is not None:
        from .correction_choice import held_out_choice

        folds, outputs = choice.folds, held_out_choice(choice, y)
    else:
        folds = calibration_folds(predictor.seed, n)
        outputs = fold_outputs(predictor, archs, y, src, folds)[0]
    z = fold_z(folds, outputs, y)
    if not len(z):
        return 1.0
    f = float(np.sqrt(np.mean(np.square(z))))
    lo, hi = STD_FACTOR_RANGE
    return min(max(f, lo), hi) if np.isfinite(f) else 1.0


def calibration_folds(seed: int, n: int) -> list[np.ndarray]:
    """The held-out parts of a support of ``n`` points: each point alone up to :data:`LOO_MAX` points, else
    :data:`CALIBRATION_FOLDS` parts of a permutation seeded by (``seed``, ``n``)."""
    if n <= LOO_MAX:
        return [np.array([i]) for i in range(n)]
    perm = np.random.default_rng([seed, n]).permutation(n)
    return np.array_split(perm, CALIBRATION_FOLDS)


def fold_z(folds: list, outputs: list, y: np.ndarray) -> np.ndarray:
    """The held-out z-scores ``(y_i - mean_i) / std_i`` of one weight's :func:`fold_outputs` (folds whose fit
    failed give none)."""
    z = [(y[held] - out[0]) / np.maximum(out[1], 1e-12) for held, out in zip(folds, outputs) if out is not None]
    return np.concatenate(z) if z else np.zeros(0)


def fold_outputs(
    predictor: MetaGNNPredictor, archs: list, y: np.ndarray, src: np.ndarray, folds: list, weights: tuple = (None,)
) -> list[list]:
    """Per entry of ``weights``, per fold of ``folds``: (mean, std) of the fold's points, target units, from a fit on
    the support without them (None where that fit fails: a constant training part, a non-finite prediction), with
    that weight of the network's correction beyond its warp of the transfer prior (None: the predictor's own setting,
    :meth:`~surrogate_nas.meta.adapt.MetaGNNPredictor.correction_weight_used`).

    Where a fold's fit is conditioning alone (the checkpoint's own weights, support-scaled targets, the checkpoint's
    GP hyper-parameters: the deep-kernel default) the folds are fitted together (:func:`_conditioned_folds`: one
    readout, one batched GP solve per weight, each fold's own warp of the transfer prior: :func:`_fold_warps`);
    otherwise each fold is a full refit (:func:`_refitted_folds`). Both compute the same fold fits (equal up to
    float32 rounding: ``tests/meta/test_calibration.py``)."""
    if (
        predictor._cached()
        and predictor.targets == "support"
        and not predictor.gp_steps
        and len(archs) <= predictor.BATCH
    ):
        return _conditioned_folds(predictor, archs, y, src, folds, weights)
    return [_refitted_folds(predictor, archs, y, src, folds, w) for w in weights]


def _refitted_folds(
    predictor: MetaGNNPredictor, archs: list, y: np.ndarray, src: np.ndarray, folds: list, weight: float | None
) -> list:
    """:func:`fold_outputs` of one weight, each fold fitted by the predictor's own ``_fit_support`` (any options)."""
    n = len(archs)
    out: list = []
    fold_fit = copy.copy(predictor)  # refitted on parts of the support: its fitted state is its own
    fold_fit.calibrate = False
    if weight is not None:
        fold_fit.correction_weight = weight
    for held in folds:
        train = np.setdiff1d(np.arange(n), held)
        if np.ptp(y[train]) == 0:
            out.append(None)
            continue
        try:
            fold_fit._fit_support([archs[i] for i in train], y[train], src[train])
            part = [archs[i] for i in held]
            out.append(fold_fit._predict(part, True, PredictInputs(fold_fit, part, src[held])))
        except DataError:
            out.append(None)
    return out


def _conditioned_folds(
    predictor: MetaGNNPredictor, archs: list, y: np.ndarray, src: np.ndarray, folds: list, weights: tuple
) -> list[list]:
    """:func:`fold_outputs` of fold fits that are conditioning alone, all folds at once: per fold the target scale
    and the source correlations of its training part (numpy); then one readout of the network for every (fold,
    support point) pair with that fold's correlations, and the checkpoint's GP conditioned on all the folds'
    residuals as one batch (folds of one training size together)."""
    n, scale_name = len(archs), predictor.ckpt_.meta.get("target_scale", "zscore")
    fits: list = []  # per fold: (held, train, target scale, correlations), or None
    for held in folds:
        train = np.setdiff1d(np.arange(n), held)
        scale = None
        if np.ptp(y[train]) > 0:
            try:
                scale = scale_targets(y[train], "support set", scale_name, predictor.values_up())
            except DataError:
                pass
        fits.append(
            None if scale is None else (held, train, scale, predictor._corr(src[train], scale.transform(y[train])))
        )
    out: list[list] = [[None] * len(folds) for _ in weights]
    for size in sorted({len(f[1]) for f in fits if f is not None}):
        group = [i for i, f in enumerate(fits) if f is not None and len(f[1]) == size]
        per_weight = _fold_group_outputs(predictor, archs, y, src, [fits[i] for i in group], weights)
        for w, outputs in enumerate(per_weight):
            for i, o in zip(group, outputs):
                out[w][i] = o
    return out


def _fold_group_outputs(
    predictor: MetaGNNPredictor, archs: list, y: np.ndarray, src: np.ndarray, fits: list, weights: tuple
) -> list[list]:
    """Per weight, per fold of ``fits`` (training parts of one size, so held-out parts of one size too): its
    :func:`fold_outputs` entry."""
    from .deep_kernel import condition, posterior

    dev = predictor.device
    corrs = torch.stack([c for *_, c in fits])
    raw, e = _fold_embeddings(predictor, archs, src, corrs)
    warps = None
    folds = torch.arange(len(fits), device=dev)[:, None]
    train = torch.as_tensor(np.stack([t for _, t, _, _ in fits]), device=dev)
    held = torch.as_tensor(np.stack([h for h, _, _, _ in fits]), device=dev)
    gp0 = gp_head.head(predictor, e.shape[-1], train.shape[1])
    result = []
    for weight in weights:
        # each fold's warp weight: ``weight``, or the predictor's own for the fold's training part (None: no warp)
        per_fold = [
            gp_head.warp_weight(predictor, predictor.correction_weight_for(src[t], y[t]) if weight is None else weight)
            for _, t, _, _ in fits
        ]
        m = raw
        if any(w is not None for w in per_fold):
            warps = _fold_warps(predictor, corrs) if warps is None else warps
            m = _warped(predictor, warps, per_fold, raw, e)
        residuals = [
            gp_head.support_residual(predictor, m[f, train[f]], scale.transform(y[t]), scale.orient(y[t]))
            for f, (_, t, scale, _) in enumerate(fits)
        ]
        gp = condition(gp0, e[folds, train], torch.stack([r for r, _ in residuals]))
        mu, sd = posterior(gp, e[folds, held], noise=True)
        outputs = []
        for f, (_, _, scale, _) in enumerate(fits):  # to target units as the fold's own fit would (gp_head.predict)
            fold = _fitted_view(predictor, scale, residuals[f][1])
            mean = fold._to_y((m[f, held[f]] + mu[f]).cpu().numpy().astype(float))
            std = sd[f].cpu().numpy().astype(float) * fold._std_scale()
            ok = np.isfinite(mean).all() and np.isfinite(std).all()
            outputs.append((mean, std) if ok else None)
        result.append(outputs)
    return result


def _fitted_view(predictor: MetaGNNPredictor, scale, value_map: tuple[float, float]) -> MetaGNNPredictor:
    """A copy of ``predictor`` holding what ``_fit_support`` on a fold's training part sets for mapping the GP's
    scale to target units: the fold's target scale and value map, support-scaled targets, no calibration."""
    fold = copy.copy(predictor)
    fold.y_scale_, fold.y_mean_, fold.y_std_ = scale, scale.centre, scale.spread
    fold.z_shift_, fold.z_scale_, fold.value_map_, fold.std_factor_ = 0.0, 1.0, value_map, 1.0
    return fold


def _fold_embeddings(
    predictor: MetaGNNPredictor, archs: list, src: np.ndarray, corrs: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(the network's predictions [F, n], the GP's inputs [F, n, d]) of ``archs`` under each fold's source
    correlations ``corrs`` [F, S], without a warp of the transfer prior: :func:`gp_head.embed_all` of a fold copy
    whose ``corr_`` holds each row's fold correlations (the readout broadcasts them), in chunks of at most ``BATCH``
    rows."""
    n, per_chunk = len(archs), max(1, predictor.BATCH // len(archs))
    fold_view = copy.copy(predictor)
    fold_view.prior_warp_ = None  # the network as it is: each fold's warp is its own (_fold_warps)
    once, ms, es = PredictInputs(fold_view, archs, src), [], []
    for i in range(0, len(corrs), per_chunk):
        c = corrs[i : i + per_chunk]
        fold_view.corr_ = c.repeat_interleave(n, 0)
        m, e = gp_head.embed_all(fold_view, once.tiled(fold_view, len(c)))
        ms.append(m.reshape(len(c), n))
        es.append(e.reshape(len(c), n, -1))
    return torch.cat(ms), torch.cat(es)


def _fold_warps(predictor: MetaGNNPredictor, corrs: torch.Tensor) -> list:
    """Each fold's warp of the transfer prior (a :class:`~surrogate_nas.meta.gp_head.PriorWarp` of weight 1, or None),
    fitted as :func:`gp_head.prior_warp` fits the predictor's, under that fold's correlations ``corrs`` [F, S] (one
    readout of the warp's architectures for all folds)."""
    inputs = gp_head.warp_inputs(predictor)
    wm, we = _fold_embeddings(predictor, inputs.archs, inputs.src, corrs)
    model = predictor.ckpt_.model
    with torch.no_grad():
        priors = [model.transfer_prior(we[f]).cpu().numpy() for f in range(len(corrs))]
    return [gp_head.PriorWarp.fit(priors[f], wm[f].cpu().numpy(), 1.0) for f in range(len(corrs))]


def _warped(predictor: MetaGNNPredictor, warps: list, weights: list, m: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    """The support predictions ``m`` [F, n] (GP inputs ``e``) under each fold's warp of ``warps`` and its weight of
    ``weights`` of the rest of the correction (a fold without a warp or a weight keeps its predictions)."""
    model, out = predictor.ckpt_.model, m.clone()
    with torch.no_grad():
        for f, (warp, weight) in enumerate(zip(warps, weights)):
            if warp is not None and weight is not None:
                out[f] = warp.with_weight(weight).apply(model.transfer_prior(e[f]), m[f])
    return out
