"""Fidelity and cost of a table evaluation: the cost models of :class:`~surrogate_nas.search.evaluators.TableEvaluator`.

An evaluation has a *fidelity* (the epochs its record was trained for, when the records say) and a *cost*, in the
unit the evaluator names (``cost_unit``). The table evaluators charge **full-training equivalents**, so that a
``budget_cost`` means the same on every benchmark:

* NB-201 (space ``nb201``): ``fidelity / 200 x FLOPs(cell) / mean FLOPs over the space's 15,625 cells``. One
  200-epoch training of a cell of average FLOPs costs 1.0; a 12-epoch evaluation (``valid_acc@12``, the published
  protocol's reward) of the same cell 0.06. NB-201 records no training time: epochs x FLOPs is the standard proxy
  for it. FLOPs are the string's own network's, from the shipped per-string table
  (:func:`surrogate_nas.features.read_params_flops`: the CIFAR-10 network, C=16, N=5; a cell's FLOPs relative to
  the mean are about the same on the other datasets). Records without a fidelity count as a full training.
* A benchmark with a recorded cost metric (NAS-Bench-Graph: ``latency``, the recorded *inference* latency, a proxy
  of the training cost): the architecture's record divided by the mean over the task's records, so an average
  evaluation costs 1.0.
* Anything else: 1.0 per evaluation (unit ``evaluations``).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Protocol

import numpy as np
import pandas as pd

#: NB-201's full training: the epochs one full-training equivalent stands for.
FULL_TRAINING_EPOCHS = 200.0
#: The unit of the table evaluators' costs.
EQUIVALENTS = "full-training equivalents"


class CostModel(Protocol):
    #: what one unit of cost is, e.g. "full-training equivalents (...)"
    unit: str

    def __call__(self, archs: Sequence, fidelity: np.ndarray) -> np.ndarray: ...


class UnitCost:
    """1.0 per evaluation."""

    unit = "evaluations"

    def __call__(self, archs, fidelity):
        return np.ones(len(archs))


class Nb201FlopsCost:
    """NB-201: ``fidelity / 200 x FLOPs(cell) / mean FLOPs`` (module docstring); NaN fidelity = a full training."""

    unit = f"{EQUIVALENTS} (epochs/200 x cell FLOPs / mean FLOPs of the space)"

    def __init__(self, space):
        self.space = space

    def __call__(self, archs, fidelity):
        flops = relative_flops([self.space.format(self.space.coerce(a)) for a in archs])
        epochs = np.where(np.isnan(fidelity), FULL_TRAINING_EPOCHS, fidelity)
        return epochs / FULL_TRAINING_EPOCHS * flops


class RecordedCost:
    """The architecture's recorded ``metric`` on ``task`` over its mean on the task's records (1.0 on average);
    an architecture without a record costs 1.0."""

    def __init__(self, table, task: str, metric: str):
        self.table, self.task, self.metric = table, task, metric
        self.mean = float(table.series(task, metric).mean())
        what = "the recorded inference latency" if metric == "latency" else f"the recorded {metric!r}"
        self.unit = f"{EQUIVALENTS} ({what} / its mean over the task's records, a proxy)"

    def __call__(self, archs, fidelity):
        c = self.table.vector(self.task, self.metric, archs, missing="nan") / self.mean
        return np.where(np.isfinite(c), c, 1.0)


@lru_cache(maxsize=1)
def _nb201_flops() -> tuple[pd.Series, float]:
    """The shipped per-string NB-201 FLOPs and their mean over all strings of the space."""
    from ..features import read_params_flops

    flops = read_params_flops()[0]["flops"].astype(float)
    return flops, float(flops.mean())


def relative_flops(strings: Sequence[str]) -> np.ndarray:
    """FLOPs of each NB-201 string's network over the mean over the space's strings (shipped table)."""
    flops, mean = _nb201_flops()
    out = flops.reindex(list(strings)).to_numpy(dtype=float) / mean
    if np.isnan(out).any():
        bad = [s for s, x in zip(strings, out) if np.isnan(x)]
        raise ValueError(f"no FLOPs record for NB-201 string {bad[0]!r}")
    return out


def cost_model(table, task: str, cost_metric: str | None = None) -> CostModel:
    """The cost model of a table evaluation on ``table``/``task`` (module docstring): NB-201's FLOPs model for
    the ``nb201`` space, else ``cost_metric`` relative to its mean when given, else 1.0 per evaluation."""
    if table.space.name == "nb201":
        return Nb201FlopsCost(table.space)
    if cost_metric:
        return RecordedCost(table, task, cost_metric)
    return UnitCost()
