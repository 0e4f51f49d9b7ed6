"""`pretrain`: meta-train a GNN predictor (a deep ensemble by default) across the tasks of a benchmark."""

from __future__ import annotations

import argparse
import sys

from .common import POSITIVE, config_option, metric_name, require, task_list

#: pretrain flags that set ModelConfig / MetaConfig fields (dest -> field).
PRETRAIN_MODEL = {"conv": "conv", "hidden": "hidden", "layers": "layers", "use_sources": "use_sources"}


PRETRAIN_META = {
    "algorithm": "algorithm",
    "first_order": "first_order",
    "meta_sgd": "meta_sgd",
    "inner_steps": "inner_steps",
    "inner_lr": "inner_lr",
    "outer_lr": "outer_lr",
    "iterations": "iterations",
    "meta_batch": "meta_batch",
    "kernel": "kernel",
    "target_scale": "target_scale",
    "top_weight": "top_weight",
    "gp_head": "gp_head",
    "meta_val": "meta_val",
    "seed": "seed",
    "device": "device",
}


PRETRAIN_TOP = (
    "benchmark",
    "target",
    "train_tasks",
    "val_tasks",
    "metric",
    "lower_is_better",
    "features",
    "members",
    "out",
    "threads",
    "progress",
)


#: pretrain's defaults that differ from MetaConfig's: the chosen meta-predictor (deep-kernel GP head, robust
#: target scaling; a 3-member ensemble over meta seeds, --members). Written out, like the choices below, so the
#: CLI imports nothing heavy; a test checks them against surrogate_nas.meta.defaults.
PRETRAIN_DEFAULTS = {"algorithm": "dkt", "target_scale": "robust"}


#: Choices of --algorithm / --kernel / --target-scale / --meta-val (maml.ALGORITHMS, KERNELS, support.SCALES,
#: META_VAL; written out so that --help does not import torch).
ALGORITHMS = ("maml", "reptile", "multitask", "dkt")


KERNELS = ("rbf", "matern", "linear", "rbf+graph")


TARGET_SCALES = ("zscore", "robust")


META_VALS = ("task", "archs")


def _cmd_pretrain(args) -> int:
    import time

    import torch

    from ..meta.ensemble import save_model
    from ..meta.maml import MetaConfig
    from ..meta.pretrain import pretrain_members

    model_cfg, meta_cfg, train_tasks, val_tasks, out, table, metric, features = _checked_inputs(args)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    seeds = [meta_cfg.seed + i for i in range(args.members)]  # meta seeds seed, seed + 1, ...
    cfgs = [MetaConfig(**{**meta_cfg.to_dict(), "seed": s}) for s in seeds]
    ckpts = pretrain_members(
        cfgs,
        dict(
            table=table,
            train_tasks=train_tasks or None,
            metric=metric,
            model_config=model_cfg,
            val_tasks=val_tasks,
            benchmark_name=args.benchmark,
            higher_is_better=not args.lower_is_better,
            target=args.target,
            features=features,
        ),
        workers=args.workers,
        threads=args.threads,
        progress=args.progress,
        on_member=_member_line(len(cfgs)),
    )
    tasks = list(ckpts[0].info["train_tasks"])

    def record(members: int, seed: int) -> str:
        return _record(args, metric, tasks, val_tasks, features, model_cfg, meta_cfg, members, seed)

    # each member's own pretrain.yaml remakes it alone; the top one remakes the whole ensemble
    save_model(
        ckpts,
        out,
        extra={"pretrain.yaml": record(args.members, meta_cfg.seed)},
        member_extra=[{"pretrain.yaml": record(1, meta_cfg.seed + i)} for i in range(args.members)],
    )
    taus = ", ".join(f"{c.info['best_val_tau']:.3f}" for c in ckpts)
    what = "checkpoint" if args.members == 1 else f"ensemble of {args.members}"
    print(
        f"meta-trained on {', '.join(tasks)} ({metric}) in {time.perf_counter() - t0:.1f}s; "
        f"meta-validation Kendall tau {taus}; {what} -> {out}"
    )
    return 0


def _member_line(n: int):
    """The ``on_member`` of :func:`~surrogate_nas.meta.pretrain.pretrain_members`: one line per finished member
    (none for a single checkpoint), with the time left at the rate so far."""
    import time

    t0 = time.perf_counter()

    def done(ckpt, seed: int, k: int) -> None:
        if n > 1:
            left = (time.perf_counter() - t0) / k * (n - k)
            print(
                f"member {k}/{n} (meta seed {seed}) done at {time.perf_counter() - t0:.0f}s, "
                f"meta-validation Kendall tau {ckpt.info['best_val_tau']:.3f}"
                + (f"; ~{left:.0f}s left" if k < n else ""),
                flush=True,
            )

    return done


def _features(text: str | None, table, target: str | None) -> tuple[str, ...]:
    """--features: comma-separated names, or ``all`` (every free feature the benchmark has)."""
    from ..features import available_features

    if not text:
        return ()
    if text.strip() == "all":
        task = target if target in table.tasks else table.tasks[0]
        return available_features(table, task)
    return tuple(n.strip() for n in text.split(",") if n.strip())


def register(sub, full: bool = True) -> None:
    """Add the `pretrain` command(s) to the subparsers ``sub``."""
    r = sub.add_parser(
        "pretrain",
        help="meta-train a GNN predictor across the tasks of a benchmark",
        description="Meta-train a GNN predictor across the tasks of a benchmark and write a "
        "checkpoint directory (model.pt + config.json + pretrain.yaml, written as one). "
        "The default is a deep ensemble: --members meta seeds (--seed, --seed + 1, ...) "
        "trained one after another, written as one directory of member-0/ ... (each a "
        "checkpoint) + ensemble.json + pretrain.yaml; `predict` and the 'meta' predictor "
        "read either.",
    )
    config_option(
        r,
        "top-level keys benchmark, target, metric, train_tasks, val_tasks, lower_is_better, members, out, threads, "
        "progress; sections model: (ModelConfig) and meta: (MetaConfig); a checkpoint's "
        "pretrain.yaml is such a file",
    )
    _add_task_options(r)
    _add_meta_options(r)
    _add_model_options(r)
    r.set_defaults(func=_cmd_pretrain)


def _add_task_options(r) -> None:
    """What is learned from: benchmark, tasks, metric; where it goes; how it runs."""
    r.add_argument("--benchmark", default="nb201", help="benchmark whose tasks are the meta-training tasks")
    r.add_argument(
        "--target",
        help="the task this checkpoint will predict: left out of the default training tasks, "
        "refused among --train-tasks/--val-tasks, and recorded in the checkpoint",
    )
    r.add_argument(
        "--train-tasks",
        help="comma-separated training tasks (default: every task not in --val-tasks "
        "and not --target); a target task you will predict must not be among them",
    )
    r.add_argument(
        "--val-tasks",
        help="comma-separated held-out tasks for early stopping "
        "(default: a held-out training task or held-out architectures, --meta-val)",
    )
    r.add_argument("--metric", help="target metric (default: test_acc for nb201, valid_perf for nas-bench-graph)")
    r.add_argument("--lower-is-better", action="store_true", help="the metric is latency-like (smaller is better)")
    r.add_argument(
        "--out", help="checkpoint directory: new, empty, or an earlier checkpoint or ensemble (replaced); required"
    )
    r.add_argument(
        "--members",
        type=POSITIVE,
        default=3,
        help="ensemble members: meta seeds --seed, --seed + 1, ... (1: a single checkpoint)",
    )
    r.add_argument(
        "--workers",
        type=POSITIVE,
        default=1,
        help="members meta-trained at once, each in a process of its own (results are the same as with 1)",
    )
    r.add_argument(
        "--threads", type=POSITIVE, default=1, help="torch CPU threads (1 is fastest for these small graphs)"
    )
    r.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="show a progress bar")


def _add_meta_options(r) -> None:
    """MetaConfig fields: how the initialisation is learned."""
    r.add_argument(
        "--algorithm",
        default=PRETRAIN_DEFAULTS["algorithm"],
        choices=ALGORITHMS,
        help="meta-learning algorithm (dkt: deep-kernel GP head on the GNN embedding; multitask: the "
        "non-meta ablation)",
    )
    r.add_argument(
        "--kernel", default="rbf", choices=KERNELS, help="kernel of the GP head on the GNN embedding (dkt or --gp-head)"
    )
    r.add_argument(
        "--gp-head",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="maml/reptile/multitask: then meta-learn a GP head on the adapted residuals",
    )
    r.add_argument(
        "--target-scale",
        default=PRETRAIN_DEFAULTS["target_scale"],
        choices=TARGET_SCALES,
        help="support targets -> the network's scale: zscore, or robust (median/IQR, clipped)",
    )
    r.add_argument(
        "--top-weight",
        type=float,
        default=0.0,
        help="share (0..1) of the query ranking loss weighted towards the top architectures",
    )
    r.add_argument(
        "--meta-val",
        default="task",
        choices=META_VALS,
        help="early stopping without --val-tasks: task (hold one training task out, with >= 3 tasks) "
        "or archs (hold one set of architectures out of every task)",
    )
    r.add_argument(
        "--first-order",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="first-order MAML (no second derivatives)",
    )
    r.add_argument(
        "--meta-sgd",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="learn per-parameter inner learning rates",
    )
    r.add_argument("--inner-steps", type=int, default=5, help="inner-loop SGD steps on the support set")
    r.add_argument("--inner-lr", type=float, default=0.05, help="inner-loop learning rate")
    r.add_argument("--outer-lr", type=float, default=1e-3, help="outer-loop (Adam) learning rate")
    r.add_argument("--iterations", type=int, default=400, help="meta-training iterations")
    r.add_argument("--meta-batch", type=int, default=4, help="tasks per meta-batch")
    r.add_argument("--seed", type=int, default=0, help="seed of initial weights and episode sampling")
    r.add_argument("--device", default="cpu", help="torch device (cpu, cuda, cuda:1)")


def _add_model_options(r) -> None:
    """ModelConfig fields and the free features: what the GNN reads."""
    r.add_argument("--conv", default="gin", choices=["gin", "gat", "gcn"], help="graph convolution")
    r.add_argument("--hidden", type=int, default=32, help="hidden width of the GNN (a multiple of 4 for gat)")
    r.add_argument("--layers", type=int, default=3, help="graph convolution layers")
    r.add_argument(
        "--sources",
        dest="use_sources",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="read the other tasks' values as source features (--no-sources: graph only)",
    )
    r.add_argument(
        "--features",
        help="free features every task reads of its own architectures: comma-separated "
        "(nb201: params, flops, synflow, snip, grad_norm, jacob_cov, naswot; "
        "nas-bench-graph: params, latency) or 'all'; adaptation reads the target's",
    )


def _record(args, metric, tasks, val_tasks, features, model_cfg, meta_cfg, members: int, seed: int) -> str:
    """The pretrain.yaml of a checkpoint (``members`` 1) or an ensemble: a valid ``--config`` that remakes it."""
    import json

    import yaml

    r = {
        "benchmark": args.benchmark,
        "target": args.target,
        "metric": metric,
        "train_tasks": tasks,
        "val_tasks": val_tasks,
        "features": list(features),
        "lower_is_better": args.lower_is_better,
        "members": members,
        "model": model_cfg.to_dict(),
        "meta": {**meta_cfg.to_dict(), "seed": seed},
    }
    return yaml.safe_dump(json.loads(json.dumps(r)), sort_keys=False)  # tuples -> lists: valid --config input


def _checked_inputs(args):
    """Every input of `pretrain` checked before any work: (ModelConfig, MetaConfig, train tasks, validation tasks,
    output directory, benchmark table, metric, free features)."""
    from ..benchmarks import load_benchmark
    from ..meta.ensemble import check_model_dir
    from ..meta.maml import MetaConfig
    from ..predictors.gnn import ModelConfig

    require(args, "out")
    model_cfg = ModelConfig(
        **{**args.extra.get("model", {}), **{f: getattr(args, d) for d, f in PRETRAIN_MODEL.items()}}
    )
    meta_cfg = MetaConfig(**{**args.extra.get("meta", {}), **{f: getattr(args, d) for d, f in PRETRAIN_META.items()}})
    train_tasks = task_list(args.train_tasks, "--train-tasks")
    val_tasks = task_list(args.val_tasks, "--val-tasks")
    out = check_model_dir(args.out)  # before any work
    table = load_benchmark(args.benchmark)
    metric = metric_name(args.metric, table, args.benchmark)
    features = _features(args.features, table, args.target)
    if args.target and args.target not in table.tasks:
        print(
            f"note: target {args.target!r} is not a task of {args.benchmark} (tasks: {', '.join(table.tasks)}); "
            "nothing is held out for it",
            file=sys.stderr,
        )
    return model_cfg, meta_cfg, train_tasks, val_tasks, out, table, metric, features
