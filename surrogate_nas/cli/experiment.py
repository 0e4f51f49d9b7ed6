"""`experiment run | report`: experiment grids as parallel, resumable tasks."""

from __future__ import annotations

import argparse

from .common import NON_NEGATIVE, UsageError


def _cmd_experiment_run(args) -> int:
    if args.address and args.workers is not None:
        raise UsageError("experiment run: give --address (a running Ray cluster) or --workers (a local one), not both")

    from ..experiment import load_config, run_experiment

    cfg = load_config(args.experiment_config, kind=args.kind)
    command = f"surrogate-nas experiment run {args.kind} --config {args.experiment_config} --out {args.out}"
    stats = run_experiment(
        cfg, args.out, workers=args.workers, address=args.address, progress=args.progress, command=command
    )
    print(
        f"{stats['computed']} cell(s) computed, {stats['cells'] - stats['computed']} already stored, "
        f"{stats['checkpoints_trained']} checkpoint(s) meta-trained in {stats['seconds']:.0f}s -> {args.out}"
    )
    return 0


def _cmd_experiment_report(args) -> int:
    from ..experiment import write_report

    write_report(args.dir)
    return 0


def register(sub, full: bool = True) -> None:
    """Add the `experiment` command(s) to the subparsers ``sub``."""
    exp = sub.add_parser(
        "experiment",
        help="run an experiment grid as parallel tasks (resumable), or report it",
        description="Run the predictor-quality or search-efficiency grid as Ray tasks (a local "
        "instance, or a cluster with --address), every finished cell committed to "
        "DIR/experiment.sqlite; rerun to resume. Or write the report of a run directory.",
    )
    esub = exp.add_subparsers(dest="experiment_cmd", required=True, metavar="ACTION")
    r = esub.add_parser(
        "run",
        help="run (or resume) a grid and write its report into --out",
        description="Run (or resume) an experiment grid and write its report into --out.",
    )
    r.add_argument("kind", choices=["predictor-quality", "search-efficiency"], help="which experiment")
    r.add_argument(
        "--config",
        dest="experiment_config",
        metavar="FILE.yaml",
        required=True,
        help="the experiment config (experiments/configs/*.yaml); required",
    )
    r.add_argument("--out", required=True, help="run directory (config, store, checkpoints, report); required")
    r.add_argument("--address", help="a running Ray cluster (ray://HOST:PORT or auto) instead of a local instance")
    r.add_argument(
        "--workers",
        type=NON_NEGATIVE,
        help="CPUs of the local Ray instance (default: all cores); 0 runs in this process without Ray",
    )
    r.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="show a progress bar")
    r.set_defaults(func=_cmd_experiment_run)
    r = esub.add_parser(
        "report",
        help="merge a run directory's store into its markdown/CSV/PNG report",
        description="Merge a run directory's result store into its markdown/CSV/PNG report.",
    )
    r.add_argument("dir", help="run directory of `experiment run`")
    r.set_defaults(func=_cmd_experiment_report)
