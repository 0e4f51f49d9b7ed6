"""The predictors' inputs: one-hot encodings, source-task values, free-feature values, input columns."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np

from ..benchmarks import BenchmarkTable
from ..benchmarks.ranks import average_ranks, spearman
from ..errors import DataError
from ..spaces import Architecture, SearchSpace, get_space


def onehot(space: SearchSpace | str, archs: Sequence[Architecture]) -> np.ndarray:
    """Flat one-hot of each op slot (plus, for spaces with links, each link slot)."""
    space = get_space(space)
    ops = {o: i for i, o in enumerate(space.ops)}
    n_ops = len(space.ops)
    rows = []
    for a in archs:
        v = np.zeros(len(a.ops) * n_ops + len(a.links) * (len(a.links) + 1), dtype=np.float32)
        for i, o in enumerate(a.ops):
            v[i * n_ops + ops[o]] = 1.0
        base = len(a.ops) * n_ops
        for i, src in enumerate(a.links):
            v[base + i * (len(a.links) + 1) + src] = 1.0
        rows.append(v)
    return np.stack(rows)


@dataclass
class SourceValues:
    """Per-architecture values of *source* tasks, rank-normalised to [-1, 1] over each task's records.

    These are what a tabular benchmark already knows about an architecture on other tasks; the
    meta-predictor, the transfer baselines and search all read them through this one class.
    Architectures without a record get NaN.
    """

    table: BenchmarkTable | None
    tasks: tuple[str, ...] = ()
    metric: str = "test_acc"
    higher_is_better: bool = True
    _scores: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        self.tasks = tuple(self.tasks)
        if self.tasks and self.table is None:
            raise DataError("source tasks given without a benchmark table")
        for t in self.tasks:
            if t not in self.table.tasks:
                raise DataError(
                    f"unknown source task {t!r}; tasks of {self.table.source}: {', '.join(self.table.tasks)}"
                )
            s = self.table.series(t, self.metric)
            r = average_ranks((s if self.higher_is_better else -s).to_numpy())
            # tolist(): iterating an arrow-backed index element by element cost ~1 us per record
            self._scores[t] = dict(zip(s.index.tolist(), (2.0 * (r - 0.5) / len(r) - 1.0).tolist()))

    def without(self, task: str) -> SourceValues:
        return SourceValues(self.table, tuple(t for t in self.tasks if t != task), self.metric, self.higher_is_better)

    def __call__(self, space: SearchSpace, archs: Sequence[Architecture]) -> np.ndarray:
        """Matrix [n_archs, n_tasks] (NaN where a source has no record of the architecture)."""
        out = np.full((len(archs), len(self.tasks)), np.nan, dtype=np.float32)
        if not self.tasks:
            return out
        strings = [space.format(a) for a in archs]
        for j, t in enumerate(self.tasks):
            sc = self._scores[t]
            out[:, j] = [sc.get(s, np.nan) for s in strings]
        return out

    def config(self) -> dict:
        return {"tasks": list(self.tasks), "metric": self.metric, "higher_is_better": self.higher_is_better}


def support_correlations(src: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman correlation of each source column with the targets on the support set (0 if undefined).

    (:func:`~surrogate_nas.benchmarks.ranks.spearman`: this runs on every ``predict``, without scipy.stats).
    """
    out = np.zeros(src.shape[1], dtype=np.float32)
    y = np.asarray(y, dtype=float)
    for j in range(src.shape[1]):
        ok = ~np.isnan(src[:, j])
        if ok.sum() >= 3 and np.ptp(src[ok, j]) > 0 and np.ptp(y[ok]) > 0:
            r = spearman(src[ok, j], y[ok])
            out[j] = 0.0 if np.isnan(r) else r
    return out


#: How a model summarises what the support says about each input column (``ModelConfig.source_weights``):
#: ``correlation``, each column's own Spearman correlation with the support values; ``least-squares``, the
#: source columns' joint weights (:func:`least_squares_weights`); ``shrunk``, the source columns' correlations
#: shrunk towards their mean by their sampling noise (:func:`shrunk_correlations`); the free features'
#: correlations as they are in every kind.
SourceWeights = Literal["correlation", "least-squares", "shrunk"]
SOURCE_WEIGHTS = get_args(SourceWeights)
#: Variance of the Fisher z of a Spearman correlation on K points is about ``SPEARMAN_Z_VARIANCE / (K - 3)``
#: (Fieller, Hartley & Pearson 1957).
SPEARMAN_Z_VARIANCE = 1.06
#: Ridge strength of :func:`least_squares_weights`, towards the correlation weights (in units of the support size:
#: the penalty is ``LEAST_SQUARES_SHRINK * K``).
LEAST_SQUARES_SHRINK = 1.0


def support_weights(
    src: np.ndarray, y: np.ndarray, kind: str = "correlation", features: int = 0, shrink: float = LEAST_SQUARES_SHRINK
) -> np.ndarray:
    """One weight per input column from the support: what the transfer prior weighs a column by (positive part) and
    the column encoder reads beside its values. ``kind`` (:data:`SOURCE_WEIGHTS`): ``correlation`` is
    :func:`support_correlations`; ``least-squares`` replaces the source columns' (all but the last ``features``) by
    :func:`least_squares_weights` (its ``shrink``), ``shrunk`` by :func:`shrunk_correlations`. Float32 [n_columns]."""
    corr = support_correlations(src, y)
    if kind == "correlation":
        return corr
    if kind not in SOURCE_WEIGHTS:
        raise ValueError(f"unknown source weights {kind!r}; known: {', '.join(SOURCE_WEIGHTS)}")
    s = src.shape[1] - features
    if s > 0:
        if kind == "least-squares":
            corr[:s] = least_squares_weights(src[:, :s], y, corr[:s], shrink)
        else:
            corr[:s] = shrunk_correlations(corr[:s], len(y))
    return corr


def shrunk_correlations(corr: np.ndarray, k: int) -> np.ndarray:
    """Source correlations on a support of ``k`` points shrunk towards their mean (empirical Bayes on the Fisher z
    scale): each z moves to the mean by the share ``v / (v + tau^2)``, ``v`` its sampling variance
    (:data:`SPEARMAN_Z_VARIANCE` ``/ (k - 3)``) and ``tau^2`` the sources' spread beyond it (their variance minus
    ``v``, at least 0); correlations are read up to ``1 - 1 / (2k)`` in size. Where the support cannot tell the
    sources apart (``k <= 3``, or no spread beyond the noise) every source gets their mean: the transfer prior is
    then the plain mean source rank (zero-shot source transfer); with a large support the correlations stand. One
    column is left as it is."""
    c = np.asarray(corr, dtype=float)
    if len(c) < 2:
        return np.asarray(corr, dtype=np.float32)
    top = 1 - 0.5 / max(k, 1)  # a perfect rank agreement on a handful of points is not an infinite Fisher z
    z = np.arctanh(np.clip(c, -top, top))
    mean = z.mean()
    if k <= 3:
        return np.full(len(c), np.tanh(mean), dtype=np.float32)
    noise = SPEARMAN_Z_VARIANCE / (k - 3)
    spread = max(float(z.var(ddof=1)) - noise, 0.0)
    return np.tanh(mean + spread / (spread + noise) * (z - mean)).astype(np.float32)


def least_squares_weights(
    src: np.ndarray, y: np.ndarray, corr: np.ndarray, shrink: float = LEAST_SQUARES_SHRINK
) -> np.ndarray:
    """Source columns weighed jointly: ridge regression of the support values' standardised ranks on the columns'
    ranks (unknown ranks read as the middle, 0), shrunk towards the correlation weights (positive part, scaled to
    fit the support) by ``shrink * K``, then rescaled to the correlations' total absolute weight: a
    column that another explains gets less weight, and the weights stay on the correlations' scale. Ranks, like the
    Spearman correlations it refines, so a few extreme support values do not decide the weights. The correlations
    themselves where the support says nothing (fewer than 3 points, constant values, no positive correlation)."""
    y = np.asarray(y, dtype=float)
    c = np.clip(corr.astype(float), 0, None)
    if len(y) < 3 or np.ptp(y) == 0 or c.sum() == 0:
        return corr
    r = average_ranks(y)
    z = (r - r.mean()) / r.std()
    x = np.nan_to_num(np.asarray(src, dtype=float))
    x = x - x.mean(0)
    gram, xz = x.T @ x, x.T @ z
    lam = shrink * len(y)
    c = c / c.sum()
    scale = (c @ xz) / max(c @ gram @ c, 1e-9)  # the correlation weights' best scale on the support
    w = np.linalg.solve(gram + lam * np.eye(len(c)), xz + lam * max(scale, 0.0) * c)
    total = np.abs(w).sum()
    if not np.isfinite(total) or total == 0:
        return corr
    return (w * np.abs(corr).sum() / total).astype(np.float32)


@dataclass
class FreeFeatureValues:
    """Training-free features of one task's architectures (params, FLOPs, zero-cost proxies, latency ...),
    rank-normalised to [-1, 1] over every record the feature has (never over target values).

    ``task`` names the task whose features are read (NAS-Bench-Graph's params and latency are per
    dataset; NB-201's features are the same for every task: params and FLOPs per string -- a string is a
    network --, the zero-cost proxies per canonical class; see :func:`~surrogate_nas.features.free_features`).
    ``metric`` is the value the model will predict: a feature of that name is refused
    (:class:`~surrogate_nas.benchmarks.TargetLeakError`).
    Columns are appended to the source-task columns wherever a predictor reads sources.
    """

    table: BenchmarkTable | None
    task: str | None
    names: tuple[str, ...] = ()
    metric: str | None = None
    _rows: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        self.names = tuple(self.names)
        if not self.names:
            return
        from ..features import available_features

        if self.table is None:
            raise DataError("free features given without a benchmark table")
        have = available_features(self.table, self.task)
        bad = [n for n in self.names if n not in have]
        if bad:
            where = (
                f"task {self.task!r} of {self.table.source}"
                if self.task is not None
                else f"{self.table.source} with no task named (features that differ per task need the task)"
            )
            raise DataError(f"unknown free feature {bad[0]!r} for {where}; available: {', '.join(have) or 'none'}")
        if self.metric in self.names:
            from ..benchmarks import TargetLeakError

            raise TargetLeakError(
                f"free feature {self.metric!r} is the metric being predicted; a predicted value is never an input"
            )

    def with_task(self, task: str | None) -> FreeFeatureValues:
        """The same features read for another task."""
        return FreeFeatureValues(self.table, task, self.names, self.metric)

    def __call__(self, space: SearchSpace, archs: Sequence[Architecture]) -> np.ndarray:
        """Matrix [n_archs, n_features] (NaN where a feature is unknown for an architecture)."""
        if not self.names:
            return np.zeros((len(archs), 0), dtype=np.float32)
        from ..features import feature_ranks

        strings = [space.format(a) for a in archs]
        new = {s: a for s, a in zip(strings, archs) if s not in self._rows}  # each architecture ranked once
        if new:
            assert self.table is not None  # checked in __post_init__ when names are given
            ranks = feature_ranks(self.table, self.task, list(new.values()), self.names, metric=self.metric)
            self._rows.update(zip(new, np.asarray(ranks, dtype=np.float32)))
        return np.stack([self._rows[s] for s in strings]) if strings else np.zeros((0, len(self.names)), np.float32)

    def config(self) -> list[str]:
        return list(self.names)


def zero_shot_score(columns: np.ndarray, features: int = 0, feature_share: float = 0.0) -> np.ndarray:
    """The transfer prior with no support to weigh its columns (K = 0, zero-shot source transfer): each architecture's
    mean rank over the source columns it has (all but the last ``features`` columns; 0 where it has none), mixed with
    its mean free-feature rank by ``feature_share`` (all of it without source columns), as the network's prior mixes
    them. High = good, as the ranks are. Float64 [n]."""
    s = columns.shape[1] - features
    out = _mean_known(columns[:, :s])
    if features:
        share = feature_share if s else 1.0
        out = (1 - share) * out + share * _mean_known(columns[:, s:])
    return out


def _mean_known(x: np.ndarray) -> np.ndarray:
    """Row means over the known (non-NaN) entries (``np.nanmean``, in the columns' dtype), 0 for a row with none."""
    if x.shape[1] == 0:
        return np.zeros(len(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a row with no known entry: its mean is NaN, read as 0
        return np.nan_to_num(np.nanmean(x, axis=1), nan=0.0).astype(np.float64)


def input_columns(
    sources: SourceValues | None, features: FreeFeatureValues | None, space: SearchSpace, archs: Sequence[Architecture]
) -> np.ndarray:
    """What a transfer predictor reads per architecture: source-task columns, then free-feature columns."""
    cols = [m(space, archs) for m in (sources, features) if m is not None]
    return np.hstack(cols) if cols else np.zeros((len(archs), 0), dtype=np.float32)
