"""`records summary | top`: inspect benchmark records."""

from __future__ import annotations

from .common import POSITIVE, config_option, metric_name, print_frame, require


def _cmd_records_summary(args) -> int:
    from ..benchmarks import load_benchmark

    table = load_benchmark(args.benchmark)
    print(
        f"{args.benchmark}: space {table.space.name}, {len(table)} records, "
        f"{table.frame['arch'].nunique()} architectures, source {table.source}"
    )
    print_frame(table.summary())
    return 0


def _cmd_records_top(args) -> int:
    from ..benchmarks import load_benchmark

    require(args, "task")
    table = load_benchmark(args.benchmark)
    metric = metric_name(args.metric, table, args.benchmark, args.task)
    s = table.series(args.task, metric).sort_values(ascending=args.ascending)
    print_frame(s.head(args.n).rename(metric).reset_index())
    return 0


def register(sub, full: bool = True) -> None:
    """Add the `records` command(s) to the subparsers ``sub``."""
    rec = sub.add_parser("records", help="inspect benchmark records", description="Inspect benchmark records.")
    rsub = rec.add_subparsers(dest="records_cmd", required=True, metavar="ACTION")
    r = rsub.add_parser(
        "summary",
        help="per task/metric: archs, records, min/mean/max",
        description="Per task and metric: architectures, records, min/mean/max.",
    )
    r.add_argument("benchmark", nargs="?", default="nas-bench-graph", help="benchmark name (see `data list`)")
    config_option(r, "keys: the options by name")
    r.set_defaults(func=_cmd_records_summary)
    r = rsub.add_parser(
        "top",
        help="best architectures of one task/metric",
        description="The best architectures of one task and metric.",
    )
    r.add_argument("benchmark", help="benchmark name (see `data list`)")
    r.add_argument("--task", help="task of the benchmark; required")
    r.add_argument("--metric", help="metric of the task (default: the benchmark's, or the table's only metric)")
    r.add_argument("-n", type=POSITIVE, default=10, help="how many to show")
    r.add_argument("--ascending", action="store_true", help="smallest first (latency, params)")
    config_option(r, "keys: the options by name")
    r.set_defaults(func=_cmd_records_top)
