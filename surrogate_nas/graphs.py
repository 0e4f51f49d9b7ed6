"""The only architecture -> graph conversion.

A graph has one node per cell node / op, node feature = the node type's id in the space's fixed
``vocabulary`` (saved with every model), and directed edges along the data flow. Conversions are
cached per space, and whole lists are batched without building one ``Data`` object per arch.

PyG is imported where a graph is built, not with this module: importing it costs seconds (it imports
``torch._dynamo``), and a prediction from cached graph rows (:mod:`surrogate_nas.meta.pooled`) builds none.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import torch

from .errors import SurrogateNASError
from .spaces import Architecture, SearchSpace, get_space

if TYPE_CHECKING:
    from torch_geometric.data import Batch, Data

_CACHE: dict[str, dict[Architecture, tuple[np.ndarray, np.ndarray]]] = {}


def _spec(space: SearchSpace, arch: Architecture) -> tuple[np.ndarray, np.ndarray]:
    cache = _CACHE.setdefault(space.name, {})
    try:
        hit = cache.get(arch)
    except TypeError:  # unhashable: not an Architecture, validate() below names it
        hit = None
    if hit is None:
        space.validate(arch)
        types, edges = space.graph_spec(arch)
        hit = (np.asarray(types, dtype=np.int64), np.asarray(edges, dtype=np.int64).reshape(-1, 2).T.copy())
        cache[arch] = hit
    return hit


def to_graph(space: SearchSpace | str, arch: Architecture) -> Data:
    """One architecture as ``Data(x=[num_nodes] node-type ids, edge_index=[2, num_edges])``."""
    from torch_geometric.data import Data

    space = get_space(space)
    types, edges = _spec(space, arch)
    return Data(x=torch.from_numpy(types.copy()), edge_index=torch.from_numpy(edges.copy()), num_nodes=len(types))


def to_batch(space: SearchSpace | str, archs: Iterable[Architecture]) -> Batch:
    """Many architectures as one PyG ``Batch`` (x, edge_index, batch, ptr), built in numpy.

    An empty ``archs`` is refused (:class:`~surrogate_nas.errors.SurrogateNASError`): a batch of no
    graphs has nothing a model could score, and callers should not reach here with nothing to do.
    """
    from torch_geometric.data import Batch

    space = get_space(space)
    archs = list(archs)
    if not archs:
        raise SurrogateNASError(f"to_batch: no architectures given (space {space.name!r}); a batch needs at least one")
    specs = [_spec(space, a) for a in archs]
    n_nodes = np.fromiter((len(t) for t, _ in specs), dtype=np.int64, count=len(specs))
    n_edges = np.fromiter((e.shape[1] for _, e in specs), dtype=np.int64, count=len(specs))
    ptr = np.zeros(len(specs) + 1, dtype=np.int64)
    np.cumsum(n_nodes, out=ptr[1:])
    x = np.concatenate([t for t, _ in specs])
    edge_index = np.concatenate([e for _, e in specs], axis=1) + np.repeat(ptr[:-1], n_edges)
    batch = np.repeat(np.arange(len(specs), dtype=np.int64), n_nodes)
    out = Batch(
        x=torch.from_numpy(x),
        edge_index=torch.from_numpy(edge_index),
        batch=torch.from_numpy(batch),
        ptr=torch.from_numpy(ptr),
    )
    out._num_graphs = len(specs)
    return out


def clear_cache(space: str | None = None) -> None:
    """Drop cached graph specs (all spaces, or one)."""
    if space is None:
        _CACHE.clear()
    else:
        _CACHE.pop(space, None)
