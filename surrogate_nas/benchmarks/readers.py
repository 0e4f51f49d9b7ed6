"""Readers that turn benchmark files into :class:`BenchmarkTable` s (registry by name)."""

from __future__ import annotations

import csv
import io
import json
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError, first_line
from ..io import atomic_write_text
from ..registry import Registry
from ..spaces import get_space
from . import cache
from .kinds import RepeatedMeasurementsWarning, is_hardware_metric
from .parsed import parsed_cells, record_strings, save_parsed_cells, save_record_strings
from .table import COLUMNS, BenchmarkTable, native_strings_and_keys

READERS: Registry[BenchmarkTable] = Registry("benchmark reader")

NB201_CSV_COLUMNS = {
    "CIFAR10TestAccuracy200Epochs": "cifar10",
    "CIFAR100TestAccuracy200Epochs": "cifar100",
    "ImageNetTestAccuracy200Epochs": "ImageNet16-120",
}
NB201_CSV_EXTRA = ("ArchitectureString", "UniqueString")
#: The 12-epoch file (``nb201_hp12_valid_test.csv``): task -> (valid_acc column, test_acc column), fidelity 12.
NB201_HP12_COLUMNS = {
    "cifar10": ("cifar10-val", "cifar10-test"),
    "cifar100": ("cifar100-val", "cifar100-test"),
    "ImageNet16-120": ("imagenet-val", "imagenet-test"),
}
NB201_HP12_EXTRA = ("arch", "cellstr")

NBG_DATASETS = ("cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv")
NBG_METRICS = {"valid_perf": "valid_perf", "perf": "test_perf", "latency": "latency", "para": "params"}


# ---------------------------------------------------------------------- NB-201 CSV dump


@READERS.register("nb201-csv")
def read_nb201_csv(path: str | os.PathLike | None = None, hp12: str | os.PathLike | bool = True) -> BenchmarkTable:
    """NAS-Bench-201 records of tasks cifar10, cifar100, ImageNet16-120, each carrying its fidelity (epochs):
    ``test_acc`` at fidelity 200 (the public NATS-Bench dump) and, from the 12-epoch file, ``valid_acc`` and
    ``test_acc`` at fidelity 12 (``test_acc`` alone reads the 200-epoch value; ``valid_acc@12`` selects by
    fidelity, see :meth:`BenchmarkTable.series`).

    Without ``path`` the 200-epoch records are found by :func:`cache.locate` (``$SURROGATE_NAS_DATA``, the user
    cache, the repo's ``data/``) and their bytes checked against the published sha256; likewise the 12-epoch
    records (``nb201-hp12``) unless ``hp12`` is a path (that file) or False (200-epoch records only). Row i of the
    12-epoch file must be the same cell as row i of the 200-epoch dump.
    """
    df, p = _shipped_or_file("nb201", path)
    _check_columns(df, set(NB201_CSV_COLUMNS) | set(NB201_CSV_EXTRA), f"{p}: not the NATS-Bench dump format")
    if len(df) != 15625:
        raise DataError(f"{p}: expected 15,625 rows (one per NB-201 cell), found {len(df)} (truncated?)")
    space = get_space("nb201")
    strings = df["ArchitectureString"].astype(str).tolist()
    cells = parsed_cells(space)  # each string parsed once per machine, not per process
    archs, keys = native_strings_and_keys(space, strings, str(p), cache=cells, column="ArchitectureString")
    save_parsed_cells(space)
    parts = [
        _nb201_records(archs, keys, task, "test_acc", _numeric_column(df, col, p), 200.0)
        for col, task in NB201_CSV_COLUMNS.items()
    ]
    if hp12 is not False:
        parts += _nb201_hp12_records(space, strings, archs, keys, None if hp12 is True else hp12)
    frame = pd.concat(parts, ignore_index=True)
    return BenchmarkTable(space, frame, source=str(p))


def _shipped_or_file(name: str, path: str | os.PathLike | None) -> tuple[pd.DataFrame, Path | str]:
    """(the CSV as a frame, where it came from): ``path``, or the data cache's sha256-checked copy of ``name``."""
    if path is None:
        data, p = cache.read_verified(name)
        return pd.read_csv(io.BytesIO(data)), p
    return _read_csv(Path(path)), Path(path)


def _check_columns(df: pd.DataFrame, expected: set, what: str) -> None:
    """Refuse a frame whose columns are not exactly ``expected``, naming the missing and unexpected ones."""
    missing, extra = expected - set(df.columns), set(df.columns) - expected
    if missing or extra:
        raise DataError(
            f"{what}: "
            + "; ".join(
                x
                for x in [
                    f"missing column(s) {', '.join(sorted(missing))}" if missing else "",
                    f"unexpected column(s) {', '.join(sorted(extra))}" if extra else "",
                ]
                if x
            )
        )


def _nb201_hp12_records(
    space, strings: list[str], archs: list[str], keys: list[str], path: str | os.PathLike | None
) -> list[pd.DataFrame]:
    """The 12-epoch records (valid_acc, test_acc at fidelity 12), row-aligned with the 200-epoch dump whose raw
    ``ArchitectureString`` s are ``strings`` (formatted: ``archs``, canonical keys: ``keys``)."""
    df, p = _shipped_or_file("nb201-hp12", path)
    _check_columns(
        df,
        {c for cols in NB201_HP12_COLUMNS.values() for c in cols} | set(NB201_HP12_EXTRA),
        f"{p}: not the NB-201 12-epoch table format",
    )
    if len(df) != len(strings):
        raise DataError(
            f"{p}: expected {len(strings):,} rows (one per row of the 200-epoch NB-201 dump), found "
            f"{len(df)} (truncated?)"
        )
    cells = df["cellstr"].astype(str).to_numpy()
    differ = np.flatnonzero(cells != np.asarray(strings, dtype=object))
    for row in differ:  # the same cell written another way is fine; another cell is not
        try:
            same = space.format(space.parse(cells[row])) == archs[row]
        except ValueError as e:
            raise DataError(f"{p}: data row {row + 1}, column cellstr: {e}") from None
        if not same:
            raise DataError(
                f"{p}: data row {row + 1}: cell {cells[row]!r} is not the cell of row {row + 1} of the "
                f"200-epoch NB-201 dump ({archs[row]!r}); the two files must list the cells in the same "
                "order (the NB-201 index)"
            )
    return [
        _nb201_records(archs, keys, task, metric, _numeric_column(df, col, p), 12.0)
        for task, cols in NB201_HP12_COLUMNS.items()
        for metric, col in zip(("valid_acc", "test_acc"), cols)
    ]


def _numeric_column(df: pd.DataFrame, col: str, p) -> pd.Series:
    """Column ``col`` of an NB-201 file as numbers; the first cell that is not one is refused naming its data row."""
    values = pd.to_numeric(df[col], errors="coerce")
    if values.isna().any():
        row = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise DataError(f"{p}: column {col}, data row {row + 1}: value {df[col].iloc[row]!r} is not a number")
    return values


def _nb201_records(archs: list[str], keys: list[str], task: str, metric: str, values, fidelity: float) -> pd.DataFrame:
    """One NB-201 column as records of ``task``/``metric`` at ``fidelity`` (epochs)."""
    return pd.DataFrame(
        {"arch": archs, "key": keys, "task": task, "metric": metric, "value": values, "fidelity": fidelity}
    )


# ---------------------------------------------------------------------- NAS-Bench-Graph
def _read_nbg(space_name: str, datasets: tuple[str, ...]) -> BenchmarkTable:
    from ..spaces.nasbench_graph import NASBenchGraphSpace

    space = get_space(space_name)
    assert isinstance(space, NASBenchGraphSpace)
    parts = []
    for name in datasets:
        archs, str_keys, values = _nbg_columns(space, name)
        for metric, vals in values.items():
            parts.append(pd.DataFrame({"arch": archs, "key": str_keys, "task": name, "metric": metric, "value": vals}))
    return BenchmarkTable(space, pd.concat(parts, ignore_index=True), source=f"nas_bench_graph package ({space_name})")


#: (space, dataset) -> the columns read from the installed package's files, which do not change while the
#: process runs: a second load_benchmark() builds its table from them instead of decoding 26k records again.
_NBG_COLUMNS: dict[tuple[str, str], tuple[list[str], np.ndarray, dict[str, np.ndarray]]] = {}


def _nbg_columns(space, name: str) -> tuple[list[str], np.ndarray, dict[str, np.ndarray]]:
    """(native strings, keys as strings, metric -> values) of one NAS-Bench-Graph dataset, in the file's order."""
    hit = _NBG_COLUMNS.get((space.name, name))
    if hit is None:
        from nas_bench_graph import light_read  # package-shipped files (trusted, installed with the package)

        bench = light_read(name)
        keys = np.fromiter(bench.keys(), dtype=np.int64, count=len(bench))
        recs = [bench[int(k)] for k in keys]
        values = {
            metric: np.fromiter((float(r[src]) for r in recs), dtype=float, count=len(recs))
            for src, metric in NBG_METRICS.items()
        }
        str_keys = keys.astype(str)
        archs = _key_strings(space, str_keys.tolist())
        for v in (str_keys, *values.values()):
            v.flags.writeable = False  # shared by every table built from them (each table copies them)
        hit = _NBG_COLUMNS[(space.name, name)] = (archs, str_keys, values)
    return hit


def _key_strings(space, keys: list[str]) -> list[str]:
    """The native string of the architecture each record key names, from the machine's memo where it has it (the
    space's enumeration of every key costs seconds per process)."""
    memo = record_strings(space)
    missing = [k for k in keys if k not in memo]
    if missing:
        memo.update((k, space.format(space.from_key(k))) for k in missing)
        save_record_strings(space)
    return [memo[k] for k in keys]


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

    Refused, each with an error naming the file, column and data row (rows are counted 1-based
    from the first record; the header is not a row): a header without records, duplicate or
    unnamed columns, empty arch/task/metric cells, values that are not numbers (booleans
    included) or not finite, and two records of the same architecture string with different values for
    the same task/metric/seed/fidelity.

    A string is a network: isomorphic cells (different strings, one canonical key) are accepted with
    different values for every metric. For a hardware metric
    (:func:`~surrogate_nas.benchmarks.kinds.is_hardware_metric`: latency, params, FLOPs, ...) silently -- they
    are different networks; for a function-level metric (accuracy, ...) with one
    :class:`~surrogate_nas.benchmarks.kinds.RepeatedMeasurementsWarning` (a one-line note: they are treated as
    repeated measurements of one function, averaged where a class stands in for a string).
    """
    p = Path(path)
    sp = get_space(space)
    df = _user_records(read_user_file(p), p, arch_column)
    if {"task", "metric", "value"} <= set(df.columns):
        long = _long_records(df, p)
    else:
        long = _wide_records(df, p, arch_column, metric, task)
    _require_text(long, "arch", p)
    long[_STRING], long["key"] = _row_keys(sp, long, p)
    _refuse_conflicts(sp, long, p)
    return BenchmarkTable.from_records(sp, long.drop(columns=[_ROW, _STRING, "key"]), source=str(p))


_ROW = "__data_row"  # 1-based data row of the file a record came from (for messages)
_STRING = "__string"  # the architecture's native string (the parsed, re-formatted arch cell)


def _user_records(df: pd.DataFrame, p: Path, arch_column: str) -> pd.DataFrame:
    """A user file's rows with the architecture column named ``arch`` and each row's data row number in
    :data:`_ROW`; a file without the architecture column, with a second ``arch`` or without records is refused."""
    if arch_column not in df.columns:
        raise DataError(f"{p}: no architecture column {arch_column!r}; columns are {', '.join(map(str, df.columns))}")
    if arch_column != "arch" and "arch" in df.columns:
        raise DataError(f"{p}: has a column 'arch' besides the architecture column {arch_column!r}; rename one")
    if len(df) == 0:
        raise DataError(f"{p}: no records (only a header)")
    df = df.rename(columns={arch_column: "arch"}).reset_index(drop=True)
    df.insert(0, _ROW, np.arange(1, len(df) + 1))
    return df


def _long_records(df: pd.DataFrame, p: Path) -> pd.DataFrame:
    """A long table (``arch, task, metric, value`` and optional ``seed``, ``fidelity``) with its cells checked
    and its numbers parsed."""
    extra = [c for c in df.columns if c != _ROW and (c not in COLUMNS or c == "key")]
    if extra:
        raise DataError(
            f"{p}: long table has unexpected column(s) {', '.join(map(str, extra))}; "
            "allowed: arch, task, metric, value, seed, fidelity"
        )
    for c in ("task", "metric"):
        _require_text(df, c, p)
    df["value"] = _numbers(df, "value", p, required=True)
    for c in ("seed", "fidelity"):
        if c in df.columns:
            df[c] = _numbers(df, c, p, required=False)
    return df


def _wide_records(df: pd.DataFrame, p: Path, arch_column: str, metric: str | None, task: str | None) -> pd.DataFrame:
    """A wide table (one value column per task, all holding ``metric``; ``task`` renames a single one) as long
    records."""
    if {"task", "metric", "value"} & set(df.columns):
        have = sorted({"task", "metric", "value"} & set(df.columns))
        raise DataError(f"{p}: long format needs columns task, metric and value; found only {', '.join(have)}")
    if metric is None:
        raise DataError(
            f"{p}: wide table (one column per task): say which metric its values are (metric=..., --metric)"
        )
    if not str(metric).strip():
        raise DataError(f"{p}: the metric name is empty")
    tasks = [c for c in df.columns if c not in ("arch", _ROW)]
    if not tasks:
        raise DataError(f"{p}: no value columns besides {arch_column!r}")
    if task is not None:
        if len(tasks) != 1:
            raise DataError(f"{p}: task={task!r} renames a single value column, but there are {len(tasks)}")
        df = df.rename(columns={tasks[0]: task})
        tasks = [task]
    for c in tasks:
        df[c] = _numbers(df, c, p, required=True)
    long = df.melt(id_vars=[_ROW, "arch"], value_vars=tasks, var_name="task", value_name="value")
    long["metric"] = metric
    return long


def read_user_file(path: str | os.PathLike) -> pd.DataFrame:
    """A CSV or parquet file as a frame; refuses (DataError naming the file) a directory, a missing or
    unreadable file, and duplicate or unnamed columns (which pandas would silently rename)."""
    p = Path(path)
    if p.suffix.lower() in (".parquet", ".pq"):
        _check_file(p)
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            schema = pq.read_schema(p)
            names = [str(n) for n in schema.names]
            _check_names(p, names)
            nested = [f for f in schema if pa.types.is_nested(f.type)]
            if nested:
                raise DataError(
                    f"{p}: column {nested[0].name!r} holds {nested[0].type} values; every cell must be one "
                    "number or string"
                )
            df = pq.read_table(p).to_pandas()
        except (pa.ArrowException, OSError) as e:
            raise DataError(f"{p}: not a readable parquet file ({first_line(e)})") from None
    else:
        df = _read_csv(p)
        with open(p, newline="", encoding="utf-8", errors="replace") as fh:
            _check_names(p, next(csv.reader(fh), []))
    return df


def _check_names(p: Path, names: list[str]) -> None:
    reserved = [n for n in names if n.startswith("__")]
    if reserved:
        raise DataError(f"{p}: column name {reserved[0]!r} is reserved (names starting with '__' are used inside)")
    dups = sorted({n for n in names if names.count(n) > 1})
    if dups:
        raise DataError(f"{p}: duplicate column name(s) {', '.join(map(repr, dups))}; every column needs its own name")
    unnamed = [i + 1 for i, n in enumerate(names) if not n.strip()]
    if unnamed:
        raise DataError(f"{p}: column {unnamed[0]} has no name (empty header cell)")


def _require_text(df: pd.DataFrame, col: str, p: Path) -> None:
    empty = df[col].isna() | (df[col].astype(str).str.strip() == "")
    if empty.any():
        raise DataError(f"{p}: data row {int(df[_ROW][empty].iloc[0])}: empty {col!r} cell")


def _numbers(df: pd.DataFrame, col: str, p: Path, required: bool) -> pd.Series:
    raw = df[col]
    is_bool = raw.map(lambda v: isinstance(v, (bool, np.bool_)))
    if is_bool.any():
        i = int(np.flatnonzero(is_bool.to_numpy())[0])
        raise DataError(
            f"{p}: column {col!r}, data row {int(df[_ROW].iloc[i])}: {_show(raw.iloc[i])} is a boolean, not a number"
        )
    vals = pd.to_numeric(raw, errors="coerce")
    for bad, what in (
        (vals.isna() & raw.notna(), "is not a number"),
        (vals.isna() if required else pd.Series(False, index=raw.index), "is missing"),
        (vals.notna() & ~np.isfinite(vals.astype(float)), "is not finite"),
    ):
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            shown = "the value" if pd.isna(raw.iloc[i]) else _show(raw.iloc[i])
            raise DataError(f"{p}: column {col!r}, data row {int(df[_ROW].iloc[i])}: {shown} {what}")
    return vals.astype(float)


def _row_keys(space, long: pd.DataFrame, p: Path) -> tuple[list[str], list[str]]:
    """(native string, canonical key) of every record's arch cell; a bad cell is refused naming its data row."""
    archs = [str(a) for a in long["arch"]]
    return native_strings_and_keys(space, archs, str(p), column="arch", rows=long[_ROW].tolist())


def _refuse_conflicts(space, long: pd.DataFrame, p: Path) -> None:
    """Two records of one architecture *string* for one task/metric/seed/fidelity must agree.

    Isomorphic strings (one canonical key) may differ: silently for a hardware metric (different networks),
    with one :class:`RepeatedMeasurementsWarning` for a function-level one (repeated measurements of one function).
    """
    extra = [c for c in ("seed", "fidelity") if c in long.columns]
    first, other = _conflict(long, [_STRING, "task", "metric"] + extra)
    if first is not None:
        raise DataError(
            f"{p}: data rows {int(first[_ROW])} and {int(other[_ROW])}: architecture {first[_STRING]!r} appears twice "
            f"with different values {_show(first['value'])} and {_show(other['value'])} for task {first['task']!r}, "
            f"metric {first['metric']!r}; keep one, or give them distinct seeds"
        )
    kinds = {m: is_hardware_metric(m) for m in pd.unique(long["metric"])}
    function = long[~long["metric"].map(kinds).astype(bool)]
    if function.empty:
        return
    ident = ["key", "task", "metric"] + extra
    spread = function.groupby(ident, dropna=False, sort=False)["value"].nunique()
    n = int((spread > 1).sum())
    if n:
        first, other = _conflict(function, ident)
        metrics = sorted({k[2] for k in spread[spread > 1].index})
        warnings.warn(
            RepeatedMeasurementsWarning(
                f"{p}: {n} group(s) of isomorphic cells hold different {', '.join(map(repr, metrics))} values "
                f"(e.g. data rows {int(first[_ROW])} and {int(other[_ROW])}: "
                f"{_show(first['value'])} and {_show(other['value'])}); "
                "they are treated as repeated measurements of one function"
            ),
            stacklevel=3,
        )


def _conflict(long: pd.DataFrame, ident: list[str]):
    """The first record whose ``ident`` group holds more than one value, and a record of the group that differs
    from it (None, None when every group agrees)."""
    spread = long.groupby(ident, dropna=False, sort=False)["value"].transform("nunique")
    if not (spread > 1).any():
        return None, None
    first = long[spread > 1].iloc[0]
    same = long
    for c in ident:
        same = same[same[c].isna() if pd.isna(first[c]) else same[c] == first[c]]
    return first, same[same["value"] != first["value"]].iloc[0]


def _show(v) -> str:
    return repr(v.item() if isinstance(v, np.generic) else v)


# ---------------------------------------------------------------------- NB-201 official file
@READERS.register("nb201-official")
def read_nb201_official(path: str | os.PathLike, hp: str = "200") -> BenchmarkTable:
    from .nb201_official import read_official

    return read_official(path, hp=hp)


def _check_file(p: Path) -> None:
    if p.is_dir():
        raise DataError(f"{p} is a directory, not a table file")
    if not p.is_file():
        raise DataError(f"{p} does not exist")


def _read_csv(p: Path) -> pd.DataFrame:
    _check_file(p)
    try:
        return pd.read_csv(p)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise DataError(f"{p}: cannot parse as CSV: {first_line(e)}") from None


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


def _located(name: str) -> str | None:
    try:
        return str(cache.locate(name))
    except DataError:
        return None


def _imported_dir() -> Path:
    return cache.data_dir() / "imported"


SOURCES = {
    "nb201": Source(
        "nb201",
        "nb201-csv",
        "nb201",
        lambda: _located("nb201") or str(cache.cached_path("nb201")),
        lambda: _located("nb201") is not None,
        cache.REMOTE_FILES["nb201"].license,
    ),
    "nas-bench-graph": Source(
        "nas-bench-graph",
        "nas-bench-graph",
        "nas-bench-graph",
        _nbg_location,
        lambda: True,
        "MIT (NAS-Bench-Graph, THUMNLab), embedded in the nas-bench-graph package",
    ),
    "nas-bench-graph-proteins": Source(
        "nas-bench-graph-proteins",
        "nas-bench-graph-proteins",
        "nas-bench-graph-proteins",
        _nbg_location,
        lambda: True,
        "MIT (NAS-Bench-Graph, THUMNLab), embedded in the nas-bench-graph package",
    ),
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


#: Per-process cache of :func:`cached_benchmark`: name -> (file stamp, table).
_CACHE: dict[str, tuple[tuple | None, BenchmarkTable]] = {}


def _imported_stamp(name: str) -> tuple | None:
    """Identity of an imported table's file (path, inode, size, mtime), None for any other name: a re-import
    (an atomic rename: a new inode) is seen, an unchanged file is not parsed again."""
    if name in SOURCES or name in READERS:
        return None
    p = _imported_dir() / f"{name}.parquet"
    try:
        st = p.stat()
    except OSError:
        return None
    return (str(p), st.st_ino, st.st_size, st.st_mtime_ns)


def cached_benchmark(name: str) -> BenchmarkTable:
    """``load_benchmark(name)``, parsed once per process: the one cache of benchmark tables (adaptation, search
    and the experiments share it). A built-in benchmark is kept by name; a user's imported table by its file,
    so a re-import is read again. Callers must not modify the table."""
    stamp = _imported_stamp(name)
    hit = _CACHE.get(name)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    table = load_benchmark(name)
    _CACHE[name] = (stamp, table)
    return table


def import_table(
    path: str | os.PathLike, space: str, name: str | None = None, lower_is_better: bool = False, **kwargs
) -> tuple[str, Path, BenchmarkTable]:
    """Validate a user table and store it (parquet, atomically) under the data dir as ``name``.

    ``lower_is_better``: its metrics are latency-like; recorded next to it as ``NAME.json`` (see
    :func:`imported_lower_is_better`).
    """
    name = name or Path(path).stem
    if name in SOURCES or name in READERS or not name.replace("-", "").replace("_", "").isalnum():
        raise DataError(f"invalid name {name!r} for an imported table (letters, digits, - and _; not a built-in name)")
    table = read_table(path, space, **kwargs)
    dest = _imported_dir() / f"{name}.parquet"
    table.to_parquet(dest)
    side = dest.with_suffix(".json")
    if lower_is_better:
        record = {"lower_is_better": True, "metrics": sorted(table.frame["metric"].unique().tolist())}
        atomic_write_text(side, json.dumps(record, indent=1) + "\n")
    else:  # an earlier import under this name may have left one
        side.unlink(missing_ok=True)
    return name, dest, table


def imported_lower_is_better(name: str) -> bool | None:
    """Whether the imported table ``name`` was imported with ``lower_is_better`` (None: no such table)."""
    d = _imported_dir()
    if not (d / f"{name}.parquet").is_file():
        return None
    try:
        return bool(json.loads((d / f"{name}.json").read_text())["lower_is_better"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
