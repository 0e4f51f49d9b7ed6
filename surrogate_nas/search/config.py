"""``SearchConfig`` (one search run, validated before anything is written) and ``SearchResult``."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import pandas as pd
import yaml

from ..io import load_yaml
from ..spaces import get_space
from .base import SEARCHERS, Constraint, SearchError
from .benchmark_tables import BENCHMARK_METRICS, DEFAULT_BENCHMARK
from .evaluators import EVALUATORS

#: Strategies that re-fit a predictor on their measurements.
PREDICTOR_STRATEGIES = ("guided", "hierarchical")
#: How a strategy is spelled in a run's identity (journal fingerprint) when it was renamed: the former name, so
#: journals written before the rename ("guided-evolution") still resume, whichever name the run is given.
IDENTITY_SPELLING = {"guided": "guided-evolution"}


def _check_type(name: str, value, types, what: str) -> None:
    if (
        isinstance(value, bool)
        and bool not in (types if isinstance(types, tuple) else (types,))
        or not isinstance(value, types)
    ):
        raise SearchError(f"{name} must be {what}, got {value!r}")


@dataclass
class SearchConfig:
    """One search run. ``options`` go to the strategy's constructor (see each searcher's docstring):

    * ``evolution``: population (20), tournament (5)
    * ``source-rank``: source_tasks (default: every other task of the benchmark; never the target), source_metric
    * ``guided`` (formerly ``guided-evolution``) / ``hierarchical``: n_support (5), support ("source-rank" | "random"),
      acquisition ("mean" | "ucb" | "ei" | "thompson"; default thompson), batch_acquisition (for batch_size > 1;
      default: acquisition when given, else ucb), beta, pool ("auto" | "space" | "mutants"),
      n_candidates, top_k, support_random; hierarchical also probe_groups, coarse, commit,
      commit_fraction, group_top (see :class:`~surrogate_nas.search.hierarchical.HierarchicalSearch`).
    * for the predictor: cv_until (20: the meta-predictor chooses its inner steps by cross-validation
      while the measurements are <= cv_until, then keeps the last choice), scratch_steps (150, the
      ``scratch`` alias), targets ("anchored" | "support", see
      :class:`~surrogate_nas.meta.adapt.MetaGNNPredictor`), predictor_options (a dict of keyword
      options for the predictor's factory).

    ``predictor``: a name of the predictor registry (``surrogate_nas.predictors.base.PREDICTORS``:
    ``meta`` needs ``model``, a checkpoint directory; ``rf``, ``gbm``, ``scratch-gnn``,
    ``source-transfer``, ...) or an alias: ``scratch`` (the GNN trained from random initialisation
    on the measurements, 32 hidden, 2 layers) or ``tree`` (random forest on one-hot, 100 trees).
    ``metric``/``test_metric``: what is searched on and what is reported for the best architecture
    (defaults per built-in benchmark: NB-201 ``valid_acc@12``/``test_acc@200``, the published protocol;
    NAS-Bench-Graph ``valid_perf``/``test_perf``; ``NAME@FIDELITY`` selects the records of one fidelity; for
    another benchmark ``metric`` must be set and ``test_metric`` defaults to it). Searching NB-201 on
    ``test_acc`` is a noise-free simulation (search metric = test metric), and reported as one. Source tasks
    (``source-rank``, source-reading predictors) are read with ``source_metric`` (option; default NB-201
    ``test_acc``, the 200-epoch test accuracy of the other datasets, else ``metric``). ``constraint``: e.g.
    ``"latency<=0.005"``, values looked up in the benchmark for ``task`` (or ``constraint_task``);
    ``constraint_mode``: ``filter`` or ``penalty``.
    ``budget`` is not part of the run's identity: rerunning a finished search with a larger budget
    continues it.
    """

    space: str = "nb201"
    task: str = "ImageNet16-120"
    strategy: str = "guided"
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

    #: Fields that do not change which architectures are evaluated (not part of the run's identity).
    NON_IDENTITY = ("out", "progress", "budget")

    def to_dict(self) -> dict:
        return asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, d: dict) -> SearchConfig:
        if not isinstance(d, dict):
            raise SearchError(f"a search configuration must be a mapping of fields, got {type(d).__name__}")
        names = {f.name for f in fields(cls)}
        bad = sorted(map(str, set(d) - names))
        if bad:
            raise SearchError(f"unknown SearchConfig field(s) {', '.join(bad)}; fields: {', '.join(sorted(names))}")
        return cls(**d)

    @classmethod
    def from_yaml(cls, text: str) -> SearchConfig:
        try:
            d = load_yaml(text)
        except yaml.YAMLError as e:
            raise SearchError(f"search configuration is not valid YAML ({str(e).splitlines()[0]})") from None
        return cls.from_dict(d or {})

    def resolved(self) -> SearchConfig:
        """Validate every field and fill the defaults (benchmark, metrics); raises SearchError."""
        c = SearchConfig(**{**self.to_dict(), "options": self.options, "train": self.train})
        for name in ("out", "model", "data_root"):
            if isinstance(getattr(c, name), os.PathLike):
                setattr(c, name, os.fspath(getattr(c, name)))
        for name in ("space", "task", "strategy", "evaluator", "out", "predictor", "constraint_mode"):
            _check_type(name, getattr(c, name), str, "a string")
            if not getattr(c, name).strip():
                raise SearchError(f"{name} must not be empty")
        for name in ("model", "benchmark", "metric", "test_metric", "constraint", "constraint_task", "data_root"):
            _check_type(name, getattr(c, name), (str, type(None)), "a string")
        for name in ("maximize", "progress"):
            _check_type(name, getattr(c, name), bool, "true or false")
        _check_type("budget", c.budget, int, "an int >= 1 (number of evaluations)")
        if c.budget < 1:
            raise SearchError(f"budget must be an int >= 1 (number of evaluations), got {c.budget!r}")
        _check_type("batch_size", c.batch_size, int, "an int >= 1")
        if c.batch_size < 1:
            raise SearchError(f"batch_size must be an int >= 1, got {c.batch_size!r}")
        _check_type("seed", c.seed, int, "an int >= 0")
        if c.seed < 0:
            raise SearchError(f"seed must be an int >= 0, got {c.seed!r}")
        for name in ("options", "train"):
            d = getattr(c, name)
            _check_type(name, d, dict, "a mapping of key: value")
            bad = [k for k in d if not isinstance(k, str)]
            if bad:
                raise SearchError(f"{name}: keys must be strings, got {bad[0]!r}")
            setattr(c, name, dict(d))
        try:
            get_space(c.space)
        except ValueError as e:
            raise SearchError(str(e)) from None
        c.strategy = SEARCHERS.resolve(c.strategy)  # "guided-evolution" -> "guided" (saying so once)
        if c.strategy not in SEARCHERS:
            raise SearchError(f"unknown search strategy {c.strategy!r}; choose one of {', '.join(SEARCHERS.names())}")
        if c.evaluator not in EVALUATORS:
            hint = " (it is registered when surrogate_nas.training is imported)" if c.evaluator == "train" else ""
            raise SearchError(f"unknown evaluator {c.evaluator!r}{hint}; choose one of {', '.join(EVALUATORS.names())}")
        if c.constraint_mode not in ("filter", "penalty"):
            raise SearchError(f"constraint_mode must be 'filter' or 'penalty', got {c.constraint_mode!r}")
        if c.constraint is not None:
            Constraint.parse(c.constraint, mode=c.constraint_mode)
        if c.strategy in PREDICTOR_STRATEGIES:
            from .defaults import N_SUPPORT
            from .predictor_factory import needs_checkpoint, predictor_names

            n_support = c.options.get("n_support", N_SUPPORT)
            if isinstance(n_support, int) and not isinstance(n_support, bool) and n_support > c.budget:
                raise SearchError(
                    f"option n_support={n_support} is above the budget of {c.budget} evaluations: the support "
                    "alone would spend it; lower n_support or raise the budget"
                )

            if c.predictor not in predictor_names():
                raise SearchError(f"unknown predictor {c.predictor!r}; choose one of {', '.join(predictor_names())}")
            if needs_checkpoint(c.predictor) and not c.model:
                raise SearchError(
                    f"strategy {c.strategy!r} with predictor {c.predictor!r} needs --model (a checkpoint "
                    "directory from `surrogate-nas pretrain`), or use predictor 'scratch'"
                )
        c.benchmark = c.benchmark or DEFAULT_BENCHMARK.get(c.space)
        if c.evaluator == "train":
            c.metric = c.metric or "test_acc"
        elif c.benchmark is None:
            raise SearchError(f"space {c.space!r} has no default benchmark; set benchmark")
        metric: str | None = None
        test: str | None = None
        if c.evaluator != "train" and c.benchmark in BENCHMARK_METRICS:
            metric, test, _ = BENCHMARK_METRICS[c.benchmark]
        c.metric = c.metric or metric
        # the benchmark's reported metric goes with its search metric, named with or without the fidelity
        # (NB-201: valid_acc / valid_acc@12 -> test_acc@200); any other metric reports itself
        same = metric is not None and c.metric is not None and c.metric.split("@")[0] == metric.split("@")[0]
        c.test_metric = c.test_metric or (test if same else None) or c.metric
        return c

    def identity(self) -> dict:
        """The fields that decide which architectures are evaluated (what a journal must match)."""
        out = {k: v for k, v in self.to_dict().items() if k not in self.NON_IDENTITY}
        strategy = SEARCHERS.resolve(out["strategy"])
        out["strategy"] = IDENTITY_SPELLING.get(strategy, strategy)
        return out


@dataclass
class SearchResult:
    config: SearchConfig
    best_arch: str
    best_value: float
    best_test: float
    evaluations: int
    trajectory: pd.DataFrame
    out: Path | None
    replayed: int = 0  # evaluations taken from the journal instead of re-run
    scored_per_second: float | None = None
    seconds: float = 0.0
    info: dict = field(default_factory=dict)
    #: Set when the search stopped before its budget because nothing was left to evaluate.
    note: str | None = None
