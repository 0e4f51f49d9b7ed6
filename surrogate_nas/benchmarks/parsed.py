"""Parsed architecture strings kept across processes: a cold ``predict`` or ``search`` reads the records' strings
(15,625 NB-201 cells) and would parse and key every one again in each new process; NAS-Bench-Graph's records are
stored under keys (26,206 per dataset), each of which names an architecture only through the space's whole
enumeration.

A string's native form and canonical key, and the native string a record key names, are a pure function of the
space's code (and of the packages it names in ``code_packages``), so each memo is one JSON file per space under
``user_cache_dir()/parsed/``, named by a sha256 of the space's source files and those packages' versions (code that
parses or keys differently never reads another version's entries). Only strings that parsed are kept; a file that
cannot be read is ignored (and rewritten), one that cannot be written leaves the memo in this process alone.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import threading
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from ..io import atomic_write_text
from ..spaces import SearchSpace
from .cache import user_cache_dir

__all__ = ["MAX_ENTRIES", "cache_path", "parsed_cells", "record_strings", "save_parsed_cells", "save_record_strings"]

#: Entries kept per space (a whole NAS-Bench-Graph space is ~26k architectures, written in a few forms).
MAX_ENTRIES = 200_000

#: Memo kinds: "" {string: (native string, canonical key)}; "keys" {record key: native string}.
_MEMOS: dict[tuple[str, str], dict] = {}  # (kind, space name) -> the process's memo
_SAVED: dict[tuple[str, str], int] = {}  # (kind, space name) -> entries its file holds
_LOCK = threading.Lock()


def cache_path(space: SearchSpace, kind: str = "") -> Path:
    """The memo file of ``space``: ``parsed/<space>[-<kind>]-<sha256 of the source of its class and base classes and
    of its code packages' versions>.json``."""
    h = hashlib.sha256()
    for cls in type(space).__mro__:
        if cls.__module__.startswith("surrogate_nas."):
            h.update(inspect.getsource(cls).encode())
    for package in space.code_packages:
        h.update(f"{package}=={metadata.version(package)}".encode())
    return user_cache_dir() / "parsed" / f"{space.name}{'-' + kind if kind else ''}-{h.hexdigest()[:16]}.json"


def parsed_cells(space: SearchSpace) -> dict[str, tuple[str, str]]:
    """The process's memo {string: (native string, canonical key)} of ``space``, read from its file the first time:
    pass it as ``cache`` to :func:`~surrogate_nas.benchmarks.table.native_strings_and_keys`, then call
    :func:`save_parsed_cells`."""
    return _memo(space, "", _cell_entry)


def save_parsed_cells(space: SearchSpace) -> None:
    """Write the memo of ``space`` to its file when this process added entries (atomically; up to
    :data:`MAX_ENTRIES`)."""
    _save(space, "", list)


def record_strings(space: SearchSpace) -> dict[str, str]:
    """The process's memo {record key: native string of the architecture it names} of ``space`` (a benchmark that
    stores records under keys, as NAS-Bench-Graph does), read from its file the first time; add what is missing,
    then call :func:`save_record_strings`."""
    return _memo(space, "keys", _key_entry)


def save_record_strings(space: SearchSpace) -> None:
    """Write the record-key memo of ``space`` to its file when this process added entries (atomically)."""
    _save(space, "keys", str)


def _memo(space: SearchSpace, kind: str, entry: Callable) -> dict:
    """The process's memo of ``kind`` for ``space``, read from its file (values checked by ``entry``) the first time."""
    with _LOCK:
        memo = _MEMOS.get((kind, space.name))
        if memo is None:
            memo = _MEMOS[(kind, space.name)] = _read(cache_path(space, kind), entry)
            _SAVED[(kind, space.name)] = len(memo)
        return memo


def _save(space: SearchSpace, kind: str, to_json: Callable) -> None:
    """Write the memo of ``kind`` for ``space`` (each value through ``to_json``) when this process added entries."""
    with _LOCK:
        memo = _MEMOS.get((kind, space.name))
        if memo is None or len(memo) == _SAVED.get((kind, space.name)) or len(memo) > MAX_ENTRIES:
            return
        entries = {k: to_json(v) for k, v in memo.items() if isinstance(k, str)}
        try:
            atomic_write_text(cache_path(space, kind), json.dumps(entries, separators=(",", ":")))
        except OSError:
            return  # a read-only cache folder: the memo stays this process's
        _SAVED[(kind, space.name)] = len(memo)


def _cell_entry(v):
    if isinstance(v, list) and len(v) == 2 and all(isinstance(s, str) for s in v):
        return (v[0], v[1])
    return None


def _key_entry(v):
    return v if isinstance(v, str) else None


def _read(path: Path, entry: Callable) -> dict:
    """The memo a file holds, each value checked by ``entry`` (None: not one this module wrote: the file is ignored
    whole)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    out = {}
    for k, v in data.items():
        value = entry(v)
        if value is None:
            return {}
        out[k] = value
    return out
