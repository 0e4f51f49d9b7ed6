"""`measure latency`: time NB-201 networks on this machine."""

from __future__ import annotations

import argparse

from .common import NON_NEGATIVE, POSITIVE, UsageError, config_option, require


def _cmd_measure_latency(args) -> int:
    require(args, "space", "out")
    if args.space != "nb201":
        raise UsageError(f"measure latency: --space {args.space!r}: only nb201 has a network to time")
    from ..io import check_writable
    from ..training.latency import DEFAULT_SETTINGS, measure, parse_settings, sample_cells

    settings = parse_settings(args.settings or DEFAULT_SETTINGS)
    cells = sample_cells(args.sample, args.seed)
    if args.limit is not None:
        cells = cells[: args.limit]
    check_writable(args.out, "--out")
    if args.store:
        check_writable(args.store, "--store")
    out = measure(
        cells,
        settings,
        out=args.out,
        store=args.store,
        repeats=args.repeats,
        warmup=args.warmup,
        seed=args.seed,
        progress=args.progress,
    )
    print(f"latency of {len(cells)} cells x {len(settings)} settings (ms per batch) -> {out}")
    return 0


def register(sub, full: bool = True) -> None:
    """Add the `measure` command(s) to the subparsers ``sub``."""
    mea = sub.add_parser(
        "measure",
        help="measure architectures on this machine (latency)",
        description="Measure architectures on this machine.",
    )
    msub = mea.add_subparsers(dest="measure_cmd", required=True, metavar="WHAT")
    r = msub.add_parser(
        "latency",
        help="inference latency of NB-201 networks under named settings (wide CSV)",
        description="Time the NB-201 network (C=16, N=5, 10 classes, 3x32x32 input, eval mode, "
        "inference_mode) of a seeded sample of canonical cells under each setting "
        "t<threads>-b<batch>-<fp32|bf16>[-cl] (-cl: channels_last; bf16 under CPU "
        "autocast): one warm-up, then the median of --repeats forwards, in ms per batch. "
        "Finished (cell, setting) pairs are kept in a resumable store; the table "
        "arch,<setting>,... is written atomically at the end and imports with "
        "`data import FILE --space nb201 --metric latency_ms --lower-is-better`.",
    )
    r.add_argument("--space", default="nb201", help="search space (nb201)")
    r.add_argument(
        "--sample", type=POSITIVE, default=1000, help="how many distinct canonical cells to draw (at most 6466)"
    )
    r.add_argument("--seed", type=int, default=0, help="seed of the cell sample, the network weights and the input")
    r.add_argument(
        "--settings",
        help="comma-separated settings t<threads>-b<batch>-<fp32|bf16>[-cl] (default: the shipped table's "
        "t1-b1-fp32,t1-b1-bf16,t1-b1-fp32-cl,t1-b8-fp32,t1-b32-fp32,t1-b32-bf16,t1-b32-fp32-cl)",
    )
    r.add_argument(
        "--repeats",
        type=POSITIVE,
        help="timed forwards per cell and setting, their median is kept (default: 5 at batch <= 8, else 3)",
    )
    r.add_argument("--warmup", type=NON_NEGATIVE, default=1, help="untimed forwards before the timed ones")
    r.add_argument("--out", help="CSV to write (arch,<setting>,...; ms per batch); required")
    r.add_argument("--store", help="resumable SQLite store (default: per configuration, in the user cache)")
    r.add_argument("--limit", type=POSITIVE, help="only the first N cells of the sample (a trial run)")
    r.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="show a progress bar")
    config_option(r, "keys: the options by name")
    r.set_defaults(func=_cmd_measure_latency)
