"""Checks of a search's inputs before it runs: the model's space, and target isolation (the search
target is never one of the tasks the searcher reads), through the one guard
:func:`surrogate_nas.benchmarks.check_isolation`."""

from __future__ import annotations

from collections.abc import Iterable

from ..benchmarks import check_isolation
from .base import SearchError


def check_model(checkpoint, space: str, task: str | None, where: str = "search with this model") -> None:
    """Refuse a checkpoint of another space, or one that read the search target's own values."""
    if checkpoint.space.name != space:
        raise SearchError(f"model is for space {checkpoint.space.name!r}, but the search is on space {space!r}")
    if task is not None:
        from ..meta.records import tasks_read

        check_isolation(task, tasks_read(checkpoint), where=where)


def check_source_tasks(table, tasks: Iterable[str], task: str | None, metric: str, where: str) -> list[str]:
    """The source tasks as a list, each one a task of ``table`` with ``metric``, none of them the target."""
    tasks = [tasks] if isinstance(tasks, str) else tasks
    if not isinstance(tasks, (list, tuple)) or not tasks or not all(isinstance(t, str) for t in tasks):
        raise SearchError(f"{where} must be a non-empty list of task names, got {tasks!r}")
    tasks = list(dict.fromkeys(tasks))
    if task is not None:
        check_isolation(task, tasks, where=where)
    for t in tasks:
        if t not in table.tasks:
            raise SearchError(f"{where}: unknown task {t!r}; tasks: {', '.join(table.tasks)}")
        if not table.has_metric(t, metric):
            raise SearchError(f"{where}: task {t!r} has no metric {metric!r}")
    return tasks
