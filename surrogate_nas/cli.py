"""The ``surrogate-nas`` command line: a thin layer that turns arguments into library calls."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

import pandas as pd

from .errors import SurrogateNASError


# ---------------------------------------------------------------------- data
def _cmd_data_list(args) -> int:
    from .benchmarks import readers

    rows = []
    for src in readers.SOURCES.values():
        row = {"name": src.name, "space": src.space, "location": src.location(), "license": src.license}
        if src.available():
            t = readers.load_benchmark(src.name)
            row.update(status="available", archs=t.frame["arch"].nunique(), tasks=",".join(t.tasks), metrics=",".join(t.metrics()))
        else:
            row.update(status=f"missing: run `surrogate-nas data fetch {src.name}`", archs=0, tasks="", metrics="")
        rows.append(row)
    for name in readers.imported_tables():
        t = readers.load_benchmark(name)
        rows.append({"name": name, "space": t.space.name, "location": str(readers._imported_dir() / f"{name}.parquet"),
                     "license": "user data", "status": "imported", "archs": t.frame["arch"].nunique(),
                     "tasks": ",".join(t.tasks), "metrics": ",".join(t.metrics())})
    from .benchmarks.cache import ENV_VAR, data_dir

    print(f"data dir: {data_dir()}  (override with ${ENV_VAR})")
    _print_frame(pd.DataFrame(rows)[["name", "space", "status", "archs", "tasks", "metrics", "location", "license"]])
    return 0


def _cmd_data_fetch(args) -> int:
    from .benchmarks.cache import fetch

    path = fetch(args.name, force=args.force, url=args.url)
    print(f"{args.name}: {path} (sha256 verified)")
    return 0


def _cmd_data_import(args) -> int:
    from .benchmarks import import_table

    name, dest, table = import_table(
        args.file, args.space, name=args.name, arch_column=args.arch_column, metric=args.metric, task=args.task
    )
    print(f"imported {len(table)} records of {table.frame['arch'].nunique()} architectures as {name!r} -> {dest}")
    _print_frame(table.summary())
    return 0


# ---------------------------------------------------------------------- records
def _cmd_records_summary(args) -> int:
    from .benchmarks import load_benchmark

    table = load_benchmark(args.benchmark)
    print(f"{args.benchmark}: space {table.space.name}, {len(table)} records, "
          f"{table.frame['arch'].nunique()} architectures, source {table.source}")
    _print_frame(table.summary())
    return 0


def _cmd_records_top(args) -> int:
    from .benchmarks import load_benchmark

    table = load_benchmark(args.benchmark)
    s = table.series(args.task, args.metric).sort_values(ascending=args.ascending)
    _print_frame(s.head(args.n).rename(args.metric).reset_index())
    return 0


# ---------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="surrogate-nas", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="benchmark files: list, fetch, import").add_subparsers(dest="data_cmd", required=True)
    d = data.add_parser("list", help="what benchmark records are available, where, with which tasks/metrics")
    d.set_defaults(func=_cmd_data_list)
    d = data.add_parser("fetch", help="download a public benchmark file into the data dir (sha256-checked)")
    d.add_argument("name", help="data set to fetch (nb201)")
    d.add_argument("--force", action="store_true", help="download again even if a valid file is cached")
    d.add_argument("--url", help="alternative URL (mirror); the sha256 is still enforced")
    d.set_defaults(func=_cmd_data_fetch)
    d = data.add_parser("import", help="validate and store your own measurements (CSV/parquet) as a benchmark")
    d.add_argument("file")
    d.add_argument("--space", required=True, help="search space of the arch column (nb201, nas-bench-graph, ...)")
    d.add_argument("--name", help="name to store it under (default: the file's stem)")
    d.add_argument("--arch-column", default="arch")
    d.add_argument("--metric", help="metric name of a wide table's values (e.g. latency_ms)")
    d.add_argument("--task", help="task name for a wide table's single value column")
    d.set_defaults(func=_cmd_data_import)

    rec = sub.add_parser("records", help="inspect benchmark records").add_subparsers(dest="records_cmd", required=True)
    r = rec.add_parser("summary", help="per task/metric: archs, records, min/mean/max")
    r.add_argument("benchmark", nargs="?", default="nas-bench-graph")
    r.set_defaults(func=_cmd_records_summary)
    r = rec.add_parser("top", help="best architectures of one task/metric")
    r.add_argument("benchmark")
    r.add_argument("--task", required=True)
    r.add_argument("--metric", required=True)
    r.add_argument("-n", type=int, default=10)
    r.add_argument("--ascending", action="store_true", help="smallest first (latency, params)")
    r.set_defaults(func=_cmd_records_top)
    return p


def _print_frame(df: pd.DataFrame) -> None:
    with pd.option_context("display.max_rows", 200, "display.max_columns", 50, "display.width", 200,
                           "display.max_colwidth", 60):
        print(df.to_string(index=False))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SurrogateNASError as e:
        print(f"surrogate-nas: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("surrogate-nas: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
