"""`experiment run | report`: experiment grids as parallel, resumable tasks."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from ..typed import Int, TypedConfig
from .common import UsageError
from .options import Given, Group, command, command_group


class RunOptions(TypedConfig):
    what: ClassVar[str] = "experiment run"

    kind: Literal["predictor-quality", "search-efficiency"] = Field(description="which experiment")
    config: str = Field(description="the experiment config (experiments/configs/*.yaml)")
    out: str = Field(description="run directory (config, store, checkpoints, report)")
    address: str | None = Field(
        None, description="a running Ray cluster (ray://HOST:PORT or auto) instead of a local instance"
    )
    workers: Int | None = Field(
        None, ge=0, description="CPUs of the local Ray instance (default: all cores); 0 runs in this process"
    )
    progress: bool = Field(True, description="show a progress bar")


class ReportOptions(TypedConfig):
    what: ClassVar[str] = "experiment report"

    dir: str = Field(description="run directory of `experiment run`")
    dest: str | None = Field(
        None, description="folder the report files go to, e.g. experiments/results (default: the run directory)"
    )


def _cmd_experiment_run(given: Given) -> int:
    args = given.build("run")
    if args.address and args.workers is not None:
        raise UsageError("experiment run: give --address (a running Ray cluster) or --workers (a local one), not both")

    from ..experiment import load_config, run_experiment

    cfg = load_config(args.config, kind=args.kind)
    command = f"surrogate-nas experiment run {args.kind} --config {args.config} --out {args.out}"
    stats = run_experiment(
        cfg, args.out, workers=args.workers, address=args.address, progress=args.progress, command=command
    )
    print(
        f"{stats['computed']} cell(s) computed, {stats['cells'] - stats['computed']} already stored, "
        f"{stats['checkpoints_trained']} checkpoint(s) meta-trained in {stats['seconds']:.0f}s -> {args.out}"
    )
    return 0


def _cmd_experiment_report(given: Given) -> int:
    from ..experiment import write_report

    args = given.build("report")
    write_report(args.dir, args.dest)
    return 0


def register(sub, full: bool = True) -> None:
    """Add `experiment run` and `experiment report` to the subparsers ``sub``."""
    esub = command_group(
        sub, "experiment", "run an experiment grid as parallel, resumable tasks, or report it", "experiment_cmd"
    )
    # run's --config is the experiment's own config file (the grid), not a file of these options
    fields = tuple(RunOptions.model_fields)
    group = Group("run", RunOptions, fields, positional=("kind",), required=("kind", "config", "out"))
    command(esub, "run", RUN, _cmd_experiment_run, [group])
    group = Group("report", ReportOptions, ("dir", "dest"), positional=("dir",), required=("dir",))
    command(esub, "report", REPORT, _cmd_experiment_report, [group])


RUN = (
    "run (or resume) a grid and write its report into --out",
    "Run (or resume) the predictor-quality or search-efficiency grid as Ray tasks (a local instance, or a cluster "
    "with --address), every finished cell committed to OUT/experiment.sqlite, and write its report into --out.",
)
REPORT = (
    "merge a run directory's store into its markdown/CSV/PNG report",
    "Merge a run directory's result store into its markdown/CSV/PNG report.",
)
