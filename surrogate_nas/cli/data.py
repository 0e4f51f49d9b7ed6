"""`data list | fetch | features | import`: benchmark files."""

from __future__ import annotations

import sys
from typing import Any, ClassVar

from pydantic import Field

from ..errors import SurrogateNASError
from ..typed import Int, Seed, TypedConfig
from .common import (
    PROG,
    WIDTH,
    UsageError,
    clip,
    fit_table,
    one_line,
    plain_table,
    print_frame,
)
from .options import Given, Group, command, command_group


class ListOptions(TypedConfig):
    what: ClassVar[str] = "data list"

    verbose: bool = Field(
        False, description="all task and metric names, locations, licenses and full messages (wider than 100 columns)"
    )


class FetchOptions(TypedConfig):
    what: ClassVar[str] = "data fetch"

    name: str = Field(description="data set to fetch (see `data list`: nb201, nb201-hp12, ...)")
    force: bool = Field(False, description="download again even if a valid file is cached")
    url: str | None = Field(
        None, description="alternative URL, e.g. a mirror (https://, http:// or file://); the sha256 is still enforced"
    )
    source: str | None = Field(
        None,
        description="offline: install from a local copy (plain, or the repo's data/...xz), sha256-checked; every "
        "data set, the shipped ones included (what an installed wheel needs: it has no data/ folder)",
    )


class FeaturesOptions(TypedConfig):
    what: ClassVar[str] = "data features"

    space: str = Field(description="search space (nb201)")
    out: str | None = Field(
        None, description="xz-compressed CSV to write (default: next to the store, in the user cache)"
    )
    store: str | None = Field(
        None, description="resumable SQLite store (default: per configuration, in the user cache)"
    )
    dataset: str = Field(
        "digits",
        description="input batch: digits (scikit-learn's, built in) or an .npz of 32x32x3 images x and labels y, "
        "e.g. CIFAR-10",
    )
    data_root: str | None = Field(None, description="folder of the --dataset .npz")
    batch_size: Int = Field(16, ge=1, le=100_000, description="images in the fixed input batch")
    seed: Seed = Field(0, description="seed of the batch and of every network's weights")
    address: str | None = Field(
        None, description="an existing Ray cluster (auto, ray://host:port); default: a local one"
    )
    workers: Int | None = Field(None, ge=1, le=4096, description="CPUs of the local Ray instance (default: all)")
    limit: Int | None = Field(None, ge=1, description="only the first N classes (a trial run)")
    progress: bool = Field(True, description="show a progress bar")


class ImportOptions(TypedConfig):
    what: ClassVar[str] = "data import"

    file: str = Field(description="CSV or parquet file of measurements")
    space: str = Field(description="search space of the arch column (nb201, nas-bench-graph, ...)")
    name: str | None = Field(None, description="name to store it under (default: the file's stem)")
    arch_column: str = Field("arch", description="column holding the architecture strings")
    metric: str | None = Field(None, description="metric name of a wide table's values (e.g. latency_ms)")
    task: str | None = Field(None, description="task name for a wide table's single value column")
    lower_is_better: bool = Field(
        False, description="the metric is latency-like (smaller is better); recorded with the table"
    )


def _cmd_data_list(given: Given) -> int:
    args = given.build("list")
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


def _cmd_data_fetch(given: Given) -> int:
    args = given.build("fetch")
    from ..benchmarks.cache import fetch, install_from

    if args.source and args.url:
        raise UsageError("data fetch: give --from FILE or --url URL, not both")
    if args.source:
        path = install_from(args.name, args.source, force=args.force)
    else:
        path = fetch(args.name, force=args.force, url=args.url)
    print(f"{args.name}: {path} (sha256 verified)")
    return 0


def _cmd_data_features(given: Given) -> int:
    args = given.build("features")
    from ..features import compute

    out = compute(**args.to_dict())  # the options are compute's keyword arguments
    print(f"free features of {args.space} -> {out}")
    return 0


def _cmd_data_import(given: Given) -> int:
    args = given.build("import")
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
    """Add `data list | fetch | features | import` to the subparsers ``sub``."""
    dsub = command_group(sub, "data", "benchmark files: list, fetch, features, import", "data_cmd")
    about = "what benchmark records are available, with which tasks and metrics"
    group = Group("list", ListOptions, ("verbose",), short={"verbose": "-v"})
    command(dsub, "list", (about, about[:1].upper() + about[1:] + "."), _cmd_data_list, [group], BY_NAME)
    fetch = ("name", "force", "url", "source")
    group = Group("fetch", FetchOptions, fetch, positional=("name",), rename={"source": "--from"}, required=("name",))
    command(dsub, "fetch", FETCH, _cmd_data_fetch, [group], BY_NAME)
    group = Group("features", FeaturesOptions, tuple(FeaturesOptions.model_fields), required=("space",))
    command(dsub, "features", FEATURES, _cmd_data_features, [group], BY_NAME)
    fields = tuple(ImportOptions.model_fields)
    group = Group("import", ImportOptions, fields, positional=("file",), required=("file", "space"))
    command(dsub, "import", IMPORT, _cmd_data_import, [group], BY_NAME)


#: What each `data` action's --config file holds, and the actions' (list line, description).
BY_NAME = "the options by name"
FETCH = (
    "download a public benchmark file into the data dir (sha256-checked)",
    "Download a public benchmark file into the data dir; its sha256 is checked.",
)
FEATURES = (
    "compute free architecture features (params, FLOPs, zero-cost proxies)",
    "Compute params, FLOPs and the zero-cost proxies synflow, snip, grad_norm, jacob_cov and NASWOT at "
    "initialisation, once per canonical class, as Ray tasks. Finished classes are kept in a resumable store: a "
    "killed run resumes. The table the toolkit ships (data/nb201/free_features.csv.xz) was written by "
    "`data features --space nb201 --workers 1`.",
)
IMPORT = (
    "validate and store your own measurements (CSV/parquet) as a benchmark",
    "Validate your own measurements (CSV or parquet; long arch,task,metric,value or wide arch,<task>... layout) "
    "and store them as a benchmark. Messages count data rows from 1, the header not counted.",
)


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
