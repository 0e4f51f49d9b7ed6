"""Free features of architectures in a benchmark table: the shipped NB-201 table, NAS-Bench-Graph's own metrics.

- NB-201: :data:`NB201_FEATURES`, the same for every task. ``params`` and ``flops`` belong to the string (a
  string is a network: isomorphic cells can differ in both): read per string from
  ``data/nb201/params_flops.csv.xz`` (all 15,625 strings, :func:`~surrogate_nas.features.compute.compute_params_flops`,
  cache name :data:`SHIPPED_PER_STRING`). The zero-cost proxies are computed once per canonical class
  (:func:`~surrogate_nas.features.compute`, 0.55 s a cell) and shipped as ``data/nb201/free_features.csv.xz``
  (cache name :data:`SHIPPED`): every member of a class gets its class's proxies. Both files are read through the
  data cache's lookup order with their sha256 checked.
- NAS-Bench-Graph: ``params`` and ``latency`` of the task itself, recorded by the benchmark without training.

A feature is never the metric a model predicts (:class:`~surrogate_nas.benchmarks.TargetLeakError`).
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TypeAlias

import numpy as np
import pandas as pd

from ..benchmarks import BenchmarkTable, TargetLeakError
from ..benchmarks.kinds import is_hardware_metric
from ..benchmarks.ranks import average_ranks
from ..errors import DataError
from ..spaces import Architecture
from .compute import FEATURES

__all__ = [
    "NB201_FEATURES",
    "NBG_FEATURES",
    "PER_STRING_FEATURES",
    "SHIPPED",
    "SHIPPED_PER_STRING",
    "available_features",
    "free_features",
    "feature_ranks",
    "read_features",
    "read_params_flops",
    "rank_normalise",
]

NB201_FEATURES = FEATURES
NBG_FEATURES = ("params", "latency")
#: The shipped NB-201 table's name in the data cache (``benchmarks.cache.REMOTE_FILES``).
SHIPPED = "nb201-free-features"
#: The shipped per-string params/FLOPs of every NB-201 string (``benchmarks.cache.REMOTE_FILES``).
SHIPPED_PER_STRING = "nb201-params-flops"
#: NB-201 features that belong to the string (hardware numbers), read per string from the shipped
#: :data:`SHIPPED_PER_STRING` table; the others (zero-cost proxies) per canonical class.
PER_STRING_FEATURES = ("params", "flops")

Source: TypeAlias = "str | os.PathLike | pd.DataFrame | None"


def available_features(table: BenchmarkTable, task: str | None, metric: str | None = None) -> tuple[str, ...]:
    """The free features ``table`` has for ``task``: NB-201's proxies, NAS-Bench-Graph's params/latency, or ();
    ``metric``: the metric being predicted, left out (NAS-Bench-Graph's latency and params are both: a predicted
    value is never an input)."""
    if not isinstance(table, BenchmarkTable):
        raise DataError(f"available_features: expected a BenchmarkTable, got {type(table).__name__}")
    names: tuple[str, ...] = ()
    if table.space.name == "nb201":
        names = NB201_FEATURES
    elif table.space.name.startswith("nas-bench-graph") and task in table.tasks:
        have = set(table.metrics(task))
        names = tuple(f for f in NBG_FEATURES if f in have)
    return tuple(f for f in names if f != metric)


def free_features(
    table: BenchmarkTable,
    task: str,
    archs: Sequence[Architecture | str],
    names: Sequence[str] | None = None,
    *,
    metric: str | None = None,
    source: Source = None,
) -> np.ndarray:
    """Raw feature values, shape (len(archs), len(names)), float64, NaN where unknown.

    ``names``: default all of :func:`available_features`. ``metric``: the metric the model predicts; it may
    not be one of ``names``. ``source`` (NB-201 only): a features table (path of an ``.csv.xz`` written by
    ``compute``, or its DataFrame from :func:`read_features`) instead of the shipped one; it is read per
    canonical class for every column, as it was computed.

    NB-201 with the shipped tables: ``params`` and ``flops`` are the string's own network's (per string: two
    isomorphic cells can differ); the zero-cost proxies are its canonical class's (one per class).
    """
    names = _checked(table, task, names, metric)
    archs = [table.space.coerce(a) for a in archs]
    if table.space.name == "nb201":
        return _nb201_lookup(table.space, archs, names, source, ranks=False)
    out = np.full((len(archs), len(names)), np.nan)
    for j, name in enumerate(names):
        out[:, j] = table.vector(task, name, archs, missing="nan")
    return out


def feature_ranks(
    table: BenchmarkTable,
    task: str | None,
    archs: Sequence[Architecture | str],
    names: Sequence[str] | None = None,
    *,
    metric: str | None = None,
    source: Source = None,
) -> np.ndarray:
    """The features of :func:`free_features` as ranks in [-1, 1] (average ranks for ties), NaN where unknown.

    Ranks are taken over every record the feature has -- all canonical classes of the NB-201 proxies table,
    all 15,625 strings for the shipped NB-201 params/FLOPs, all architectures of the NAS-Bench-Graph task --
    never over ``archs`` alone, and never from target values.
    """
    names = _checked(table, task, names, metric)
    cells = [table.space.coerce(a) for a in archs]
    if table.space.name == "nb201":
        return _nb201_lookup(table.space, cells, names, source, ranks=True)
    out = np.full((len(cells), len(names)), np.nan)
    assert task is not None  # _checked refuses a missing task outside NB-201
    space = table.space
    for j, name in enumerate(names):
        s = table.series(task, name)
        ranked = pd.Series(rank_normalise(s.to_numpy(dtype=float)), index=s.index)
        strings = [space.format(a) for a in cells]
        col = ranked.reindex(strings).to_numpy(dtype=float, copy=True)
        gaps = np.flatnonzero(np.isnan(col))
        if len(gaps) and not is_hardware_metric(name):  # another member of the arch's isomorphism class holds
            # the record: it stands in for a function-level value; a hardware one belongs to the string
            keys = table.frame.drop_duplicates("arch").set_index("arch")["key"]
            by_key = pd.Series(ranked.to_numpy(), index=keys.reindex(ranked.index).to_numpy())
            by_key = by_key.groupby(level=0).mean()
            col[gaps] = by_key.reindex([space.canonical(cells[i]) for i in gaps]).to_numpy(dtype=float)
        out[:, j] = col
    return out


def _nb201_lookup(space, archs: Sequence, names: tuple[str, ...], source: Source, ranks: bool) -> np.ndarray:
    """NB-201 features of ``archs`` (their ranks with ``ranks``): each canonical class's from ``source`` (default:
    the shipped table); with the shipped table, the :data:`PER_STRING_FEATURES` each string's own."""
    by_class, per_string = (_nb201_ranks, _shipped_per_string_ranks) if ranks else (_nb201_frame, _shipped_per_string)
    out = _by_class(by_class(source), space, archs, names)
    return _per_string(out, per_string() if source is None else None, space, archs, names)


def _per_string(out: np.ndarray, frame: pd.DataFrame | None, space, archs, names) -> np.ndarray:
    """``out`` with its :data:`PER_STRING_FEATURES` columns replaced by ``frame``'s rows (indexed by native
    string; NaN for a string it lacks); ``out`` as it is when ``frame`` is None."""
    cols = [j for j, n in enumerate(names) if n in PER_STRING_FEATURES]
    if frame is None or not cols:
        return out
    strings = [space.format(a) for a in archs]
    for j in cols:
        out[:, j] = frame[names[j]].reindex(strings).to_numpy(dtype=float)
    return out


def _by_class(frame: pd.DataFrame, space, archs, names) -> np.ndarray:
    """Columns ``names`` of a per-canonical-class frame, one row per architecture (NaN for an unknown class)."""
    keys = [space.canonical(a) for a in archs]
    return (
        np.stack([frame[n].reindex(keys).to_numpy(dtype=float) for n in names], axis=1)
        if names
        else np.zeros((len(archs), 0))
    )


def rank_normalise(values: np.ndarray) -> np.ndarray:
    """Average ranks of the non-NaN ``values`` scaled to [-1, 1] (lowest -1, highest 1); NaN stays NaN.

    Ranks only: any monotone transform (log, scale) of the values gives the same result; ``+-inf`` are the
    extremes. A single known value maps to 0.
    """
    v = np.asarray(values, dtype=float)
    out = np.full(v.shape, np.nan)
    known = ~np.isnan(v)
    n = int(known.sum())
    if n == 1:
        out[known] = 0.0
    elif n > 1:
        r = average_ranks(v[known])
        out[known] = (r - 1.0) / (n - 1.0) * 2.0 - 1.0
    return out


def _checked(
    table: BenchmarkTable, task: str | None, names: Sequence[str] | None, metric: str | None
) -> tuple[str, ...]:
    if task is None and table.space.name == "nb201":
        pass  # NB-201's features are the same for every task: none needs naming
    elif task not in table.tasks:
        raise DataError(f"{table.source or 'table'}: unknown task {task!r}; tasks: {', '.join(table.tasks)}")
    have = available_features(table, task)
    if names is None:
        names = have
    elif isinstance(names, str):
        names = (names,)
    names = tuple(names)
    bad = [n for n in names if n not in have]
    if bad:
        raise DataError(
            f"unknown free feature(s) {', '.join(map(repr, bad))} for task {task!r} of "
            f"{table.space.name}; available: {', '.join(have) if have else 'none'}"
        )
    if metric is not None and metric in names:
        raise TargetLeakError(
            f"free feature {metric!r} is the metric the model predicts on task {task!r}: a value "
            f"a model predicts is never one of its inputs; drop it from the features"
        )
    return names


# ---------------------------------------------------------------------- the NB-201 table
def read_features(path: str | os.PathLike | None = None) -> tuple[pd.DataFrame, dict[str, str]]:
    """A features table (indexed by canonical key) and its ``# name: value`` metadata.

    Default: the shipped table, located and sha256-checked by the data cache.
    """
    text, where = _read_text(path, SHIPPED, "features table")
    return _parse(text, where)


def _read_text(path, shipped: str, what: str) -> tuple[str, str]:
    """(text, where) of ``path``, or of the shipped file ``shipped`` (located and sha256-checked) when None."""
    if path is None:
        from ..benchmarks.cache import read_verified

        data, where = read_verified(shipped)
    else:
        from ..benchmarks.cache import read_bytes

        where = Path(path)
        data = read_bytes(where, what)
    return data.decode(), str(where)


def _parse(
    text: str,
    where: str,
    index: str = "key",
    columns: tuple = FEATURES,
    what: str = "features table",
    na_features: bool = True,
) -> tuple[pd.DataFrame, dict[str, str]]:
    """A ``# name: value`` header, then a CSV with columns ``key, arch`` + ``columns``, indexed by ``index`` (unique)
    with float ``columns``; ``na_features``: an empty ``columns`` cell is NaN (never for ``key``/``arch``)."""
    meta: dict[str, str] = {}
    lines = text.splitlines(keepends=True)
    i = 0
    while i < len(lines) and lines[i].startswith("# "):
        k, _, v = lines[i][2:].rstrip("\n").partition(": ")
        meta[k] = v
        i += 1
    try:
        frame = pd.read_csv(
            io.StringIO("".join(lines[i:])),
            dtype={"key": str, "arch": str},
            keep_default_na=False,
            na_values={f: [""] for f in columns} if na_features else None,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise DataError(f"{where}: not a {what} ({e})") from None
    missing = [c for c in ("key", "arch") + tuple(columns) if c not in frame.columns]
    if missing:
        raise DataError(f"{where}: missing column(s) {', '.join(missing)}")
    if frame[index].duplicated().any():
        raise DataError(f"{where}: duplicate {index} {frame[index][frame[index].duplicated()].iloc[0]!r}")
    frame = frame.set_index(index)
    frame[list(columns)] = frame[list(columns)].astype(float)
    return frame, meta


@lru_cache(maxsize=4)
def _shipped() -> pd.DataFrame:
    return read_features()[0]


def read_params_flops(path: str | os.PathLike | None = None) -> tuple[pd.DataFrame, dict[str, str]]:
    """The per-string NB-201 params/FLOPs table (indexed by native string; columns ``key, params, flops``) and
    its ``# name: value`` metadata. Default: the shipped one (:data:`SHIPPED_PER_STRING`), sha256-checked."""
    text, where = _read_text(path, SHIPPED_PER_STRING, "params/FLOPs table")
    return _parse(text, where, index="arch", columns=PER_STRING_FEATURES, what="params/FLOPs table", na_features=False)


@lru_cache(maxsize=1)
def _shipped_per_string() -> pd.DataFrame:
    return read_params_flops()[0]


@lru_cache(maxsize=1)
def _shipped_per_string_ranks() -> pd.DataFrame:
    f = _shipped_per_string()
    return pd.DataFrame({n: rank_normalise(f[n].to_numpy(dtype=float)) for n in PER_STRING_FEATURES}, index=f.index)


@lru_cache(maxsize=4)
def _shipped_ranks() -> pd.DataFrame:
    return _ranked(_shipped())


def _ranked(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({f: rank_normalise(frame[f].to_numpy(dtype=float)) for f in FEATURES}, index=frame.index)


def _nb201_frame(source) -> pd.DataFrame:
    if source is None:
        return _shipped()
    return source if isinstance(source, pd.DataFrame) else read_features(source)[0]


def _nb201_ranks(source) -> pd.DataFrame:
    return _shipped_ranks() if source is None else _ranked(_nb201_frame(source))
