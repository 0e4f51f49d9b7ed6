"""Meta-train a GNN predictor on benchmark tasks and return/save the checkpoint."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from ..benchmarks import BenchmarkTable, check_isolation
from ..devices import resolve_device
from ..errors import DataError
from ..predictors.gnn import GraphRegressor, ModelConfig
from ..predictors.inputs import FreeFeatureValues, SourceValues
from .checkpoint import Checkpoint
from .maml import MetaConfig, MetaLearner, default_meta_config
from .tasks import table_tasks


def pretrain(
    table: BenchmarkTable,
    train_tasks: Sequence[str] | None,
    metric: str,
    model_config: ModelConfig | None = None,
    meta_config: MetaConfig | None = None,
    val_tasks: Sequence[str] = (),
    benchmark_name: str | None = None,
    use_sources: bool = True,
    higher_is_better: bool = True,
    progress: bool = True,
    target: str | None = None,
    features: Sequence[str] = (),
) -> Checkpoint:
    """Meta-learn an initialisation over ``train_tasks`` (metric ``metric``) of ``table``.

    Each training task sees the other training tasks' values of the same architectures as
    source features; a new task later sees all of them. ``val_tasks`` (optional, disjoint) are
    used only for early stopping; without them, one training task picked by the meta seed is left out of
    the episodes for it when there are >= 3 (``MetaConfig.meta_val``: ``"task-seed"``, the default's, task number
    seed mod n in name order; ``"task"``, drawn; recorded as ``info["meta_val_task"]``), else one held-out set of
    architectures shared by all training tasks.

    ``target``: the task the checkpoint will predict. It is refused among the training and validation
    tasks (:func:`~surrogate_nas.benchmarks.check_isolation`); ``train_tasks=None`` means every task of
    ``table`` with ``metric`` except ``target`` and the validation tasks.

    ``meta_config``: default :func:`~surrogate_nas.meta.maml.default_meta_config` for ``metric`` (the deep-kernel GP
    head with robust target scaling, chosen on validation targets; a linear kernel for hardware metrics);
    ``MetaConfig()`` is plain MAML.

    ``features``: free features (e.g. ``("params", "flops", "synflow")``, see
    :func:`surrogate_nas.features.available_features`) each task reads of its own architectures, as extra
    input columns; recorded in the checkpoint so adaptation reads the same ones of the new task.
    """
    meta_config = meta_config or default_meta_config(metric)
    if meta_config.kernel == "auto" and meta_config.algorithm == "dkt":

        def train(config: MetaConfig) -> Checkpoint:
            return pretrain(
                table, train_tasks, metric, model_config, config, val_tasks, benchmark_name, use_sources,
                higher_is_better, progress, target, features,
            )  # fmt: skip

        return _kernel_by_validation(train, meta_config)
    train_tasks, val_tasks = _check_tasks(table, train_tasks, list(val_tasks), metric, target)
    model_config = ModelConfig(**(model_config or ModelConfig()).to_dict())  # the caller's stays as given
    resolve_device(meta_config.device, DataError)  # a device this machine lacks is refused before any work
    features = _check_features(table, train_tasks + val_tasks, tuple(features), metric)
    # a single task has no other task to learn source transfer from
    reads_sources = model_config.use_sources and use_sources and len(train_tasks) >= 2
    model_config.use_sources = reads_sources or bool(features)  # the column encoder reads sources and features
    model_config.feature_columns = len(features)  # encoded apart, kept out of the transfer prior
    sources = SourceValues(table, tuple(train_tasks) if reads_sources else (), metric, higher_is_better)
    tasks = table_tasks(table, train_tasks, metric, sources, features=features)
    vals = table_tasks(table, val_tasks, metric, sources, features=features) if val_tasks else []
    model = _initial_model(table.space, model_config, meta_config.seed)
    t0 = time.perf_counter()
    learner, gp = _meta_learn(model, meta_config, tasks, vals, table.space, progress)
    seconds = time.perf_counter() - t0
    return Checkpoint(
        space=table.space,
        model=learner.model,
        meta=meta_config.to_dict(),
        sources={"benchmark": benchmark_name or table.source, **sources.config(), "features": list(features)},
        target_metric=metric,
        inner_lrs=learner.inner_lrs,
        info=_info(learner, train_tasks, val_tasks, target, seconds),
        gp=gp,
    )


def _check_tasks(
    table: BenchmarkTable, train_tasks: Sequence[str] | None, val_tasks: list, metric: str, target: str | None
) -> tuple[list, list]:
    """(training tasks, validation tasks) of :func:`pretrain`, refused in one line each: not task names, listed
    twice, the target among them (the isolation guard), unknown, without ``metric``, or both kinds at once.
    ``train_tasks=None``: every task of ``table`` with ``metric`` except ``target`` and the validation tasks."""
    if target is not None and (not isinstance(target, str) or not target.strip()):
        raise DataError(f"pretrain: target must be a task name, got {target!r}")
    if train_tasks is None:
        train_tasks = [t for t in table.tasks if t != target and t not in val_tasks and metric in table.metrics(t)]
    train_tasks = list(train_tasks)
    if not train_tasks and not any(table.has_metric(t, metric) for t in table.tasks):
        raise DataError(
            f"pretrain: no task of {table.source} has metric {metric!r}; it has {', '.join(table.metrics())}"
        )
    if not train_tasks:
        raise DataError(
            "pretrain: no training tasks given (every task with the metric is the target or a validation task)"
        )
    for t in train_tasks + val_tasks:
        if not isinstance(t, str) or not t.strip():
            raise DataError(f"pretrain: {t!r} is not a task name")
    for kind, names in (("training", train_tasks), ("validation", val_tasks)):
        dup = sorted({t for t in names if names.count(t) > 1})
        if dup:
            raise DataError(f"pretrain: {kind} task {dup[0]!r} is listed twice")
    check_isolation(target, train_tasks + val_tasks, where="pretrain")
    for t in train_tasks + val_tasks:
        if t not in table.tasks:
            raise DataError(f"pretrain: unknown task {t!r}; tasks of {table.source}: {', '.join(table.tasks)}")
        if metric not in table.metrics(t):
            raise DataError(f"pretrain: task {t!r} has no metric {metric!r}; it has {', '.join(table.metrics(t))}")
    if set(train_tasks) & set(val_tasks):
        raise DataError(
            f"pretrain: tasks {sorted(set(train_tasks) & set(val_tasks))} are both training and validation tasks"
        )
    return train_tasks, val_tasks


def _kernel_by_validation(train: Callable[[MetaConfig], Checkpoint], meta_config: MetaConfig) -> Checkpoint:
    """``kernel="auto"``: of the checkpoints ``train`` meta-trains with each of
    :data:`~surrogate_nas.meta.maml.AUTO_KERNELS` (the same seed and settings otherwise), the one whose best
    meta-validation tau is highest (a tie keeps the first); its ``info`` records every kernel's tau
    (``kernel_val_taus``) and the seconds of all of them."""
    from .maml import AUTO_KERNELS

    fits = [train(MetaConfig(**{**meta_config.to_dict(), "kernel": k})) for k in AUTO_KERNELS]
    best = max(fits, key=lambda c: c.info["best_val_tau"])  # the first of equals
    best.info["kernel_val_taus"] = {k: float(c.info["best_val_tau"]) for k, c in zip(AUTO_KERNELS, fits)}
    best.info["train_seconds"] = sum(c.info["train_seconds"] for c in fits)
    return best


def _check_features(table: BenchmarkTable, tasks: list, features: tuple, metric: str) -> tuple:
    """``features``, refused before training when one is listed twice, unknown, missing for one of ``tasks`` or the
    metric being predicted."""
    dup = sorted({f for f in features if features.count(f) > 1})
    if dup:
        raise DataError(f"pretrain: free feature {dup[0]!r} is listed twice")
    for t in tasks:  # names, availability and the predicted-metric guard, before training
        FreeFeatureValues(table, t, features, metric)
    return features


def _initial_model(space, model_config: ModelConfig, seed: int) -> GraphRegressor:
    """The network to meta-train, its initial weights drawn from ``seed`` (the global torch RNG untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return GraphRegressor(len(space.vocabulary), model_config)


def _meta_learn(
    model: GraphRegressor, meta_config: MetaConfig, tasks: list, vals: list, space, progress: bool
) -> tuple[MetaLearner, dict | None]:
    """(the fitted learner, its GP head's parameters or None): MetaLearner, or DKTLearner for ``algorithm="dkt"``,
    then (``gp_head``) a GP head meta-learned on the adapted network's residuals."""
    gp = None
    learner: MetaLearner
    if meta_config.algorithm == "dkt":
        from .deep_kernel import DKTLearner

        dkt = DKTLearner(model, meta_config, space).fit(tasks, vals, progress=progress)
        learner, gp = dkt, dkt.gp_state()
    else:
        learner = MetaLearner(model, meta_config).fit(tasks, vals, progress=progress)
    if meta_config.gp_head:
        from .deep_kernel import fit_gp_head, gp_parameters

        sampler = learner.episode_sampler(tasks)
        gp = gp_parameters(fit_gp_head(learner, sampler, space, meta_config.gp_iterations, seed=meta_config.seed))
    return learner, gp


def _info(learner: MetaLearner, train_tasks: list, val_tasks: list, target: str | None, seconds: float) -> dict:
    """What a checkpoint records of how it was meta-trained (its ``info``)."""
    info: dict[str, Any] = {
        "train_tasks": train_tasks,
        "val_tasks": val_tasks,
        "meta_val_task": learner.val_task,
        "target": target,
        "best_val_tau": learner.best_val_tau,
        "history": learner.history,
        "train_seconds": seconds,
    }
    from .deep_kernel import DKTLearner

    if isinstance(learner, DKTLearner):  # the share of rank residual the training tasks chose
        info["rank_share"] = learner.rank_share
        info["rank_share_taus"] = learner.rank_share_taus
        info["rank_share_by_k"] = learner.rank_share_by_k
        if learner.gp_scale_taus:  # MetaConfig.select_gp_scale
            info["gp_scale_taus"] = learner.gp_scale_taus
            info["gp_scale_by_k"] = learner.gp_scale_by_k
    if learner.model.config.feature_columns:  # what the training tasks made the free features worth
        info["feature_share"] = float(learner.model.feature_share().detach())
    return info


def pretrain_members(
    configs: Sequence[MetaConfig],
    job: dict,
    workers: int = 1,
    threads: int = 1,
    progress: bool = True,
    on_member: Callable[[Checkpoint, int, int], None] | None = None,
) -> list[Checkpoint]:
    """One :func:`pretrain` per MetaConfig (an ensemble's members, e.g. meta seeds s, s + 1, ...), with the same
    keyword arguments ``job``: one after the other in this process (each with its own bar), or in ``workers``
    processes at once (the same weights: each member's randomness follows its own seed). ``on_member(checkpoint,
    meta seed, members done)`` is called as each finishes. ``threads``: torch threads per member."""
    if workers <= 1 or len(configs) == 1:
        out = []
        for cfg in configs:
            out.append(_member(job, cfg, progress, threads))
            if on_member is not None:
                on_member(out[-1], cfg.seed, len(out))
        return out
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    results: dict[int, Checkpoint] = {}
    with ProcessPoolExecutor(min(workers, len(configs)), mp_context=mp.get_context("spawn")) as pool:
        futures = {pool.submit(_member, job, cfg, False, threads): i for i, cfg in enumerate(configs)}
        for f in as_completed(futures):
            results[futures[f]] = f.result()
            if on_member is not None:
                on_member(results[futures[f]], configs[futures[f]].seed, len(results))
    return [results[i] for i in range(len(configs))]


def _member(job: dict, cfg: MetaConfig, progress: bool, threads: int) -> Checkpoint:
    """One member (module level: a worker process imports it)."""
    torch.set_num_threads(threads)
    return pretrain(meta_config=cfg, progress=progress, **job)
