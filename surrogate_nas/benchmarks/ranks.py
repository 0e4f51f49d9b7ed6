"""The one rank helper: average ranks and Spearman's rho (numpy/pandas: scipy.stats costs ~1 s to import)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def average_ranks(values) -> np.ndarray:
    """1-based ranks of ``values``, ties sharing their average rank (scipy's ``rankdata``); NaN stays NaN."""
    return pd.Series(np.asarray(values, dtype=float)).rank(method="average").to_numpy()


def spearman(a, b) -> float:
    """Spearman's rho of two equal-length 1-D samples: the Pearson correlation of their average ranks, computed
    as ``scipy.stats.spearmanr`` does (same value to the last bit); NaN when either holds a NaN or is constant,
    or with fewer than 2 values."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"spearman: two 1-D samples of one length expected, got shapes {a.shape} and {b.shape}")
    if len(a) < 2 or np.isnan(a).any() or np.isnan(b).any() or (a == a[0]).all() or (b == b[0]).all():
        return float("nan")
    ranked = np.column_stack([average_ranks(a), average_ranks(b)])
    return float(np.corrcoef(ranked, rowvar=False)[1, 0])
