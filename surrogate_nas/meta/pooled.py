"""Pooled graph rows, cached per model: the graph part of the network under a checkpoint's own weights, computed
once per architecture and process (:func:`pooled_rows`), and within :func:`rows_on_disk` kept across processes.

The store (``user_cache_dir()/pooled/``) holds one file per model, space, device and graph flag, named by a sha256 of
the graph part's weights, the code that converts and pools graphs and the torch / PyG versions: rows of other weights
or code are never read. A file that cannot be read is ignored (and rewritten), one that cannot be written leaves the
rows in this process alone; the :data:`MAX_STORED` most recently written files are kept.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import io
import json
import threading
import weakref
from collections.abc import Iterator, Sequence
from importlib import metadata
from pathlib import Path

import torch

from ..errors import DataError
from ..spaces import Architecture

__all__ = ["MAX_STORED", "clear_pooled_cache", "pooled_rows", "rows_on_disk", "store_path"]

#: Per checkpoint model (weakly: dropped with the model), per (space, device, graph encoding): the rows of
#: :meth:`~surrogate_nas.predictors.gnn.GraphRegressor.pool` (message passing + pooling; then the raw graph
#: encoding, for ``*+graph`` GP kernels) of every architecture predicted so far. They depend on the weights and the
#: graph only, so a predictor that predicts with the checkpoint's own weights (no inner step, the deep-kernel
#: default) computes each architecture's once per process, however many fits and predictions a search makes.
_POOLED: weakref.WeakKeyDictionary[torch.nn.Module, dict] = weakref.WeakKeyDictionary()
_POOLED_LOCK = threading.Lock()
#: Files the store keeps (the oldest written go first): a whole NB-201 space is 15,625 rows of 64 floats (4 MB) for
#: the default model width, NAS-Bench-Graph's 26,206 (6.7 MB).
MAX_STORED = 16
_ON_DISK = [0]  # depth of rows_on_disk() blocks open (guarded by _POOLED_LOCK)


@contextlib.contextmanager
def rows_on_disk() -> Iterator[None]:
    """Within the block, :func:`pooled_rows` takes the rows it lacks from the store before computing any, and writes
    what it computed back: a fresh process (``surrogate-nas predict``) then runs no graph part, and does not import
    PyG, for architectures a previous one ran through the same weights."""
    with _POOLED_LOCK:
        _ON_DISK[0] += 1
    try:
        yield
    finally:
        with _POOLED_LOCK:
            _ON_DISK[0] -= 1


class _PooledRows:
    """One model's cached rows: ``index`` (architecture -> row of ``rows``), valid while ``stamp`` holds."""

    def __init__(self, stamp: tuple):
        self.stamp = stamp
        self.index: dict[Architecture, int] = {}
        self.rows: torch.Tensor | None = None
        self.stored: tuple[dict[str, int], torch.Tensor] | None = None  # the store file's rows, once read

    def add(self, archs: list[Architecture], rows: torch.Tensor) -> None:
        start = 0 if self.rows is None else len(self.rows)
        self.rows = rows if self.rows is None else torch.cat([self.rows, rows])
        self.index.update(zip(archs, range(start, start + len(archs))))


def _weights_stamp(model) -> tuple:
    """Changes when a weight of the graph part is replaced or modified in place (an optimiser step,
    ``load_state_dict``): rows computed with the old weights are dropped then. Builds no deferred convolution."""
    return tuple((name, t.data_ptr(), t._version) for name, t in model.graph_weights().items())


@functools.cache
def _code_fingerprint(space) -> bytes:
    """What the rows depend on besides the weights: the code that converts and pools graphs, torch's and PyG's
    versions."""
    from .. import graphs
    from ..predictors import gnn
    from . import deep_kernel

    h = hashlib.sha256()
    parts = [inspect.getsource(graphs), inspect.getsource(gnn.GraphRegressor), inspect.getsource(gnn._conv)]
    parts += [inspect.getsource(deep_kernel.graph_encoding)]
    parts += [inspect.getsource(c) for c in type(space).__mro__ if c.__module__.startswith("surrogate_nas.")]
    parts += [metadata.version(p) for p in ("torch", "torch_geometric")]
    for part in parts:
        h.update(part.encode())
    return h.digest()


def store_path(model, space, device, graph: bool) -> Path:
    """The store's file of ``model``'s rows for ``space`` on ``device`` (``graph``: with the raw graph encoding); its
    name hashes the model's configuration too, so weights read under another configuration never share rows."""
    from ..benchmarks.cache import user_cache_dir

    h = hashlib.sha256(_code_fingerprint(space))
    h.update(f"{space.name}|{device}|{bool(graph)}|{json.dumps(model.config.to_dict(), sort_keys=True)}".encode())
    for name, t in sorted(model.graph_weights().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        h.update(t.numpy().tobytes())
    return user_cache_dir() / "pooled" / f"{space.name}-{h.hexdigest()[:24]}.pt"


def _read_store(path: Path, width: int) -> tuple[dict[str, int], torch.Tensor]:
    """({architecture string: row}, rows) of a store file; nothing when it is missing or not one this module wrote."""
    empty: tuple[dict[str, int], torch.Tensor] = ({}, torch.zeros(0, width))
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
        archs = json.loads(data["archs"])
        rows = data["rows"]
    except Exception:  # noqa: BLE001 - missing, truncated or foreign: recomputed and rewritten
        return empty
    if not (isinstance(archs, list) and isinstance(rows, torch.Tensor) and rows.shape == (len(archs), width)):
        return empty
    if not all(isinstance(a, str) for a in archs):
        return empty
    return {a: i for i, a in enumerate(archs)}, rows


def _write_store(path: Path, space, entry: _PooledRows) -> None:
    """Write the entry's rows and the rows of the file it read that it did not take (atomically), then drop the oldest
    files beyond :data:`MAX_STORED`."""
    from ..io import atomic_write_bytes

    assert entry.rows is not None
    names = [space.format(a) for a in sorted(entry.index, key=entry.index.__getitem__)]
    rows = entry.rows.detach().cpu()
    where, stored = entry.stored or ({}, rows[:0])
    taken = set(names)
    kept = [(name, i) for name, i in where.items() if name not in taken]
    if kept:
        names += [name for name, _ in kept]
        rows = torch.cat([rows, stored[torch.as_tensor([i for _, i in kept], dtype=torch.long)]])
    entry.stored = ({name: i for i, name in enumerate(names)}, rows)
    buf = io.BytesIO()
    torch.save({"archs": json.dumps(names), "rows": rows}, buf)
    try:
        atomic_write_bytes(path, buf.getvalue())
        files = sorted(path.parent.glob("*.pt"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in files[MAX_STORED:]:
            old.unlink(missing_ok=True)
    except OSError:
        return  # a read-only cache folder: the rows stay this process's


def _from_store(space, entry: _PooledRows, missing: list[Architecture], device) -> list[Architecture]:
    """Add the rows of ``missing`` the store's file holds to ``entry``; the architectures still missing."""
    assert entry.stored is not None
    where, rows = entry.stored
    if not where:
        return missing
    found = [(a, where.get(space.format(a), -1)) for a in missing]
    hits = [(a, i) for a, i in found if i >= 0]
    if hits:
        entry.add([a for a, _ in hits], rows[torch.as_tensor([i for _, i in hits], dtype=torch.long)].to(device))
    return [a for a, i in found if i < 0]


def pooled_rows(model, space, archs: Sequence[Architecture], device, graph: bool, convert, batch: int) -> torch.Tensor:
    """[len(archs), w] rows of ``model.pool`` under the model's own weights (then the raw graph encoding, with
    ``graph``), from the process cache (and the store, within :func:`rows_on_disk`); the architectures it lacks are
    converted by ``convert`` (archs -> (x, edge_index, batch, num_graphs)) and run through the graph part in chunks
    of ``batch``, then kept."""
    with _POOLED_LOCK:
        per_model = _POOLED.setdefault(model, {})
        key = (space.name, str(device), bool(graph))
        stamp = _weights_stamp(model)
        entry = per_model.get(key)
        if entry is None or entry.stamp != stamp:
            entry = per_model[key] = _PooledRows(stamp)
        rows = [entry.index.get(a, -1) for a in archs]
        missing = list(dict.fromkeys(a for a, r in zip(archs, rows) if r < 0)) if -1 in rows else []
        if missing:
            _fill(model, space, entry, missing, device, graph, convert, batch)
            entry.stamp = _weights_stamp(model)  # the same weights: building deferred convolutions moves them only
            rows = [r if r >= 0 else entry.index[a] for a, r in zip(archs, rows)]
        if entry.rows is None:  # nothing asked for and nothing cached: no width to give an empty result
            raise DataError("pooled_rows needs at least one architecture")
        return entry.rows[torch.as_tensor(rows, dtype=torch.long, device=entry.rows.device)]


def _fill(model, space, entry: _PooledRows, missing: list, device, graph: bool, convert, batch: int) -> None:
    """Add the rows of ``missing`` to ``entry``: from the store where it is open and holds them, else computed."""
    from .deep_kernel import graph_encoding_dim

    path = store_path(model, space, device, graph) if _ON_DISK[0] > 0 else None
    if path is not None:
        if entry.stored is None:
            entry.stored = _read_store(path, model.pool_dim() + (graph_encoding_dim(space) if graph else 0))
        missing = _from_store(space, entry, missing, device)
    if not missing:
        return
    entry.add(missing, _compute(model, missing, graph, convert, batch))
    if path is not None:
        _write_store(path, space, entry)


def _compute(model, archs: list, graph: bool, convert, batch: int) -> torch.Tensor:
    """The rows of ``archs``: the graph part in chunks of ``batch`` (then the raw graph encoding, with ``graph``)."""
    from .deep_kernel import graph_encoding

    new = []
    with torch.no_grad():
        for i in range(0, len(archs), batch):
            inputs = convert(archs[i : i + batch])
            g = model.pool(*inputs[:4])
            if graph:
                g = torch.cat([g, graph_encoding(inputs, model.embed.num_embeddings)], 1)
            new.append(g)
    return torch.cat(new)


def clear_pooled_cache() -> None:
    """Drop every cached pooled row (they are also dropped with their model, or when its weights change)."""
    with _POOLED_LOCK:
        _POOLED.clear()
