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

_MEMO: dict[str, dict[str, tuple[str, str]]] = {}  # space name -> {string: (native string, canonical key)}
_SAVED: dict[str, int] = {}  # space name -> entries the file holds
_KEYS: dict[str, dict[str, str]] = {}  # space name -> {record key: native string}
_KEYS_SAVED: dict[str, int] = {}
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
    with _LOCK:
        memo = _MEMO.get(space.name)
        if memo is None:
            memo = _MEMO[space.name] = _read(cache_path(space), _cell_entry)
            _SAVED[space.name] = len(memo)
        return memo


def save_parsed_cells(space: SearchSpace) -> None:
    """Write the memo of ``space`` to its file when this process added entries (atomically; up to
    :data:`MAX_ENTRIES`)."""
    with _LOCK:
        _save(space, _MEMO, _SAVED, cache_path(space), lambda v: list(v))


def record_strings(space: SearchSpace) -> dict[str, str]:
    """The process's memo {record key: native string of the architecture it names} of ``space`` (a benchmark that
    stores records under keys, as NAS-Bench-Graph does), read from its file the first time; add what is missing,
    then call :func:`save_record_strings`."""
    with _LOCK:
        memo = _KEYS.get(space.name)
        if memo is None:
            memo = _KEYS[space.name] = _read(cache_path(space, "keys"), _key_entry)
            _KEYS_SAVED[space.name] = len(memo)
        return memo


def save_record_strings(space: SearchSpace) -> None:
    """Write the record-key memo of ``space`` to its file when this process added entries (atomically)."""
    with _LOCK:
        _save(space, _KEYS, _KEYS_SAVED, cache_path(space, "keys"), lambda v: v)


def _save(space: SearchSpace, memos: dict, saved: dict, path: Path, entry: Callable) -> None:
    memo = memos.get(space.name)
    if memo is None or len(memo) == saved.get(space.name) or len(memo) > MAX_ENTRIES:
        return
    entries = {k: entry(v) for k, v in memo.items() if isinstance(k, str)}
    try:
        atomic_write_text(path, json.dumps(entries, separators=(",", ":")))
    except OSError:
        return  # a read-only cache folder: the memo stays this process's
    saved[space.name] = len(memo)


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
