"""Ranking metrics for predictors (scipy-based)."""

from __future__ import annotations

import numpy as np
from scipy import stats


def kendall_tau(y_true, y_pred) -> float:
    return float(stats.kendalltau(y_true, y_pred).statistic)


def spearman_rho(y_true, y_pred) -> float:
    return float(stats.spearmanr(y_true, y_pred).statistic)


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
