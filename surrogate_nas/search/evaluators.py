"""Evaluators: who measures a suggested architecture. The searcher never knows which one.

``evaluate(archs) -> list[dict]`` with, per architecture: ``value`` (the search signal, NaN when
failed), ``test`` (the reported metric, e.g. test accuracy of the same run), ``cost`` (seconds or
a simulated unit), ``status`` ("ok"/"failed") and ``error``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from ..registry import Registry
from ..spaces import Architecture
from .base import SearchError
from .benchmark_tables import BENCHMARK_METRICS


class Evaluator(Protocol):
    name: str

    def evaluate(self, archs: Sequence[Architecture]) -> list[dict[str, Any]]: ...


#: name -> builder(config, table=..., work_dir=...) -> Evaluator, where ``config`` is a resolved
#: :class:`~surrogate_nas.search.config.SearchConfig`. The builder validates what it needs (it runs
#: before anything of the search is written). Evaluators of other packages are plugins: entry points of the
#: group ``surrogate_nas.evaluators``, imported when first looked up. ``train`` is one
#: (``surrogate_nas.training:search_evaluator``, declared in this package's pyproject.toml): the search never
#: imports who evaluates it.
EVALUATORS: Registry = Registry("evaluator", entry_points="surrogate_nas.evaluators")


class TableEvaluator:
    """Simulation of real runs by benchmark lookup.

    ``value`` = ``table.vector(task, metric)``, ``test`` = ``test_metric`` of the same
    architecture (NB-201: ``test_acc@200`` while searching on ``valid_acc@12``, the published protocol;
    NAS-Bench-Graph: ``test_perf`` while searching on ``valid_perf``; ``NAME@FIDELITY`` selects the
    records of one fidelity). ``cost`` = ``cost_metric`` where the records give one (NAS-Bench-Graph:
    ``latency``, the recorded inference time in seconds), else 1.0 per evaluation (NB-201 CSV has
    no training time).
    """

    name = "table"

    def __init__(self, table, task: str, metric: str, test_metric: str | None = None, cost_metric: str | None = None):
        self.table = table
        self.task = task
        self.metric = metric
        self.test_metric = test_metric or metric
        self.cost_metric = cost_metric
        table.series(task, metric)  # validates task and metric with the table's own clear error
        table.series(task, self.test_metric)
        if cost_metric:
            table.series(task, cost_metric)

    def evaluate(self, archs):
        archs = list(archs)
        if not archs:
            return []
        v = self.table.vector(self.task, self.metric, archs, missing="nan")
        t = self.table.vector(self.task, self.test_metric, archs, missing="nan")
        c = (
            self.table.vector(self.task, self.cost_metric, archs, missing="nan")
            if self.cost_metric
            else np.ones(len(archs))
        )
        out = []
        for _a, vi, ti, ci in zip(archs, v, t, c):
            ok = bool(np.isfinite(vi))
            out.append(
                {
                    "value": float(vi),
                    "test": float(ti),
                    "cost": float(ci) if np.isfinite(ci) else 1.0,
                    "status": "ok" if ok else "failed",
                    "error": None if ok else f"no {self.metric!r} record on {self.task!r}",
                }
            )
        return out


@EVALUATORS.register("table")
def table_evaluator(config, table=None, work_dir=None) -> TableEvaluator:
    """``evaluator="table"``: look the architectures up in ``table`` (the config's benchmark)."""
    if table is None:
        raise SearchError(f"evaluator 'table' needs a benchmark; set benchmark for space {config.space!r}")
    cost = BENCHMARK_METRICS.get(config.benchmark, (None, None, None))[2]
    if cost and cost not in table.metrics(config.task):
        cost = None
    return TableEvaluator(table, config.task, config.metric, config.test_metric, cost)


class TrainEvaluator:
    """Search-side view of a real-training evaluator (``surrogate_nas.training.TrainingEvaluator``, built by the
    ``train`` plugin of that package; the search never imports it).

    ``inner.evaluate(archs)`` reports per architecture ``value``, ``cost_seconds``, ``status`` and
    ``error``; here ``test`` = the same value (the trainer reports one metric per run) and ``cost``
    = the wall seconds of that training.
    """

    name = "train"

    def __init__(self, inner):
        self.inner = inner

    def evaluate(self, archs):
        rows = self.inner.evaluate(list(archs))
        return [
            {
                "value": r["value"],
                "test": r["value"],
                "cost": r["cost_seconds"],
                "status": r["status"],
                "error": r.get("error"),
            }
            for r in rows
        ]
