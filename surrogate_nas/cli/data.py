"""`data list | fetch | features | import`: benchmark files."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..errors import SurrogateNASError
from .common import (
    POSITIVE,
    PROG,
    WIDTH,
    UsageError,
    clip,
    config_option,
    fit_table,
    one_line,
    plain_table,
    print_frame,
    require,
)


def _cmd_data_list(args) -> int:
    import pandas as pd

    from ..benchmarks import readers
    from ..benchmarks.cache import ENV_VAR, data_dir

    rows: list[dict] = []
    notes: list[str] = []

    def add(name: str, space: str, status: str, location: str, license: str, load) -> None:
        rows.append(_benchmark_row(name, space, status, location, license, load, notes, args.verbose))

    for src in readers.SOURCES.values():
        ok = src.available()
        add(
            src.name,
            src.space,
            "available" if ok else "missing",
            src.location(),
            src.license,
            (lambda n=src.name: readers.load_benchmark(n)) if ok else None,
        )
        if not ok:
            notes.append(f"{src.name}: missing; run `{PROG} data fetch {src.name}`")
    for name in readers.imported_tables():
        add(
            name,
            "?",
            "imported",
            str(readers._imported_dir() / f"{name}.parquet"),
            "user data",
            lambda n=name: readers.load_benchmark(n),
        )
    cols = ["name", "space", "status", "archs", "tasks", "metrics", "fidelities"] + (
        ["location", "license"] if args.verbose else []
    )
    print(f"data dir: {data_dir()}" + (f"  (override with ${ENV_VAR})" if args.verbose else ""))
    frame = pd.DataFrame(rows)[cols]
    print(plain_table(frame) if args.verbose else fit_table(frame, WIDTH))
    print("\n" + (plain_table(_data_files(args.verbose)) if args.verbose else fit_table(_data_files(False), WIDTH)))
    for note in notes:
        print(note if args.verbose else clip(note, WIDTH))
    if not args.verbose:
        print(f"(--verbose: all names, locations, licenses, full messages; ${ENV_VAR}: another data dir)")
    return 0


def _data_files(verbose: bool):
    """The data files that are not benchmarks of their own (free features, params/FLOPs, other fidelities)."""
    import pandas as pd

    from ..benchmarks import readers
    from ..benchmarks.cache import REMOTE_FILES, locate

    rows = []
    for rf in REMOTE_FILES.values():
        if rf.name in readers.SOURCES:
            continue
        try:
            where, status = str(locate(rf.name)), "available"
        except SurrogateNASError:
            where, status = "", "missing"
        rows.append(
            {"data file": rf.name, "status": status, "holds": rf.description, "location": where, "license": rf.license}
        )
    return pd.DataFrame(rows)[["data file", "status", "holds"] + (["location", "license"] if verbose else [])]


def _cmd_data_fetch(args) -> int:
    from ..benchmarks.cache import fetch, install_from

    if args.source and args.url:
        raise UsageError("data fetch: give --from FILE or --url URL, not both")
    if args.source:
        path = install_from(args.name, args.source, force=args.force)
    else:
        path = fetch(args.name, force=args.force, url=args.url)
    print(f"{args.name}: {path} (sha256 verified)")
    return 0


def _cmd_data_features(args) -> int:
    require(args, "space")
    from ..features import compute

    out = compute(
        args.space,
        out=args.out,
        store=args.store,
        dataset=args.dataset,
        data_root=args.data_root,
        batch_size=args.batch_size,
        seed=args.seed,
        address=args.address,
        workers=args.workers,
        limit=args.limit,
        progress=args.progress,
    )
    print(f"free features of {args.space} -> {out}")
    return 0


def _cmd_data_import(args) -> int:
    require(args, "space")
    import warnings

    from ..benchmarks import import_table
    from ..benchmarks.kinds import RepeatedMeasurementsWarning
    from ..benchmarks.readers import imported_tables

    before = set(imported_tables())
    with warnings.catch_warnings(record=True) as notes:
        warnings.simplefilter("always", RepeatedMeasurementsWarning)
        name, dest, table = import_table(
            args.file,
            args.space,
            name=args.name,
            arch_column=args.arch_column,
            metric=args.metric,
            task=args.task,
            lower_is_better=args.lower_is_better,
        )
    for w in notes:
        if issubclass(w.category, RepeatedMeasurementsWarning):
            print(f"note: {w.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    print(f"imported {len(table)} records of {table.frame['arch'].nunique()} architectures as {name!r} -> {dest}")
    if name in before:
        print(f"note: it replaces the table imported earlier as {name!r}", file=sys.stderr)
    if args.lower_is_better:
        print("recorded as lower-is-better; pretrain on it with --lower-is-better (predict follows the checkpoint)")
    print_frame(table.summary())
    return 0


def register(sub, full: bool = True) -> None:
    """Add the `data` command(s) to the subparsers ``sub``."""
    data = sub.add_parser(
        "data", help="benchmark files: list, fetch, import", description="Benchmark files: list, fetch, import."
    )
    dsub = data.add_subparsers(dest="data_cmd", required=True, metavar="ACTION")
    _add_list(dsub)
    _add_fetch(dsub)
    _add_features(dsub)
    _add_import(dsub)


def _add_list(dsub) -> None:
    d = dsub.add_parser(
        "list",
        help="what benchmark records are available, with which tasks and metrics",
        description="What benchmark records are available, with which tasks and metrics.",
    )
    d.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="all task and metric names, locations, licenses and full messages (wider than 100 columns)",
    )
    config_option(d, "keys: the options by name")
    d.set_defaults(func=_cmd_data_list)


def _add_fetch(dsub) -> None:
    d = dsub.add_parser(
        "fetch",
        help="download a public benchmark file into the data dir (sha256-checked)",
        description="Download a public benchmark file into the data dir; its sha256 is checked.",
    )
    d.add_argument("name", help="data set to fetch (see `data list`: nb201, nb201-hp12, ...)")
    d.add_argument("--force", action="store_true", help="download again even if a valid file is cached")
    d.add_argument(
        "--url", help="alternative URL, e.g. a mirror (https://, http:// or file://); the sha256 is still enforced"
    )
    d.add_argument(
        "--from",
        dest="source",
        metavar="FILE",
        help="offline: install from a local copy (plain, or the repo's data/...xz), sha256-checked; every data "
        "set, the shipped ones included (what an installed wheel needs: it has no data/ folder)",
    )
    config_option(d, "keys: the options by name")
    d.set_defaults(func=_cmd_data_fetch)


def _add_features(dsub) -> None:
    d = dsub.add_parser(
        "features",
        help="compute free architecture features (params, FLOPs, zero-cost proxies)",
        description="Compute params, FLOPs and the zero-cost proxies synflow, snip, grad_norm, "
        "jacob_cov and NASWOT at initialisation, once per canonical class, as Ray tasks. "
        "Finished classes are kept in a resumable store: a killed run resumes. The "
        "table the toolkit ships (data/nb201/free_features.csv.xz) was written by "
        "`data features --space nb201 --workers 1`.",
    )
    d.add_argument("--space", help="search space (nb201); required")
    d.add_argument("--out", help="xz-compressed CSV to write (default: next to the store, in the user cache)")
    d.add_argument("--store", help="resumable SQLite store (default: per configuration, in the user cache)")
    d.add_argument(
        "--dataset",
        default="digits",
        help="input batch: digits (scikit-learn's, built in) or an .npz of 32x32x3 images x and labels y, "
        "e.g. CIFAR-10",
    )
    d.add_argument("--data-root", help="folder of the --dataset .npz")
    d.add_argument("--batch-size", type=POSITIVE, default=16, help="images in the fixed input batch")
    d.add_argument("--seed", type=int, default=0, help="seed of the batch and of every network's weights")
    d.add_argument("--address", help="an existing Ray cluster (auto, ray://host:port); default: a local instance")
    d.add_argument("--workers", type=POSITIVE, help="CPUs of the local Ray instance (default: all)")
    d.add_argument("--limit", type=POSITIVE, help="only the first N classes (a trial run)")
    d.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="show a progress bar")
    config_option(d, "keys: the options by name")
    d.set_defaults(func=_cmd_data_features)


def _add_import(dsub) -> None:
    d = dsub.add_parser(
        "import",
        help="validate and store your own measurements (CSV/parquet) as a benchmark",
        description="Validate your own measurements (CSV or parquet; long arch,task,metric,value "
        "or wide arch,<task>... layout) and store them as a benchmark. Messages "
        "count data rows from 1, the header not counted.",
    )
    d.add_argument("file", help="CSV or parquet file of measurements")
    d.add_argument("--space", help="search space of the arch column (nb201, nas-bench-graph, ...); required")
    d.add_argument("--name", help="name to store it under (default: the file's stem)")
    d.add_argument("--arch-column", default="arch", help="column holding the architecture strings")
    d.add_argument("--metric", help="metric name of a wide table's values (e.g. latency_ms)")
    d.add_argument("--task", help="task name for a wide table's single value column")
    d.add_argument(
        "--lower-is-better",
        action="store_true",
        help="the metric is latency-like (smaller is better); recorded with the table",
    )
    config_option(d, "keys: the options by name")
    d.set_defaults(func=_cmd_data_import)


def _benchmark_row(name: str, space: str, status: str, location: str, license: str, load, notes, verbose: bool):
    """One row of `data list`: what the table ``load()`` holds (a damaged one is 'broken', with a note)."""
    row: dict[str, Any] = {
        "name": name,
        "space": space,
        "status": status,
        "archs": "",
        "tasks": "",
        "metrics": "",
        "fidelities": "",
        "location": location,
        "license": license,
    }
    if load is None:
        return row
    try:
        t = load()
    except Exception as e:  # noqa: BLE001 - one damaged table must not hide the others
        row["status"] = "broken"
        notes.append(f"{name}: broken: {one_line(e)}")
        return row
    row.update(
        space=t.space.name,
        archs=t.frame["arch"].nunique(),
        tasks=",".join(t.tasks) if verbose else len(t.tasks),
        metrics=",".join(t.metrics()),
        fidelities=",".join(f"{x:g}" for x in t.fidelities()) or "-",
    )
    return row
