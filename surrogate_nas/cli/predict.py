"""`predict`: adapt a checkpoint to a new task from measured architectures and predict the rest."""

from __future__ import annotations

import sys
from typing import ClassVar

from pydantic import Field

from ..errors import SurrogateNASError
from ..typed import Int, Seed, TypedConfig
from .common import (
    UsageError,
    inner_steps,
    number_column,
    parse_archs,
    print_frame,
    read_arch_list,
    read_table,
    refuse_repeats,
)
from .options import Given, Group, command


class PredictOptions(TypedConfig):
    what: ClassVar[str] = "predict"

    model: str = Field(description="checkpoint or ensemble directory from `pretrain`")
    support: str | None = Field(None, description="CSV/parquet of measured architectures (columns arch, value)")
    zero_shot: bool = Field(
        False,
        description="no measured architecture (instead of --support): rank by the source tasks alone, their mean "
        "rank on the ranks' scale (negated for a lower-is-better metric), no std",
    )
    task: str | None = Field(
        None,
        description="the task the support values come from; refused if the checkpoint was trained on it (without "
        "it, a support that looks like a source task's own values is refused)",
    )
    arch_column: str = Field("arch", description="support column with the architecture strings")
    value_column: str = Field("value", description="support column with the measured values")
    archs: str | None = Field(None, description="text file, one architecture string per line (# comments allowed)")
    all: bool = Field(False, description="predict every architecture of the space")
    out: str = Field(description="predictions CSV (rank, arch, key, predicted, std, measured; best first)")
    inner_steps: str | None = Field(
        None,
        description="inner steps: an integer, or 'cv' to choose by cross-validation (default: as meta-trained)",
    )
    members: Int = Field(
        5,
        ge=0,
        le=1000,
        description="bootstrap members for the std column of a GNN without a GP head (0: no std; a GP head's std is "
        "its posterior's, an ensemble's adds its members' spread)",
    )
    seed: Seed = Field(0, description="seed of the bootstrap members")
    show: Int = Field(10, ge=0, description="rows of the result to print")


def _missing_sources(member, space, archs):
    """Per architecture, how many of the source tasks the adapted predictor reads have no value for it (None when
    it reads none): an imported table covers only its own rows."""
    import numpy as np

    sources = getattr(member, "sources_", None)
    if sources is None or not sources.tasks:
        return None
    return np.isnan(np.asarray(sources(space, archs), dtype=float)).sum(axis=1)


def _cmd_predict(given: Given) -> int:
    import numpy as np

    from ..io import atomic_write_text

    args = given.build("predict")
    steps, support, values = _checked_inputs(args)

    from ..meta.adapt import MetaGNNPredictor, adapt
    from ..meta.ensemble import MetaEnsemble, load_model
    from ..meta.pooled import rows_on_disk

    # a checkpoint, or an ensemble's members; the graph rows of their own weights are kept in the user cache, so
    # the next call skips the graph part (and PyG's import) for the architectures this one ran through it
    ckpt = load_model(args.model, defer_convs=True)
    space = ckpt[0].space if isinstance(ckpt, list) else ckpt.space
    archs_in = (
        []
        if support is None
        else parse_archs(space, support[args.arch_column].tolist(), f"support file {args.support}", "data row")
    )
    metric = (ckpt[0] if isinstance(ckpt, list) else ckpt).target_metric
    refuse_repeats(space, archs_in, f"support file {args.support}", metric)
    archs = space.enumerate() if args.all else read_arch_list(space, args.archs)
    options = dict(task=args.task, inner_steps=steps, n_members=args.members, seed=args.seed)
    pred: MetaEnsemble | MetaGNNPredictor
    with rows_on_disk():
        if isinstance(ckpt, list):
            pred = MetaEnsemble(ckpt, **options).fit(archs_in, values)
            steps_used = "/".join(dict.fromkeys(str(m.steps_) for m in pred.members_))
            how = f"{len(ckpt)} members, {steps_used} inner steps each"
        else:
            pred = adapt(ckpt, (archs_in, values), **options)
            how = f"{pred.steps_} inner steps"
        if not archs_in:
            how = "none measured: zero-shot, the source tasks' mean rank, no std"
        if args.members > 0 and archs_in:
            mean, std = pred.predict(archs, return_std=True)
        else:
            mean, std = pred.predict(archs), np.full(len(archs), np.nan)
    measured = {a: v for a, v in zip(archs_in, values)}
    out = _frame(space, archs, mean, std, measured)
    missing = _missing_sources(pred.members_[0] if isinstance(pred, MetaEnsemble) else pred, space, archs)
    if missing is not None and missing.any():
        out["sources_missing"] = missing
        n_src = len((ckpt[0] if isinstance(ckpt, list) else ckpt).sources.get("tasks") or [])
        print(
            f"note: {int((missing > 0).sum())} of {len(archs)} architectures lack values of some of the {n_src} "
            "source tasks (column sources_missing: how many); their predictions lean on the graph alone",
            file=sys.stderr,
        )
    lower = not (ckpt[0] if isinstance(ckpt, list) else ckpt).sources.get("higher_is_better", True)
    out = out.sort_values("predicted", ascending=lower, kind="stable")  # the best first, as the metric orders
    out.insert(0, "rank", np.arange(1, len(out) + 1))  # what `verify --top-k` ranks by: 1 = best predicted
    atomic_write_text(args.out, out.to_csv(index=False))
    order = "lowest" if lower else "highest"
    print(
        f"adapted on {len(measured)} measured architectures ({how}); predicted {len(out)}, {order} first -> {args.out}"
    )
    if args.show > 0:
        print_frame(out.head(args.show))
    return 0


def register(sub, full: bool = True) -> None:
    """Add `predict` to the subparsers ``sub``."""
    group = Group("predict", PredictOptions, tuple(PredictOptions.model_fields), required=("model", "out"))
    command(sub, "predict", ABOUT, _cmd_predict, [group], "the options by name, e.g. model, support, task, out")


ABOUT = (
    "adapt a checkpoint to a new task from measured archs and predict the rest",
    "Adapt a checkpoint to a new task from measured architectures and predict the rest (--zero-shot: none "
    "measured, the source tasks' mean rank). Messages count the "
    "support file's data rows from 1 (header not counted) and the --archs file's lines from 1.",
)


def _frame(space, archs, mean, std, measured: dict):
    """The predictions as written: arch, key, predicted, std, measured (where the support has it)."""
    import numpy as np
    import pandas as pd

    return pd.DataFrame(
        {
            "arch": [space.format(a) for a in archs],
            "key": [space.canonical(a) for a in archs],
            "predicted": mean,
            "std": std,
            "measured": [measured.get(a, np.nan) for a in archs],
        }
    )


def _checked_inputs(args):
    """(inner steps, support frame, support values): every input checked before the checkpoint is read (no frame and
    no values for ``--zero-shot``)."""
    import numpy as np

    from ..io import check_writable

    if args.all and args.archs:
        raise UsageError("predict: give --archs FILE or --all, not both")
    if not (args.all or args.archs):
        raise UsageError("predict: say which architectures to predict: --archs FILE or --all")
    if args.zero_shot == (args.support is not None):
        raise UsageError("predict: give the measured architectures (--support FILE) or --zero-shot, one of them")
    steps = inner_steps(args.inner_steps)
    check_writable(args.out, "--out")
    if args.zero_shot:
        return steps, None, np.zeros(0)
    support = read_table(args.support, "support file")
    for col, flag in ((args.arch_column, "--arch-column"), (args.value_column, "--value-column")):
        if col not in support.columns:
            raise SurrogateNASError(
                f"support file {args.support}: no column {col!r} ({flag}); "
                f"columns: {', '.join(map(str, support.columns))}"
            )
    values = number_column(support[args.value_column], f"support file {args.support}, column {args.value_column!r}")
    return steps, support, values
