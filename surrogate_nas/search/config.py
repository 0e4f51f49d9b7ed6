"""``SearchConfig`` (one search run, validated before anything is written) and ``SearchResult``."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import pandas as pd
import yaml
from pydantic import BeforeValidator, Field, field_validator, model_validator

from ..errors import SurrogateNASError
from ..io import load_yaml
from ..spaces import get_space
from ..typed import Float, Int, Name, Seed, TypedConfig
from .base import SEARCHERS, Constraint, SearchError
from .benchmark_tables import BENCHMARK_METRICS, DEFAULT_BENCHMARK
from .evaluators import EVALUATORS

#: Strategies that re-fit a predictor on their measurements.
PREDICTOR_STRATEGIES = ("guided", "hierarchical", "guided-mf")
#: How a strategy is spelled in a run's identity (journal fingerprint) when it was renamed: the former name, so
#: journals written before the rename ("guided-evolution") still resume, whichever name the run is given.
IDENTITY_SPELLING = {"guided": "guided-evolution"}


def _path_text(v: Any) -> Any:
    return os.fspath(v) if isinstance(v, os.PathLike) else v


#: A text field that may be given as a path.
PathText = Annotated[str, BeforeValidator(_path_text)]


class SearchConfig(TypedConfig):
    """One search run. ``options`` go to the strategy's constructor (see each searcher's docstring):

    * ``evolution``: population (20), tournament (5)
    * ``source-rank``: source_tasks (default: every other task of the benchmark; never the target), source_metric
    * ``guided`` (formerly ``guided-evolution``) / ``hierarchical``: n_support (5), support ("source-rank" | "random"),
      acquisition ("mean" | "ucb" | "ei" | "thompson"; default thompson), batch_acquisition (for batch_size > 1;
      default: acquisition when given, else ucb), beta, pool ("auto" | "space" | "mutants"),
      n_candidates, top_k, support_random; hierarchical also probe_groups, coarse, commit,
      commit_fraction, group_top (see :class:`~surrogate_nas.search.hierarchical.HierarchicalSearch`).
    * ``guided-mf`` / ``asha``: fidelities ([cheap, full]: epochs for ``train``, the records' fidelity for a table),
      eta (3); guided-mf also every option of ``guided`` (see :mod:`~surrogate_nas.search.multifidelity`).
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
    ``budget`` (evaluations) and ``budget_cost`` (total cost, in the evaluator's unit: full-training
    equivalents for the table evaluator -- NB-201 ``epochs/200 x FLOPs / mean FLOPs``, NAS-Bench-Graph the
    recorded latency over its mean, see :mod:`~surrogate_nas.search.costs` -- seconds of wall time for
    ``train``) are the two caps; neither is part of the run's identity: rerunning a finished search with a
    larger one continues it.
    """

    what: ClassVar[str] = "search config"
    error: ClassVar[type[SurrogateNASError]] = SearchError

    space: Name = Field("nb201", description="search space")
    task: Name = Field("ImageNet16-120", description="target task (dataset / device) of the benchmark")
    strategy: Name = Field(
        "hierarchical",
        description="random, evolution, local, source-rank, guided (Bayesian optimisation over the candidate set; "
        "'guided-evolution' is its old name), hierarchical (the default, chosen on the validation targets: "
        "two-level, probe the best skeleton groups, commit, search inside them), guided-mf (guided screening at a "
        "cheap fidelity, ASHA promotion to the full one) or asha (random screening, ASHA promotion); the last two "
        "need option fidelities: [cheap, full]",
    )
    budget: Int = Field(20, ge=1, description="evaluations of the target, support included")
    budget_cost: Float | None = Field(
        None,
        gt=0,
        description="stop once the evaluations' total cost reaches this (full-training equivalents for the table "
        "evaluator, seconds for train); the evaluation budget stays the other cap",
    )
    evaluator: Name = Field(
        "table", description="table: look values up in the benchmark (simulation); train: real training"
    )
    seed: Seed = Field(0, description="seed of the search")
    out: Annotated[Name, BeforeValidator(_path_text)] = Field(
        "runs/search", description="run directory (journal, trajectory, report); rerun to resume"
    )
    model: PathText | None = Field(None, description="checkpoint directory from `pretrain` (predictor meta)")
    predictor: Name = Field(
        "meta",
        description="predictor of the guided strategies: a registry name (meta, rf, gbm, scratch-gnn, ...) or "
        "scratch / tree",
    )
    benchmark: str | None = Field(None, description="benchmark for the table evaluator (default per space)")
    metric: str | None = Field(
        None,
        description="metric to maximise, NAME or NAME@FIDELITY (default per benchmark: nb201 valid_acc@12, the "
        "12-epoch validation accuracy; nas-bench-graph valid_perf)",
    )
    test_metric: str | None = Field(
        None,
        description="metric reported for the best architecture (default per benchmark: nb201 test_acc@200, "
        "nas-bench-graph test_perf; else metric)",
    )
    maximize: bool = Field(True, description="the metric is better when larger")
    batch_size: Int = Field(
        1,
        ge=1,
        description="q: architectures per round, chosen jointly by the acquisition (q-EI, q-UCB, Thompson) and "
        "evaluated together (in parallel by the train evaluator on a Ray backend)",
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="strategy options, e.g. acquisition: ei (mean, ucb, ei, thompson), beta: 2, probe_groups: 8",
    )
    constraint: str | None = Field(None, description="e.g. latency<=0.005 (looked up in the benchmark)")
    constraint_mode: Literal["filter", "penalty"] = Field(
        "filter", description="filter: never evaluate infeasible archs; penalty: score them down"
    )
    constraint_task: str | None = Field(None, description="the task whose records the constraint reads")
    data_root: PathText | None = Field(None, description="datasets for the train evaluator")
    train: dict[str, Any] = Field(default_factory=dict, description="TrainConfig fields of the train evaluator")
    train_backend: Literal["local", "ray"] = Field(
        "local",
        description="where the train evaluator trains: local (in this process) or ray (one task per candidate on a "
        "local Ray instance bound to loopback, started once for the search; --batch-size candidates at a time)",
    )
    progress: bool = Field(True, description="show a progress bar")

    #: Fields that do not change which architectures are evaluated (not part of the run's identity).
    NON_IDENTITY: ClassVar[tuple[str, ...]] = ("out", "progress", "budget", "budget_cost", "train_backend")

    @field_validator("constraint")
    @classmethod
    def _constraint(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                Constraint.parse(v)
            except SearchError as e:
                raise ValueError(str(e)) from None
        return v

    @model_validator(mode="after")
    def _registered(self) -> SearchConfig:
        """The space, strategy, evaluator and predictor are known; a predictor strategy has what it needs."""
        try:
            get_space(self.space)
        except ValueError as e:
            raise ValueError(str(e)) from None
        if SEARCHERS.resolve(self.strategy) not in SEARCHERS:
            raise ValueError(f"unknown search strategy {self.strategy!r}; choose one of {', '.join(SEARCHERS.names())}")
        if self.evaluator not in EVALUATORS:
            hint = (
                " (the package's entry points are missing: reinstall it, or import surrogate_nas.training)"
                if self.evaluator == "train"
                else ""
            )
            raise ValueError(
                f"unknown evaluator {self.evaluator!r}{hint}; choose one of {', '.join(EVALUATORS.names())}"
            )
        if SEARCHERS.resolve(self.strategy) in PREDICTOR_STRATEGIES:
            _check_predictor(self)
        return self

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, d: Any) -> SearchConfig:
        if not isinstance(d, dict):
            raise SearchError(f"a search configuration must be a mapping of fields, got {type(d).__name__}")
        return cls(**d)

    @classmethod
    def from_yaml(cls, text: str) -> SearchConfig:
        try:
            d = load_yaml(text)
        except yaml.YAMLError as e:
            raise SearchError(f"search configuration is not valid YAML ({str(e).splitlines()[0]})") from None
        return cls.from_dict(d or {})

    def resolved(self) -> SearchConfig:
        """A copy with the defaults filled in (strategy's current name, benchmark, metrics); raises SearchError."""
        strategy = SEARCHERS.resolve(self.strategy)  # "guided-evolution" -> "guided" (saying so once)
        benchmark = self.benchmark or DEFAULT_BENCHMARK.get(self.space)
        if self.evaluator != "train" and benchmark is None:
            raise SearchError(f"space {self.space!r} has no default benchmark; set benchmark")
        metric, test = self._metrics(benchmark)
        return self.model_copy(
            update={"strategy": strategy, "benchmark": benchmark, "metric": metric, "test_metric": test}
        )

    def _metrics(self, benchmark: str | None) -> tuple[str | None, str | None]:
        """(search metric, reported metric): the benchmark's reported metric goes with its search metric, named
        with or without the fidelity (NB-201: valid_acc / valid_acc@12 -> test_acc@200); any other metric reports
        itself. The train evaluator searches on test_acc unless told, and reports test_acc (its test split)."""
        default, test = (None, None)
        if self.evaluator == "train":
            return self.metric or "test_acc", self.test_metric or "test_acc"
        if benchmark in BENCHMARK_METRICS:
            default, test, _ = BENCHMARK_METRICS[benchmark]
        metric = self.metric or default
        same = default is not None and metric is not None and metric.split("@")[0] == default.split("@")[0]
        return metric, self.test_metric or (test if same else None) or metric

    def identity(self) -> dict:
        """The fields that decide which architectures are evaluated (what a journal must match)."""
        out = {k: v for k, v in self.to_dict().items() if k not in self.NON_IDENTITY}
        strategy = SEARCHERS.resolve(out["strategy"])
        out["strategy"] = IDENTITY_SPELLING.get(strategy, strategy)
        return out


def _check_predictor(c: SearchConfig) -> None:
    """A predictor strategy: its support fits the budget, its predictor is known and has its checkpoint."""
    from .defaults import N_SUPPORT
    from .predictor_factory import needs_checkpoint, predictor_names

    n_support = c.options.get("n_support", N_SUPPORT)
    if isinstance(n_support, int) and not isinstance(n_support, bool) and n_support > c.budget:
        raise ValueError(
            f"option n_support={n_support} is above the budget of {c.budget} evaluations: the support "
            "alone would spend it; lower n_support or raise the budget"
        )
    if c.predictor not in predictor_names():
        raise ValueError(f"unknown predictor {c.predictor!r}; choose one of {', '.join(predictor_names())}")
    if needs_checkpoint(c.predictor) and not c.model:
        raise ValueError(
            f"strategy {c.strategy!r} with predictor {c.predictor!r} needs --model (a checkpoint "
            "directory from `pretrain`), or use predictor 'scratch'"
        )


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
