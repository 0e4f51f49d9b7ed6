"""The one rank helper: average ranks and Spearman's rho (numpy: scipy.stats costs ~1 s to import)."""

from __future__ import annotations

import numpy as np


def average_ranks(values) -> np.ndarray:
    """1-based ranks of a 1-D sample ``values``, ties sharing their average rank (scipy's ``rankdata``, pandas'
    ``rank(method="average")``: the same values to the last bit); NaN stays NaN and is not ranked. In numpy: this
    runs for every source column of every support a predictor is fitted on."""
    v = np.asarray(values, dtype=float)
    if v.ndim != 1:
        raise ValueError(f"average_ranks: a 1-D sample expected, got shape {v.shape}")
    out = np.full(len(v), np.nan)
    known = np.flatnonzero(~np.isnan(v))
    order = known[np.argsort(v[known], kind="stable")]
    if len(order):
        s = v[order]
        start = np.flatnonzero(np.concatenate(([True], s[1:] != s[:-1])))  # first position of each run of ties
        count = np.diff(start, append=len(s))
        out[order] = np.repeat(start + (count + 1) / 2, count)
    return out


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
