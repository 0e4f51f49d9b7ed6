"""`measure latency`: time NB-201 networks on this machine."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from ..typed import Int, Seed, TypedConfig
from .common import UsageError
from .options import Given, Group, command, command_group

#: The most cells, timed forwards and warm-ups one run accepts (a typo such as 10**9 is refused at once).
MAX_CELLS = 100_000
MAX_REPEATS = 10_000


class LatencyOptions(TypedConfig):
    what: ClassVar[str] = "measure latency"

    space: str = Field("nb201", description="search space (nb201)")
    sample: Int = Field(
        1000, ge=1, le=MAX_CELLS, description="how many distinct canonical cells to draw (at most 6466)"
    )
    seed: Seed = Field(0, description="seed of the cell sample, the network weights and the input")
    settings: str | None = Field(
        None,
        description="comma-separated settings t<threads>-b<batch>-<fp32|bf16>[-cl] (default: the shipped table's "
        "t1-b1-fp32,t1-b1-bf16,t1-b1-fp32-cl,t1-b8-fp32,t1-b32-fp32,t1-b32-bf16,t1-b32-fp32-cl)",
    )
    repeats: Int | None = Field(
        None,
        ge=1,
        le=MAX_REPEATS,
        description="timed forwards per cell and setting, their median is kept (default: 5 at batch <= 8, else 3)",
    )
    warmup: Int = Field(1, ge=0, le=MAX_REPEATS, description="untimed forwards before the timed ones")
    out: str = Field(description="CSV to write (arch,<setting>,...; ms per batch)")
    store: str | None = Field(
        None, description="resumable SQLite store (default: per configuration, in the user cache)"
    )
    limit: Int | None = Field(
        None, ge=1, le=MAX_CELLS, description="only the first N cells of the sample (a trial run)"
    )
    progress: bool = Field(True, description="show a progress bar")


def _cmd_measure_latency(given: Given) -> int:
    args = given.build("latency")
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
    run = args.model_dump(include={"out", "store", "repeats", "warmup", "seed", "progress"})
    out = measure(cells, settings, **run)
    print(f"latency of {len(cells)} cells x {len(settings)} settings (ms per batch) -> {out}")
    return 0


def register(sub, full: bool = True) -> None:
    """Add `measure latency` to the subparsers ``sub``."""
    msub = command_group(sub, "measure", "measure architectures on this machine (latency)", "measure_cmd")
    group = Group("latency", LatencyOptions, tuple(LatencyOptions.model_fields), required=("out",))
    command(msub, "latency", LATENCY, _cmd_measure_latency, [group], "the options by name")


LATENCY = (
    "inference latency of NB-201 networks under named settings (wide CSV)",
    "Time the NB-201 network (C=16, N=5, 10 classes, 3x32x32 input, eval mode, inference_mode) of a seeded sample "
    "of canonical cells under each setting t<threads>-b<batch>-<fp32|bf16>[-cl] (-cl: channels_last; bf16 under CPU "
    "autocast): one warm-up, then the median of --repeats forwards, in ms per batch. Finished (cell, setting) pairs "
    "are kept in a resumable store; the table arch,<setting>,... is written atomically at the end and imports with "
    "`data import FILE --space nb201 --metric latency_ms --lower-is-better`.",
)
