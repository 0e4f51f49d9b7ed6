"""``run_search(SearchConfig) -> SearchResult``: one search run with journal, resume and report.

This is what ``surrogate-nas search`` calls. Output directory layout::

    out/config.yaml       the SearchConfig (YAML)
    out/journal.sqlite    every evaluation, committed before the searcher is told (resume source)
    out/trajectory.csv    one row per evaluation with best-so-far columns
    out/best.json         the best architecture found
    out/trajectory.png    best-so-far vs evaluations
    out/report.md         summary
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from ..io import atomic_write_text
from ..spaces import get_space
from .base import SEARCHERS, Constraint, SearchError, get_searcher
from .evaluators import EVALUATORS, TableEvaluator, TrainEvaluator
from .journal import Journal
from .loop import run_loop
from .report import markdown_table, plot_best_so_far

#: Default benchmark and metrics per space: (benchmark, search metric, reported metric, cost metric).
DEFAULTS = {
    "nb201": ("nb201", "test_acc", "test_acc", None),
    "nas-bench-graph": ("nas-bench-graph", "valid_perf", "test_perf", "latency"),
}
PREDICTOR_STRATEGIES = ("guided-evolution", "hierarchical")


@dataclass
class SearchConfig:
    """One search run. ``options`` go to the strategy's constructor (see each searcher's docstring):

    * ``evolution``: population (20), tournament (5)
    * ``source-rank``: source_tasks (default: every other task of the benchmark)
    * ``guided-evolution`` / ``hierarchical``: n_support (5), support ("source-rank" | "random"),
      acquisition ("mean" | "ucb" | "thompson"), beta, pool ("auto" | "space" | "mutants"),
      n_candidates, top_k; hierarchical also n_groups (3), group_top (3).
    * for the predictor: cv_until (20: choose the inner steps by cross-validation while the
      measurements are <= cv_until, then keep the last choice), scratch_steps (150),
      targets ("anchored" | "support": how the meta-predictor scales the measurements, see
      :class:`~surrogate_nas.meta.adapt.MetaGNNPredictor`).

    ``predictor``: ``meta`` (needs ``model``, a checkpoint directory), ``scratch`` (the same GNN
    trained from random initialisation on the measurements) or ``tree`` (random forest on one-hot).
    ``constraint``: e.g. ``"latency<=0.005"``, values looked up in the benchmark for ``task`` (or
    ``constraint_task``); ``constraint_mode``: ``filter`` or ``penalty``.
    """

    space: str = "nb201"
    task: str = "ImageNet16-120"
    strategy: str = "guided-evolution"
    budget: int = 20
    evaluator: str = "table"
    seed: int = 0
    out: str = "runs/search"
    model: str | None = None
    predictor: str = "meta"
    benchmark: str | None = None
    metric: str | None = None
    test_metric: str | None = None
    maximize: bool = True
    batch_size: int = 1
    options: dict = field(default_factory=dict)
    constraint: str | None = None
    constraint_mode: str = "filter"
    constraint_task: str | None = None
    # real training (evaluator="train"): dataset defaults to task; TrainConfig fields
    data_root: str | None = None
    train: dict = field(default_factory=dict)
    progress: bool = True

    #: Fields that do not change which architectures are evaluated (excluded from the fingerprint).
    _NON_RESULT = ("out", "progress")

    def to_dict(self) -> dict:
        return asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, d: dict) -> "SearchConfig":
        names = {f.name for f in fields(cls)}
        bad = sorted(set(d) - names)
        if bad:
            raise SearchError(f"unknown SearchConfig field(s) {', '.join(bad)}; fields: {', '.join(sorted(names))}")
        return cls(**d)

    @classmethod
    def from_yaml(cls, text: str) -> "SearchConfig":
        return cls.from_dict(yaml.safe_load(text) or {})

    def resolved(self) -> "SearchConfig":
        """Validate and fill the per-space defaults (benchmark, metrics); raises SearchError."""
        c = SearchConfig(**{**self.to_dict(), "options": dict(self.options), "train": dict(self.train)})
        try:
            get_space(c.space)
        except ValueError as e:
            raise SearchError(str(e)) from None
        if c.strategy not in SEARCHERS:
            raise SearchError(f"unknown search strategy {c.strategy!r}; choose one of {', '.join(SEARCHERS.names())}")
        if c.evaluator not in EVALUATORS:
            raise SearchError(f"unknown evaluator {c.evaluator!r}; choose one of {', '.join(EVALUATORS.names())}")
        if isinstance(c.budget, bool) or not isinstance(c.budget, int) or c.budget < 1:
            raise SearchError(f"budget must be an int >= 1 (number of evaluations), got {c.budget!r}")
        if isinstance(c.seed, bool) or not isinstance(c.seed, int):
            raise SearchError(f"seed must be an int, got {c.seed!r}")
        if c.predictor not in ("meta", "scratch", "tree"):
            raise SearchError(f"unknown predictor {c.predictor!r}; choose meta, scratch or tree")
        if c.strategy in PREDICTOR_STRATEGIES and c.predictor == "meta" and not c.model:
            raise SearchError(f"strategy {c.strategy!r} with predictor 'meta' needs --model (a checkpoint directory "
                              "from `surrogate-nas pretrain`), or use predictor 'scratch'")
        bench, metric, test, _ = DEFAULTS.get(c.space, (None, None, None, None))
        c.benchmark = c.benchmark or bench
        if c.evaluator == "train":
            c.metric = c.metric or "test_acc"
            c.test_metric = c.test_metric or c.metric
        else:
            if c.benchmark is None:
                raise SearchError(f"space {c.space!r} has no default benchmark; set benchmark")
            c.metric = c.metric or metric
            c.test_metric = c.test_metric or test or c.metric
            if c.metric is None:
                raise SearchError(f"set the metric to search on for benchmark {c.benchmark!r}")
        return c

    def fingerprint(self, model_digest: str = "") -> str:
        d = {k: v for k, v in self.to_dict().items() if k not in self._NON_RESULT}
        d["model"] = model_digest or None
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class SearchResult:
    config: SearchConfig
    best_arch: str
    best_value: float
    best_test: float
    evaluations: int
    trajectory: pd.DataFrame
    out: Path | None
    replayed: int = 0                     # evaluations taken from the journal instead of re-run
    scored_per_second: float | None = None
    seconds: float = 0.0
    info: dict = field(default_factory=dict)


# ---------------------------------------------------------------------- building blocks
_TABLES: dict[str, Any] = {}


def cached_benchmark(name: str):
    """``load_benchmark(name)`` loaded once per process."""
    if name not in _TABLES:
        from ..benchmarks import load_benchmark

        _TABLES[name] = load_benchmark(name)
    return _TABLES[name]


def source_scores(table, tasks, metric: str, higher_is_better: bool = True):
    """Callable archs -> mean rank-normalised value over ``tasks`` (the source-rank transfer score)."""
    from ..predictors.features import SourceValues

    sv = SourceValues(table, tuple(tasks), metric, higher_is_better)

    def score(archs):
        m = sv(table.space, list(archs))
        with np.errstate(all="ignore"):
            return np.nan_to_num(np.nanmean(m, axis=1), nan=-np.inf) if m.shape[1] else np.zeros(len(archs))

    return score


def other_tasks(table, task: str, metric: str) -> list[str]:
    return [t for t in table.tasks if t != task and metric in table.metrics(t)]


def meta_predictor(checkpoint, sources=None, seed: int = 0, cv_until: int = 20, targets: str = "anchored"):
    """Factory (archs, y) -> adapted :class:`MetaGNNPredictor`; re-adapts from the meta-learned
    initialisation on all measurements each call (inner steps by CV while K <= ``cv_until``).

    ``targets="anchored"`` (default): a search's measurements are a selected, top-heavy sample, so
    they are put on the initialisation's scale rather than z-scored (see :class:`MetaGNNPredictor`)."""
    from ..meta.adapt import adapt

    state = {"steps": "cv"}

    def fit(archs, y):
        steps = "cv" if len(archs) <= cv_until or state["steps"] == "cv" and len(archs) < 6 else state["steps"]
        p = adapt(checkpoint, (archs, y), sources=sources, inner_steps=steps, seed=seed, targets=targets)
        state["steps"] = p.steps_
        return p

    return fit


def scratch_predictor(space, seed: int = 0, steps: int = 150):
    from ..predictors.baselines import ScratchGNNPredictor
    from ..predictors.gnn import ModelConfig

    def fit(archs, y):
        return ScratchGNNPredictor(space, ModelConfig(hidden=32, layers=2), steps=steps, seed=seed).fit(archs, y)

    return fit


def tree_predictor(space, seed: int = 0):
    from ..predictors.baselines import TreePredictor

    def fit(archs, y):
        return TreePredictor(space, "rf", seed=seed, n_estimators=100).fit(archs, y)

    return fit


def check_model(checkpoint, space: str, task: str, benchmark: str | None):
    """Refuse a checkpoint of another space, or one meta-trained on the search target itself."""
    if checkpoint.space.name != space:
        raise SearchError(f"model is for space {checkpoint.space.name!r}, but the search is on space {space!r}")
    trained = set(checkpoint.info.get("train_tasks", [])) | set(checkpoint.info.get("val_tasks", [])) \
        | set(checkpoint.sources.get("tasks", []))
    same_bench = benchmark is None or checkpoint.sources.get("benchmark") in (benchmark, None) \
        or str(checkpoint.sources.get("benchmark", "")).startswith(str(benchmark))
    if task in trained and same_bench:
        raise SearchError(f"model was meta-trained on task {task!r}, the search target; its predictions would leak "
                          "the answer. Pretrain without that task.")


def make_searcher(strategy: str, space, seed: int, options: dict | None = None, table=None, task: str | None = None,
                  metric: str | None = None, checkpoint=None, predictor: str = "meta", constraint=None):
    """Build a registered searcher with what it needs (source scores, predictor factory)."""
    opts = dict(options or {})
    space = get_space(space)
    src_tasks = opts.pop("source_tasks", None)
    cv_until = int(opts.pop("cv_until", 20))
    scratch_steps = int(opts.pop("scratch_steps", 150))
    targets = opts.pop("targets", "anchored")
    if targets not in ("anchored", "support"):
        raise SearchError(f"option targets must be 'anchored' or 'support', got {targets!r}")
    scores = None
    if table is not None and metric is not None:
        tasks = list(src_tasks) if src_tasks else other_tasks(table, task, metric) if task in table.tasks \
            else [t for t in table.tasks if metric in table.metrics(t)]
        if tasks:
            scores = source_scores(table, tasks, metric)
    if strategy == "source-rank":
        opts["scores"] = scores
    if strategy in PREDICTOR_STRATEGIES:
        if predictor == "meta":
            if checkpoint is None:
                raise SearchError(f"strategy {strategy!r} with predictor 'meta' needs a model checkpoint")
            from ..predictors.features import SourceValues

            sv = None
            if table is not None and checkpoint.sources.get("tasks"):
                sv = SourceValues(table, tuple(checkpoint.sources["tasks"]), checkpoint.sources["metric"],
                                  checkpoint.sources.get("higher_is_better", True))
            opts["predictor"] = meta_predictor(checkpoint, sv, seed, cv_until, targets)
        elif predictor == "scratch":
            opts["predictor"] = scratch_predictor(space, seed, scratch_steps)
        else:
            opts["predictor"] = tree_predictor(space, seed)
        opts.setdefault("source_scores", scores)
        if scores is None:
            opts.setdefault("support", "random")
    try:
        return get_searcher(strategy, space=space, seed=seed, constraint=constraint, **opts)
    except TypeError as e:
        raise SearchError(f"strategy {strategy!r}: bad option ({e})") from None


def _check_writable(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, p = tempfile.mkstemp(dir=out, prefix=".write-test-")
        os.close(fd)
        os.unlink(p)
    except OSError as e:
        raise SearchError(f"output directory {str(out)!r} is not writable ({e.strerror or e})") from None


def _digest(model_dir) -> str:
    h = hashlib.sha256()
    for name in ("config.json", "model.pt"):
        p = Path(model_dir) / name
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


# ---------------------------------------------------------------------- the entry point
def run_search(config: SearchConfig) -> SearchResult:
    """Run (or resume) one search as configured; write the results into ``config.out``."""
    import torch

    t0 = time.perf_counter()
    if not isinstance(config, SearchConfig):
        raise SearchError(f"run_search expects a SearchConfig, got {type(config).__name__}")
    cfg = config.resolved()
    space = get_space(cfg.space)

    # inputs: benchmark, task, model
    table = None
    if cfg.evaluator == "table" or cfg.strategy == "source-rank" or cfg.constraint or (
            cfg.strategy in PREDICTOR_STRATEGIES and cfg.benchmark):
        if cfg.benchmark:
            try:
                table = cached_benchmark(cfg.benchmark)
            except ValueError as e:
                raise SearchError(str(e)) from None
            if table.space.name != space.name:
                raise SearchError(f"benchmark {cfg.benchmark!r} is of space {table.space.name!r}, not {space.name!r}")
    if cfg.evaluator == "table":
        if cfg.task not in table.tasks:
            raise SearchError(f"unknown task {cfg.task!r} for benchmark {cfg.benchmark!r}; tasks: {', '.join(table.tasks)}")
        for m in (cfg.metric, cfg.test_metric):
            if m not in table.metrics(cfg.task):
                raise SearchError(f"task {cfg.task!r} has no metric {m!r}; it has {', '.join(table.metrics(cfg.task))}")
    checkpoint, digest = None, ""
    if cfg.model and cfg.strategy in PREDICTOR_STRATEGIES and cfg.predictor == "meta":
        from ..meta.checkpoint import load_checkpoint

        try:
            checkpoint = load_checkpoint(cfg.model)
        except ValueError as e:
            raise SearchError(str(e)) from None
        check_model(checkpoint, space.name, cfg.task, cfg.benchmark)
        digest = _digest(cfg.model)

    constraint = None
    if cfg.constraint:
        c_task = cfg.constraint_task or cfg.task
        constraint = Constraint.parse(cfg.constraint, mode=cfg.constraint_mode)
        if table is None or c_task not in table.tasks or constraint.metric not in table.metrics(c_task):
            raise SearchError(f"constraint {cfg.constraint!r}: no {constraint.metric!r} records for task {c_task!r} "
                              f"in benchmark {cfg.benchmark!r}")
        constraint.values = lambda archs, _t=c_task, _m=constraint.metric: table.vector(_t, _m, archs, missing="nan")

    out = Path(cfg.out)
    _check_writable(out)
    if cfg.evaluator == "table":
        _, _, _, cost_metric = DEFAULTS.get(space.name, (None, None, None, None))
        if cost_metric and cost_metric not in table.metrics(cfg.task):
            cost_metric = None
        evaluator = TableEvaluator(table, cfg.task, cfg.metric, cfg.test_metric, cost_metric)
    else:
        from ..training import TrainConfig

        try:
            tc = TrainConfig(**cfg.train)
        except TypeError as e:
            raise SearchError(f"bad train option: {e}") from None
        evaluator = TrainEvaluator(cfg.task, work_dir=out / "train-evals", space=space.name, metric=cfg.metric,
                                   train_config=tc, data_root=cfg.data_root)

    searcher = make_searcher(cfg.strategy, space, cfg.seed, cfg.options, table, cfg.task, cfg.metric, checkpoint,
                             cfg.predictor, constraint)
    atomic_write_text(out / "config.yaml", cfg.to_yaml())
    threads = torch.get_num_threads()
    with Journal(out / "journal.sqlite", cfg.fingerprint(digest), cfg.to_yaml()) as journal:
        try:
            traj = run_loop(searcher, evaluator, cfg.budget, journal, cfg.batch_size, cfg.maximize, cfg.progress,
                            desc=f"{cfg.strategy} {cfg.task}")
        finally:
            torch.set_num_threads(threads)
    rate = getattr(searcher, "scored_per_second", None)
    best = traj.iloc[-1]
    result = SearchResult(cfg, str(best["best_arch"]), float(best["best_value"]), float(best["best_test"]), len(traj),
                          traj, out, int(traj["replayed"].sum()), rate, time.perf_counter() - t0,
                          {"fallbacks": getattr(searcher, "fallbacks_", 0),
                           "scored": getattr(searcher, "scored_", 0)})
    write_results(result)
    return result


def write_results(result: SearchResult) -> None:
    cfg, out, traj = result.config, result.out, result.trajectory
    with_atomic_csv(out / "trajectory.csv", traj)
    atomic_write_text(out / "best.json", json.dumps({
        "arch": result.best_arch, "value": result.best_value, "test": result.best_test,
        "metric": cfg.metric, "test_metric": cfg.test_metric, "evaluations": result.evaluations,
        "task": cfg.task, "strategy": cfg.strategy, "seed": cfg.seed}, indent=2))
    long = traj.assign(method=cfg.strategy, seed=cfg.seed)
    plot_best_so_far(long, out / "trajectory.png", column="best_value", ylabel=f"best {cfg.metric} so far",
                     title=f"{cfg.strategy} on {cfg.space}/{cfg.task}", logx=False)
    top = traj.sort_values("value", ascending=not cfg.maximize).head(10)[["evaluation", "arch", "value", "test"]]
    rate = f"{result.scored_per_second:,.0f} candidates/s" if result.scored_per_second else "n/a"
    text = "\n".join([
        f"# Search report: {cfg.strategy} on {cfg.space} / {cfg.task}", "",
        f"- evaluator: {cfg.evaluator}; metric: {cfg.metric} ({'max' if cfg.maximize else 'min'}); "
        f"reported: {cfg.test_metric}",
        f"- budget: {cfg.budget} evaluations (support measurements included); done: {result.evaluations} "
        f"({result.replayed} replayed from the journal)",
        f"- seed: {cfg.seed}; model: {cfg.model or '-'}; predictor: {cfg.predictor if cfg.strategy in PREDICTOR_STRATEGIES else '-'}",
        f"- constraint: {cfg.constraint or '-'} ({cfg.constraint_mode})",
        f"- predictor scoring throughput: {rate}",
        f"- total cost: {traj['cost'].sum():.4g} ({'seconds' if cfg.evaluator == 'train' else 'simulated units'})",
        "", f"**Best**: `{result.best_arch}` {cfg.metric}={result.best_value:.4g}, {cfg.test_metric}={result.best_test:.4g}",
        "", "## Top 10 evaluated", "", markdown_table(top), "",
        "![best so far](trajectory.png)", ""])
    atomic_write_text(out / "report.md", text)


def with_atomic_csv(path, df: pd.DataFrame) -> None:
    atomic_write_text(path, df.to_csv(index=False))
