"""Architecture features shared by predictors: one-hot encodings and source-task values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..benchmarks import BenchmarkTable
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
                raise DataError(f"unknown source task {t!r}; tasks of {self.table.source}: {', '.join(self.table.tasks)}")
            s = self.table.series(t, self.metric)
            r = (s if self.higher_is_better else -s).rank(method="average").to_numpy()
            self._scores[t] = dict(zip(s.index, 2.0 * (r - 0.5) / len(r) - 1.0))

    def without(self, task: str) -> "SourceValues":
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

    Spearman = Pearson correlation of average ranks (pandas ranks: this runs on every ``predict``
    and scipy.stats costs ~1 s to import).
    """
    import pandas as pd

    out = np.zeros(src.shape[1], dtype=np.float32)
    y = np.asarray(y, dtype=float)
    for j in range(src.shape[1]):
        ok = ~np.isnan(src[:, j])
        if ok.sum() >= 3 and np.ptp(src[ok, j]) > 0 and np.ptp(y[ok]) > 0:
            r = np.corrcoef(pd.Series(src[ok, j]).rank().to_numpy(), pd.Series(y[ok]).rank().to_numpy())[0, 1]
            out[j] = 0.0 if np.isnan(r) else r
    return out
