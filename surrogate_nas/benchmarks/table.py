"""``BenchmarkTable``: benchmark records as one long, columnar table bound to a search space."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from ..errors import DataError, first_line
from ..io import atomic_path
from ..spaces import Architecture, SearchSpace, get_space
from .kinds import is_hardware_metric

#: Columns of every table: the architecture's native string, its canonical key, task, metric,
#: value, and optional seed / fidelity (e.g. epochs) -- NaN where the record does not say.
COLUMNS = ("arch", "key", "task", "metric", "value", "seed", "fidelity")
REQUIRED = ("arch", "task", "metric", "value")


class BenchmarkTable:
    """Records (arch, canonical key, task, metric, value[, seed, fidelity]) of one search space.

    A *task* is one dataset or device of a benchmark; a *metric* is what was measured on it
    (``test_acc``, ``valid_acc``, ``latency``, ...). ``vector(task, metric)`` aligns a task's values
    with a list of architectures, the form predictors and searchers consume.
    """

    def __init__(self, space: SearchSpace | str, frame: pd.DataFrame, source: str = ""):
        self.space = get_space(space)
        self.source = source
        self.frame = _validated(frame, source or "table")
        self._index: dict[tuple[str, str], pd.Series] = {}
        #: native string -> parsed Architecture (a string always parses to the same value): archs() is called
        #: per task by every pretrain/search, and parsing 15,625 strings each time cost seconds
        self._parsed: dict[str, Architecture] = {}
        #: metrics() / has_metric() answers: each filtered all records (600k rows for NB-201) per call, and a
        #: search or pretrain asks the same few questions hundreds of times (the records do not change, as for
        #: the series cache above)
        self._metrics_memo: dict[tuple[str | None, bool], tuple[str, ...]] = {}
        self._has_metric_memo: dict[tuple[str, str], bool] = {}
        self._strings_memo: dict[tuple[str | None, str | None], tuple[str, ...]] = {}
        self._task_names = frozenset(self.frame["task"].unique())  # _task() is on every lookup's path
        self._metric_names = frozenset(self.frame["metric"].unique())

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_records(
        cls, space: SearchSpace | str, records: pd.DataFrame | Iterable[dict], source: str = ""
    ) -> BenchmarkTable:
        """Build from long records with columns arch, task, metric, value [, seed, fidelity].

        ``arch`` holds native strings (or Architecture values); they are parsed, validated and
        keyed by the space's canonical key. Errors name the bad row and value.
        """
        space = get_space(space)
        df = records.copy() if isinstance(records, pd.DataFrame) else pd.DataFrame(list(records))
        where = source or "records"
        missing = [c for c in REQUIRED if c not in df.columns]
        if missing:
            raise DataError(f"{where}: missing column(s) {', '.join(missing)}; need {', '.join(REQUIRED)}")
        extra = [c for c in df.columns if c not in COLUMNS]
        if extra:
            raise DataError(
                f"{where}: unexpected column(s) {', '.join(map(str, extra))}; allowed: {', '.join(COLUMNS)}"
            )
        strings, keys = native_strings_and_keys(space, df["arch"].tolist(), where)
        df["arch"], df["key"] = strings, keys
        return cls(space, df, source)

    def concat(self, other: BenchmarkTable) -> BenchmarkTable:
        """A new table with the records of both (same space; conflicting duplicates are refused)."""
        if other.space.name != self.space.name:
            raise DataError(f"cannot join tables of spaces {self.space.name!r} and {other.space.name!r}")
        return BenchmarkTable(self.space, pd.concat([self.frame, other.frame], ignore_index=True), self.source)

    # ------------------------------------------------------------------ queries
    @property
    def tasks(self) -> list[str]:
        return sorted(self.frame["task"].unique().tolist())

    def metrics(self, task: str | None = None, fidelities: bool = False) -> list[str]:
        """Metric names (of ``task``); ``fidelities=True``: one ``NAME@FIDELITY`` spec per recorded fidelity
        (a bare ``NAME`` for records without one), the forms :meth:`series` accepts besides the bare name."""
        key = (None if task is None else self._task(task), bool(fidelities))
        hit = self._metrics_memo.get(key)
        if hit is None:
            f = self.frame if task is None else self.frame[self.frame["task"] == key[0]]
            if not fidelities:
                hit = tuple(sorted(f["metric"].unique().tolist()))
            else:
                pairs = f[["metric", "fidelity"]].drop_duplicates()
                hit = tuple(sorted(m if pd.isna(x) else f"{m}@{_fid(x)}" for m, x in pairs.itertuples(index=False)))
            self._metrics_memo[key] = hit
        return list(hit)

    def fidelities(self, task: str | None = None, metric: str | None = None) -> list[float]:
        """The fidelities (e.g. epochs) recorded (for a task / bare metric name), ascending."""
        f = self.frame if task is None else self.frame[self.frame["task"] == self._task(task)]
        if metric is not None:
            f = f[f["metric"] == metric]
        return sorted(float(x) for x in f["fidelity"].dropna().unique())

    def has_metric(self, task: str, metric: str) -> bool:
        """Whether :meth:`series` ``(task, metric)`` finds records (``metric``: a name or ``NAME@FIDELITY``)."""
        if task not in self._task_names:
            return False
        name, fidelity = self._metric_spec(metric)  # refuses a bad spec (never cached)
        hit = self._has_metric_memo.get((task, metric))
        if hit is None:
            f = self.frame[(self.frame["task"] == task) & (self.frame["metric"] == name)]
            hit = bool(len(f)) and (fidelity is None or bool((f["fidelity"] == fidelity).any()))
            self._has_metric_memo[(task, metric)] = hit
        return hit

    def archs(self, task: str | None = None, metric: str | None = None) -> list[Architecture]:
        """Distinct architectures with records (for a task/metric, ``NAME@FIDELITY`` accepted), in first-seen order."""
        return self.parse(self.arch_strings(task, metric))

    def arch_strings(self, task: str | None = None, metric: str | None = None) -> list[str]:
        """The native strings of :meth:`archs`, in its order (nothing parsed; read from the records once per task
        and metric)."""
        hit = self._strings_memo.get((task, metric))
        if hit is None:
            f = self.frame
            if task is not None:
                f = f[f["task"] == self._task(task)]
            if metric is not None:
                name, fidelity = self._metric_spec(metric)
                f = f[f["metric"] == name]
                if fidelity is not None:
                    f = f[f["fidelity"] == fidelity]
            # tolist: iterating an arrow-backed array is per-element slow
            hit = self._strings_memo[(task, metric)] = tuple(pd.unique(f["arch"]).tolist())
        return list(hit)

    def parse(self, strings: Sequence[str]) -> list[Architecture]:
        """The architectures of native ``strings`` of this table's space, each distinct string parsed once per
        table."""
        parsed, parse = self._parsed, self.space.parse
        out = []
        for s in strings:
            a = parsed.get(s)
            if a is None:
                a = parsed[s] = parse(s)
            out.append(a)
        return out

    def series(self, task: str, metric: str) -> pd.Series:
        """Values of one task/metric indexed by native arch string (mean over seeds).

        ``metric`` is a name (the highest fidelity recorded per architecture, e.g. NB-201 ``test_acc`` = 200
        epochs) or ``NAME@FIDELITY`` (the records of that fidelity only, e.g. ``valid_acc@12``).
        """
        task = self._task(task)
        cached = self._index.get((task, metric))
        if cached is not None:
            return cached
        name, fidelity = self._metric_spec(metric)
        f = self.frame[(self.frame["task"] == task) & (self.frame["metric"] == name)]
        if f.empty:
            raise DataError(
                f"{self.source or 'table'}: no metric {name!r} for task {task!r}; "
                f"metrics there: {', '.join(self.metrics(task))}"
            )
        if fidelity is not None:
            g = f[f["fidelity"] == fidelity]
            if g.empty:
                have = ", ".join(_fid(x) for x in self.fidelities(task, name)) or "none recorded"
                raise DataError(
                    f"{self.source or 'table'}: metric {metric!r}: no {name!r} records of fidelity "
                    f"{_fid(fidelity)} for task {task!r}; fidelities there: {have}"
                )
            f = g
        elif f["fidelity"].notna().any():
            top = f.groupby("arch")["fidelity"].transform("max")
            f = f[(f["fidelity"] == top) | top.isna()]
        s = f.groupby("arch", sort=False)["value"].mean()
        self._index[(task, metric)] = s
        return s

    def fidelity_of(self, task: str, metric: str, archs: Sequence[Architecture | str]) -> np.ndarray:
        """Per architecture, the fidelity of the records :meth:`series` ``(task, metric)`` reads: ``NAME@F``'s F;
        for a bare name the one fidelity recorded, or each architecture's highest (NaN where none is recorded)."""
        name, fidelity = self._metric_spec(metric)
        if fidelity is not None:
            return np.full(len(archs), fidelity)
        fids = self.fidelities(task, name)
        if len(fids) <= 1:
            return np.full(len(archs), fids[0] if fids else np.nan)
        f = self.frame[(self.frame["task"] == self._task(task)) & (self.frame["metric"] == name)]
        top = f.groupby("arch")["fidelity"].max()
        return top.reindex([self.space.format(self.space.coerce(a)) for a in archs]).to_numpy(dtype=float)

    def _metric_spec(self, metric: str) -> tuple[str, float | None]:
        """``NAME@FIDELITY`` -> (NAME, fidelity); a bare name (or one the table records literally) -> (name, None)."""
        if not isinstance(metric, str):
            raise DataError(f"{self.source or 'table'}: metric must be a string, got {metric!r}")
        name, at, fid = metric.rpartition("@")
        if not at or metric in self._metric_names:
            return metric, None
        try:
            fidelity = float(fid)
        except ValueError:
            fidelity = np.nan
        if not name or not np.isfinite(fidelity):
            raise DataError(
                f"{self.source or 'table'}: metric {metric!r}: expected NAME or NAME@FIDELITY "
                f"(a number, e.g. valid_acc@12)"
            )
        return name, fidelity

    def vector(
        self, task: str, metric: str, archs: Sequence[Architecture | str] | None = None, missing: str = "raise"
    ) -> np.ndarray:
        """Values of ``task``/``metric`` aligned with ``archs`` (default: ``archs(task, metric)``).

        Architectures are matched by native string. For a function-level metric (accuracy, loss, ...) a string
        without a record falls back to the canonical key (any member of an isomorphism class finds a record
        stored under another member: they compute the same function). A hardware metric
        (:func:`~surrogate_nas.benchmarks.kinds.is_hardware_metric`: latency, params, FLOPs, energy, memory)
        belongs to the string measured -- isomorphic cells are different networks -- so it never falls back.
        ``missing="nan"`` gives NaN for architectures without a record instead of raising.
        """
        s = self.series(task, metric)
        if archs is None:
            return s.to_numpy(dtype=float)
        cells = [self.space.coerce(a) for a in archs]
        strings = [self.space.format(a) for a in cells]
        out = s.reindex(strings).to_numpy(dtype=float, copy=True)
        gaps = np.flatnonzero(np.isnan(out))
        if len(gaps):
            if not is_hardware_metric(metric):  # a hardware metric belongs to the string: no fallback
                by_key = self._by_key(task, metric)
                for i in gaps:
                    out[i] = by_key.get(self.space.canonical(cells[i]), np.nan)
            still = np.flatnonzero(np.isnan(out))
            if len(still) and missing == "raise":
                raise DataError(
                    f"{self.source or 'table'}: no {metric!r} record on task {task!r} for {len(still)} "
                    f"architecture(s), e.g. {strings[still[0]]!r}"
                    + (
                        "; a hardware metric is looked up by the string measured, never by an isomorphic cell"
                        if is_hardware_metric(metric)
                        else ""
                    )
                )
        return out

    def _by_key(self, task: str, metric: str) -> dict[str, float]:
        s = self.series(task, metric)
        keys = self.frame.drop_duplicates("arch").set_index("arch")["key"]
        return pd.Series(s.to_numpy(), index=keys.reindex(s.index).to_numpy()).groupby(level=0).mean().to_dict()

    def _task(self, task: str) -> str:
        if task not in self._task_names:
            raise DataError(f"{self.source or 'table'}: unknown task {task!r}; tasks: {', '.join(self.tasks)}")
        return task

    def summary(self) -> pd.DataFrame:
        """One row per task/metric/fidelity (NaN: records without one): number of archs, records, min/mean/max."""
        g = self.frame.groupby(["task", "metric", "fidelity"], dropna=False)
        out = g["value"].agg(records="size", min="min", mean="mean", max="max")
        out.insert(0, "archs", g["arch"].nunique())
        return out.reset_index()

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        return (
            f"BenchmarkTable(space={self.space.name!r}, source={self.source!r}, records={len(self)}, "
            f"tasks={self.tasks})"
        )

    # ------------------------------------------------------------------ files
    def to_parquet(self, path: str | os.PathLike) -> None:
        """Write atomically; the space and source go into the parquet metadata."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        t = pa.Table.from_pandas(self.frame, preserve_index=False)
        meta = dict(t.schema.metadata or {})
        meta[b"surrogate_nas"] = json.dumps({"space": self.space.name, "source": self.source}).encode()
        with atomic_path(path) as tmp:
            pq.write_table(t.replace_schema_metadata(meta), tmp)

    @classmethod
    def read_parquet(cls, path: str | os.PathLike) -> BenchmarkTable:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            t = pq.read_table(path)
        except FileNotFoundError:
            raise DataError(f"benchmark table {os.fspath(path)!r} does not exist") from None
        except (pa.ArrowException, OSError) as e:
            raise DataError(
                f"benchmark table {os.fspath(path)!r} is not a readable parquet file: {first_line(e)}"
            ) from None
        meta = (t.schema.metadata or {}).get(b"surrogate_nas")
        if meta is None:
            raise DataError(f"{os.fspath(path)!r} is a parquet file but not a surrogate_nas benchmark table")
        try:
            info = json.loads(meta)
            space = info["space"]
        except (ValueError, TypeError, KeyError):
            raise DataError(f"{os.fspath(path)!r}: its surrogate_nas metadata is damaged") from None
        try:
            return cls(space, t.to_pandas(), info.get("source") or os.fspath(path))
        except DataError as e:
            raise DataError(f"stored table {os.fspath(path)!r} is damaged: {e}") from None


# ---------------------------------------------------------------------- helpers
def _fid(x: float) -> str:
    """A fidelity as a metric spec writes it: 12, not 12.0."""
    return f"{float(x):g}"


def native_strings_and_keys(
    space: SearchSpace,
    archs: list,
    where: str,
    cache: dict | None = None,
    column: str | None = None,
    rows: Sequence[int] | None = None,
) -> tuple[list[str], list[str]]:
    """(native string, canonical key) of each architecture, each distinct one parsed once (``cache``: a memo kept
    by the caller across calls); a bad one is one DataError naming its data row and ``column``. ``rows``: the data
    row of each architecture (default: 1, 2, ...)."""
    strings: list[str] = []
    keys: list[str] = []
    cache = {} if cache is None else cache
    at = f", column {column}" if column else ""
    for i, a in enumerate(archs):
        hit = cache.get(a)
        if hit is None:
            try:
                arch = space.coerce(a)
            except ValueError as e:
                row = int(rows[i]) if rows is not None else i + 1
                raise DataError(f"{where}: data row {row}{at}: {e}") from None
            hit = cache[a] = (space.format(arch), space.canonical(arch))
        strings.append(hit[0])
        keys.append(hit[1])
    return strings, keys


def _validated(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    missing = [c for c in ("arch", "key", "task", "metric", "value") if c not in frame.columns]
    if missing:
        raise DataError(f"{where}: missing column(s) {', '.join(missing)}")
    df = frame.reindex(columns=list(COLUMNS)).reset_index(drop=True)
    for col in ("arch", "key", "task", "metric"):
        empty = df[col].isna() | (df[col].astype(str).str.strip() == "")
        if empty.any():
            i = int(np.flatnonzero(empty.to_numpy())[0])
            raise DataError(f"{where}: {int(empty.sum())} record(s) with an empty {col!r}, e.g. data row {i + 1}")
    df["arch"] = df["arch"].astype(str)
    df["key"] = df["key"].astype(str)
    df["task"] = df["task"].astype(str)
    df["metric"] = df["metric"].astype(str)
    try:
        df["value"] = pd.to_numeric(df["value"], errors="raise").astype(float)
        df["seed"] = pd.to_numeric(df["seed"], errors="raise").astype("Int64")
        df["fidelity"] = pd.to_numeric(df["fidelity"], errors="raise").astype(float)
    except (ValueError, TypeError) as e:
        raise DataError(f"{where}: non-numeric value/seed/fidelity: {e}") from None
    bad = df["value"].isna() | ~np.isfinite(df["value"].to_numpy())
    if bad.any():
        r = df[bad].iloc[0]
        raise DataError(
            f"{where}: {int(bad.sum())} record(s) with NaN/inf value, e.g. arch {r['arch']!r} task {r['task']!r} "
            f"metric {r['metric']!r}"
        )
    ident = ["arch", "task", "metric", "seed", "fidelity"]
    dup = df.duplicated(ident, keep=False)
    if dup.any():
        groups = df[dup].groupby(ident, dropna=False)["value"].nunique()
        conflicts = groups[groups > 1]
        if len(conflicts):
            arch, task, metric = conflicts.index[0][:3]
            raise DataError(
                f"{where}: duplicate records with conflicting values for arch {arch!r}, task {task!r}, "
                f"metric {metric!r} ({len(conflicts)} such group(s)); give each a distinct seed or fidelity"
            )
        df = df.drop_duplicates(ident).reset_index(drop=True)
    return df
