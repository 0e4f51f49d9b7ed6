"""Ranking and calibration metrics for predictors (scipy-based; scipy.stats is imported when a metric is computed,
not by the modules that only import this one: it costs ~0.4 s, a third of a cold `predict`'s own imports)."""

from __future__ import annotations

import numpy as np

from ..benchmarks.ranks import spearman
from ..errors import DataError


def kendall_tau(y_true, y_pred) -> float:
    from scipy import stats

    return float(stats.kendalltau(y_true, y_pred).statistic)


def weighted_tau(y_true, y_pred) -> float:
    """Weighted Kendall tau (scipy's ``weightedtau``: hyperbolic weights on the ranks of ``y_true`` and of ``y_pred``,
    higher first, averaged): a disagreement among the best elements costs more than one among the worst."""
    from scipy import stats

    return float(stats.weightedtau(y_true, y_pred).statistic)


def spearman_rho(y_true, y_pred) -> float:
    return spearman(y_true, y_pred)


def kendall_tau_top(y_true, y_pred, fraction: float = 0.05) -> float:
    """Kendall tau restricted to the true top ``fraction`` of architectures."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    n = max(2, int(round(len(y_true) * fraction)))
    top = np.argsort(-y_true, kind="stable")[:n]
    return kendall_tau(y_true[top], y_pred[top])


def precision_at(y_true, y_pred, fraction: float = 0.01) -> float:
    """Share of the predicted top ``fraction`` that is in the true top ``fraction``."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    n = max(1, int(round(len(y_true) * fraction)))
    true_top = set(np.argsort(-y_true, kind="stable")[:n].tolist())
    pred_top = np.argsort(-y_pred, kind="stable")[:n]
    return float(np.mean([i in true_top for i in pred_top]))


def ranking_report(y_true, y_pred) -> dict[str, float]:
    """The four figures of the predictor-quality table."""
    return {
        "kendall_tau": kendall_tau(y_true, y_pred),
        "spearman_rho": spearman_rho(y_true, y_pred),
        "kendall_tau_top": kendall_tau_top(y_true, y_pred, 0.05),
        "precision_at_1pct": precision_at(y_true, y_pred, 0.01),
    }


#: The Gaussian NLL floors std at this fraction of y_true's spread (its range, or 1 where all are equal).
STD_FLOOR = 1e-6


def _vector(name: str, v, n: int | None = None) -> np.ndarray:
    try:
        a = np.asarray(v, dtype=float)
    except (TypeError, ValueError):
        raise DataError(f"calibration_report: {name} is not an array of numbers") from None
    if a.ndim != 1:
        raise DataError(f"calibration_report: {name} must be one-dimensional, got shape {a.shape}")
    if n is not None and len(a) != n:
        raise DataError(f"calibration_report: {name} has {len(a)} values but y_true has {n}")
    bad = np.flatnonzero(~np.isfinite(a))
    if len(bad):
        raise DataError(f"calibration_report: {name}[{bad[0]}] = {float(a[bad[0]])!r} is not finite")
    return a


def calibration_report(y_true, mean, std) -> dict[str, float]:
    """How well a Gaussian predictive N(mean, std^2) covers ``y_true``.

    ``coverage_50`` / ``coverage_90``: share of ``y_true`` inside the central 50% / 90% interval
    ``mean ± z * std`` (bounds included; std 0 gives the point ``mean``). ``gaussian_nll``: mean
    negative log likelihood of ``y_true``, with std floored at ``STD_FLOOR * ptp(y_true)`` (times 1
    where all ``y_true`` are equal) so that a std of 0 gives a large but finite value.
    """
    from scipy import stats

    y = _vector("y_true", y_true)
    if len(y) == 0:
        raise DataError("calibration_report: y_true is empty")
    mu, sd = _vector("mean", mean, len(y)), _vector("std", std, len(y))
    neg = np.flatnonzero(sd < 0)
    if len(neg):
        raise DataError(f"calibration_report: std[{neg[0]}] = {float(sd[neg[0]])!r} is negative")
    err = np.abs(y - mu)
    out = {f"coverage_{p}": float(np.mean(err <= stats.norm.ppf(0.5 + p / 200) * sd)) for p in (50, 90)}
    floor = STD_FLOOR * (float(np.ptp(y)) or 1.0)
    out["gaussian_nll"] = float(-np.mean(stats.norm.logpdf(y, loc=mu, scale=np.maximum(sd, floor))))
    return out
