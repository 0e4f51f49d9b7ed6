"""Meta-learning tasks and the episode sampler.

A *task* is one target (a dataset or device of a benchmark table, one metric) over a list of
architectures, with the source-task values each architecture has on the *other* tasks.
An *episode* draws K support and Q query architectures from a task.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from ..benchmarks import BenchmarkTable
from ..errors import DataError
from ..predictors.gnn import ModelConfig, graph_inputs
from ..predictors.inputs import FreeFeatureValues, SourceValues, input_columns
from ..predictors.support import scale_targets
from ..spaces import Architecture, SearchSpace


@dataclass
class Task:
    """Targets ``y`` of one task over ``archs`` and their input columns ``src`` [n, S]: the source-task values,
    then the task's ``features`` free-feature columns. ``higher_is_better``: the direction of ``y`` (an episode puts
    a lower-is-better task on the network's scale negated, as its source ranks are oriented:
    :func:`~surrogate_nas.predictors.support.scale_targets`)."""

    name: str
    space: SearchSpace
    archs: list[Architecture]
    y: np.ndarray
    src: np.ndarray
    features: int = 0
    higher_is_better: bool = True

    def __post_init__(self):
        self.y = np.asarray(self.y, dtype=np.float64)
        if len(self.archs) != len(self.y) or len(self.src) != len(self.y):
            raise DataError(
                f"task {self.name!r}: {len(self.archs)} archs, {len(self.y)} targets, {len(self.src)} source rows"
            )
        if len(self.y) < 4:
            raise DataError(f"task {self.name!r} has only {len(self.y)} architectures")


def table_tasks(
    table: BenchmarkTable,
    tasks: Sequence[str],
    metric: str,
    sources: SourceValues | None = None,
    source_metric: str | None = None,
    features: Sequence[str] = (),
) -> list[Task]:
    """One :class:`Task` per name; each sees the *other* given tasks as its sources, and its own ``features``
    (free features: :class:`~surrogate_nas.predictors.inputs.FreeFeatureValues`)."""
    sources = sources or SourceValues(table, tuple(tasks), source_metric or metric)
    free = FreeFeatureValues(table, None, (), metric)
    out = []
    for t in tasks:
        archs = table.archs(t, metric)
        src = input_columns(
            sources.without(t),
            FreeFeatureValues(table, t, tuple(features), metric) if features else free,
            table.space,
            archs,
        )
        y = table.vector(t, metric, archs)
        out.append(Task(t, table.space, archs, y, src, len(features), sources.higher_is_better))
    return out


@dataclass
class Episode:
    """Tensors of one episode (support and query share the task's source-correlation vector)."""

    task: str
    support: tuple
    query: tuple
    y_support: torch.Tensor
    y_query: torch.Tensor
    corr: torch.Tensor
    y_mean: float
    y_std: float


def make_episode(
    task: Task,
    support_idx: np.ndarray,
    query_idx: np.ndarray,
    device="cpu",
    scale: str = "zscore",
    model_config: ModelConfig | None = None,
) -> Episode:
    """``scale``: how targets are put on the network's scale from the support
    (:func:`~surrogate_nas.predictors.support.scale_targets`); ``model_config``: the model whose source weights
    (:meth:`~surrogate_nas.predictors.gnn.ModelConfig.support_weights`) weigh the episode's columns, its ``corr``
    (None: a default ``ModelConfig``, the support correlations)."""
    ys, yq = task.y[support_idx], task.y[query_idx]
    ts = scale_targets(ys, f"task {task.name!r}", scale, task.higher_is_better)
    corr = (model_config or ModelConfig()).support_weights(task.src[support_idx], ts.orient(ys), task.features)
    return Episode(
        task=task.name,
        support=graph_inputs(task.space, [task.archs[i] for i in support_idx], task.src[support_idx], device),
        query=graph_inputs(task.space, [task.archs[i] for i in query_idx], task.src[query_idx], device),
        y_support=torch.tensor(ts.transform(ys), dtype=torch.float32, device=device),
        y_query=torch.tensor(ts.transform(yq), dtype=torch.float32, device=device),
        corr=torch.as_tensor(corr, dtype=torch.float32, device=device),
        y_mean=ts.centre,
        y_std=ts.spread,
    )


class EpisodeSampler:
    """Draws episodes: a task, K support archs (K log-uniform in ``support_range``), Q query archs.

    ``pool`` restricts which architecture indices of each task may be drawn (meta-train/meta-val split).
    """

    def __init__(
        self,
        tasks: Sequence[Task],
        support_range=(5, 50),
        query_size=128,
        pools=None,
        device="cpu",
        source_dropout: float = 0.0,
        scale: str = "zscore",
        model_config: ModelConfig | None = None,
    ):
        self.scale = scale
        self.model_config = model_config or ModelConfig()  # what weighs each episode's columns
        self.tasks = list(tasks)
        self.support_range = support_range
        self.query_size = query_size
        self.pools = pools or [np.arange(len(t.y)) for t in self.tasks]
        self.device = device
        self.source_dropout = source_dropout

    def sample(self, rng: np.random.Generator, task_index: int | None = None, k: int | None = None) -> Episode:
        ti = int(rng.integers(len(self.tasks))) if task_index is None else task_index
        task, pool = self.tasks[ti], self.pools[ti]
        if k is None:
            lo, hi = self.support_range
            k = int(round(np.exp(rng.uniform(np.log(lo), np.log(hi)))))
        k = min(k, len(pool) - 2)
        q = min(self.query_size, len(pool) - k)
        for _ in range(20):
            idx = rng.choice(pool, size=k + q, replace=False)
            if np.ptp(task.y[idx[:k]]) > 0:
                break
        n_sources = task.src.shape[1] - task.features
        if self.source_dropout > 0 and n_sources > 1:  # drops source tasks; the free features stay
            keep = np.asarray(rng.random(n_sources) >= self.source_dropout)
            if not keep.any():
                keep[int(rng.integers(len(keep)))] = True
            keep = np.concatenate([keep, np.ones(task.features, dtype=bool)])
            task = replace(task, src=task.src[:, keep])
        return make_episode(task, idx[:k], idx[k:], self.device, self.scale, self.model_config)
