"""Readers that turn benchmark files into :class:`BenchmarkTable` s (registry by name)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ..errors import DataError
from ..registry import Registry
from ..spaces import get_space
from . import cache
from .table import COLUMNS, BenchmarkTable

READERS: Registry[BenchmarkTable] = Registry("benchmark reader")

NB201_CSV_COLUMNS = {
    "CIFAR10TestAccuracy200Epochs": "cifar10",
    "CIFAR100TestAccuracy200Epochs": "cifar100",
    "ImageNetTestAccuracy200Epochs": "ImageNet16-120",
}
NB201_CSV_EXTRA = ("ArchitectureString", "UniqueString")

NBG_DATASETS = ("cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv")
NBG_METRICS = {"valid_perf": "valid_perf", "perf": "test_perf", "latency": "latency", "para": "params"}


# ---------------------------------------------------------------------- NB-201 CSV dump
@READERS.register("nb201-csv")
def read_nb201_csv(path: str | os.PathLike | None = None) -> BenchmarkTable:
    """The public NATS-Bench dump: tasks cifar10, cifar100, ImageNet16-120; metric test_acc (200 epochs).

    Without ``path`` the cached file is used and checked against its sha256.
    """
    p = cache.verify("nb201") if path is None else Path(path)
    df = _read_csv(p)
    expected = set(NB201_CSV_COLUMNS) | set(NB201_CSV_EXTRA)
    missing, extra = expected - set(df.columns), set(df.columns) - expected
    if missing or extra:
        raise DataError(
            f"{p}: not the NATS-Bench dump format: "
            + "; ".join(x for x in [
                f"missing column(s) {', '.join(sorted(missing))}" if missing else "",
                f"unexpected column(s) {', '.join(sorted(extra))}" if extra else "",
            ] if x)
        )
    if len(df) != 15625:
        raise DataError(f"{p}: expected 15,625 rows (one per NB-201 cell), found {len(df)} (truncated?)")
    space = get_space("nb201")
    strings = df["ArchitectureString"].astype(str).tolist()
    archs, keys = [], []
    for row, s in enumerate(strings):
        try:
            a = space.parse(s)
        except ValueError as e:
            raise DataError(f"{p}: row {row + 2}, column ArchitectureString: {e}") from None
        archs.append(space.format(a))
        keys.append(space.canonical(a))
    parts = []
    for col, task in NB201_CSV_COLUMNS.items():
        values = pd.to_numeric(df[col], errors="coerce")
        if values.isna().any():
            row = int(np.flatnonzero(values.isna().to_numpy())[0])
            raise DataError(f"{p}: column {col}, row {row + 2}: value {df[col].iloc[row]!r} is not a number")
        parts.append(pd.DataFrame({"arch": archs, "key": keys, "task": task, "metric": "test_acc", "value": values}))
    frame = pd.concat(parts, ignore_index=True)
    frame["fidelity"] = 200.0
    return BenchmarkTable(space, frame, source=str(p))


# ---------------------------------------------------------------------- NAS-Bench-Graph
def _read_nbg(space_name: str, datasets: tuple[str, ...]) -> BenchmarkTable:
    from nas_bench_graph import light_read  # package-shipped files (trusted, installed with the package)

    space = get_space(space_name)
    parts = []
    for name in datasets:
        bench = light_read(name)
        keys = np.fromiter(bench.keys(), dtype=np.int64, count=len(bench))
        archs = [space.format(space.from_key(k)) for k in keys]
        str_keys = keys.astype(str)
        for src, metric in NBG_METRICS.items():
            vals = np.fromiter((float(bench[int(k)][src]) for k in keys), dtype=float, count=len(keys))
            parts.append(pd.DataFrame({"arch": archs, "key": str_keys, "task": name, "metric": metric, "value": vals}))
    return BenchmarkTable(space, pd.concat(parts, ignore_index=True), source=f"nas_bench_graph package ({space_name})")


@READERS.register("nas-bench-graph")
def read_nas_bench_graph(datasets: tuple[str, ...] | list[str] | None = None) -> BenchmarkTable:
    """NAS-Bench-Graph's 8 node-classification datasets (26,206 archs each) from the installed package.

    Metrics: valid_perf, test_perf, latency (s), params (M).
    """
    datasets = tuple(datasets) if datasets else NBG_DATASETS
    bad = [d for d in datasets if d not in NBG_DATASETS]
    if bad:
        raise DataError(f"nas-bench-graph: unknown dataset(s) {', '.join(bad)}; datasets: {', '.join(NBG_DATASETS)}")
    return _read_nbg("nas-bench-graph", datasets)


@READERS.register("nas-bench-graph-proteins")
def read_nas_bench_graph_proteins() -> BenchmarkTable:
    """NAS-Bench-Graph's proteins records (2,021 archs over its own 5-op space)."""
    return _read_nbg("nas-bench-graph-proteins", ("proteins",))


# ---------------------------------------------------------------------- user tables
@READERS.register("csv")
def read_table(
    path: str | os.PathLike,
    space: str,
    arch_column: str = "arch",
    metric: str | None = None,
    task: str | None = None,
) -> BenchmarkTable:
    """A user's own measurements (CSV or parquet) over a space's native architecture strings.

    *Long* format: columns ``arch, task, metric, value`` (optional ``seed``, ``fidelity``), one
    record per row. *Wide* format: ``arch`` plus one numeric column per task, all holding
    ``metric`` (required for wide tables, e.g. ``latency_ms``). ``task`` renames the single
    value column of a 2-column wide table.
    """
    p = Path(path)
    df = pd.read_parquet(p) if p.suffix.lower() in (".parquet", ".pq") else _read_csv(p)
    if arch_column not in df.columns:
        raise DataError(f"{p}: no architecture column {arch_column!r}; columns are {', '.join(map(str, df.columns))}")
    df = df.rename(columns={arch_column: "arch"})
    if {"task", "metric", "value"} <= set(df.columns):
        extra = [c for c in df.columns if c not in COLUMNS or c == "key"]
        if extra:
            raise DataError(f"{p}: long table has unexpected column(s) {', '.join(map(str, extra))}; allowed: arch, task, metric, value, seed, fidelity")
        long = df
    else:
        if {"task", "metric", "value"} & set(df.columns):
            have = sorted({"task", "metric", "value"} & set(df.columns))
            raise DataError(f"{p}: long format needs columns task, metric and value; found only {', '.join(have)}")
        if metric is None:
            raise DataError(f"{p}: wide table (one column per task): say which metric its values are (metric=..., --metric)")
        tasks = [c for c in df.columns if c != "arch"]
        if not tasks:
            raise DataError(f"{p}: no value columns besides {arch_column!r}")
        if task is not None:
            if len(tasks) != 1:
                raise DataError(f"{p}: task={task!r} renames a single value column, but there are {len(tasks)}")
            df = df.rename(columns={tasks[0]: task})
            tasks = [task]
        for c in tasks:
            vals = pd.to_numeric(df[c], errors="coerce")
            bad = vals.isna() & df[c].notna()
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raise DataError(f"{p}: column {c!r}, row {row + 2}: {df[c].iloc[row]!r} is not a number")
            if vals.isna().any():
                row = int(np.flatnonzero(vals.isna().to_numpy())[0])
                raise DataError(f"{p}: column {c!r}, row {row + 2}: missing (NaN) value")
        long = df.melt(id_vars="arch", value_vars=tasks, var_name="task", value_name="value")
        long["metric"] = metric
    if long["value"].isna().any():
        row = int(np.flatnonzero(long["value"].isna().to_numpy())[0])
        raise DataError(f"{p}: missing (NaN) value for arch {long['arch'].iloc[row]!r}")
    return BenchmarkTable.from_records(space, long, source=str(p))


# ---------------------------------------------------------------------- NB-201 official file
@READERS.register("nb201-official")
def read_nb201_official(path: str | os.PathLike, hp: str = "200") -> BenchmarkTable:
    from .nb201_official import read_official

    return read_official(path, hp=hp)


def _read_csv(p: Path) -> pd.DataFrame:
    if not p.is_file():
        raise DataError(f"{p} does not exist")
    try:
        return pd.read_csv(p)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise DataError(f"{p}: cannot parse as CSV: {e}") from None


# ---------------------------------------------------------------------- catalogue
@dataclass(frozen=True)
class Source:
    """A benchmark as ``data list`` shows it."""

    name: str
    reader: str
    space: str
    location: Callable[[], str]
    available: Callable[[], bool]
    license: str


def _nbg_location() -> str:
    import nas_bench_graph

    return str(Path(nas_bench_graph.__file__).parent / "light")


def _imported_dir() -> Path:
    return cache.data_dir() / "imported"


SOURCES = {
    "nb201": Source("nb201", "nb201-csv", "nb201", lambda: str(cache.cached_path("nb201")),
                    lambda: cache.cached_path("nb201").is_file(), cache.REMOTE_FILES["nb201"].license),
    "nas-bench-graph": Source("nas-bench-graph", "nas-bench-graph", "nas-bench-graph", _nbg_location,
                              lambda: True, "MIT (NAS-Bench-Graph, THUMNLab), embedded in the nas-bench-graph package"),
    "nas-bench-graph-proteins": Source("nas-bench-graph-proteins", "nas-bench-graph-proteins",
                                       "nas-bench-graph-proteins", _nbg_location, lambda: True,
                                       "MIT (NAS-Bench-Graph, THUMNLab), embedded in the nas-bench-graph package"),
}


def imported_tables() -> list[str]:
    d = _imported_dir()
    return sorted(p.stem for p in d.glob("*.parquet")) if d.is_dir() else []


def load_benchmark(name: str, **kwargs) -> BenchmarkTable:
    """A benchmark by catalogue name (``nb201``, ``nas-bench-graph``, ...), reader name, or imported table."""
    if name in SOURCES:
        return READERS.get(SOURCES[name].reader, **kwargs)
    if name in READERS:
        return READERS.get(name, **kwargs)
    p = _imported_dir() / f"{name}.parquet"
    if p.is_file():
        return BenchmarkTable.read_parquet(p)
    known = sorted(set(SOURCES) | set(imported_tables()))
    raise DataError(f"unknown benchmark {name!r}; available: {', '.join(known)}")


def import_table(path: str | os.PathLike, space: str, name: str | None = None, **kwargs) -> tuple[str, Path, BenchmarkTable]:
    """Validate a user table and store it (parquet, atomically) under the data dir as ``name``."""
    table = read_table(path, space, **kwargs)
    name = name or Path(path).stem
    if name in SOURCES or name in READERS or not name.replace("-", "").replace("_", "").isalnum():
        raise DataError(f"invalid name {name!r} for an imported table (letters, digits, - and _; not a built-in name)")
    dest = _imported_dir() / f"{name}.parquet"
    table.to_parquet(dest)
    return name, dest, table
