"""Evaluators: who measures a suggested architecture. The searcher never knows which one.

``evaluate(archs) -> list[dict]`` with, per architecture: ``value`` (the search signal, NaN when
failed), ``test`` (the reported metric, e.g. test accuracy of the same run), ``fidelity`` (the epochs of
the measurement, None when unknown), ``cost`` (in the evaluator's ``cost_unit``: full-training
equivalents for the table evaluator, see :mod:`~surrogate_nas.search.costs`; seconds for real training),
``status`` ("ok"/"failed") and ``error``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from ..registry import Registry
from ..spaces import Architecture
from .base import SearchError
from .benchmark_tables import BENCHMARK_METRICS
from .costs import cost_model


class Evaluator(Protocol):
    """An evaluator may also name its ``cost_unit`` (text; a report says "cost units" without one)."""

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
    records of one fidelity). ``fidelity`` = the epochs of the ``metric`` record read (NB-201: 12 for
    ``valid_acc@12``, 200 for ``test_acc@200`` or ``test_acc``; None where the records carry none, as
    NAS-Bench-Graph's). ``cost`` in full-training equivalents (:func:`~surrogate_nas.search.costs.cost_model`):
    NB-201 ``fidelity / 200 x FLOPs(cell) / mean FLOPs over the space`` (one 200-epoch training of an
    average-FLOPs cell = 1.0; NB-201 records no training time); with ``cost_metric`` (NAS-Bench-Graph:
    ``latency``, the recorded inference latency, a proxy) the record over its mean over the task's records
    (an average evaluation = 1.0); else 1.0 per evaluation. ``cost_unit`` names the unit.

    ``evaluate(archs, fidelity=F)`` reads ``metric``'s records of fidelity ``F`` instead (``NAME@F``; the table's
    own error when it has none), for multi-fidelity searchers; ``test`` stays ``test_metric``.
    """

    name = "table"
    multi_fidelity = True

    def __init__(self, table, task: str, metric: str, test_metric: str | None = None, cost_metric: str | None = None):
        self.table = table
        self.task = task
        self.metric = metric
        self.test_metric = test_metric or metric
        self.cost_metric = cost_metric
        table.series(task, metric)  # validates task and metric with the table's own clear error
        table.series(task, self.test_metric)
        self.cost_model = cost_model(table, task, cost_metric)
        self.cost_unit = self.cost_model.unit

    def check_fidelity(self, fidelity: float) -> None:
        """The table has the search metric's records of ``fidelity`` (else its own one-line error)."""
        self.metric_at(fidelity)

    def metric_at(self, fidelity: float | None) -> str:
        """The search metric's records of ``fidelity`` (``NAME@F``); ``metric`` itself for None."""
        if fidelity is None:
            return self.metric
        name = f"{self.metric.split('@')[0]}@{fidelity:g}"
        self.table.series(self.task, name)  # the table's own clear error when it has no such records
        return name

    def evaluate(self, archs, fidelity: float | None = None):
        archs = list(archs)
        if not archs:
            return []
        metric = self.metric_at(fidelity)
        v = self.table.vector(self.task, metric, archs, missing="nan")
        t = self.table.vector(self.task, self.test_metric, archs, missing="nan")
        fid = self.table.fidelity_of(self.task, metric, archs)
        c = self.cost_model(archs, fid)
        out = []
        for vi, ti, fi, ci in zip(v, t, fid, c):
            ok = bool(np.isfinite(vi))
            out.append(
                {
                    "value": float(vi),
                    "test": float(ti),
                    "fidelity": float(fi) if np.isfinite(fi) else None,
                    "cost": float(ci),
                    "status": "ok" if ok else "failed",
                    "error": None if ok else f"no {metric!r} record on {self.task!r}",
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

    ``inner.evaluate(archs)`` trains each architecture for the configured ``epochs`` (``inner.evaluate(archs,
    epochs=E)`` for ``E``) and reports per architecture ``value`` (the search metric, e.g. the validation accuracy),
    ``test`` (the test accuracy of the same run), ``cost_seconds``, ``status`` and ``error``. Here
    ``fidelity`` = the epochs trained and ``cost`` = the measured wall seconds of that training: its unit is
    **seconds**, not full-training equivalents (a ``budget_cost`` of a train search is in seconds).
    ``evaluate(archs, fidelity=E)`` trains for ``E`` epochs (a multi-fidelity searcher's cheap or full
    fidelity). ``session()``: the context the search runs in (the inner evaluator's, e.g. one Ray instance for
    the whole search).
    """

    name = "train"
    multi_fidelity = True
    cost_unit = "seconds (measured wall time of the training)"

    def __init__(self, inner, epochs: int | None = None):
        self.inner = inner
        self.epochs = epochs

    def session(self):
        return self.inner.session()

    def check_fidelity(self, fidelity: float) -> None:
        """A fidelity of real training is a whole number of epochs."""
        if int(fidelity) != fidelity or fidelity < 1:
            raise SearchError(f"evaluator 'train' trains whole epochs; fidelity {fidelity!r} is not an int >= 1")

    def evaluate(self, archs, fidelity: float | None = None):
        if fidelity is not None:
            self.check_fidelity(fidelity)
        if fidelity is None:  # the configured epochs (an inner evaluator of one fidelity needs no epochs argument)
            epochs, rows = self.epochs, self.inner.evaluate(list(archs))
        else:
            epochs = int(fidelity)
            rows = self.inner.evaluate(list(archs), epochs=epochs)
        return [
            {
                "value": r["value"],
                "test": r["test"],
                "fidelity": None if epochs is None else float(epochs),
                "cost": r["cost_seconds"],
                "status": r["status"],
                "error": r.get("error"),
            }
            for r in rows
        ]
