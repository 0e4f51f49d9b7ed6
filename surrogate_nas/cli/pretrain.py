"""`pretrain`: meta-train a GNN predictor (a deep ensemble by default) across the tasks of a benchmark."""

from __future__ import annotations

import sys
from typing import Annotated, Any, ClassVar

from pydantic import BeforeValidator, Field

from ..meta.defaults import DEFAULT_MEMBERS, DEFAULT_META, default_meta
from ..typed import Int, TypedConfig
from .common import metric_name, task_list
from .options import Given, Group, add_options, command

#: The MetaConfig / ModelConfig fields that are pretrain flags (generated from the models; the rest of each
#: is set in the config file's meta: / model: section).
META_FLAGS = (
    "algorithm",
    "first_order",
    "meta_sgd",
    "inner_steps",
    "inner_lr",
    "outer_lr",
    "iterations",
    "meta_batch",
    "kernel",
    "target_scale",
    "top_weight",
    "gp_head",
    "meta_val",
    "seed",
    "device",
)
MODEL_FLAGS = ("conv", "hidden", "layers", "use_sources")


def _names(v: Any) -> Any:
    """A list of names (a pretrain.yaml writes lists) as the flag's comma-separated text; [] = none given."""
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return ",".join(v) if v else None
    return v


Names = Annotated[str | None, BeforeValidator(_names)]


class PretrainOptions(TypedConfig):
    """What `pretrain` learns from and where it writes (its model: and meta: sections are ModelConfig and
    MetaConfig)."""

    what: ClassVar[str] = "pretrain"

    benchmark: str = Field("nb201", description="benchmark whose tasks are the meta-training tasks")
    target: str | None = Field(
        None,
        description="the task this checkpoint will predict: left out of the default training tasks, refused among "
        "--train-tasks/--val-tasks, and recorded in the checkpoint",
    )
    train_tasks: Names = Field(
        None,
        description="comma-separated training tasks (default: every task not in --val-tasks and not --target); a "
        "target task you will predict must not be among them",
    )
    val_tasks: Names = Field(
        None,
        description="comma-separated held-out tasks for early stopping (default: a held-out training task or "
        "held-out architectures, --meta-val)",
    )
    metric: str | None = Field(
        None, description="target metric (default: test_acc for nb201, valid_perf for nas-bench-graph)"
    )
    lower_is_better: bool = Field(False, description="the metric is latency-like (smaller is better)")
    features: Names = Field(
        None,
        description="free features every task reads of its own architectures: comma-separated (nb201: params, "
        "flops, synflow, snip, grad_norm, jacob_cov, naswot; nas-bench-graph: params, latency) or 'all'; "
        "adaptation reads the target's",
    )
    members: Int = Field(
        DEFAULT_MEMBERS,
        ge=1,
        le=1000,
        description="ensemble members: meta seeds --seed, --seed + 1, ... (1: a single checkpoint)",
    )
    workers: Int = Field(
        1,
        ge=1,
        le=4096,
        description="members meta-trained at once, each in a process of its own (results are the same as with 1)",
    )
    out: str = Field(description="checkpoint directory: new, empty, or an earlier checkpoint or ensemble (replaced)")
    threads: Int = Field(1, ge=1, le=4096, description="torch CPU threads (1 is fastest for these small graphs)")
    progress: bool = Field(True, description="show a progress bar")


def _cmd_pretrain(given: Given) -> int:
    import time

    import torch

    from ..meta.ensemble import save_model
    from ..meta.maml import MetaConfig
    from ..meta.pretrain import pretrain_members

    args = given.build("pretrain")
    model_cfg, meta_cfg, train_tasks, val_tasks, out, table, metric, features = _checked_inputs(given, args)
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
    shares = [c.info["feature_share"] for c in ckpts if "feature_share" in c.info]
    share = f"; free features' share of the transfer prior {', '.join(f'{v:.2f}' for v in shares)}" if shares else ""
    print(
        f"meta-trained on {', '.join(tasks)} ({metric}) in {time.perf_counter() - t0:.1f}s; "
        f"meta-validation Kendall tau {taus}{share}; {what} -> {out}"
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


def _features(text: str | None, table, target: str | None, metric: str) -> tuple[str, ...]:
    """--features: comma-separated names, or ``all`` (every free feature the benchmark has but ``metric``)."""
    from ..features import available_features

    if not text:
        return ()
    if text.strip() == "all":
        task = target if target in table.tasks else table.tasks[0]
        return available_features(table, task, metric)
    return tuple(n.strip() for n in text.split(",") if n.strip())


def register(sub, full: bool = True) -> None:
    """Add `pretrain` to the subparsers ``sub`` (``full=False``: its name and help only, importing no model)."""
    r = command(sub, "pretrain", ABOUT, _cmd_pretrain)
    if not full:
        return
    from ..meta.maml import MetaConfig
    from ..predictors.gnn import ModelConfig

    groups = [
        Group("pretrain", PretrainOptions, tuple(PretrainOptions.model_fields), required=("out",)),
        Group("meta", MetaConfig, META_FLAGS, section="meta", defaults=DEFAULT_META),
        Group("model", ModelConfig, MODEL_FLAGS, section="model", rename={"use_sources": "--sources"}),
    ]
    add_options(
        r,
        groups,
        "top-level keys: these options by name; sections model: (ModelConfig) and meta: (MetaConfig) with any of "
        "their fields; a checkpoint's pretrain.yaml is such a file",
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


def _checked_inputs(given: Given, args: PretrainOptions):
    """Every input of `pretrain` checked before any work: (ModelConfig, MetaConfig, train tasks, validation tasks,
    output directory, benchmark table, metric, free features)."""
    from ..benchmarks import load_benchmark
    from ..meta.ensemble import check_model_dir

    model_cfg = given.build("model")
    given.build("meta")  # a bad value is refused before the benchmark is read
    train_tasks = task_list(args.train_tasks, "--train-tasks")
    val_tasks = task_list(args.val_tasks, "--val-tasks")
    out = check_model_dir(args.out)  # before any work
    table = load_benchmark(args.benchmark)
    metric = metric_name(args.metric, table, args.benchmark)
    # the default's settings for this metric (a hardware metric's kernel and meta-validation) where neither flag nor
    # file set them
    meta_cfg = given.build("meta", **{k: v for k, v in default_meta(metric).items() if k not in given.user_set["meta"]})
    features = _features(args.features, table, args.target, metric)
    if args.target and args.target not in table.tasks:
        print(
            f"note: target {args.target!r} is not a task of {args.benchmark} (tasks: {', '.join(table.tasks)}); "
            "nothing is held out for it",
            file=sys.stderr,
        )
    return model_cfg, meta_cfg, train_tasks, val_tasks, out, table, metric, features


ABOUT = (
    "meta-train a GNN predictor across the tasks of a benchmark",
    "Meta-train a GNN predictor across the tasks of a benchmark and write a checkpoint directory (model.pt + "
    "config.json + pretrain.yaml, written as one). The default is a deep ensemble: --members meta seeds (--seed, "
    "--seed + 1, ...) trained one after another, written as one directory of member-0/ ... (each a checkpoint) + "
    "ensemble.json + pretrain.yaml; `predict` and the 'meta' predictor read either.",
)
