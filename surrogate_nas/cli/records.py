"""`records summary | top`: inspect benchmark records."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from ..typed import Int, TypedConfig
from .common import metric_name, print_frame
from .options import Given, Group, command, command_group


class SummaryOptions(TypedConfig):
    what: ClassVar[str] = "records summary"

    benchmark: str | None = Field(None, description="benchmark name (see `data list`; default: one line each)")


class TopOptions(TypedConfig):
    what: ClassVar[str] = "records top"

    benchmark: str = Field(description="benchmark name (see `data list`)")
    task: str = Field(description="task of the benchmark")
    metric: str | None = Field(None, description="metric of the task (default: the benchmark's, or its only metric)")
    n: Int = Field(10, ge=1, description="how many to show")
    ascending: bool = Field(False, description="smallest first (latency, params)")


def _cmd_records_summary(given: Given) -> int:
    from ..benchmarks import load_benchmark

    args = given.build("summary")
    if args.benchmark is None:
        return _summary_lines()
    table = load_benchmark(args.benchmark)
    print(
        f"{args.benchmark}: space {table.space.name}, {len(table)} records, "
        f"{table.frame['arch'].nunique()} architectures, source {table.source}"
    )
    print_frame(table.summary())
    return 0


def _summary_lines() -> int:
    """One line per available benchmark (the built-in ones with their files, then the imported ones)."""
    from ..benchmarks import readers

    names = [s.name for s in readers.SOURCES.values() if s.available()] + list(readers.imported_tables())
    for name in names:
        t = readers.load_benchmark(name)
        print(
            f"{name}: space {t.space.name}, {len(t)} records, {t.frame['arch'].nunique()} architectures, "
            f"{len(t.tasks)} tasks, metrics {', '.join(t.metrics())}"
        )
    print("(`records summary NAME`: per task and metric of one benchmark)")
    return 0


def _cmd_records_top(given: Given) -> int:
    from ..benchmarks import load_benchmark

    args = given.build("top")
    table = load_benchmark(args.benchmark)
    metric = metric_name(args.metric, table, args.benchmark, args.task)
    s = table.series(args.task, metric).sort_values(ascending=args.ascending)
    print_frame(s.head(args.n).rename(metric).reset_index())
    return 0


def register(sub, full: bool = True) -> None:
    """Add `records summary` and `records top` to the subparsers ``sub``."""
    rsub = command_group(sub, "records", "inspect benchmark records", "records_cmd")
    group = Group("summary", SummaryOptions, ("benchmark",), positional=("benchmark",))
    command(rsub, "summary", SUMMARY, _cmd_records_summary, [group], "the options by name")
    fields = ("benchmark", "task", "metric", "n", "ascending")
    group = Group(
        "top", TopOptions, fields, positional=("benchmark",), rename={"n": "-n"}, required=("benchmark", "task")
    )
    command(rsub, "top", TOP, _cmd_records_top, [group], "the options by name")


SUMMARY = (
    "per task/metric: archs, records, min/mean/max",
    "Per task and metric: architectures, records, min/mean/max; without a benchmark, one line per available benchmark.",
)
TOP = ("best architectures of one task/metric", "The best architectures of one task and metric.")
