"""Parsed architecture strings kept across processes: a cold ``predict`` or ``search`` reads the records' strings
(15,625 NB-201 cells) and would parse and key every one again in each new process.

A string's native form and canonical key are a pure function of the string and of the space's code, so the
memo is one JSON file per space under ``user_cache_dir()/parsed/``, named by a sha256 of the space's source
files (code that parses or keys differently never reads another version's entries). Only strings that parsed
are kept; a file that cannot be read is ignored (and rewritten), one that cannot be written leaves the memo in
this process alone.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import threading
from pathlib import Path

from ..io import atomic_write_text
from ..spaces import SearchSpace
from .cache import user_cache_dir

__all__ = ["MAX_ENTRIES", "cache_path", "parsed_cells", "save_parsed_cells"]

#: Entries kept per space (a whole NAS-Bench-Graph space is ~26k architectures, written in a few forms).
MAX_ENTRIES = 200_000

_MEMO: dict[str, dict[str, tuple[str, str]]] = {}  # space name -> {string: (native string, canonical key)}
_SAVED: dict[str, int] = {}  # space name -> entries the file holds
_LOCK = threading.Lock()


def cache_path(space: SearchSpace) -> Path:
    """The memo file of ``space``: ``parsed/<space>-<sha256 of the source of its class and base classes>.json``."""
    h = hashlib.sha256()
    for cls in type(space).__mro__:
        if cls.__module__.startswith("surrogate_nas."):
            h.update(inspect.getsource(cls).encode())
    return user_cache_dir() / "parsed" / f"{space.name}-{h.hexdigest()[:16]}.json"


def parsed_cells(space: SearchSpace) -> dict[str, tuple[str, str]]:
    """The process's memo {string: (native string, canonical key)} of ``space``, read from its file the first time:
    pass it as ``cache`` to :func:`~surrogate_nas.benchmarks.table.native_strings_and_keys`, then call
    :func:`save_parsed_cells`."""
    with _LOCK:
        memo = _MEMO.get(space.name)
        if memo is None:
            memo = _MEMO[space.name] = _read(cache_path(space))
            _SAVED[space.name] = len(memo)
        return memo


def save_parsed_cells(space: SearchSpace) -> None:
    """Write the memo of ``space`` to its file when this process added entries (atomically; up to
    :data:`MAX_ENTRIES`)."""
    with _LOCK:
        memo = _MEMO.get(space.name)
        if memo is None or len(memo) == _SAVED.get(space.name) or len(memo) > MAX_ENTRIES:
            return
        entries = {k: list(v) for k, v in memo.items() if isinstance(k, str)}
        try:
            atomic_write_text(cache_path(space), json.dumps(entries, separators=(",", ":")))
        except OSError:
            return  # a read-only cache folder: the memo stays this process's
        _SAVED[space.name] = len(memo)


def _read(path: Path) -> dict[str, tuple[str, str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    out = {}
    for k, v in data.items():
        if not (isinstance(v, list) and len(v) == 2 and all(isinstance(s, str) for s in v)):
            return {}  # not a file this module wrote: ignored whole
        out[k] = (v[0], v[1])
    return out
