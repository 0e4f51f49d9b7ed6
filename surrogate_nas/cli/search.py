"""`search`: search a task within a budget of evaluations (journaled, resumable)."""

from __future__ import annotations

import argparse

from .common import POSITIVE, config_mapping, config_option, parse_options, require

#: search flags that set SearchConfig fields (dest -> field); --option goes into ``options``.
SEARCH_FIELDS = {
    "space": "space",
    "task": "task",
    "strategy": "strategy",
    "model": "model",
    "predictor": "predictor",
    "budget": "budget",
    "evaluator": "evaluator",
    "benchmark": "benchmark",
    "metric": "metric",
    "test_metric": "test_metric",
    "batch_size": "batch_size",
    "constraint": "constraint",
    "constraint_mode": "constraint_mode",
    "data_root": "data_root",
    "seed": "seed",
    "out": "out",
    "progress": "progress",
}


def _cmd_search(args) -> int:
    require(args, "task", "out")
    options = dict(config_mapping(args, "options"))
    options.update(parse_options(args.option or []))
    fields = {
        **{k: v for k, v in args.extra.items() if k != "options"},
        **{f: getattr(args, d) for d, f in SEARCH_FIELDS.items()},
        "options": options,
    }
    if fields.get("evaluator") == "train":
        import surrogate_nas.training  # noqa: F401 - registers the "train" evaluator

    import torch

    from ..search.run import SearchConfig, run_search

    cfg = SearchConfig.from_dict(fields)
    torch.set_num_threads(args.threads)
    res = run_search(cfg)
    print(f"{res.evaluations} evaluations ({res.replayed} resumed from the journal) in {res.seconds:.1f}s")
    same = res.config.test_metric == res.config.metric
    print(
        f"best: {res.best_arch}  {res.config.metric} {res.best_value:.4f}"
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


def register(sub) -> None:
    """Add the `search` command(s) to the subparsers ``sub``."""
    r = sub.add_parser(
        "search",
        help="search a task with a budget of evaluations (journaled, resumable)",
        description="Search a task within a budget of evaluations. Every evaluation is "
        "journaled in --out; rerun the same command to resume, or with a larger "
        "--budget to extend a finished search.",
    )
    config_option(r, "SearchConfig fields, e.g. a run's config.yaml, plus threads")
    r.add_argument("--space", default="nb201", help="search space")
    r.add_argument("--task", help="target task (dataset / device) of the benchmark; required")
    r.add_argument(
        "--strategy",
        default="guided",
        help="random, evolution, local, source-rank, guided (Bayesian optimisation over the candidate set; "
        "'guided-evolution' is its old name) or hierarchical (two-level: probe the best skeleton groups, commit, "
        "search inside them)",
    )
    r.add_argument("--model", help="checkpoint directory from `pretrain` (predictor meta)")
    r.add_argument(
        "--predictor",
        default="meta",
        help="predictor of the guided strategies: a registry name (meta, rf, gbm, scratch-gnn, ...) or scratch / tree",
    )
    r.add_argument("--budget", type=int, default=20, help="evaluations of the target, support included")
    r.add_argument(
        "--evaluator",
        default="table",
        choices=["table", "train"],
        help="table: look values up in the benchmark (simulation); train: real training",
    )
    r.add_argument("--benchmark", help="benchmark for the table evaluator (default per space)")
    r.add_argument(
        "--metric",
        help="metric to maximise, NAME or NAME@FIDELITY (default per benchmark: nb201 "
        "valid_acc@12, the 12-epoch validation accuracy; nas-bench-graph valid_perf)",
    )
    r.add_argument(
        "--test-metric",
        help="metric reported for the best architecture (default per benchmark: nb201 "
        "test_acc@200, nas-bench-graph test_perf; else --metric)",
    )
    r.add_argument(
        "--batch-size",
        type=int,
        default=1,
        help="q: architectures per round, chosen jointly by the acquisition (q-EI, q-UCB, Thompson) and "
        "evaluated together (in parallel by --evaluator train on a Ray backend)",
    )
    r.add_argument("--constraint", help="e.g. latency<=0.005 (looked up in the benchmark)")
    r.add_argument(
        "--constraint-mode",
        default="filter",
        choices=["filter", "penalty"],
        help="filter: never evaluate infeasible archs; penalty: score them down",
    )
    r.add_argument("--data-root", help="datasets for --evaluator train")
    r.add_argument(
        "--option",
        action="append",
        metavar="KEY=VALUE",
        help="strategy option (repeatable; VALUE is YAML), e.g. acquisition=ei (mean, ucb, ei, thompson), "
        "beta=2, probe_groups=8, commit=3",
    )
    r.add_argument("--seed", type=int, default=0, help="seed of the search")
    r.add_argument("--threads", type=POSITIVE, default=1, help="torch CPU threads")
    r.add_argument("--out", help="run directory (journal, trajectory, report); rerun to resume; required")
    r.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="show a progress bar")
    r.set_defaults(func=_cmd_search)
