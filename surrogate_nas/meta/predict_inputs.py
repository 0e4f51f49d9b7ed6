"""What one prediction reads besides the weights (input columns, graph batches, graphs), built once per call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..graphs import to_batch
from ..predictors.gnn import graph_inputs
from ..spaces import Architecture

if TYPE_CHECKING:
    from .adapt import MetaGNNPredictor

__all__ = ["PredictInputs"]


class PredictInputs:
    """What one prediction over ``archs`` reads besides the weights, built on demand and kept for the call: the input
    columns (read once), the full graph batches (:meth:`~surrogate_nas.meta.adapt.MetaGNNPredictor.batches`, for
    adapted weights) and the graphs of the architectures a pooled-row cache lacks. Members of an ensemble that read
    the same inputs (same :meth:`~surrogate_nas.meta.adapt.MetaGNNPredictor.input_key`) share one, so each of these
    is built once for all of them."""

    def __init__(
        self,
        predictor: MetaGNNPredictor,
        archs: Sequence[Architecture],
        src: np.ndarray | None = None,
        batches: list[tuple] | None = None,
    ):
        self.archs = list(archs)
        self._space, self._device, self._batch = predictor.space_, predictor.device, predictor.BATCH
        self._columns = predictor._columns
        if src is None and batches is not None:
            src = np.concatenate([b[4].cpu().numpy() for b in batches]) if batches else None
        self._src = src
        self._batches = batches
        self._graphs: dict[tuple, tuple] = {}
        #: (the inputs these repeat, how many times) where they are :meth:`tiled`.
        self.tile: tuple[PredictInputs, int] | None = None

    def tiled(self, predictor: MetaGNNPredictor, times: int) -> PredictInputs:
        """These inputs ``times`` over (the architectures and their columns repeated, in that order): a predictor
        with cached pooled rows looks the rows up once, for these (:attr:`tile`)."""
        out = PredictInputs(predictor, self.archs * times, np.tile(self.src, (times, 1)))
        out.tile = (self, times)
        return out

    @property
    def src(self) -> np.ndarray:
        """The input columns [n, S] (source-task values, then free features)."""
        if self._src is None:
            self._src = self._columns(self.archs)
        return self._src

    def batches(self) -> list[tuple]:
        """The network's full inputs in chunks of ``BATCH`` (see :func:`~surrogate_nas.predictors.gnn.graph_inputs`)."""
        if self._batches is None:
            src, b = self.src, self._batch
            self._batches = [
                graph_inputs(self._space, self.archs[i : i + b], src[i : i + b], self._device)
                for i in range(0, len(self.archs), b)
            ]
        return self._batches

    def graphs(self, archs: Sequence[Architecture]) -> tuple:
        """(x, edge_index, batch, num_graphs) of ``archs`` (kept: members lacking the same rows convert them once)."""
        key = tuple(archs)
        if key not in self._graphs:
            b, d = to_batch(self._space, archs), self._device
            self._graphs[key] = (b.x.to(d), b.edge_index.to(d), b.batch.to(d), len(archs))
        return self._graphs[key]
