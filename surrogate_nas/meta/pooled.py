"""Pooled graph rows, cached per model: the graph part of the network under a checkpoint's own weights, computed
once per architecture and process (:func:`pooled_rows`)."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence

import torch

from ..errors import DataError
from ..spaces import Architecture

__all__ = ["clear_pooled_cache", "pooled_rows"]

#: Per checkpoint model (weakly: dropped with the model), per (space, device, graph encoding): the rows of
#: :meth:`~surrogate_nas.predictors.gnn.GraphRegressor.pool` (message passing + pooling; then the raw graph
#: encoding, for ``*+graph`` GP kernels) of every architecture predicted so far. They depend on the weights and the
#: graph only, so a predictor that predicts with the checkpoint's own weights (no inner step, the deep-kernel
#: default) computes each architecture's once per process, however many fits and predictions a search makes.
_POOLED: weakref.WeakKeyDictionary[torch.nn.Module, dict] = weakref.WeakKeyDictionary()
_POOLED_LOCK = threading.Lock()


class _PooledRows:
    """One model's cached rows: ``index`` (architecture -> row of ``rows``), valid while ``stamp`` holds."""

    def __init__(self, stamp: tuple):
        self.stamp = stamp
        self.index: dict[Architecture, int] = {}
        self.rows: torch.Tensor | None = None


def _weights_stamp(model: torch.nn.Module) -> tuple:
    """Changes when a weight of ``model`` is replaced or modified in place (an optimiser step, ``load_state_dict``):
    rows computed with the old weights are dropped then."""
    return tuple((p.data_ptr(), p._version) for p in model.parameters())


def pooled_rows(model, space, archs: Sequence[Architecture], device, graph: bool, convert, batch: int) -> torch.Tensor:
    """[len(archs), w] rows of ``model.pool`` under the model's own weights (then the raw graph encoding, with
    ``graph``), from the process cache; the architectures it lacks are converted by ``convert`` (archs -> (x,
    edge_index, batch, num_graphs)) and run through the graph part in chunks of ``batch``, then kept."""
    from .deep_kernel import graph_encoding

    with _POOLED_LOCK:
        per_model = _POOLED.setdefault(model, {})
        key = (space.name, str(device), bool(graph))
        stamp = _weights_stamp(model)
        entry = per_model.get(key)
        if entry is None or entry.stamp != stamp:
            entry = per_model[key] = _PooledRows(stamp)
        index = entry.index
        rows = [index.get(a, -1) for a in archs]
        missing = list(dict.fromkeys(a for a, r in zip(archs, rows) if r < 0)) if -1 in rows else []
        if missing:
            new = [] if entry.rows is None else [entry.rows]
            with torch.no_grad():
                for i in range(0, len(missing), batch):
                    inputs = convert(missing[i : i + batch])
                    g = model.pool(*inputs[:4])
                    if graph:
                        g = torch.cat([g, graph_encoding(inputs, model.embed.num_embeddings)], 1)
                    new.append(g)
            start = 0 if entry.rows is None else len(entry.rows)
            entry.rows = torch.cat(new)
            index.update(zip(missing, range(start, start + len(missing))))
            rows = [r if r >= 0 else index[a] for a, r in zip(archs, rows)]
        if entry.rows is None:  # nothing asked for and nothing cached: no width to give an empty result
            raise DataError("pooled_rows needs at least one architecture")
        return entry.rows[torch.as_tensor(rows, dtype=torch.long, device=entry.rows.device)]


def clear_pooled_cache() -> None:
    """Drop every cached pooled row (they are also dropped with their model, or when its weights change)."""
    with _POOLED_LOCK:
        _POOLED.clear()
