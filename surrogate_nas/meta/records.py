"""The benchmark records a checkpoint reads when it adapts: its table, source values and free features, the tasks
whose values reach a prediction, and the isolation guard on a support (a target never sees itself)."""

from __future__ import annotations

from ..benchmarks import cached_benchmark, check_isolation
from ..errors import DataError
from ..predictors.inputs import FreeFeatureValues, SourceValues
from .checkpoint import Checkpoint

__all__ = ["benchmark_table", "check_support_isolation", "features_for", "sources_for", "tasks_read"]


def benchmark_table(ckpt: Checkpoint):
    """The checkpoint's benchmark records, from the one per-process cache
    (:func:`~surrogate_nas.benchmarks.cached_benchmark`: each adaptation, and each ensemble member, would
    otherwise parse NB-201 again, most of an adaptation's time; a re-imported user table is read again)."""
    return cached_benchmark(ckpt.sources["benchmark"])


#: Source values per (table, tasks, metric, higher_is_better), valid while the cache holds that table.
_SOURCES: dict[tuple, tuple[object, SourceValues]] = {}


def sources_for(ckpt: Checkpoint, sources: SourceValues | None) -> SourceValues:
    """The source values the checkpoint reads (or the caller's), built once per table read (ranking every
    source task's records took ~20% of a 20-architecture fit + whole-space predict)."""
    if sources is not None:
        return sources
    cfg = ckpt.sources
    if not cfg.get("tasks"):
        return SourceValues(None, ())
    table = benchmark_table(ckpt)
    key = (cfg["benchmark"], tuple(cfg["tasks"]), cfg["metric"], cfg.get("higher_is_better", True))
    hit = _SOURCES.get(key)
    if hit is not None and hit[0] is table:
        return hit[1]
    out = SourceValues(table, *key[1:])
    _SOURCES[key] = (table, out)
    return out


def features_for(ckpt: Checkpoint, features: FreeFeatureValues | None, task: str | None) -> FreeFeatureValues | None:
    """The free features the checkpoint was meta-trained with, read for ``task`` (or the caller's, if the same)."""
    names = list(ckpt.sources.get("features") or [])
    if features is not None:
        if list(features.names) != names:
            raise DataError(
                f"the checkpoint reads free features {names or 'none'}, but features={list(features.names)} was given"
            )
        return features
    if not names:
        return None
    return FreeFeatureValues(benchmark_table(ckpt), task, tuple(names), ckpt.target_metric)


def tasks_read(ckpt: Checkpoint, sources: SourceValues | None = None) -> list[str]:
    """Every task whose values reach a prediction: the checkpoint's source, training and validation tasks
    (and those of ``sources``, when the caller supplies its own)."""
    names = (
        list(ckpt.sources.get("tasks") or [])
        + list(ckpt.info.get("train_tasks") or [])
        + list(ckpt.info.get("val_tasks") or [])
        + list(sources.tasks if sources is not None else ())
    )
    return list(dict.fromkeys(str(n) for n in names))


def check_support_isolation(
    ckpt: Checkpoint, given: SourceValues | None, sources: SourceValues, task: str | None, support: tuple
) -> None:
    """Refuse a support (archs, y) measured on a task whose values the checkpoint reads: by ``task`` when named,
    else by how its values rank against those tasks' records (:func:`~surrogate_nas.benchmarks.check_isolation`).
    ``given``: the caller's source values (None: the checkpoint's), ``sources``: those read."""
    read = tasks_read(ckpt, given)
    if task is not None:
        check_isolation(task, read, where="adapt")
        return
    table = sources.table
    metric = sources.metric if table is not None else ckpt.sources.get("metric")
    if table is None and read and ckpt.sources.get("benchmark"):
        table = benchmark_table(ckpt)  # a checkpoint without source features still read its tasks
    check_isolation(None, read, where="adapt", table=table, metric=metric or ckpt.target_metric, support=support)
