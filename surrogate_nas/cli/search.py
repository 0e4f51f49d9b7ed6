"""`search`: search a task within a budget of evaluations (journaled, resumable)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from ..typed import Int, TypedConfig
from .common import parse_options
from .options import Given, Group, add_options, command

#: The SearchConfig fields that are search flags (``--field-name``, generated from the model); ``--option KEY=VALUE``
#: goes into ``options``, ``--threads`` is the CLI's own.
SEARCH_FLAGS = (
    "space",
    "task",
    "strategy",
    "model",
    "predictor",
    "budget",
    "budget_cost",
    "evaluator",
    "benchmark",
    "metric",
    "test_metric",
    "batch_size",
    "constraint",
    "constraint_mode",
    "data_root",
    "train_backend",
    "seed",
    "out",
    "progress",
)


class SearchRun(TypedConfig):
    """How the `search` command runs (not part of the search's configuration)."""

    what: ClassVar[str] = "search"

    threads: Int = Field(1, ge=1, le=4096, description="torch CPU threads")


def _cmd_search(given: Given) -> int:
    import torch

    from ..search.run import run_search

    options = given.values["search"].get("options", {})
    if given.extra.get("option"):
        options = {**(options if isinstance(options, dict) else {}), **parse_options(given.extra["option"])}
    cfg = given.build("search", options=options)
    args = given.build("run")
    torch.set_num_threads(args.threads)
    res = run_search(cfg)
    print(f"{res.evaluations} evaluations ({res.replayed} resumed from the journal) in {res.seconds:.1f}s")
    from ..search.loop import ranked_metric

    metric = ranked_metric(res.trajectory, res.config.metric)
    same = res.config.test_metric == metric
    print(
        f"best: {res.best_arch}  {metric} {res.best_value:.4f}"
        + ("" if same else f"  {res.config.test_metric} {res.best_test:.4f}")
    )
    if res.info.get("noise_free"):
        from ..search.benchmark_tables import NOISE_FREE

        print(
            f"({NOISE_FREE}; the published NB-201 protocol searches valid_acc@12 and reports test_acc@200)"
            if res.config.benchmark == "nb201"
            else f"({NOISE_FREE})"
        )
    if getattr(res, "note", None):
        print(res.note)
    if res.scored_per_second:
        print(f"predictor-scored candidates per second: {res.scored_per_second:,.0f}")
    print(f"results -> {res.out}")
    return 0


def register(sub, full: bool = True) -> None:
    """Add the `search` command to the subparsers ``sub`` (``full=False``: its name and help only, importing
    nothing of the library)."""
    r = command(sub, "search", ABOUT, _cmd_search)
    if not full:
        return
    from ..search.config import SearchConfig

    groups = [
        Group("search", SearchConfig, SEARCH_FLAGS, required=("task", "out")),
        Group("run", SearchRun, ("threads",)),
    ]
    add_options(r, groups, "SearchConfig fields, e.g. a run's config.yaml, and threads")
    r.add_argument(
        "--option",
        action="append",
        metavar="KEY=VALUE",
        help="strategy option (repeatable; VALUE is YAML), e.g. acquisition=ei (mean, ucb, ei, thompson), "
        "beta=2, probe_groups=8, commit=3",
    )


ABOUT = (
    "search a task with a budget of evaluations (journaled, resumable)",
    "Search a task within a budget of evaluations. Every evaluation is journaled in --out; rerun the same command "
    "to resume, or with a larger --budget to extend a finished search.",
)
